import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { serverNameOf, PLANS, type Tenant } from "../tenants/schema";
import { PROXY_HOST, tenantHostAddress, tenantSubnet, tenantUid, wireguardPort } from "./addressing";
import { BackupAgent, type BackupTarget } from "./backupAgent";
import { DataExport } from "./dataExport";
import { EncryptedVolume } from "./encryptedVolume";
import { tenantLabels } from "./hardening";
import { Homeserver } from "./homeserver";
import type { Lifecycle } from "./lifecycle";
import { OnionService } from "./onionService";
import { PushProxy } from "./pushProxy";
import { CADDY_TLS_PORT } from "./render/caddy";
import type { EdgeRoute } from "./render/edge";
import { installFileCommand, renderSlice, sliceName } from "./render/host";
import { backupTime, onCalendar } from "./schedule";
import { TenantCertificates } from "./tenantCertificates";
import { TenantNetworks } from "./tenantNetworks";
import { TlsProxy } from "./tlsProxy";
import { WireguardEndpoint } from "./wireguardEndpoint";

/** Pinned image references a tenant's containers run. */
export interface TenantImages {
    homeserver: pulumi.Input<string>;
    proxy: pulumi.Input<string>;
    backupAgent: pulumi.Input<string>;
    tor: pulumi.Input<string>;
    wireguard: pulumi.Input<string>;
    pushProxy: pulumi.Input<string>;
}

export interface TenantCellArgs {
    tenant: Tenant;
    /** The tenant's lifecycle at the plan's as-of date (see components/lifecycle.ts). */
    lifecycle: Lifecycle;
    images: TenantImages;
    /** SSH connection to the Docker host, for host-side steps (LUKS, slice, timers). */
    connection: command.types.input.remote.ConnectionArgs;
    /** Country of the primary site. */
    country: string;
    /** ACME account email for public tenants' certificates. */
    acmeEmail: string;
    /** Host address published ports bind to. */
    publicAddress: string;
    /** The tenant's storage boxes, one per backup site. */
    backupTargets: BackupTarget[];
}

/**
 * One tenant's dedicated homeserver on the primary site: its networks,
 * encrypted volume, homeserver, TLS proxy, backup agent and, by access mode,
 * an onion service or WireGuard endpoint. Shares nothing with other tenants.
 */
export class TenantCell extends pulumi.ComponentResource {
    /** The homeserver's URL: https on the public domain, the onion name, or the server name inside the VPN. */
    public readonly endpoint: pulumi.Output<string>;
    /** host:port of the WireGuard endpoint (vpn tenants). */
    public readonly vpnEndpoint?: string;
    /** VPN peer name → the address its WireGuard config must use (vpn tenants). */
    public readonly vpnPeers?: Record<string, string>;
    /** The TLS proxy's fixed address on the services network (what VPN peers and tor connect to). */
    public readonly proxyAddress: string;
    /** The edge route, for served public tenants. */
    public readonly edgeRoute?: EdgeRoute;
    /** The ingress network the edge joins, for public tenants. */
    public readonly ingressNetwork?: pulumi.Output<string>;
    /** The tenant CA's certificate for tor and vpn tenants (public; handed to the customer). */
    public readonly caCertPem?: pulumi.Output<string>;
    public readonly registrationToken?: pulumi.Output<string>;
    /** The WireGuard endpoint's public key (vpn tenants). */
    public readonly wireguardPublicKey?: pulumi.Output<string>;
    public readonly exportArchive?: string;

