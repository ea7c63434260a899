import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { EDGE_PUBLIC_SUBNET } from "./addressing";
import { FIXED_NAME, hardenedContainerArgs, HELPER_LIMITS } from "./hardening";
import * as path from "node:path";
import { dockerLabels, NETWORK_LABEL, ROLE_LABEL } from "./labels";
import { EDGE_CONFIG_PATH, EDGE_LISTEN_PORT, renderEdgeConfig, type EdgeRoute } from "./render/edge";

export interface EdgeArgs {
    image: pulumi.Input<string>;
    /** Host address port 443 is published on. */
    publicAddress: string;
    /** SNI name → tenant proxy; only served public tenants. */
    routes: EdgeRoute[];
    /** The ingress networks of those tenants: the only tenant networks the edge joins. */
    ingressNetworks: pulumi.Input<string>[];
    cgroupParent: string;
    /** Days the edge's own logs are kept (it writes almost none). */
    logRetentionDays: number;
}

/**
 * The host's shared SNI edge: publishes 443, reads only the server name and
 * passes each connection untouched to that tenant's proxy. It never holds a
 * certificate, so it never sees plaintext, and it sends no PROXY header, so
 * client addresses never reach a tenant's stack.
 */
export class Edge extends pulumi.ComponentResource {
    public readonly container: docker.Container;
    public readonly publicNetwork: docker.Network;

    constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:edge:Edge", name, {}, opts);
        this.publicNetwork = new docker.Network(
            `${name}-public`,
            {
                name: "redoubt-edge-public",
                driver: "bridge",
                internal: false,
                ipamConfigs: [{ subnet: EDGE_PUBLIC_SUBNET }],
                labels: dockerLabels({ [NETWORK_LABEL]: "edge-public" }),
            },
            { parent: this, ...FIXED_NAME },
        );
        // Docker copies the config into a read-only container only onto a volume.
        const config = new docker.Volume(`${name}-config`, { name: "redoubt-edge-config", driver: "local", labels: dockerLabels({ [ROLE_LABEL]: "edge" }) }, { parent: this });
        this.container = new docker.Container(
            `${name}-container`,
            {
                name: "redoubt-edge",
                image: args.image,
                networksAdvanced: [{ name: this.publicNetwork.name }, ...args.ingressNetworks.map((network) => ({ name: network }))],
                mounts: [{ type: "volume", source: config.name, target: path.posix.dirname(EDGE_CONFIG_PATH) }],
                ports: [{ internal: EDGE_LISTEN_PORT, external: 443, protocol: "tcp", ip: args.publicAddress }],
                uploads: [{ file: EDGE_CONFIG_PATH, content: renderEdgeConfig({ routes: args.routes }), permissions: "0444" }],
                healthcheck: { tests: ["CMD", "haproxy", "-c", "-f", EDGE_CONFIG_PATH], interval: "60s", timeout: "5s", retries: 3 },
                ...hardenedContainerArgs({
                    role: "edge",
                    user: "99:99",
                    limits: HELPER_LIMITS.edge,
                    cgroupParent: args.cgroupParent,
                    logRetentionDays: args.logRetentionDays,
                }),
            },
            { parent: this, ...FIXED_NAME },
        );
        this.registerOutputs({ routes: args.routes.map((r) => r.hostname) });
    }
}
