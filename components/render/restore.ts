// The restore script (`npm run tenant -- restore`): run as root on the Docker
// host (sent over SSH to `sh -s`), it restores a tenant's homeserver data from
// one backup site's restic repository onto the tenant's volume, or onto
// another, fresh tenant's volume for a drill.
//
// Why on the host and not only in the restic image: a restore must stop and
// start the homeserver, swap directories on the volume and run the
// homeserver's one-off database restore, which only the host (with Docker)
// can. restic itself runs in the backup agent's own image (the digest the
// agent runs, so the host needs no restic of its own), with the tenant's
// volume bind-mounted at the same path as on the host: every path in this
// script means the same file inside and outside that container. Tests render
// it with `restic: "local"` and Debian's restic on PATH instead.
import { DEFAULT_HOMESERVER, HOMESERVER_FLAVORS, type HomeserverFlavor } from "../homeservers";
import { backupUnitName, containerName, NAME_PREFIX, networkName, restoreDrillUnitName } from "../names";
import { BACKUP_SOURCE_PATH, storageBoxSftpCommand } from "./backup";
import { SCRIPTS_DIR, systemctlCommand, tenantDataMount, tenantIdentityFiles } from "./host";
import { NODE_EXPORTER_TEXTFILE_DIR, RESTORE_DRILL_METRICS } from "./monitoring";

/** The host and neutral name the backup script gives every snapshot (render/backup.ts: `--host redoubt --tag redoubt`). */
export const SNAPSHOT_HOST = "redoubt";
export const SNAPSHOT_TAG = "redoubt";

/**
 * How each homeserver turns its restored database backup directory back into
 * a database: the arguments of a one-off start of its image, with its usual
 * data and config mounts, that restores and exits. Keyed by every flavor, so a
 * new server does not typecheck without its entry.
 */
const DATABASE_RESTORE_ARGS: { [name in keyof typeof HOMESERVER_FLAVORS]: readonly string[] } = {
    // Tuwunel docs/maintenance.md "Restoring online backup" (matrix-construct/tuwunel 5b36691): stop the
    // server, start it once with `--restore-backup` (the newest backup in database_backup_path, restored
    // into database_path with every file's checksum verified; src/database/engine/open.rs), `--maintenance`
    // so it serves no client, `--execute "server shutdown"` so it exits once the restore is done. The option
    // is refused from config and environment (src/main/args.rs), hence arguments. We keep one backup
    // (database_backups_to_keep = 1, render/tuwunel.ts), so the newest is the snapshot's.
    tuwunel: ["--restore-backup", "--maintenance", "--execute", "server shutdown"],
};

export interface RestoreScriptInput {
    /** The tenant whose backups are read (its volume holds the repository's password and ssh key). */
    tenant: string;
    /** The tenant restored onto; default `tenant`. Another tenant: a drill onto a fresh tenant (`--as`). */
    target?: string;
    site: string;
    /** restic repository string (primary stack output `tenants.<t>.backups.<site>`), or a local path in tests. */
    repository: string;
    /** Storage Box user and host of an sftp repository; absent for a local repository. */
    storageBox?: { user: string; host: string };
    /** A snapshot ID (or unique prefix); default the newest snapshot with the backup's host and tag. */
    snapshot?: string;
    /** Restore even over data newer than the snapshot (and onto a drill tenant that has data). */
    force: boolean;
    /** @default DEFAULT_HOMESERVER */
    flavor?: HomeserverFlavor;
    /** Where restic runs: the backup agent's image (production) or `restic` on PATH (tests). */
    restic: "agent-image" | "local";
    /**
     * A drill (monthly, from a host timer): the snapshot is restored and the database rebuilt from it in a
     * staging directory, then removed; the live data and the running homeserver are never touched. The
     * result goes to this file in the node exporter's textfile format (written whole, then renamed).
     */
    drillMetricsFile?: string;
    /** Host paths, for tests: the tenants' data mounts and where the snapshot holds the data. */
    paths?: { sourceMount?: string; targetMount?: string; snapshotRoot?: string };
}

