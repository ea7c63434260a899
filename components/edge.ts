import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { EDGE_PUBLIC_SUBNET } from "./addressing";
import { ConfigCarrier } from "./configCarrier";
import { FIXED_NAME, hardenedContainerArgs, HELPER_LIMITS } from "./hardening";
import { dockerLabels, NETWORK_LABEL, ROLE_LABEL } from "./labels";
import { EDGE_CONFIG_VOLUME, EDGE_CONTAINER, EDGE_PUBLIC_NETWORK } from "./names";
import { EDGE_CONFIG_PATH, EDGE_LISTEN_PORT, renderEdgeConfig, type EdgeRoute } from "./render/edge";

/** The edge's uid:gid: an unprivileged user that owns nothing on the host. */
const EDGE_USER = "99:99";
const CONFIG_DIR = path.posix.dirname(EDGE_CONFIG_PATH);

export interface EdgeArgs {
    /** Image reference pinned by digest. */
    image: pulumi.Input<string>;
    /** Host address port 443 is published on. */
    publicAddress: string;
    /** SNI name → tenant proxy; only served public tenants. */
    routes: EdgeRoute[];
    /** The edge's systemd slice (its TasksMax is the process limit). */
    cgroupParent: string;
    /** Days the edge's own logs are kept (it writes almost none). */
    logRetentionDays: number;
    /** SSH connection to the Docker host: a new route table is applied by a reload signal, not a new container. */
    connection: command.types.input.remote.ConnectionArgs;
}

/**
 * The host's shared SNI edge: publishes 443, reads only the server name and
 * passes each connection untouched to that tenant's proxy. It never holds a
 * certificate, so it never sees plaintext, and it sends no PROXY header, so
 * client addresses never reach a tenant's stack.
 *
 * The edge is never replaced for a tenant's sake: its container sits on its
 * own public network only, each public tenant attaches it to that tenant's
 * ingress network (EdgeAttachment, a tenant resource), and a new route table
 * is written by its config carrier and applied by a reload (HAProxy in
 * master-worker mode re-reads its config on SIGUSR2; old workers finish the
 * connections they hold), so other tenants' open connections survive.
 */
export class Edge extends pulumi.ComponentResource {
    public readonly container: docker.Container;
    public readonly publicNetwork: docker.Network;
    /** The edge container's name. */
    public readonly containerName = EDGE_CONTAINER;

    constructor(name: string, args: EdgeArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:edge:Edge", name, {}, opts);
        this.publicNetwork = publicNetwork(name, this);
        const volume = new docker.Volume(`${name}-config`, { name: EDGE_CONFIG_VOLUME, driver: "local", labels: dockerLabels({ [ROLE_LABEL]: "edge" }) }, { parent: this });
        const carrier = new ConfigCarrier(
            `${name}-routes`,
            {
                image: args.image,
                dataVolume: volume.name,
                user: EDGE_USER,
                cgroupParent: args.cgroupParent,
                logRetentionDays: args.logRetentionDays,
                labels: {},
                configures: "edge",
                serviceName: EDGE_CONTAINER,
                mounts: [{ type: "volume", source: volume.name, target: CONFIG_DIR, volumeOptions: { noCopy: true } }],
                files: [{ path: EDGE_CONFIG_PATH, content: renderEdgeConfig({ routes: args.routes }), permissions: "0444" }],
            },
            { parent: this },
        );
        this.container = edgeContainer(name, args, this.publicNetwork, volume, this, carrier);
        reloadOnNewRoutes(name, args.connection, carrier, this.container, this);
        this.registerOutputs({ routes: args.routes.map((r) => r.hostname) });
    }
}

function publicNetwork(name: string, parent: pulumi.Resource): docker.Network {
    return new docker.Network(
        `${name}-public`,
        {
            name: EDGE_PUBLIC_NETWORK,
            driver: "bridge",
            internal: false,
            ipamConfigs: [{ subnet: EDGE_PUBLIC_SUBNET }],
            labels: dockerLabels({ [NETWORK_LABEL]: "edge-public" }),
        },
        { parent, ...FIXED_NAME },
    );
}

