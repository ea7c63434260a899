import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { ConfigCarrier, type ConfigFile } from "./configCarrier";
import { configMount, dataMount, FIXED_NAME, hardenedContainerArgs, HELPER_LIMITS, type TenantContainerArgs } from "./hardening";
import { CONFIG_REVISION_LABEL } from "./labels";
import { containerName } from "./names";
import {
    CADDY_ACME_ROOTS_PATH,
    CADDY_CERT_PATH,
    CADDY_CONFIG_PATH,
    CADDY_KEY_PATH,
    CADDY_TENANT_CA_PATH,
    CADDY_TLS_PORT,
    renderCaddyConfig,
    type CaddyTls,
    type SupportContact,
} from "./render/caddy";

/** A certificate and key from the tenant's own CA, and that CA's certificate (PEM; the key is a secret). */
export interface TenantCertificate {
    certPem: pulumi.Input<string>;
    keyPem: pulumi.Input<string>;
    /** The tenant CA's certificate: written beside them for the host's monitoring (its expiry), never served. */
    caCertPem: pulumi.Input<string>;
}

/** The ACME CA public tenants get their certificates from. */
export interface AcmeSettings {
    /** ACME account email. */
    email: string;
    /**
     * The CA's directory URL.
     * @default Let's Encrypt's production directory (Caddy's default)
     */
    directory?: string;
    /** PEM of the CA that signs the directory's HTTPS endpoint, for a private ACME CA. @default the system's roots */
    directoryCa?: string;
}

export interface TlsProxyArgs extends TenantContainerArgs {
    /**
     * Names the proxy serves (the public domain or the VPN name).
     * @default any name (a tor tenant: its onion service is the only way in, and the onion name is unknown until it exists)
     */
    hostnames?: pulumi.Input<string[]>;
    /** host:port of the homeserver. */
    upstream: string;
    /**
     * What /.well-known/matrix/client sends clients to.
     * @default https and the name the client asked for
     */
    clientUrl?: pulumi.Input<string>;
    /** The ACME CA and account (public tenants). */
    acme?: AcmeSettings;
    /** The tenant CA's certificate for the proxy (tor and vpn tenants). Exactly one of acme and certificate. */
    certificate?: TenantCertificate;
    /**
     * The customer's support email and page, published at /.well-known/matrix/support (MSC1929) on the proxy's names.
     * @default none: /.well-known/matrix/support answers 404
     */
    support?: SupportContact;
    /** Networks: services first, then ingress for public tenants. */
    networks: { name: pulumi.Input<string>; ipv4Address?: string }[];
}

/**
 * The tenant's TLS proxy (Caddy): terminates TLS 1.2+ for the tenant's names
 * with HSTS and no access log, answers /.well-known/matrix/client (and
 * /.well-known/matrix/support when the tenant publishes one) and passes
 * Matrix traffic to the homeserver.
 */
export class TlsProxy extends pulumi.ComponentResource {
    public readonly container: docker.Container;
    public readonly containerName: string;
    /** host:port the edge or tor forwards to. */
    public readonly address: string;

    constructor(name: string, args: TlsProxyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:tenant:TlsProxy", name, {}, opts);
        if ((args.acme === undefined) === (args.certificate === undefined)) {
            throw new pulumi.ResourceError(`TlsProxy ${name}: give exactly one of acme (public) and certificate (tor, vpn)`, this);
        }
        this.containerName = containerName(args.tenant, "proxy");
        this.address = `${this.containerName}:${CADDY_TLS_PORT}`;
        const carrier = new ConfigCarrier(
            `${name}-config`,
            { ...args, configures: "proxy", serviceName: this.containerName, mounts: [configMount(args.dataVolume, "proxy", CONFIG_DIR, false)], files: proxyFiles(args) },
            { parent: this },
        );
        this.container = proxyContainer(name, args, this.containerName, carrier.revision, this);
        this.registerOutputs({ containerName: this.containerName });
    }
}

const CONFIG_DIR = path.posix.dirname(CADDY_CONFIG_PATH);

function caddyTls(args: TlsProxyArgs): CaddyTls {
    if (args.acme) {
        return { kind: "acme", email: args.acme.email, directory: args.acme.directory, trustedRootsFile: args.acme.directoryCa ? CADDY_ACME_ROOTS_PATH : undefined };
    }
    return { kind: "files", certFile: CADDY_CERT_PATH, keyFile: CADDY_KEY_PATH };
}

/** Caddy's JSON config and, by access mode, the tenant CA's certificate and key (secret) or the ACME directory's CA. */
function proxyFiles(args: TlsProxyArgs): ConfigFile[] {
    // Known at preview unless a name or the URL is not (the caller passes none it cannot know).
    const config = pulumi
        .all([args.hostnames, args.clientUrl])
        .apply(([hostnames, clientUrl]) =>
            JSON.stringify(renderCaddyConfig({ hostnames, upstream: args.upstream, clientUrl, storagePath: "/data/caddy", tls: caddyTls(args), support: args.support }), null, 2),
        );
    const files: ConfigFile[] = [{ path: CADDY_CONFIG_PATH, content: config, permissions: "0444" }];
    if (args.certificate) {
        files.push({ path: CADDY_CERT_PATH, content: args.certificate.certPem, permissions: "0444" });
        files.push({ path: CADDY_KEY_PATH, content: pulumi.secret(args.certificate.keyPem), permissions: "0400", owner: args.user.split(":")[0] });
        files.push({ path: CADDY_TENANT_CA_PATH, content: args.certificate.caCertPem, permissions: "0444" });
    }
    if (args.acme?.directoryCa) files.push({ path: CADDY_ACME_ROOTS_PATH, content: args.acme.directoryCa, permissions: "0444" });
    return files;
}

function proxyContainer(name: string, args: TlsProxyArgs, serviceName: string, revision: pulumi.Output<string>, parent: pulumi.Resource): docker.Container {
    return new docker.Container(
        `${name}-container`,
        {
            name: serviceName,
            image: args.image,
            command: ["caddy", "run", "--config", CADDY_CONFIG_PATH],
            envs: ["XDG_DATA_HOME=/data", "XDG_CONFIG_HOME=/tmp"],
            networksAdvanced: args.networks.map((network) => ({ ...network, aliases: [serviceName] })),
            mounts: [dataMount(args.dataVolume, "caddy", "/data/caddy"), configMount(args.dataVolume, "proxy", CONFIG_DIR)],
            ...hardenedContainerArgs({
                tenant: args.tenant,
                role: "proxy",
                user: args.user,
                limits: HELPER_LIMITS.proxy,
                cgroupParent: args.cgroupParent,
                logRetentionDays: args.logRetentionDays,
                labels: { ...args.labels, [CONFIG_REVISION_LABEL]: revision },
            }),
        },
        { parent, ...FIXED_NAME },
    );
}
