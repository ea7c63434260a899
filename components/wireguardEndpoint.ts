import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as path from "node:path";
import { tenantSubnet } from "./addressing";
import { ConfigCarrier } from "./configCarrier";
import { configMount, FIXED_NAME, hardenedContainerArgs, HELPER_LIMITS, type TenantContainerArgs } from "./hardening";
import { CONFIG_REVISION_LABEL } from "./labels";
import { containerName } from "./names";
import { renderWireguardConfig, vpnAddresses, WIREGUARD_CONFIG_PATH, WIREGUARD_LISTEN_PORT, wireguardPublicKey } from "./render/wireguard";

/** `user` is the tenant's uid, for the config carrier; the endpoint itself runs as uid 0 (see WIREGUARD_USER). */
export interface WireguardEndpointArgs extends TenantContainerArgs {
    tenantId: number;
    peers: { name: string; publicKey: string }[];
    /** Host UDP port; published on publicAddress. */
    port: number;
    publicAddress: string;
    servicesNetwork: pulumi.Input<string>;
    egressNetwork: pulumi.Input<string>;
}

/** uid 0: Docker grants an added capability (NET_ADMIN) to root only; the policy pack allows it for this role alone. */
const WIREGUARD_USER = "0:0";

/**
 * The endpoint's process: bring the interface up from the config file, then
 * wait; on SIGTERM (docker stop) take it down again and exit 0.
 */
export function wireguardRunScript(configPath: string): string {
    return `set -eu; wg-quick up ${configPath}; trap 'wg-quick down ${configPath}; exit 0' TERM INT; while :; do sleep 3600 & wait $!; done`;
}

/**
 * The tenant's WireGuard endpoint (vpn access mode). WireGuard needs
 * NET_ADMIN and /dev/net/tun: the one explicit capability exception, visible
 * to the policy pack. Only the tenant's peers can reach the proxy.
 */
export class WireguardEndpoint extends pulumi.ComponentResource {
    public readonly publicKey: pulumi.Output<string>;
    public readonly endpoint: string;
    public readonly peerAddresses: string[];
    public readonly container: docker.Container;

    constructor(name: string, args: WireguardEndpointArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:tenant:WireguardEndpoint", name, {}, opts);
        const key = new random.RandomBytes(`${name}-key`, { length: 32 }, { parent: this, additionalSecretOutputs: ["base64", "hex"] });
        const privateKey = pulumi.secret(key.base64);
        this.publicKey = pulumi.unsecret(privateKey.apply(wireguardPublicKey));
        const addresses = vpnAddresses(args.tenantId, args.peers.length);
        this.peerAddresses = addresses.peers;
        this.endpoint = `${args.publicAddress}:${args.port}`;
        const config = privateKey.apply((pk) =>
            renderWireguardConfig({
                privateKey: pk,
                listenPort: WIREGUARD_LISTEN_PORT,
                address: addresses.server,
                servicesSubnet: tenantSubnet(args.tenantId, "services").subnet,
                peers: args.peers.map((p, i) => ({ ...p, address: addresses.peers[i] })),
            }),
        );
        const wireguardName = containerName(args.tenant, "wireguard");
        const configDir = path.posix.dirname(WIREGUARD_CONFIG_PATH);
        const carrier = new ConfigCarrier(
            `${name}-config`,
            {
                ...args,
                configures: "wireguard",
                serviceName: wireguardName,
                mounts: [configMount(args.dataVolume, "wireguard", configDir, false)],
                files: [{ path: WIREGUARD_CONFIG_PATH, content: config, permissions: "0600" }],
            },
            { parent: this },
        );
        const hardened = hardenedContainerArgs({
            tenant: args.tenant,
            role: "wireguard",
            user: WIREGUARD_USER,
            limits: HELPER_LIMITS.wireguard,
            cgroupParent: args.cgroupParent,
            logRetentionDays: args.logRetentionDays,
            labels: { ...args.labels, [CONFIG_REVISION_LABEL]: carrier.revision },
            tmpfs: ["/tmp", "/run"],
        });
        this.container = new docker.Container(
            `${name}-container`,
            {
                name: wireguardName,
                image: args.image,
                // wg-quick brings the interface up (and its PostUp rules); the shell then waits, and takes it down on stop.
                entrypoints: ["/bin/sh", "-c"],
                command: [wireguardRunScript(WIREGUARD_CONFIG_PATH)],
                networksAdvanced: [{ name: args.egressNetwork }, { name: args.servicesNetwork }],
                ports: [{ internal: WIREGUARD_LISTEN_PORT, external: args.port, protocol: "udp", ip: args.publicAddress }],
                mounts: [configMount(args.dataVolume, "wireguard", configDir)],
                devices: [{ hostPath: "/dev/net/tun", containerPath: "/dev/net/tun", permissions: "rwm" }],
                sysctls: { "net.ipv4.conf.all.src_valid_mark": "1", "net.ipv4.ip_forward": "1" },
                ...hardened,
                capabilities: { drops: ["ALL"], adds: ["NET_ADMIN"] },
            },
            { parent: this, ...FIXED_NAME },
        );
        this.registerOutputs({ publicKey: this.publicKey, endpoint: this.endpoint });
    }
}
