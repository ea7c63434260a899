import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { configMount, FIXED_NAME, hardenedContainerArgs, HELPER_LIMITS, type TenantContainerArgs } from "./hardening";
import { CADDY_CERT_PATH, CADDY_CONFIG_PATH, CADDY_KEY_PATH, CADDY_TLS_PORT, renderCaddyConfig } from "./render/caddy";

/** A certificate and key from the tenant's own CA (PEM; the key is a secret). */
export interface TenantCertificate {
    certPem: pulumi.Input<string>;
    keyPem: pulumi.Input<string>;
}

export interface TlsProxyArgs extends TenantContainerArgs {
    /** Names the proxy serves (the public domain, the onion name, or the VPN name). */
    hostnames: pulumi.Input<string[]>;
    /** host:port of the homeserver. */
    upstream: string;
    clientUrl: pulumi.Input<string>;
    /** ACME account email (public tenants). */
    acmeEmail?: string;
    /** The tenant CA's certificate for the proxy (tor and vpn tenants). Exactly one of acmeEmail and certificate. */
    certificate?: TenantCertificate;
    /** Networks: services first, then ingress for public tenants. */
    networks: { name: pulumi.Input<string>; ipv4Address?: string }[];
}

/**
 * The tenant's TLS proxy (Caddy): terminates TLS 1.2+ for the tenant's names
 * with HSTS and no access log, answers /.well-known/matrix/client and passes
 * Matrix traffic to the homeserver.
 */
export class TlsProxy extends pulumi.ComponentResource {
    public readonly container: docker.Container;
    public readonly containerName: string;
    /** host:port the edge or tor forwards to. */
    public readonly address: string;

    constructor(name: string, args: TlsProxyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:tenant:TlsProxy", name, {}, opts);
        if ((args.acmeEmail === undefined) === (args.certificate === undefined)) {
            throw new Error(`TlsProxy ${name}: give exactly one of acmeEmail (public) and certificate (tor, vpn)`);
        }
        this.containerName = `redoubt-${args.tenant}-proxy`;
        this.address = `${this.containerName}:${CADDY_TLS_PORT}`;
        const config = pulumi.all([args.hostnames, args.clientUrl]).apply(([hostnames, clientUrl]) =>
            JSON.stringify(
                renderCaddyConfig({
                    hostnames,
                    upstream: args.upstream,
                    clientUrl,
                    storagePath: "/data/caddy",
                    tls: args.acmeEmail ? { kind: "acme", email: args.acmeEmail } : { kind: "files", certFile: CADDY_CERT_PATH, keyFile: CADDY_KEY_PATH },
                }),
                null,
                2,
            ),
        );
        const uploads: pulumi.Input<docker.types.input.ContainerUpload>[] = [{ file: CADDY_CONFIG_PATH, content: config, permissions: "0444" }];
        if (args.certificate) {
            uploads.push({ file: CADDY_CERT_PATH, content: args.certificate.certPem, permissions: "0444" });
            uploads.push({ file: CADDY_KEY_PATH, content: pulumi.secret(args.certificate.keyPem), permissions: "0400", owner: args.user.split(":")[0] });
        }
        this.container = new docker.Container(
            `${name}-container`,
            {
                name: this.containerName,
                image: args.image,
                command: ["caddy", "run", "--config", CADDY_CONFIG_PATH],
                envs: ["XDG_DATA_HOME=/data", "XDG_CONFIG_HOME=/tmp"],
                networksAdvanced: args.networks.map((network) => ({ ...network, aliases: [this.containerName] })),
                mounts: [
                    { type: "volume", source: args.dataVolume, target: "/data/caddy", volumeOptions: { subpath: "caddy" } },
                    configMount(args.dataVolume, "proxy", path.posix.dirname(CADDY_CONFIG_PATH)),
                ],
                uploads: args.certificate ? pulumi.secret(uploads) : uploads,
                ...hardenedContainerArgs({
                    tenant: args.tenant,
                    role: "proxy",
                    user: args.user,
                    limits: HELPER_LIMITS.proxy,
                    cgroupParent: args.cgroupParent,
                    logRetentionDays: args.logRetentionDays,
                    labels: args.labels,
                }),
            },
            { parent: this, ...FIXED_NAME },
        );
        this.registerOutputs({ containerName: this.containerName });
    }
}