function edgeContainer(name: string, args: EdgeArgs, network: docker.Network, volume: docker.Volume, parent: pulumi.Resource, carrier: ConfigCarrier): docker.Container {
    return new docker.Container(
        `${name}-container`,
        {
            name: EDGE_CONTAINER,
            image: args.image,
            // Master-worker mode in the foreground: SIGUSR2 reloads the config without dropping connections.
            command: ["haproxy", "-W", "-db", "-f", EDGE_CONFIG_PATH],
            networksAdvanced: [{ name: network.name }],
            mounts: [{ type: "volume", source: volume.name, target: CONFIG_DIR, readOnly: true, volumeOptions: { noCopy: true } }],
            ports: [{ internal: EDGE_LISTEN_PORT, external: 443, protocol: "tcp", ip: args.publicAddress }],
            // Durations in Go's own format: the provider reads them back that way ("60s" returns as "1m0s"), and any
            // other spelling would show as a change on every update.
            healthcheck: { tests: ["CMD", "haproxy", "-c", "-q", "-f", EDGE_CONFIG_PATH], interval: "1m0s", timeout: "5s", retries: 3 },
            ...hardenedContainerArgs({
                role: "edge",
                user: EDGE_USER,
                limits: HELPER_LIMITS.edge,
                cgroupParent: args.cgroupParent,
                logRetentionDays: args.logRetentionDays,
            }),
        },
        // The first config must be in place before HAProxy starts.
        { parent, ...FIXED_NAME, dependsOn: [carrier] },
    );
}

/** Sends the edge SIGUSR2 whenever its carrier writes a new route table (a new carrier is a new trigger). */
function reloadOnNewRoutes(
    name: string,
    connection: command.types.input.remote.ConnectionArgs,
    carrier: ConfigCarrier,
    container: docker.Container,
    parent: pulumi.Resource,
): void {
    new command.remote.Command(
        `${name}-reload`,
        {
            connection,
            // docker-init (PID 1, `init: true`) passes the signal on to HAProxy's master. The container id comes on
            // stdin, so the script text is known in a stack's first preview (the id is not) and the policies can read it.
            create: `read -r id; docker kill --signal=USR2 "$id" >/dev/null`,
            stdin: pulumi.interpolate`${container.id}\n`,
            triggers: [carrier.revision],
        },
        { parent, dependsOn: [container] },
    );
}

export interface EdgeAttachmentArgs {
    /** The tenant's ingress network (the only tenant network the edge may join). */
    network: pulumi.Input<string>;
    edge: Edge;
    connection: command.types.input.remote.ConnectionArgs;
}

/** The component type the isolation policies read edge attachments by. */
export const EDGE_ATTACHMENT_TYPE = "redoubt:edge:EdgeAttachment";

/**
 * The edge joined to one public tenant's ingress network, without touching
 * the edge container (whose networks cannot change in place: the Docker
 * provider marks networks_advanced ForceNew). The tenant owns it: adding or
 * removing a tenant adds or removes only its attachment. Its outputs name the
 * network and the container, for the policy pack.
 */
export class EdgeAttachment extends pulumi.ComponentResource {
    public readonly network: pulumi.Output<string>;

    constructor(name: string, args: EdgeAttachmentArgs, opts?: pulumi.ComponentResourceOptions) {
        super(EDGE_ATTACHMENT_TYPE, name, { network: args.network, container: args.edge.containerName }, opts);
        this.network = pulumi.output(args.network);
        const id = args.edge.container.id;
        new command.remote.Command(
            `${name}-connect`,
            {
                connection: args.connection,
                // By container id: a replaced edge container gets a new attachment, and the old one's delete
                // (which runs last) finds nothing to disconnect. The id comes on stdin (pulumi-command's remote
                // run() sets the session's stdin for create, update and delete alike), so the script text is
                // known in a first preview.
                create: pulumi.interpolate`read -r id; [ -n "$(docker inspect -f '{{if index .NetworkSettings.Networks "${args.network}"}}on{{end}}' "$id")" ] || docker network connect ${args.network} "$id"`,
                delete: pulumi.interpolate`read -r id; if docker inspect "$id" >/dev/null 2>&1; then docker network disconnect ${args.network} "$id"; fi`,
                stdin: pulumi.interpolate`${id}\n`,
                triggers: [id],
            },
            { parent: this },
        );
        this.registerOutputs({ network: this.network, container: args.edge.containerName });
    }
}
