// Scripts and units installed on the Docker host over SSH (@pulumi/command).
// Each is plain POSIX sh or a systemd unit, checked by shellcheck and run
// against the real programs in the system tests.

import { DEFAULT_HOMESERVER, HOMESERVER_FLAVORS, type HomeserverFlavor } from "../homeservers";

/** Everything a tenant has on the host lives below this directory. */
export const TENANTS_ROOT = "/srv/redoubt/tenants";
export const SCRIPTS_DIR = "/usr/local/lib/redoubt";
export const EXPORTS_DIR = "/srv/redoubt/exports";
/** Per tenant and backup site, the time of the last successful backup (written by the backup trigger, read by monitoring). */
export const BACKUP_SUCCESS_DIR = "/var/lib/redoubt/backup-success";

/** Roles whose configuration lives in `config/<role>` on the tenant's volume. */
export const CONFIG_SUBDIRS = ["homeserver", "proxy", "backup", "tor", "wireguard", "push-proxy"] as const;
export type ConfigRole = (typeof CONFIG_SUBDIRS)[number];

export function tenantRoot(tenant: string): string {
    return `${TENANTS_ROOT}/${tenant}`;
}
/** Where the tenant's decrypted volume is mounted; the Docker volume binds it. */
/** The passwd and group files naming the tenant's uid, for programs that look it up (ssh). */
export function tenantIdentityFiles(tenant: string): { passwd: string; group: string } {
    return { passwd: `${tenantRoot(tenant)}/passwd`, group: `${tenantRoot(tenant)}/group` };
}

export function tenantDataMount(tenant: string): string {
    return `${tenantRoot(tenant)}/data`;
}
/**
 * Subdirectories of the data mount: state per container, and each
 * container's configuration (Docker copies files into a container with a
 * read-only root only when they land on a volume).
 */
export const DATA_SUBDIRS = [
    ...new Set(Object.values(HOMESERVER_FLAVORS).map((flavor) => flavor.data.subdir)),
    "caddy",
    "tor",
    "tor/onion",
    "restic",
    ...CONFIG_SUBDIRS.map((role) => `config/${role}` as const),
] as const;
/**
 * Subdirectories owned by root rather than the tenant's uid: the WireGuard
 * endpoint runs as uid 0 with every capability but NET_ADMIN dropped, so
 * without CAP_DAC_OVERRIDE it cannot enter a directory another uid owns
 * (seen on the live host: "wg0.conf does not exist").
 */
export const ROOT_OWNED_SUBDIRS: readonly (typeof DATA_SUBDIRS)[number][] = ["config/wireguard"];

/** The host path of a tenant's homeserver data (database, its backups, media). */
export function homeserverDataDir(tenant: string, flavor: HomeserverFlavor = DEFAULT_HOMESERVER): string {
    return `${tenantDataMount(tenant)}/${flavor.data.subdir}`;
}

export interface LuksScriptInput {
    tenant: string;
    sizeGiB: number;
    /** Owner of the data subdirectories: the tenant's uid. */
    uid: number;
}

/** The LUKS2 `subsystem` header field once the volume's filesystem exists (set right after mkfs). */
export const LUKS_FS_MARK = "redoubt-fs";

/**
 * The encrypted volume's lifecycle script. The key arrives on stdin, never in
 * arguments or environment (which `ps` and logs can show).
 *   format: create the LUKS2 container file if it does not exist
 *   create: format if missing, then open and mount (what `pulumi up` runs)
 *   open:   open and mount an existing volume, never format (what `unlock` runs after a reboot)
 *   status: print "open" or "closed"
 *   erase:  unmount, close and crypto-erase (destroy every key slot), then remove
 * Data safety: an existing file without a LUKS header is never touched; the
 * key is checked against the header on every run; a filesystem is made only
 * on a volume whose header says it never had one (the LUKS2 subsystem field
 * is set to ${LUKS_FS_MARK} right after mkfs), so a volume that blkid cannot
 * read is reported, never reformatted.
 */
