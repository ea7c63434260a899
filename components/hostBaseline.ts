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
}

/**
 * What one Docker host needs before tenants: security updates on their own, the journal's time-bounded
 * retention, the edge's slice, and the pinned images pulled once.
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
