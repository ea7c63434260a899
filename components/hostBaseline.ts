import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { digestReference, pinnedReference, type ImageCatalog, type ImageRole } from "./images";
import { EDGE_SLICE_OWNER, sliceName } from "./names";
import {
    APT_TIMERS,
    installFileCommand,
    renderJournaldRetention,
    renderSecurityUpdatesCheck,
    renderSecurityUpdatesConf,
    renderSlice,
    SCRIPTS_DIR,
    SECURITY_UPDATES_CONF,
    systemctlCommand,
} from "./render/host";
import {
    COLLECTOR_SCRIPT,
    COLLECTOR_UNIT,
    COLLECTOR_OUTPUT,
    MONITORING_TYPE,
    NODE_EXPORTER_DROP_IN,
    NODE_EXPORTER_SERVICE,
    monitoringInputs,
    renderCollectorScript,
    renderCollectorUnits,
    renderNodeExporterCheck,
    renderNodeExporterDropIn,
} from "./render/monitoring";

/** Kernel modules the host must have loaded: dm_crypt (LUKS volumes) and wireguard (vpn tenants). */
export const HOST_KERNEL_MODULES = ["dm_crypt", "wireguard"] as const;
const MODULES_FILE = "/etc/modules-load.d/redoubt.conf";

export interface HostBaselineArgs {
    connection: command.types.input.remote.ConnectionArgs;
    /** Days the host's journal keeps entries: the shortest retention any tenant on the host asks for. */
    logRetentionDays: number;
    catalog: ImageCatalog;
    /** Tenant homeserver images that override the catalog's (pinned by digest). */
    extraImages: string[];
    /** Docker provider of the host. */
    provider: docker.Provider;
    /**
     * host:port the node exporter listens on.
     * @default NODE_EXPORTER_LISTEN_DEFAULT (loopback: ops scrape through their SSH tunnel or WireGuard)
     */
    monitoringListenAddress?: string;
}

/**
 * What one Docker host needs before tenants: security updates on their own, the journal's time-bounded
 * retention, the edge's slice, monitoring without user data, and the pinned images pulled once.
 */
export class HostBaseline extends pulumi.ComponentResource {
    /** Pinned image reference per catalog role, pulled on the host. */
    public readonly images: Record<ImageRole, pulumi.Output<string>>;
    /** Pulled override images, by reference. */
    public readonly extraImages: Record<string, pulumi.Output<string>>;
    public readonly journald: command.remote.Command;
    public readonly edgeSlice: string;

    constructor(name: string, args: HostBaselineArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:host:HostBaseline", name, {}, opts);
        const dropIn = "/etc/systemd/journald.conf.d/redoubt.conf";
        this.journald = new command.remote.Command(
            `${name}-journald`,
            {
                connection: args.connection,
                create: `${installFileCommand(dropIn, renderJournaldRetention(args.logRetentionDays), "0644")} && ${systemctlCommand("restart systemd-journald")} && journalctl --vacuum-time=${args.logRetentionDays}d`,
                // No triggers: a new retention updates the file in place (create runs again). A replacement would
                // write the new file and then run the old resource's delete, removing it.
                delete: `rm -f ${dropIn} && ${systemctlCommand("restart systemd-journald")}`,
            },
            { parent: this },
        );
        // dm-crypt opens the tenants' volumes; WireGuard endpoints create wireguard interfaces, which containers
        // cannot load a module for. Loaded now and at every boot.
        new command.remote.Command(
            `${name}-kernel-modules`,
            {
                connection: args.connection,
                create: `${installFileCommand(MODULES_FILE, `${HOST_KERNEL_MODULES.join("\n")}\n`, "0644")} && modprobe -a ${HOST_KERNEL_MODULES.join(" ")}`,
                delete: `rm -f ${MODULES_FILE}`,
            },
            { parent: this },
        );
        this.edgeSlice = sliceName(EDGE_SLICE_OWNER);
        new command.remote.Command(
            `${name}-edge-slice`,
            {
                connection: args.connection,
                create: `${installFileCommand(`/etc/systemd/system/${this.edgeSlice}`, renderSlice({ tenant: "edge", tasksMax: 512, memoryMiB: 512, cpus: 1 }), "0644")} && ${systemctlCommand("daemon-reload")}`,
                delete: `rm -f /etc/systemd/system/${this.edgeSlice} && ${systemctlCommand("daemon-reload")}`,
            },
            { parent: this },
        );
        securityUpdates(name, args, this);
        new HostMonitoring(`${name}-monitoring`, { connection: args.connection, listenAddress: args.monitoringListenAddress }, { parent: this });
        // Containers get the pinned reference itself, by way of the pulled image's `name` (so they are created
        // after the pull). Its repoDigest names the same image, but the provider computes it: unknown in a stack's
        // first preview, which would leave images-pinned-by-digest advisory for every container there.
        const pull = (resourceName: string, reference: string) =>
            new docker.RemoteImage(resourceName, { name: reference, keepLocally: true }, { parent: this, provider: args.provider }).name.apply(() => digestReference(reference));
        const roles = Object.keys(args.catalog) as ImageRole[];
        this.images = Object.fromEntries(roles.map((role) => [role, pull(`${name}-image-${role}`, pinnedReference(args.catalog[role]))])) as Record<
            ImageRole,
            pulumi.Output<string>
        >;
        this.extraImages = Object.fromEntries([...new Set(args.extraImages)].sort().map((reference) => [reference, pull(`${name}-image-${reference.slice(-12)}`, reference)]));
        this.registerOutputs({});
    }
}

