import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { ConfigCarrier } from "./configCarrier";
import { configMount, FIXED_NAME, hardenedContainerArgs, HELPER_LIMITS, type TenantContainerArgs } from "./hardening";
import { CONFIG_REVISION_LABEL } from "./labels";
import { containerName } from "./names";
import { PUSH_PROXY_CONFIG_PATH, PUSH_PROXY_FILTER_PATH, PUSH_PROXY_PORT, renderPushFilter, renderPushProxyConfig } from "./render/pushProxy";

export interface PushProxyArgs extends TenantContainerArgs {
    /** Push gateway hosts the proxy lets through (HTTPS CONNECT only). */
    gateways: string[];
    /** The tenant's services network subnet: the only clients allowed. */
    servicesSubnet: string;
    servicesNetwork: pulumi.Input<string>;
    egressNetwork: pulumi.Input<string>;
}

/**
 * The tenant's push proxy: the homeserver stays on its internal network, and
 * push notifications reach only the allow-listed gateways through this one
 * container on the tenant's egress network.
 */
export class PushProxy extends pulumi.ComponentResource {
    /** The proxy URL the homeserver is configured with. */
    public readonly url: string;
    public readonly container: docker.Container;

    constructor(name: string, args: PushProxyArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:tenant:PushProxy", name, {}, opts);
        const proxyName = containerName(args.tenant, "push-proxy");
        this.url = `http://${proxyName}:${PUSH_PROXY_PORT}`;
        const configDir = path.posix.dirname(PUSH_PROXY_CONFIG_PATH);
        const carrier = new ConfigCarrier(
            `${name}-config`,
            {
                ...args,
                configures: "push-proxy",
                serviceName: proxyName,
                mounts: [configMount(args.dataVolume, "push-proxy", configDir, false)],
                files: [
                    { path: PUSH_PROXY_CONFIG_PATH, content: renderPushProxyConfig({ allowFrom: args.servicesSubnet }), permissions: "0444" },
                    { path: PUSH_PROXY_FILTER_PATH, content: renderPushFilter(args.gateways), permissions: "0444" },
                ],
            },
            { parent: this },
        );
        this.container = new docker.Container(
            `${name}-container`,
            {
                name: proxyName,
                image: args.image,
                entrypoints: ["tinyproxy"],
                command: ["-d", "-c", PUSH_PROXY_CONFIG_PATH],
                networksAdvanced: [{ name: args.servicesNetwork, aliases: [proxyName] }, { name: args.egressNetwork }],
                mounts: [configMount(args.dataVolume, "push-proxy", configDir)],
                ...hardenedContainerArgs({
                    tenant: args.tenant,
                    role: "push-proxy",
                    user: args.user,
                    limits: HELPER_LIMITS["push-proxy"],
                    cgroupParent: args.cgroupParent,
                    logRetentionDays: args.logRetentionDays,
                    labels: { ...args.labels, [CONFIG_REVISION_LABEL]: carrier.revision },
                }),
            },
            { parent: this, ...FIXED_NAME },
        );
        this.registerOutputs({ url: this.url });
    }
}
