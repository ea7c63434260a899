import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { serverNameOf, PLANS, type Tenant } from "../tenants/schema";
import type { RegistrationTerms } from "../stacks/config";
import { PROXY_HOST, tenantHostAddress, tenantSubnet, tenantUid, wireguardPort } from "./addressing";
import { BackupAgent, type BackupTarget } from "./backupAgent";
import { DataExport } from "./dataExport";
import { EdgeAttachment, type Edge } from "./edge";
import { EncryptedVolume } from "./encryptedVolume";
import { tenantLabels, type TenantContainerArgs } from "./hardening";
import { Homeserver } from "./homeserver";
import { DEFAULT_HOMESERVER, type HomeserverFlavor } from "./homeservers";
import type { Lifecycle } from "./lifecycle";
import { containerName, sliceName } from "./names";
import { OnionService } from "./onionService";
import { PushProxy } from "./pushProxy";
import { CADDY_TLS_PORT } from "./render/caddy";
import type { EdgeRoute } from "./render/edge";
import { installFileCommand, renderSlice, systemctlCommand } from "./render/host";
import { renderUpgradeGate, upgradeGatePath } from "./render/upgrade";
import { backupTime, onCalendar, registrationTokenPeriod } from "./schedule";
import { TenantCertificates } from "./tenantCertificates";
import { TenantNetworks } from "./tenantNetworks";
import { TlsProxy, type AcmeSettings, type TlsProxyArgs } from "./tlsProxy";
import { WireguardEndpoint } from "./wireguardEndpoint";

/** The component type token; the policy pack and the plan read a tenant's phase from it. */
export const TENANT_CELL_TYPE = "redoubt:tenant:TenantCell";

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
    /** SSH connection to the Docker host, for host-side steps (LUKS, slice, timers, edge attachment). */
    connection: command.types.input.remote.ConnectionArgs;
    /** Country of the primary site. */
    country: string;
    /** The ACME CA and account public tenants' certificates come from. */
    acme: AcmeSettings;
    /** Host address published ports bind to. */
    publicAddress: string;
    /** What a new user accepts at sign-up where the tenant's registration is open (the stack's redoubt:registrationTerms). */
    registrationTerms: RegistrationTerms;
    /** The day the plan is evaluated for (YYYY-MM-DD, UTC): it picks the registration token's period. */
    asOf: string;
    /** The tenant's storage boxes, one per backup site. */
    backupTargets: BackupTarget[];
    /** The host's SNI edge; a served public tenant attaches it to its ingress network. */
    edge: Edge;
}

/** The edge route of a served public tenant: its domain to its proxy. Known from the tenant file alone. */
export function edgeRouteOf(tenant: Tenant, lifecycle: Lifecycle): EdgeRoute | undefined {
    if (tenant.access.mode !== "public" || !lifecycle.served) return undefined;
    return { hostname: tenant.access.domain, backend: `${containerName(tenant.name, "proxy")}:${CADDY_TLS_PORT}` };
}

/** What a cell's steps share. */
interface CellContext {
    name: string;
    args: TenantCellArgs;
    tenant: Tenant;
    lifecycle: Lifecycle;
    parent: TenantCell;
    /** Settings every tenant container shares. */
    common: Omit<TenantContainerArgs, "image">;
    networks: TenantNetworks;
    volume: EncryptedVolume;
    slice: command.remote.Command;
    /** The proxy's fixed address on the services network: what tor and VPN peers reach. */
    proxyAddress: string;
    /** The homeserver implementation: its container, config files and data layout (components/homeservers). */
    homeserver: HomeserverFlavor;
}

/** How clients reach the server: the names they use, and what is built in front of the proxy. */
interface AccessFront {
    /** The names the proxy serves; the first is the client URL's host. */
    hostnames: pulumi.Output<string[]>;
}

interface AccessMode {
    /** The proxy's TLS: a public ACME certificate, or one from the tenant's own CA (ACME cannot serve onion or private names). */
    certificate: "acme" | "tenant-ca";
    /**
     * Whether the proxy's config names the tenant's hostnames and client URL. Off for tor: the onion service
     * is the proxy's only way in, and the onion name is generated, so a config naming it would be unknown
     * in the tenant's first preview and the policies could not read it.
     */
    proxyNamesKnown: boolean;
    /** Whether the tenant has an ingress network: the proxy joins it and the edge routes to it. */
    ingress: boolean;
    /** Builds what stands in front of the proxy and says what clients use. */
    front(ctx: CellContext): AccessFront;
    /** Builds what comes after the proxy (the VPN endpoint); sets outputs on the cell. */
    after?(ctx: CellContext): void;
}