    constructor(name: string, args: TenantCellArgs, opts?: pulumi.ComponentResourceOptions) {
        // The phase, not the file's status: a tenant cancelled for a future date is still active today.
        // Registered on the cell itself too: once a cancelled tenant's containers are gone, the cell
        // is what tells the policy pack (and `pulumi stack export`) its phase and deadline.
        const labels = tenantLabels(args.tenant.name, args.lifecycle.phase, args.lifecycle.deleteBy);
        super("redoubt:tenant:TenantCell", name, { labels }, opts);
        const { tenant, lifecycle } = args;
        const plan = PLANS[tenant.plan];
        const uid = tenantUid(tenant.id);
        const user = `${uid}:${uid}`;
        const cgroupParent = sliceName(tenant.name);
        const logRetentionDays = tenant.logging.retentionDays;
        const serverName = serverNameOf(tenant);
        const common = { tenant: tenant.name, user, cgroupParent, logRetentionDays, labels };

        const proxyAddress = tenantHostAddress(tenant.id, "services", PROXY_HOST);
        this.proxyAddress = proxyAddress;
        const slice = new command.remote.Command(
            `${name}-slice`,
            {
                connection: args.connection,
                create: `${installFileCommand(`/etc/systemd/system/${cgroupParent}`, renderSlice({ tenant: tenant.name, tasksMax: plan.pids, memoryMiB: plan.memoryMiB + 1024, cpus: plan.cpus + 1 }), "0644")} && systemctl daemon-reload`,
                delete: `rm -f /etc/systemd/system/${cgroupParent} && systemctl daemon-reload`,
            },
            { parent: this },
        );
        const networks = new TenantNetworks(`${name}-networks`, { tenant: tenant.name, tenantId: tenant.id, ingress: tenant.access.mode === "public" }, { parent: this });
        const volume = new EncryptedVolume(
            `${name}-volume`,
            { tenant: tenant.name, sizeGiB: plan.storageGiB, uid, connection: args.connection, protect: lifecycle.protectData, country: args.country },
            { parent: this },
        );

        // The name clients use: the public domain, the onion name, or the server name inside the VPN.
        let hostnames: pulumi.Output<string[]>;
        let onion: OnionService | undefined;
        if (tenant.access.mode === "tor") {
            onion = new OnionService(
                `${name}-onion`,
                {
                    ...common,
                    image: args.images.tor,
                    // An address, not a name: tor does not resolve Docker's names.
                    target: `${proxyAddress}:${CADDY_TLS_PORT}`,
                    servicesNetwork: networks.services.name,
                    egressNetwork: networks.egress.name,
                    dataVolume: volume.volumeName,
                    protectKey: lifecycle.protectData,
                },
                { parent: this, dependsOn: [slice] },
            );
            hostnames = onion.hostname.apply((h) => [h]);
        } else {
            hostnames = pulumi.output([tenant.access.mode === "public" ? tenant.access.domain : serverName]);
        }
        const clientUrl = hostnames.apply((h) => `https://${h[0]}`);

        const pushGateways = tenant.homeserver.push === "proxy" ? (tenant.homeserver.pushGateways ?? []) : [];
        const pushProxy =
            pushGateways.length > 0 && lifecycle.served
                ? new PushProxy(
                      `${name}-push-proxy`,
                      {
                          ...common,
                          image: args.images.pushProxy,
                          gateways: pushGateways,
                          servicesSubnet: tenantSubnet(tenant.id, "services").subnet,
                          servicesNetwork: networks.services.name,
                          egressNetwork: networks.egress.name,
                          dataVolume: volume.volumeName,
                      },
                      { parent: this, dependsOn: [slice, volume] },
                  )
                : undefined;

        const homeserver = new Homeserver(
            `${name}-homeserver`,
            {
                ...common,
                image: tenant.homeserver.image ?? args.images.homeserver,
                config: {
                    serverName,
                    logLevel: tenant.logging.level,
                    registration: tenant.homeserver.registration,
                    clientUrl,
                    pushProxy: pushProxy ? { url: pushProxy.url, gateways: pushGateways } : undefined,
                },
                servicesNetwork: networks.services.name,
                dataVolume: volume.volumeName,
                limits: { memoryMiB: plan.memoryMiB, cpus: plan.cpus },
                running: lifecycle.served,
            },
            { parent: this, dependsOn: [slice, volume] },
        );
        this.registrationToken = homeserver.registrationToken;

        if (lifecycle.served) {
            const certificates =
                tenant.access.mode === "public" ? undefined : new TenantCertificates(`${name}-certificates`, { tenant: tenant.name, hostnames }, { parent: this });
            this.caCertPem = certificates?.caCertPem;
            new TlsProxy(
                `${name}-proxy`,
                {
                    ...common,
                    image: args.images.proxy,
                    hostnames,
                    upstream: homeserver.address,
                    clientUrl,
                    acmeEmail: tenant.access.mode === "public" ? args.acmeEmail : undefined,
                    certificate: certificates ? { certPem: certificates.certPem, keyPem: certificates.keyPem } : undefined,
                    // A public proxy also needs the way out: Let's Encrypt must be reached for its certificate.
                    networks: [
                        { name: networks.services.name, ipv4Address: proxyAddress },
                        ...(networks.ingress ? [{ name: networks.ingress.name }, { name: networks.egress.name }] : []),
                    ],
                    dataVolume: volume.volumeName,
                },
                { parent: this, dependsOn: [slice, volume] },
            );
            if (tenant.access.mode === "public" && networks.ingress) {
                this.edgeRoute = { hostname: tenant.access.domain, backend: `redoubt-${tenant.name}-proxy:${CADDY_TLS_PORT}` };
                this.ingressNetwork = networks.ingress.name;
            }
        }

        if (tenant.access.mode === "vpn" && lifecycle.served) {
            const wireguard = new WireguardEndpoint(
                `${name}-wireguard`,
                {
                    tenant: tenant.name,
                    tenantId: tenant.id,
                    image: args.images.wireguard,
                    peers: tenant.access.peers,
                    port: wireguardPort(tenant.id),
                    publicAddress: args.publicAddress,
                    servicesNetwork: networks.services.name,
                    egressNetwork: networks.egress.name,
                    dataVolume: volume.volumeName,
                    cgroupParent,
                    logRetentionDays,
                    labels,
                },
                { parent: this, dependsOn: [slice] },
            );
            this.wireguardPublicKey = wireguard.publicKey;
            this.vpnEndpoint = wireguard.endpoint;
            this.vpnPeers = Object.fromEntries(tenant.access.peers.map((peer, i) => [peer.name, wireguard.peerAddresses[i]]));
        }
        this.endpoint = clientUrl;

        if (lifecycle.backedUp || lifecycle.protectData) {
            new BackupAgent(
                `${name}-backup`,
                {
                    ...common,
                    image: args.images.backupAgent,
                    targets: args.backupTargets,
                    keep: tenant.backups.keep,
                    onCalendar: onCalendar(backupTime(tenant.id, tenant.backups.schedule)),
                    egressNetwork: networks.egress.name,
                    dataVolume: volume.volumeName,
                    homeserverContainer: homeserver.containerName,
                    connection: args.connection,
                    scheduled: lifecycle.backedUp,
                },
                { parent: this, dependsOn: [slice, volume] },
            );
        }

        if (lifecycle.exporting && tenant.export) {
            const job = new DataExport(
                `${name}-export`,
                {
                    tenant: tenant.name,
                    recipient: tenant.export.recipient,
                    requestedOn: tenant.export.requestedOn,
                    homeserverContainer: homeserver.containerName,
                    connection: args.connection,
                },
                { parent: this, dependsOn: [volume] },
            );
            this.exportArchive = job.archivePath;
        }
        this.registerOutputs({ endpoint: this.endpoint, caCertPem: this.caCertPem });
    }
}