/** The agent's files for one site, by name in its secrets and cache directories. */
export const backupSiteFiles = (site: string) => ({ password: `restic-${site}`, sshKey: `ssh-${site}`, knownHosts: "known_hosts" });

/**
 * Where those files are on the host, below the tenant's data mount (its
 * secrets directory is the volume's config/backup, its cache directory the
 * volume's restic): the restore command reads them there.
 */
export function backupSiteHostPaths(dataMount: string, site: string): { passwordFile: string; sshKeyFile: string; knownHostsFile: string } {
    const files = backupSiteFiles(site);
    return {
        passwordFile: `${dataMount}/config/backup/${files.password}`,
        sshKeyFile: `${dataMount}/config/backup/${files.sshKey}`,
        knownHostsFile: `${dataMount}/restic/${files.knownHosts}`,
    };
}

function q(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** How long a restore waits for the target's running backup or drill to end before it gives up, untouched. */
export const RESTORE_WAIT_FOR_BACKUP_SECONDS = 1800;

/** The restore script; it prints progress and the outcome, never a secret (passwords and keys stay in their files). */
export function renderRestoreScript(input: RestoreScriptInput): string {
    const flavor = input.flavor ?? DEFAULT_HOMESERVER;
    const restoreArgs = DATABASE_RESTORE_ARGS[flavor.name as keyof typeof HOMESERVER_FLAVORS];
    if (!restoreArgs) throw new Error(`restore: no database restore is known for homeserver '${flavor.name}' (known: ${Object.keys(DATABASE_RESTORE_ARGS).join(", ")})`);
    const target = input.target ?? input.tenant;
    const sourceMount = input.paths?.sourceMount ?? tenantDataMount(input.tenant);
    const targetMount = input.paths?.targetMount ?? tenantDataMount(target);
    const snapshotRoot = input.paths?.snapshotRoot ?? BACKUP_SOURCE_PATH;
    const files = backupSiteHostPaths(sourceMount, input.site);
    const sftpCommand = input.storageBox ? storageBoxSftpCommand({ ...input.storageBox, keyFile: files.sshKeyFile, knownHostsFile: files.knownHostsFile }) : "";
    const identity = tenantIdentityFiles(input.tenant);
    const mounts = [...new Set([sourceMount, targetMount])].map((m) => `-v ${q(`${m}:${m}`)}`).join(" ");
    // Hardened like every tenant container (hardening.ts): read-only root, no capabilities, a small /tmp.
    const hardened = "--read-only --tmpfs /tmp:rw,noexec,nosuid,size=64m --cap-drop ALL --security-opt no-new-privileges";
    const resticExec =
        input.restic === "local"
            ? `restic --no-cache "$@"`
            : // The agent's uid, image and egress network; its passwd/group so ssh can run as that uid.
              `docker run --rm --user "$agent_user" --network ${networkName(input.tenant, "egress")} ${hardened} \\
        -e RESTIC_REPOSITORY -e RESTIC_PASSWORD_FILE -e HOME=${q(`${sourceMount}/restic`)} ${mounts} \\
        -v ${q(`${identity.passwd}:/etc/passwd:ro`)} -v ${q(`${identity.group}:/etc/group:ro`)} \\
        --entrypoint restic "$agent_image" --no-cache "$@"`;
    const label = target === input.tenant ? input.tenant : `${target} (a drill from ${input.tenant})`;
    const drill = input.drillMetricsFile;
    if (drill && target !== input.tenant) throw new Error("restore: a scheduled drill restores a tenant's backup into its own volume's staging directory; give no target");
    const metricLabels = `tenant="${input.tenant}",site="${input.site}"`;
    const databaseRestore = (dataDir: string) => `docker run --rm --user "$homeserver_user" --network none ${hardened} \\
    ${flavor.container.envs.map((e) => `-e ${q(e)}`).join(" ")} \\
    -v ${dataDir}:${q(flavor.data.mountPath)} -v "$target_mount"/config/homeserver:${q(`${flavor.configDir}:ro`)} \\
    "$homeserver_image" ${restoreArgs.map(q).join(" ")}`;
    // The drill: the homeserver rebuilds a database from the restored backup in the staging directory; the
    // live data and the running server are left alone. The staging directory goes with the EXIT trap.
    const drillSteps = `# 5. The homeserver rebuilds its database from the restored backup, in the staging directory.
${databaseRestore('"$staged"')} >/dev/null 2>&1 || fail "${flavor.name} could not rebuild its database from snapshot $snapshot_id"
write_metrics 1
echo "restore drill: ${input.tenant} from ${input.site}: snapshot $(printf '%.8s' "$snapshot_id") restored and its database rebuilt"
`;
    const targetTimers = [backupUnitName(target), restoreDrillUnitName(target)];
    const restoreSteps = `# 5. The target's nightly backup and monthly drill wait until its data is back: a backup now would signal a
# stopped homeserver or take half-swapped data. Their timers stop, and start again however the script ends;
# a backup or drill already running is waited for.
paused=""
resume_timers() {
    for timer in $paused; do
        ${systemctlCommand('start "$timer"')} || echo "restore: could not start $timer again; run systemctl start $timer" >&2
    done
}
trap 'cleanup; resume_timers' EXIT
for timer in ${targetTimers.map((u) => `${u}.timer`).join(" ")}; do
    if systemctl is-active --quiet "$timer"; then
        ${systemctlCommand('stop "$timer"')} || fail "could not stop $timer; nothing was changed"
        paused="$paused $timer"
    fi
done
# Both services are Type=oneshot: "activating" while they run (systemd.service(5)), which is-active does not count.
running() {
    for unit in ${targetTimers.map((u) => `${u}.service`).join(" ")}; do
        case "$(systemctl show -p ActiveState --value "$unit" 2>/dev/null)" in activating | active | deactivating | reloading) return 0 ;; esac
    done
    return 1
}
waited=0
while running; do
    [ "$waited" -lt ${RESTORE_WAIT_FOR_BACKUP_SECONDS} ] || fail "a backup or drill of ${target} (${targetTimers.map((u) => `${u}.service`).join(", ")}) is still running after ${RESTORE_WAIT_FOR_BACKUP_SECONDS} s; nothing was changed. Run the restore again once it has ended"
    sleep 10
    waited=$((waited + 10))
done

# 6. Stop the homeserver and swap the restored data into place; the previous data is kept beside it.
was_running=$(docker inspect -f '{{.State.Running}}' "$homeserver")
if [ "$was_running" = true ]; then docker stop "$homeserver" >/dev/null; fi
previous="$data.before-restore-$(date -u +%Y%m%dT%H%M%SZ)"
if [ -e "$data" ]; then mv "$data" "$previous"; fi
mv "$staged" "$data"

# 7. The homeserver turns its restored database backup into its database: a one-off start with its image,
# user and mounts, no network. On failure the previous data goes back and the old server is started again.
if ! ${databaseRestore('"$data"')}; then
    mv "$data" "$data.failed-restore"
    if [ -e "$previous" ]; then mv "$previous" "$data"; fi
    if [ "$was_running" = true ]; then docker start "$homeserver" >/dev/null; fi
    fail "${flavor.name} could not restore its database from the snapshot; the previous data is back in place, the restored files are in $data.failed-restore"
fi

# 8. Start the homeserver again (a stopped one, e.g. a suspended tenant, stays stopped).
state="homeserver left stopped"
if [ "$was_running" = true ]; then
    docker start "$homeserver" >/dev/null
    state="homeserver started"
fi
echo "restore: ${label} restored from snapshot $(printf '%.8s' "$snapshot_id"), $state"
if [ -e "$previous" ]; then echo "restore: the previous data is in $previous; remove it once the restored server is checked"; fi
`;
    return `#!/bin/sh
# Rendered by redoubt: ${drill ? "restore drill" : "restore"} of tenant ${label} from its ${input.site} backup.
set -eu
${
    drill
        ? `
metrics=${q(drill)}
snapshot_epoch=0
# The drill's result for the node exporter's textfile collector, written whole then renamed (never half a file).
write_metrics() {
    tmp="$metrics.tmp"
    mkdir -p "$(dirname "$metrics")"
    {
        echo "# HELP ${RESTORE_DRILL_METRICS.success} 1 if the last restore drill rebuilt the homeserver's database from the backup, else 0."
        echo "# TYPE ${RESTORE_DRILL_METRICS.success} gauge"
        printf '${RESTORE_DRILL_METRICS.success}{%s} %s\\n' ${q(metricLabels)} "$1"
        echo "# HELP ${RESTORE_DRILL_METRICS.finished} When the last restore drill ended."
        echo "# TYPE ${RESTORE_DRILL_METRICS.finished} gauge"
        printf '${RESTORE_DRILL_METRICS.finished}{%s} %s\\n' ${q(metricLabels)} "$(date -u +%s)"
        echo "# HELP ${RESTORE_DRILL_METRICS.snapshot} When the snapshot the last drill restored was taken (0: none found)."
        echo "# TYPE ${RESTORE_DRILL_METRICS.snapshot} gauge"
        printf '${RESTORE_DRILL_METRICS.snapshot}{%s} %s\\n' ${q(metricLabels)} "$snapshot_epoch"
    } > "$tmp"
    chmod 0644 "$tmp"
    mv "$tmp" "$metrics"
}

fail() {
    echo "restore drill: $*" >&2
    write_metrics 0
    exit 1
}
`
        : `
fail() {
    echo "restore: $*" >&2
    exit 1
}
`
}
source_mount=${q(sourceMount)}
target_mount=${q(targetMount)}
homeserver=${q(containerName(target, "homeserver"))}
snapshot=${q(input.snapshot ?? "")}
${
    drill
        ? ""
        : `data="$target_mount"/${q(flavor.data.subdir)}
force=${input.force ? 1 : 0}
drill=${target === input.tenant ? 0 : 1}
`
}export RESTIC_REPOSITORY=${q(input.repository)}
export RESTIC_PASSWORD_FILE=${q(files.passwordFile)}
sftp_command=${q(sftpCommand)}

# 1. Both volumes open (after a reboot they stay closed until \`npm run tenant -- unlock\`).
for mount in "$source_mount" "$target_mount"; do
    mountpoint -q "$mount" || fail "$mount is not mounted: the tenant's encrypted volume is closed; run npm run tenant -- unlock first"
done
[ -r "$RESTIC_PASSWORD_FILE" ] || fail "no repository password at $RESTIC_PASSWORD_FILE: has ${input.tenant}'s backup agent been deployed with site ${input.site}?"
${
    input.restic === "local"
        ? ""
        : `agent=${q(containerName(input.tenant, "backup-agent"))}
agent_image=$(docker inspect -f '{{.Image}}' "$agent") || fail "no backup agent container $agent"
agent_user=$(docker inspect -f '{{.Config.User}}' "$agent")
`
}
restic_exec() {
    ${resticExec}
}
restic_run() {
    if [ -n "$sftp_command" ]; then restic_exec -o "sftp.command=$sftp_command" "$@"; else restic_exec "$@"; fi
}

# 2. Which snapshot, and when it was taken.
if [ -n "$snapshot" ]; then
    json=$(restic_run snapshots --json "$snapshot") || fail "cannot list snapshot $snapshot in the ${input.site} repository"
else
    json=$(restic_run snapshots --json --host ${SNAPSHOT_HOST} --tag ${SNAPSHOT_TAG} latest) || fail "cannot list the snapshots of the ${input.site} repository"
fi
snapshot_id=$(printf '%s' "$json" | grep -o '"id":"[0-9a-f]*"' | head -n 1 | cut -d '"' -f 4)
snapshot_time=$(printf '%s' "$json" | grep -o '"time":"[^"]*"' | head -n 1 | cut -d '"' -f 4)
[ -n "$snapshot_id" ] || fail "no snapshot \${snapshot:-tagged ${SNAPSHOT_TAG}} in the ${input.site} repository"
snapshot_epoch=$(date -u -d "$snapshot_time" +%s)
echo "restore: snapshot $(printf '%.8s' "$snapshot_id") of $(date -u -d "@$snapshot_epoch" '+%Y-%m-%d %H:%M:%S UTC') from ${input.site}"

${
    drill
        ? ""
        : `# 3. Never overwrite newer data by accident. The tenant's own volume: its newest file against the snapshot.
# A drill's target is another tenant: it must be fresh (no media, no database backup: nobody has used it).
if [ "$drill" = 1 ]; then
    if [ "$force" = 0 ] && { [ -e "$data"/${q(flavor.data.backupMarker)} ] || [ -n "$(find "$data"/${q(flavor.data.media)} -type f 2>/dev/null | head -n 1)" ]; }; then
        fail "${target} is not fresh: $data holds a database backup or media; a drill restores only onto an unused tenant (give --force to replace that tenant's data)"
    fi
else
    newest=$(find "$data" -type f -printf '%T@\\n' 2>/dev/null | sort -n | tail -n 1 | cut -d . -f 1)
    if [ -n "$newest" ] && [ "$newest" -gt "$snapshot_epoch" ] && [ "$force" = 0 ]; then
        fail "$data holds data written $(date -u -d "@$newest" '+%Y-%m-%d %H:%M:%S UTC'), after the snapshot; restoring would lose it. Give --force to restore anyway"
    fi
fi

`
}# 4. Restore into a staging directory on the same filesystem (the swap is then two renames).
staging="$target_mount/${drill ? ".restore-drill" : ".restore-staging"}"
rm -rf "$staging"
mkdir -m 0700 "$staging"
cleanup() { rm -rf "$staging"; }
trap cleanup EXIT
${input.restic === "local" ? "" : `chown "$agent_user" "$staging"\n`}restic_run restore "$snapshot_id" --target "$staging" --verify >/dev/null || fail "restic could not restore snapshot $snapshot_id"
staged="$staging"${q(snapshotRoot)}
[ -d "$staged"/${q(flavor.data.backups)} ] || fail "snapshot $snapshot_id holds no database backup at ${snapshotRoot}/${flavor.data.backups}"
homeserver_user=$(docker inspect -f '{{.Config.User}}' "$homeserver") || fail "no homeserver container $homeserver"
chown -R "$homeserver_user" "$staged"
chmod 0700 "$staged"

homeserver_image=$(docker inspect -f '{{.Image}}' "$homeserver")
${drill ? drillSteps : restoreSteps}`;
}

/** Where a tenant's drill from one site leaves its result: a file for the node exporter's textfile collector. */
export function restoreDrillMetricsFile(tenant: string, site: string): string {
    return `${NODE_EXPORTER_TEXTFILE_DIR}/${NAME_PREFIX}-restore-drill-${tenant}-${site}.prom`;
}

/** The host path of a tenant's drill script for one site. */
export function restoreDrillScriptPath(tenant: string, site: string): string {
    return `${SCRIPTS_DIR}/${tenant}-restore-drill-${site}.sh`;
}

/**
 * The monthly drill's units: one run per site, each recorded in its own metrics file (a failing site does
 * not stop the next: `-` in ExecStart, systemd.service(5)). Midday on the 1st, away from the nightly
 * backups (01:00–04:59): restic's prune takes an exclusive lock that would fail a drill running beside it.
 */
export function renderRestoreDrillUnits(tenant: string, sites: readonly string[]): { service: string; timer: string } {
    return {
        service: `[Unit]
Description=Redoubt monthly restore drill of tenant ${tenant}
# Skipped, not failed, while the tenant's encrypted volume is closed.
ConditionPathIsMountPoint=${tenantDataMount(tenant)}
Requires=docker.service
After=docker.service

[Service]
Type=oneshot
${sites.map((site) => `ExecStart=-${restoreDrillScriptPath(tenant, site)}`).join("\n")}
`,
        timer: `[Unit]
Description=Monthly Redoubt restore drill of tenant ${tenant}

[Timer]
OnCalendar=*-*-01 12:00:00
Persistent=true
RandomizedDelaySec=3600

[Install]
WantedBy=timers.target
`,
    };
}