/**
 * One entry per access mode: the only place that knows how a mode differs.
 * A new mode is a new entry here (and in the schema), not a branch in every step.
 */
const ACCESS_MODES: Record<Tenant["access"]["mode"], AccessMode> = {
    public: {
        certificate: "acme",
        proxyNamesKnown: true,
        ingress: true,
        front: ({ tenant }) => ({ hostnames: pulumi.output([tenant.access.mode === "public" ? tenant.access.domain : serverNameOf(tenant)]) }),
    },
    tor: {
        certificate: "tenant-ca",
        proxyNamesKnown: false,
        ingress: false,
        front: (ctx) => {
            // The onion key is generated here, so the address (and so the certificate's name) is known before tor runs.
            const onion = new OnionService(
                `${ctx.name}-onion`,
                {
                    ...ctx.common,
                    image: ctx.args.images.tor,
                    // An address, not a name: tor does not resolve Docker's names.
                    target: `${ctx.proxyAddress}:${CADDY_TLS_PORT}`,
                    servicesNetwork: ctx.networks.services.name,
                    egressNetwork: ctx.networks.egress.name,
                    protectKey: ctx.lifecycle.protectData,
                    running: ctx.lifecycle.served,
                },
                { parent: ctx.parent, dependsOn: [ctx.slice, ctx.volume] },
            );
            return { hostnames: onion.hostname.apply((h) => [h]) };
        },
    },
    vpn: {
        certificate: "tenant-ca",
        proxyNamesKnown: true,
        ingress: false,
        front: ({ tenant }) => ({ hostnames: pulumi.output([serverNameOf(tenant)]) }),
        after: (ctx) => {
            const { tenant } = ctx;
            if (tenant.access.mode !== "vpn" || !ctx.lifecycle.served) return;
            const wireguard = new WireguardEndpoint(
                `${ctx.name}-wireguard`,
                {
                    ...ctx.common,
                    tenantId: tenant.id,
                    image: ctx.args.images.wireguard,
                    peers: tenant.access.peers,
                    port: wireguardPort(tenant.id),
                    publicAddress: ctx.args.publicAddress,
                    servicesNetwork: ctx.networks.services.name,
                    egressNetwork: ctx.networks.egress.name,
                },
                { parent: ctx.parent, dependsOn: [ctx.slice, ctx.volume] },
            );
            ctx.parent.vpn = {
                endpoint: wireguard.endpoint,
                publicKey: wireguard.publicKey,
                peers: Object.fromEntries(tenant.access.peers.map((peer, i) => [peer.name, wireguard.peerAddresses[i]])),
                proxyAddress: ctx.proxyAddress,
            };
        },
    },
};

/** What a vpn tenant's customer needs for their WireGuard peers. */
export interface VpnAccess {
    /** host:port of the WireGuard endpoint. */
    endpoint: string;
    publicKey: pulumi.Output<string>;
    /** Peer name → the address its WireGuard config must use. */
    peers: Record<string, string>;
    /** The address peers map the server name to. */
    proxyAddress: string;
}

/**
 * One tenant's dedicated homeserver on the primary site: its networks,
 * encrypted volume, homeserver, TLS proxy, backup agent and, by access mode,
 * an onion service or WireGuard endpoint. Shares nothing with other tenants.
 */
export class TenantCell extends pulumi.ComponentResource {
    /** The homeserver's URL: https on the public domain, the onion name, or the server name inside the VPN. */
    public readonly endpoint: pulumi.Output<string>;
    /** The tenant CA's certificate for tor and vpn tenants (public; handed to the customer). */
    public caCertPem?: pulumi.Output<string>;
    public readonly registrationToken?: pulumi.Output<string>;
    /** The day the registration token is replaced (the first `up` on or after it makes a new one). */
    public registrationTokenRotatesOn?: string;
    /** VPN details (vpn tenants, while served). */
    public vpn?: VpnAccess;
    public exportArchive?: string;

    constructor(name: string, args: TenantCellArgs, opts?: pulumi.ComponentResourceOptions) {
        // The phase, not the file's status: a tenant cancelled for a future date is still active today.
        // Registered on the cell itself too: once a cancelled tenant's containers are gone, the cell
        // is what tells the policy pack (and `pulumi stack export`) its phase and deadline.
        const labels = tenantLabels(args.tenant.name, args.lifecycle.phase, args.lifecycle.deleteBy);
        super(TENANT_CELL_TYPE, name, { labels }, opts);
        const ctx = this.foundation(name, args, labels);
        const mode = ACCESS_MODES[args.tenant.access.mode];
        const front = mode.front(ctx);
        this.endpoint = front.hostnames.apply((h) => `https://${h[0]}`);
        const homeserver = this.homeserver(ctx);
        this.registrationToken = homeserver.registrationToken;
        if (homeserver.registrationToken) this.registrationTokenRotatesOn = registrationTokenPeriod(args.asOf).rotatesOn;
        if (args.lifecycle.served) this.proxy(ctx, mode, front, homeserver);
        mode.after?.(ctx);
        this.backups(ctx, homeserver);
        this.dataExport(ctx, homeserver);
        this.registerOutputs({ labels, endpoint: this.endpoint, caCertPem: this.caCertPem });
    }