export function renderLuksScript(input: LuksScriptInput): string {
    return `#!/bin/sh
# Rendered by redoubt: tenant ${input.tenant}'s encrypted data volume.
# Usage: luks.sh format|create|open|status|erase [container-file]  (key on stdin for format, create and open)
set -eu

root=${tenantRoot(input.tenant)}
container=\${2:-$root/volume.luks}
mapper=redoubt-${input.tenant}
mountpoint=${tenantDataMount(input.tenant)}
size_gib=${input.sizeGiB}
owner=${input.uid}
fs_mark=${LUKS_FS_MARK}
# Tests may pass cheap KDF settings; production keeps cryptsetup's defaults.
pbkdf_options=\${REDOUBT_LUKS_PBKDF_OPTIONS:-}

fail() {
    echo "luks: $*" >&2
    exit 3
}

read_key() {
    IFS= read -r key || [ -n "\${key:-}" ] || { echo "luks: expected the volume key on stdin" >&2; exit 2; }
}

format() {
    if [ -e "$container" ]; then
        # Never format over something that exists: it may be the tenant's data.
        cryptsetup isLuks --type luks2 "$container" || fail "$container exists but has no LUKS2 header; refusing to touch it"
        return 0
    fi
    mkdir -p "$(dirname "$container")"
    chmod 0700 "$(dirname "$container")"
    truncate -s "\${size_gib}G" "$container"
    # shellcheck disable=SC2086 # pbkdf_options is a list of words on purpose
    printf '%s' "$key" | cryptsetup luksFormat --batch-mode --type luks2 $pbkdf_options --label "$mapper" --key-file=- "$container"
}

has_filesystem_mark() {
    cryptsetup luksDump "$container" | grep -Eq "^Subsystem:[[:space:]]+$fs_mark$"
}

open_and_mount() {
    [ -e "$container" ] || fail "$container does not exist; nothing to open"
    if [ -e "/dev/mapper/$mapper" ]; then
        # Already open (a re-run): the stored key must still match the header.
        printf '%s' "$key" | cryptsetup open --test-passphrase --key-file=- "$container" || fail "the key does not open $container"
    else
        printf '%s' "$key" | cryptsetup open --type luks2 --key-file=- "$container" "$mapper" || fail "the key does not open $container"
    fi
    if ! has_filesystem_mark; then
        # The header says no filesystem was ever made: a fresh volume (or a create interrupted before mkfs).
        mkfs.ext4 -q -L "$mapper" "/dev/mapper/$mapper"
        cryptsetup config --subsystem "$fs_mark" "$container"
    fi
    [ "$(blkid -p -o value -s TYPE "/dev/mapper/$mapper" 2>/dev/null || true)" = ext4 ] ||
        fail "/dev/mapper/$mapper should hold the tenant's ext4 filesystem but blkid finds none; not formatting it (investigate by hand)"
    mkdir -p "$mountpoint"
    if ! mountpoint -q "$mountpoint"; then
        mount -o nodev,nosuid,noexec "/dev/mapper/$mapper" "$mountpoint"
    fi
    for dir in ${DATA_SUBDIRS.join(" ")}; do
        mkdir -p "$mountpoint/$dir"
        case "$dir" in
            ${ROOT_OWNED_SUBDIRS.join("|")}) chown 0:0 "$mountpoint/$dir" ;;
            *) chown "$owner:$owner" "$mountpoint/$dir" ;;
        esac
        chmod 0700 "$mountpoint/$dir"
    done
    # ssh (the backup agent's sftp) refuses to run for a uid without a passwd entry.
    printf 'redoubt:x:%s:%s:redoubt:/cache:/sbin/nologin\n' "$owner" "$owner" > "$root/passwd"
    printf 'redoubt:x:%s:\n' "$owner" > "$root/group"
    chmod 0644 "$root/passwd" "$root/group"
}

status() {
    if mountpoint -q "$mountpoint" 2>/dev/null; then echo open; else echo closed; fi
}

erase() {
    if mountpoint -q "$mountpoint" 2>/dev/null; then umount "$mountpoint"; fi
    if [ -e "/dev/mapper/$mapper" ]; then cryptsetup close "$mapper"; fi
    if [ -e "$container" ]; then
        # Destroys every key slot: the data cannot be decrypted with any copy of the key.
        cryptsetup luksErase --batch-mode "$container"
        rm -f "$container"
    fi
    rmdir "$mountpoint" 2>/dev/null || true
}

case "\${1:-}" in
    format) read_key; format ;;
    create) read_key; format; open_and_mount ;;
    open) read_key; open_and_mount ;;
    status) status ;;
    erase) erase ;;
    *) echo "usage: $0 format|create|open|status|erase [container-file]" >&2; exit 2 ;;
esac
`;
}

