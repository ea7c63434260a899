import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as path from "node:path";
import { tenantSubnet } from "./addressing";
import { configMount, FIXED_NAME, hardenedContainerArgs, HELPER_LIMITS } from "./hardening";
import { renderWireguardConfig, vpnAddresses, WIREGUARD_CONFIG_PATH, wireguardPublicKey } from "./render/wireguard";

export interface WireguardEndpointArgs {
    tenant: string;
    tenantId: number;
    image: pulumi.Input<string>;
    peers: { name: string; publicKey: string }[];
    /** Host UDP port; published on publicAddress. */
    port: number;
    publicAddress: string;
    servicesNetwork: pulumi.Input<string>;
    egressNetwork: pulumi.Input<string>;
    /** The tenant's data volume; the endpoint's config lives in its `config/wireguard`. */
    dataVolume: pulumi.Input<string>;
    cgroupParent: string;
    logRetentionDays: number;
    labels: Record<string, string | undefined>;
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
                listenPort: 51820,
                address: addresses.server,
                servicesSubnet: tenantSubnet(args.tenantId, "services").subnet,
                peers: args.peers.map((p, i) => ({ ...p, address: addresses.peers[i] })),
            }),
        );
        const hardened = hardenedContainerArgs({
            tenant: args.tenant,
            role: "wireguard",
            // uid 0: Docker grants an added capability (NET_ADMIN) to root only; the policy pack allows it for this role alone.
            user: "0:0",
            limits: HELPER_LIMITS.wireguard,
            cgroupParent: args.cgroupParent,
            logRetentionDays: args.logRetentionDays,
            labels: args.labels,
            tmpfs: ["/tmp", "/run"],
        });
        this.container = new docker.Container(
            `${name}-container`,
            {
                name: `redoubt-${args.tenant}-wireguard`,
                image: args.image,
                networksAdvanced: [{ name: args.egressNetwork }, { name: args.servicesNetwork }],
                ports: [{ internal: 51820, external: args.port, protocol: "udp", ip: args.publicAddress }],
                mounts: [configMount(args.dataVolume, "wireguard", path.posix.dirname(WIREGUARD_CONFIG_PATH))],
                devices: [{ hostPath: "/dev/net/tun", containerPath: "/dev/net/tun", permissions: "rwm" }],
                sysctls: { "net.ipv4.conf.all.src_valid_mark": "1", "net.ipv4.ip_forward": "1" },
                uploads: pulumi.secret([{ file: WIREGUARD_CONFIG_PATH, content: config, permissions: "0600" }]),
                ...hardened,
                capabilities: { drops: ["ALL"], adds: ["NET_ADMIN"] },
            },
            { parent: this, ...FIXED_NAME },
        );
        this.registerOutputs({ publicKey: this.publicKey, endpoint: this.endpoint });
    }
}