    /** The slice (process limit), the networks and the encrypted volume: what every other step stands on. */
    private foundation(name: string, args: TenantCellArgs, labels: TenantContainerArgs["labels"]): CellContext {
        const { tenant, lifecycle } = args;
        const plan = PLANS[tenant.plan];
        const uid = tenantUid(tenant.id);
        const cgroupParent = sliceName(tenant.name);
        const slice = new command.remote.Command(
            `${name}-slice`,
            {
                connection: args.connection,
                create: `${installFileCommand(`/etc/systemd/system/${cgroupParent}`, renderSlice({ tenant: tenant.name, tasksMax: plan.pids, memoryMiB: plan.memoryMiB + SLICE_MEMORY_HEADROOM_MIB, cpus: plan.cpus + SLICE_CPU_HEADROOM }), "0644")} && ${systemctlCommand("daemon-reload")}`,
                delete: `rm -f /etc/systemd/system/${cgroupParent} && ${systemctlCommand("daemon-reload")}`,
            },
            { parent: this },
        );
        const networks = new TenantNetworks(`${name}-networks`, { tenant: tenant.name, tenantId: tenant.id, ingress: ACCESS_MODES[tenant.access.mode].ingress }, { parent: this });
        const volume = new EncryptedVolume(
            `${name}-volume`,
            { tenant: tenant.name, sizeGiB: plan.storageGiB, uid, connection: args.connection, protect: lifecycle.protectData, country: args.country },
            { parent: this },
        );
        return {
            name,
            args,
            tenant,
            lifecycle,
            parent: this,
            common: { tenant: tenant.name, user: `${uid}:${uid}`, cgroupParent, logRetentionDays: tenant.logging.retentionDays, labels, dataVolume: volume.volumeName },
            networks,
            volume,
            slice,
            proxyAddress: tenantHostAddress(tenant.id, "services", PROXY_HOST),
            homeserver: DEFAULT_HOMESERVER,
        };
    }

    /** The homeserver (and, with push through a proxy, the tenant's push proxy). Declared while suspended too: its token stays. */
    private homeserver(ctx: CellContext): Homeserver {
        const { tenant, lifecycle, args } = ctx;
        const pushGateways = tenant.homeserver.push === "proxy" ? (tenant.homeserver.pushGateways ?? []) : [];
        const pushProxy =
            pushGateways.length > 0 && lifecycle.served
                ? new PushProxy(
                      `${ctx.name}-push-proxy`,
                      {
                          ...ctx.common,
                          image: args.images.pushProxy,
                          gateways: pushGateways,
                          servicesSubnet: tenantSubnet(tenant.id, "services").subnet,
                          servicesNetwork: ctx.networks.services.name,
                          egressNetwork: ctx.networks.egress.name,
                      },
                      { parent: this, dependsOn: [ctx.slice, ctx.volume] },
                  )
                : undefined;
        const image = tenant.homeserver.image ?? args.images.homeserver;
        const gate = this.upgradeGate(ctx, image);
        return new Homeserver(
            `${ctx.name}-homeserver`,
            {
                ...ctx.common,
                image,
                flavor: ctx.homeserver,
                config: {
                    serverName: serverNameOf(tenant),
                    logLevel: tenant.logging.level,
                    registration: tenant.homeserver.registration,
                    pushProxy: pushProxy ? { url: pushProxy.url, gateways: pushGateways } : undefined,
                    mediaRetentionDays: PLANS[tenant.plan].mediaRetentionDays,
                    registrationTerms: args.registrationTerms,
                },
                servicesNetwork: ctx.networks.services.name,
                limits: { memoryMiB: PLANS[tenant.plan].memoryMiB, cpus: PLANS[tenant.plan].cpus },
                running: lifecycle.served,
                registrationTokenSince: registrationTokenPeriod(args.asOf).since,
            },
            { parent: this, dependsOn: [ctx.slice, ctx.volume, ...(gate ? [gate] : [])] },
        );
    }