/** The per-tenant systemd slice containers run in: the process (pids) limit Docker's provider lacks. */
export function renderSlice(input: { tenant: string; tasksMax: number; memoryMiB: number; cpus: number }): string {
    return `# Rendered by redoubt: limits for every container of tenant ${input.tenant}.
[Unit]
Description=Redoubt tenant ${input.tenant}

[Slice]
TasksMax=${input.tasksMax}
MemoryMax=${input.memoryMiB}M
CPUQuota=${Math.round(input.cpus * 100)}%
`;
}

/**
 * The host's journald retention. Journald rotates a file after MaxFileSec and
 * deletes files older than MaxRetentionSec, so an entry can live for their
 * sum: both together stay within the promised days.
 */
export function renderJournaldRetention(retentionDays: number): string {
    if (!Number.isInteger(retentionDays) || retentionDays < 1) throw new RangeError(`retention must be a whole number of days, got ${retentionDays}`);
    const totalHours = retentionDays * 24;
    // A day per file, but never more than half the window: for 1 day, 12h + 12h (24h + 1h would break the promise).
    const fileHours = Math.min(24, totalHours / 2);
    const retentionHours = totalHours - fileHours;
    return `# Rendered by redoubt: no log entry outlives ${retentionDays} day(s).
[Journal]
Storage=persistent
MaxFileSec=${fileHours}h
MaxRetentionSec=${retentionHours}h
`;
}

export interface BackupTimerInput {
    tenant: string;
    /** Host path of the flag the trigger sets while the homeserver is stopped (the agent then accepts an old database backup). */
    stoppedFlag: string;
    homeserverContainer: string;
    backupContainer: string;
    onCalendar: string;
    /**
     * The server: where its database backup lands and which signal asks for one.
     * @default DEFAULT_HOMESERVER
     */
    flavor?: HomeserverFlavor;
}

/**
 * Shell lines that ask a running homeserver for a consistent database backup
 * (its flavor's signal, e.g. Tuwunel's SIGUSR2 and admin_signal_execute) and
 * wait until it is written; a stopped homeserver's last backup is current, and
 * `whenStopped` runs instead.
 */
function freshDatabaseBackup(tenant: string, homeserverContainer: string, flavor: HomeserverFlavor, whenRunning: string, whenStopped: string): string {
    return `marker=${homeserverDataDir(tenant, flavor)}/${flavor.data.backupMarker}
before=$(stat -c %Y "$marker" 2>/dev/null || echo 0)
if docker inspect -f '{{.State.Running}}' ${homeserverContainer} 2>/dev/null | grep -q true; then
    ${whenRunning}
    docker kill --signal=${flavor.backupSignal} ${homeserverContainer} >/dev/null
    waited=0
    while [ "$(stat -c %Y "$marker" 2>/dev/null || echo 0)" = "$before" ]; do
        [ "$waited" -lt 600 ] || { echo "no new database backup after 600 s" >&2; exit 1; }
        sleep 5
        waited=$((waited + 5))
    done
else
    ${whenStopped}
fi`;
}

/** The host-side trigger: ask the homeserver for a consistent database backup, then run the agent. */
export function renderBackupTrigger(input: BackupTimerInput): string {
    return `#!/bin/sh
# Rendered by redoubt: nightly backup of tenant ${input.tenant}.
set -eu
${freshDatabaseBackup(input.tenant, input.homeserverContainer, input.flavor ?? DEFAULT_HOMESERVER, `rm -f ${input.stoppedFlag}`, `touch ${input.stoppedFlag}`)}
# The agent prints "backup: <site> done" for each site it backed up: that site's success time, for monitoring.
out=$(mktemp)
status=0
docker start --attach ${input.backupContainer} >"$out" || status=$?
cat "$out"
success_dir=\${REDOUBT_BACKUP_SUCCESS_DIR:-${BACKUP_SUCCESS_DIR}}/${input.tenant}
mkdir -p "$success_dir"
sed -n 's/^backup: \\([A-Za-z0-9_.-]*\\) done$/\\1/p' "$out" | while IFS= read -r site; do
    date +%s > "$success_dir/$site.tmp" && mv "$success_dir/$site.tmp" "$success_dir/$site"
done
rm -f "$out"
exit "$status"
`;
}