/**
 * Debian's security updates installed on their own (the privacy page: "systems
 * are regularly updated with security patches"): our apt drop-in, the apt
 * timers enabled, and a check that refuses a host where they would not run.
 */
function securityUpdates(name: string, args: HostBaselineArgs, parent: pulumi.Resource): command.remote.Command {
    const check = `${SCRIPTS_DIR}/security-updates-check.sh`;
    return new command.remote.Command(
        `${name}-security-updates`,
        {
            connection: args.connection,
            create: [
                installFileCommand(SECURITY_UPDATES_CONF, renderSecurityUpdatesConf(), "0644"),
                installFileCommand(check, renderSecurityUpdatesCheck(), "0755"),
                check,
                systemctlCommand(`enable --now ${APT_TIMERS.join(" ")}`),
            ].join(" && "),
            // The timers stay: they came with the host's apt, not with this stack.
            delete: `rm -f ${SECURITY_UPDATES_CONF} ${check}`,
        },
        { parent },
    );
}

export interface HostMonitoringArgs {
    connection: command.types.input.remote.ConnectionArgs;
    /** host:port the node exporter listens on; loopback unless given. */
    listenAddress?: string;
}

/**
 * Machine and service facts for ops, no user data (the privacy page: "security
 * monitoring without logging user activity"): Debian's node exporter with our
 * collectors only, and our collector every minute. Its inputs are the
 * configuration the monitoring-no-user-data policy checks; the command renders
 * from the same inputs. Refused on a host without prometheus-node-exporter.
 */
export class HostMonitoring extends pulumi.ComponentResource {
    constructor(name: string, args: HostMonitoringArgs, opts?: pulumi.ComponentResourceOptions) {
        const inputs = monitoringInputs({ listenAddress: args.listenAddress });
        super(MONITORING_TYPE, name, inputs, opts);
        const check = `${SCRIPTS_DIR}/node-exporter-check.sh`;
        const units = renderCollectorUnits();
        const unitFile = (suffix: string) => `/etc/systemd/system/${COLLECTOR_UNIT}.${suffix}`;
        new command.remote.Command(
            `${name}-install`,
            {
                connection: args.connection,
                create: [
                    installFileCommand(check, renderNodeExporterCheck(), "0755"),
                    check,
                    installFileCommand(COLLECTOR_SCRIPT, renderCollectorScript(), "0755"),
                    installFileCommand(unitFile("service"), units.service, "0644"),
                    installFileCommand(unitFile("timer"), units.timer, "0644"),
                    installFileCommand(NODE_EXPORTER_DROP_IN, renderNodeExporterDropIn({ listenAddress: inputs.listenAddress }), "0644"),
                    systemctlCommand("daemon-reload"),
                    systemctlCommand(`enable --now ${COLLECTOR_UNIT}.timer`),
                    systemctlCommand(`enable ${NODE_EXPORTER_SERVICE}`),
                    systemctlCommand(`restart ${NODE_EXPORTER_SERVICE}`),
                ].join(" && "),
                // The exporter is stopped rather than left on Debian's defaults (every default collector, every address).
                delete: [
                    systemctlCommand(`disable --now ${COLLECTOR_UNIT}.timer ${NODE_EXPORTER_SERVICE}`),
                    `rm -f ${check} ${COLLECTOR_SCRIPT} ${unitFile("service")} ${unitFile("timer")} ${NODE_EXPORTER_DROP_IN} ${COLLECTOR_OUTPUT}`,
                    systemctlCommand("daemon-reload"),
                ].join(" && "),
            },
            { parent: this },
        );
        // A component's registered outputs are its properties in the engine's state and the policy pack's view.
        this.registerOutputs({ ...inputs });
    }
}