    /**
     * A fresh backup at every site before the homeserver runs a new image (components/render/upgrade.ts).
     * The command's `create` names the image, so a new image updates it, and pulumi-command runs `create`
     * again on an update without `update` (CommandState.run; lib/live/command.ts follows it); the container
     * depends on it, so it keeps its old image unless the gate exits 0. Only where backups run: a tenant
     * that is not backed up has no backup to take.
     */
    private upgradeGate(ctx: CellContext, image: pulumi.Input<string>): command.remote.Command | undefined {
        const { tenant, lifecycle, args } = ctx;
        if (!lifecycle.backedUp) return undefined;
        const gate = upgradeGatePath(tenant.name);
        const script = renderUpgradeGate({ tenant: tenant.name, homeserverContainer: containerName(tenant.name, "homeserver"), sites: args.backupTargets.map((t) => t.site) });
        return new command.remote.Command(
            `${ctx.name}-upgrade-gate`,
            {
                connection: args.connection,
                create: pulumi.interpolate`${installFileCommand(gate, script, "0755")} && ${gate} ${image}`,
                delete: `rm -f ${gate}`,
            },
            { parent: this, dependsOn: [ctx.slice, ctx.volume] },
        );
    }

    /** The TLS proxy with its certificate, and for public tenants the edge's attachment to its ingress network. */
    private proxy(ctx: CellContext, mode: AccessMode, front: AccessFront, homeserver: Homeserver): void {
        const { tenant, args, networks } = ctx;
        let certificate: TlsProxyArgs["certificate"];
        if (mode.certificate === "tenant-ca") {
            const certificates = new TenantCertificates(`${ctx.name}-certificates`, { tenant: tenant.name, hostnames: front.hostnames }, { parent: this });
            this.caCertPem = certificates.caCertPem;
            certificate = { certPem: certificates.certPem, keyPem: certificates.keyPem, caCertPem: certificates.caCertPem };
        }
        const ingress = mode.ingress ? networks.ingress : undefined;
        new TlsProxy(
            `${ctx.name}-proxy`,
            {
                ...ctx.common,
                image: args.images.proxy,
                hostnames: mode.proxyNamesKnown ? front.hostnames : undefined,
                upstream: homeserver.address,
                clientUrl: mode.proxyNamesKnown ? this.endpoint : undefined,
                acme: mode.certificate === "acme" ? args.acme : undefined,
                certificate,
                support: tenant.support,
                // A public proxy also needs the way out: its ACME CA must be reached for its certificate.
                networks: [{ name: networks.services.name, ipv4Address: ctx.proxyAddress }, ...(ingress ? [{ name: ingress.name }, { name: networks.egress.name }] : [])],
            },
            { parent: this, dependsOn: [ctx.slice, ctx.volume] },
        );
        if (ingress) new EdgeAttachment(`${ctx.name}-edge`, { network: ingress.name, edge: args.edge, connection: args.connection }, { parent: this });
    }

    /** The backup agent and its nightly timer; kept (unscheduled) while data is protected but not backed up. */
    private backups(ctx: CellContext, homeserver: Homeserver): void {
        const { tenant, lifecycle, args } = ctx;
        if (!lifecycle.backedUp && !lifecycle.protectData) return;
        new BackupAgent(
            `${ctx.name}-backup`,
            {
                ...ctx.common,
                image: args.images.backupAgent,
                targets: args.backupTargets,
                keep: tenant.backups.keep,
                onCalendar: onCalendar(backupTime(tenant.id, tenant.backups.schedule)),
                egressNetwork: ctx.networks.egress.name,
                homeserverContainer: homeserver.containerName,
                homeserver: ctx.homeserver,
                connection: args.connection,
                scheduled: lifecycle.backedUp,
                restoreDrill: lifecycle.served,
            },
            { parent: this, dependsOn: [ctx.slice, ctx.volume] },
        );
    }

    /** The customer's export, while one is requested and not delivered. */
    private dataExport(ctx: CellContext, homeserver: Homeserver): void {
        const { tenant, lifecycle, args } = ctx;
        if (!lifecycle.exporting || !tenant.export) return;
        const job = new DataExport(
            `${ctx.name}-export`,
            {
                tenant: tenant.name,
                recipient: tenant.export.recipient,
                requestedOn: tenant.export.requestedOn,
                homeserverContainer: homeserver.containerName,
                homeserver: ctx.homeserver,
                connection: args.connection,
            },
            { parent: this, dependsOn: [ctx.volume] },
        );
        this.exportArchive = job.archivePath;
    }
}

/** The tenant slice's memory above the plan's homeserver memory: the helper containers' share. */
export const SLICE_MEMORY_HEADROOM_MIB = 1024;
/** CPUs the slice allows above the plan's homeserver CPUs, for the helper containers. */
export const SLICE_CPU_HEADROOM = 1;