export function renderBackupUnits(input: BackupTimerInput): { service: string; timer: string } {
    return {
        service: `[Unit]
Description=Redoubt backup of tenant ${input.tenant}
# Skipped, not failed, while the tenant's encrypted volume is closed (after a reboot, until \`npm run tenant -- unlock\`).
ConditionPathIsMountPoint=${tenantDataMount(input.tenant)}
Requires=docker.service
After=docker.service

[Service]
Type=oneshot
ExecStart=${SCRIPTS_DIR}/${input.tenant}-backup.sh
`,
        timer: `[Unit]
Description=Nightly Redoubt backup of tenant ${input.tenant}

[Timer]
OnCalendar=${input.onCalendar}
Persistent=true
RandomizedDelaySec=120

[Install]
WantedBy=timers.target
`,
    };
}

export interface ExportScriptInput {
    tenant: string;
    /** The customer's age public key. */
    recipient: string;
    /** Identifies the export, e.g. its request date. */
    label: string;
    /** When given, a running homeserver is first asked for a fresh database backup, and the export waits for it. */
    homeserverContainer?: string;
    /**
     * The server whose database backup and media are exported.
     * @default DEFAULT_HOMESERVER
     */
    flavor?: HomeserverFlavor;
}

/** Produces one archive of the tenant's data, encrypted to the customer's key only. */
export function renderExportScript(input: ExportScriptInput): string {
    const flavor = input.flavor ?? DEFAULT_HOMESERVER;
    const { backups, media } = flavor.data;
    return `#!/bin/sh
# Rendered by redoubt: data export of tenant ${input.tenant}, requested ${input.label}.
# Usage: export.sh [data-dir] [output-dir]
set -eu
data=\${1:-${homeserverDataDir(input.tenant, flavor)}}
out_dir=\${2:-${EXPORTS_DIR}}
archive="$out_dir/${input.tenant}-${input.label}.tar.age"
${
    input.homeserverContainer
        ? `${freshDatabaseBackup(input.tenant, input.homeserverContainer, flavor, ":", ":")}
`
        : ""
}[ -d "$data/${backups}" ] || { echo "export: no database backup in $data/${backups}; run the tenant's backup first" >&2; exit 1; }
mkdir -p "$out_dir"
chmod 0700 "$out_dir"
tmp="$archive.partial"
media=""
[ -d "$data/${media}" ] && media=${media}
# shellcheck disable=SC2086 # media is empty or one word
tar -C "$data" -cf - ${backups} $media | age --encrypt -r '${input.recipient}' -o "$tmp"
mv "$tmp" "$archive"
echo "$archive"
`;
}

/** A remote command that writes a file with exact content (heredoc with a quoted delimiter: no expansion). */
export function installFileCommand(path: string, content: string, mode: string): string {
    const delimiter = "REDOUBT_EOF";
    if (content.includes(delimiter)) throw new Error(`content for ${path} contains the heredoc delimiter`);
    const dir = path.slice(0, path.lastIndexOf("/"));
    return `mkdir -p ${dir} && cat > ${path} <<'${delimiter}'\n${content}${content.endsWith("\n") ? "" : "\n"}${delimiter}\nchmod ${mode} ${path}`;
}

/** How often a host command tries a systemctl call before it fails. */
export const SYSTEMCTL_ATTEMPTS = 4;
/** Seconds between those tries. */
export const SYSTEMCTL_RETRY_SECONDS = 10;
/** The host-wide lock our systemctl calls take one at a time (util-linux's flock; /run/lock is a tmpfs). */
export const SYSTEMCTL_LOCK = "/run/lock/redoubt-systemctl.lock";
/** Seconds a call waits for that lock before it counts as a failed attempt. */
export const SYSTEMCTL_LOCK_WAIT_SECONDS = 120;

