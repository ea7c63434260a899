import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { ConfigCarrier, type ConfigFile } from "./configCarrier";
import { DEFAULT_HOMESERVER, type HomeserverFlavor } from "./homeservers";
import { configMount, dataMount, FIXED_NAME, hardenedContainerArgs, HELPER_LIMITS, type TenantContainerArgs } from "./hardening";
import { backupUnitName, containerName, restoreDrillUnitName } from "./names";
import { BACKUP_COUNTRIES_LABEL, BACKUP_SITES_LABEL, CONFIG_REVISION_LABEL } from "./labels";
import { BACKUP_SCRIPT_PATH, BACKUP_SOURCE_PATH, renderBackupScript, storageBoxRepository, storageBoxSftpCommand } from "./render/backup";
import { backupSiteFiles, renderRestoreDrillUnits, renderRestoreScript, restoreDrillMetricsFile, restoreDrillScriptPath } from "./render/restore";
import { installFileCommand, renderBackupTrigger, renderBackupUnits, SCRIPTS_DIR, systemctlCommand, tenantDataMount, tenantIdentityFiles } from "./render/host";

/** One backup site's storage box, as its backup stack exports it. */
export interface BackupTarget {
    site: string;
    /** Country of the site (ISO 3166-1 alpha-2). */
    country: string;
    /** Storage Box host name, e.g. u12345.your-storagebox.de. */
    host: pulumi.Input<string>;
    /** Storage Box user. */
    user: pulumi.Input<string>;
    /** OpenSSH private key for the box (secret). */
    sshPrivateKey: pulumi.Input<string>;
    /** restic repository password (secret). */
    resticPassword: pulumi.Input<string>;
}

export interface BackupAgentArgs extends TenantContainerArgs {
    targets: BackupTarget[];
    keep: { daily: number; weekly: number; monthly: number };
    /** systemd OnCalendar= of the nightly run. */
    onCalendar: string;
    /** The tenant's egress network: the agent's only network. */
    egressNetwork: pulumi.Input<string>;
    homeserverContainer: string;
    /**
     * The homeserver whose database backup and media are backed up.
     * @default DEFAULT_HOMESERVER
     */
    homeserver?: HomeserverFlavor;
    connection: command.types.input.remote.ConnectionArgs;
    /**
     * Install the nightly timer.
     * @default true
     */
    scheduled?: boolean;
    /**
     * Install the monthly restore drill (with the nightly timer only). Off while the homeserver is not
     * served: the drill rebuilds the database with the running homeserver's image and uid.
     * @default true
     */
    restoreDrill?: boolean;
}

const SECRETS_DIR = path.posix.dirname(BACKUP_SCRIPT_PATH);
/** Set by the host trigger in the agent's cache directory while the homeserver is stopped. */
const STOPPED_FLAG = "homeserver-stopped";
const CACHE_DIR = "/cache";

/**
 * The tenant's backup agent: a restic container, started nightly by a host
 * timer after the homeserver has written a consistent database backup. It
 * backs up that backup and the media to one repository per site.
 */
export class BackupAgent extends pulumi.ComponentResource {
    public readonly container: docker.Container;
    public readonly containerName: string;

    constructor(name: string, args: BackupAgentArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:tenant:BackupAgent", name, {}, opts);
        const sites = args.targets.map((t) => t.site);
        if (new Set(sites).size !== sites.length)
            throw new pulumi.ResourceError(`BackupAgent ${name}: a site appears twice in ${sites.join(", ")}; give each backup site once`, this);
        this.containerName = containerName(args.tenant, "backup-agent");
        const knownHosts = `${CACHE_DIR}/${backupSiteFiles("").knownHosts}`;
        const homeserver = args.homeserver ?? DEFAULT_HOMESERVER;
        const script = pulumi.all(args.targets.map((t) => pulumi.all([t.host, t.user]).apply(([host, user]) => ({ site: t.site, host, user })))).apply((targets) =>
            renderBackupScript({
                repositories: targets.map((t) => ({
                    site: t.site,
                    repository: storageBoxRepository(t.user, t.host),
                    passwordFile: `${SECRETS_DIR}/${backupSiteFiles(t.site).password}`,
                    // Host keys are learnt on the first backup and pinned from then on (kept on the encrypted volume).
                    sftpCommand: storageBoxSftpCommand({ user: t.user, host: t.host, keyFile: `${SECRETS_DIR}/${backupSiteFiles(t.site).sshKey}`, knownHostsFile: knownHosts }),
                })),
                paths: [`${BACKUP_SOURCE_PATH}/${homeserver.data.backups}`, `${BACKUP_SOURCE_PATH}/${homeserver.data.media}`],
                keep: args.keep,
                freshnessMarker: `${BACKUP_SOURCE_PATH}/${homeserver.data.backupMarker}`,
                maxAgeMinutes: 60,
                homeserverStoppedFlag: `${CACHE_DIR}/${STOPPED_FLAG}`,
            }),
        );
        const uid = args.user.split(":")[0];
        const files: ConfigFile[] = [
            { path: BACKUP_SCRIPT_PATH, content: script, executable: true, permissions: "0555" },
            ...args.targets.flatMap((t) => [
                { path: `${SECRETS_DIR}/${backupSiteFiles(t.site).password}`, content: pulumi.secret(t.resticPassword), permissions: "0400", owner: uid },
                { path: `${SECRETS_DIR}/${backupSiteFiles(t.site).sshKey}`, content: pulumi.secret(t.sshPrivateKey), permissions: "0400", owner: uid },
            ]),
        ];
        const carrier = new ConfigCarrier(
            `${name}-config`,
            { ...args, configures: "backup-agent", serviceName: this.containerName, mounts: [configMount(args.dataVolume, "backup", SECRETS_DIR, false)], files },
            { parent: this },
        );
        this.container = new docker.Container(
            `${name}-container`,
            {
                name: this.containerName,
                image: args.image,
                entrypoints: ["/bin/sh"],
                command: [BACKUP_SCRIPT_PATH],
                envs: [`RESTIC_CACHE_DIR=${CACHE_DIR}/restic`, `HOME=${CACHE_DIR}`],
                // Started by the host timer, not at deploy time.
                start: false,
                mustRun: false,
                networksAdvanced: [{ name: args.egressNetwork }],
                mounts: [
                    dataMount(args.dataVolume, homeserver.data.subdir, BACKUP_SOURCE_PATH, true),
                    dataMount(args.dataVolume, "restic", CACHE_DIR),
                    configMount(args.dataVolume, "backup", SECRETS_DIR),
                    // ssh needs the uid it runs as to have a name.
                    { type: "bind", source: tenantIdentityFiles(args.tenant).passwd, target: "/etc/passwd", readOnly: true },
                    { type: "bind", source: tenantIdentityFiles(args.tenant).group, target: "/etc/group", readOnly: true },
                ],
                ...hardenedContainerArgs({
                    tenant: args.tenant,
                    role: "backup-agent",
                    user: args.user,
                    limits: HELPER_LIMITS["backup-agent"],
                    cgroupParent: args.cgroupParent,
                    logRetentionDays: args.logRetentionDays,
                    labels: {
                        ...args.labels,
                        [CONFIG_REVISION_LABEL]: carrier.revision,
                        [BACKUP_SITES_LABEL]: sites.join(","),
                        [BACKUP_COUNTRIES_LABEL]: args.targets.map((t) => t.country).join(","),
                    },
                }),
                // A one-shot job: the host timer starts it and reads its exit status. Docker must not run it again
                // by itself (on-failure would repeat a failing backup, and start it at boot).
                restart: "no",
                maxRetryCount: 0,
            },
            { parent: this, ...FIXED_NAME },
        );
        if (args.scheduled ?? true) {
            const trigger = {
                tenant: args.tenant,
                homeserverContainer: args.homeserverContainer,
                backupContainer: this.containerName,
                onCalendar: args.onCalendar,
                stoppedFlag: `${tenantDataMount(args.tenant)}/restic/${STOPPED_FLAG}`,
                flavor: homeserver,
            };
            const units = renderBackupUnits(trigger);
            const unitName = backupUnitName(args.tenant);
            new command.remote.Command(
                `${name}-timer`,
                {
                    connection: args.connection,
                    create: [
                        installFileCommand(`${SCRIPTS_DIR}/${args.tenant}-backup.sh`, renderBackupTrigger(trigger), "0700"),
                        installFileCommand(`/etc/systemd/system/${unitName}.service`, units.service, "0644"),
                        installFileCommand(`/etc/systemd/system/${unitName}.timer`, units.timer, "0644"),
                        `${systemctlCommand("daemon-reload")} && ${systemctlCommand(`enable --now ${unitName}.timer`)}`,
                    ].join(" && "),
                    delete: `${systemctlCommand(`disable --now ${unitName}.timer`)}; rm -f /etc/systemd/system/${unitName}.service /etc/systemd/system/${unitName}.timer ${SCRIPTS_DIR}/${args.tenant}-backup.sh; ${systemctlCommand("daemon-reload")}`,
                },
                { parent: this, dependsOn: [this.container] },
            );
        }
        if ((args.scheduled ?? true) && (args.restoreDrill ?? true)) {
            // The monthly restore drill: each site's newest snapshot restored beside the live data and the
            // database rebuilt from it (render/restore.ts), the result a metric for the node exporter.
            const drillUnit = restoreDrillUnitName(args.tenant);
            const drillUnits = renderRestoreDrillUnits(args.tenant, sites);
            const drillScripts = pulumi.all(args.targets.map((t) => pulumi.all([t.host, t.user]).apply(([host, user]) => ({ site: t.site, host, user })))).apply((targets) =>
                targets.map((t) =>
                    installFileCommand(
                        restoreDrillScriptPath(args.tenant, t.site),
                        renderRestoreScript({
                            tenant: args.tenant,
                            site: t.site,
                            repository: storageBoxRepository(t.user, t.host),
                            storageBox: { user: t.user, host: t.host },
                            force: false,
                            flavor: homeserver,
                            restic: "agent-image",
                            drillMetricsFile: restoreDrillMetricsFile(args.tenant, t.site),
                        }),
                        "0700",
                    ),
                ),
            );
            // The scripts name the Storage Boxes, which come from the backup stacks: unknown in a stack's first
            // preview. They go in on stdin (pulumi-command sends it on create and update alike), so `create` stays
            // known and the policies that read every command's `create` keep judging it.
            new command.remote.Command(
                `${name}-restore-drill`,
                {
                    connection: args.connection,
                    create: [
                        "sh -s",
                        installFileCommand(`/etc/systemd/system/${drillUnit}.service`, drillUnits.service, "0644"),
                        installFileCommand(`/etc/systemd/system/${drillUnit}.timer`, drillUnits.timer, "0644"),
                        `${systemctlCommand("daemon-reload")} && ${systemctlCommand(`enable --now ${drillUnit}.timer`)}`,
                    ].join(" && "),
                    stdin: drillScripts.apply((installs) => `set -e\n${installs.join("\n")}\n`),
                    delete: `${systemctlCommand(`disable --now ${drillUnit}.timer`)}; rm -f /etc/systemd/system/${drillUnit}.service /etc/systemd/system/${drillUnit}.timer ${sites.map((site) => `${restoreDrillScriptPath(args.tenant, site)} ${restoreDrillMetricsFile(args.tenant, site)}`).join(" ")}; ${systemctlCommand("daemon-reload")}`,
                },
                { parent: this, dependsOn: [this.container] },
            );
        }
        this.registerOutputs({ containerName: this.containerName });
    }
}