/**
 * A systemctl call that survives a busy systemd and does not make it busier.
 *
 * One at a time: every call takes {@link SYSTEMCTL_LOCK}. PID 1 answers D-Bus
 * calls in turn, and a daemon-reload (which `enable` also does) holds it for
 * seconds (2.6 s on the idle live host, far more while containers start under
 * emulation). Docker starts each container by asking PID 1 for a scope unit in
 * the tenant's slice, and runc gives up after 30 s (libcontainer/cgroups/systemd
 * startUnit: "Timeout waiting for systemd to create docker-….scope"). With a
 * tenant's slice, backup timer and restore drill reloading at once, that wait
 * ran out in CI while charlie's containers started, and failed the `up`.
 * Serialized, a container's scope waits for at most one reload.
 *
 * Tried again: systemctl gives up on its D-Bus call to PID 1 after 25 s
 * ("Connection timed out": sd-bus's default method-call timeout); on a loaded
 * host that fails a whole `pulumi up` midway (seen on the live host). Every
 * verb used here (daemon-reload, enable --now, disable --now, restart) is safe
 * to repeat, so the call is tried again after a pause; a lock not had within
 * {@link SYSTEMCTL_LOCK_WAIT_SECONDS} counts as a failed try. Runs in a
 * subshell: its `exit` ends only this call, so it chains with `&&` and `;` like
 * a plain command.
 */
export function systemctlCommand(verbAndUnits: string): string {
    return `(attempt=1; until flock -w ${SYSTEMCTL_LOCK_WAIT_SECONDS} ${SYSTEMCTL_LOCK} systemctl ${verbAndUnits}; do if [ "$attempt" -ge ${SYSTEMCTL_ATTEMPTS} ]; then exit 1; fi; attempt=$((attempt + 1)); sleep ${SYSTEMCTL_RETRY_SECONDS}; done)`;
}

/** Our apt drop-in; sorts after Debian's 20auto-upgrades and 50unattended-upgrades, so its settings win. */
export const SECURITY_UPDATES_CONF = "/etc/apt/apt.conf.d/52redoubt-security-updates";
/** The apt timers that refresh the package lists and run unattended-upgrade (from Debian's apt package). */
export const APT_TIMERS = ["apt-daily.timer", "apt-daily-upgrade.timer"] as const;

/**
 * Security updates on their own, and never an automatic reboot: a reboot
 * closes every tenant's LUKS volume until ops run `npm run tenant -- unlock`.
 */
export function renderSecurityUpdatesConf(): string {
    return [
        "// Rendered by redoubt: security updates are installed on their own (unattended-upgrades, Debian's",
        "// security origin from 50unattended-upgrades), and the host never reboots by itself: a reboot closes",
        "// every tenant's encrypted volume until ops unlock it.",
        'APT::Periodic::Update-Package-Lists "1";',
        'APT::Periodic::Unattended-Upgrade "1";',
        'Unattended-Upgrade::Automatic-Reboot "false";',
        "",
    ].join("\n");
}

/**
 * Refuses a host whose unattended-upgrades is missing or does not take
 * Debian's security updates, with what to change; run after the drop-in is
 * written (apt-config reads the merged configuration).
 */
export function renderSecurityUpdatesCheck(): string {
    return `#!/bin/sh
# Rendered by redoubt: the Docker host installs Debian's security updates on its own.
set -eu
if ! command -v unattended-upgrade >/dev/null 2>&1; then
    echo "redoubt: the Docker host has no unattended-upgrades; install it (apt-get install unattended-upgrades) so security updates are applied without waiting for ops" >&2
    exit 1
fi
config=$(apt-config dump)
for setting in 'APT::Periodic::Update-Package-Lists "1";' 'APT::Periodic::Unattended-Upgrade "1";' 'Unattended-Upgrade::Automatic-Reboot "false";'; do
    if ! printf '%s\\n' "$config" | grep -qxF "$setting"; then
        echo "redoubt: apt on the Docker host does not end up with $setting; a later file in /etc/apt/apt.conf.d overrides ${SECURITY_UPDATES_CONF}: remove that setting there" >&2
        exit 1
    fi
done
if ! printf '%s\\n' "$config" | grep -q '^Unattended-Upgrade::Origins-Pattern:: ".*label=Debian-Security'; then
    echo "redoubt: unattended-upgrades on the Docker host does not take Debian's security updates (no Unattended-Upgrade::Origins-Pattern with label=Debian-Security); restore /etc/apt/apt.conf.d/50unattended-upgrades from the package" >&2
    exit 1
fi
for timer in ${APT_TIMERS.join(" ")}; do
    if [ "$(systemctl is-enabled "$timer" 2>/dev/null || true)" = masked ]; then
        echo "redoubt: $timer is masked on the Docker host, so apt never runs on its own; unmask it (systemctl unmask $timer) so security updates are installed" >&2
        exit 1
    fi
done
`;
}
