// The backup agent's script (restic, run by /bin/sh in the restic image).
// It backs up the homeserver's latest consistent database backup and its
// media to every repository, applies retention and checks each repository.

export const BACKUP_SCRIPT_PATH = "/etc/redoubt/backup.sh";
/** The homeserver's data, mounted read-only into the backup agent. */
export const BACKUP_SOURCE_PATH = "/data";

export interface BackupRepository {
    /** Backup site name, e.g. helsinki. */
    site: string;
    /** restic repository string, e.g. sftp:u123@u123.your-storagebox.de:/redoubt (or a local path in tests). */
    repository: string;
    /** File holding the repository password. */
    passwordFile: string;
    /** ssh command restic uses for sftp repositories (key and pinned host key); absent for local repositories. */
    sftpCommand?: string;
}

export interface BackupScriptInput {
    repositories: BackupRepository[];
    /** Directories (inside the container) to back up. */
    paths: string[];
    keep: { daily: number; weekly: number; monthly: number };
    /** A file that must exist and be younger than maxAgeMinutes: the fresh database backup. */
    freshnessMarker?: string;
    maxAgeMinutes?: number;
    /**
     * A file whose presence says the homeserver is stopped (a suspended tenant): its last
     * database backup is then current however old it is, so only its existence is checked.
     */
    homeserverStoppedFlag?: string;
}

function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function renderBackupScript(input: BackupScriptInput): string {
    const keep = `--keep-daily ${input.keep.daily} --keep-weekly ${input.keep.weekly} --keep-monthly ${input.keep.monthly}`;
    const paths = input.paths.map(shellQuote).join(" ");
    const lines = [
        "#!/bin/sh",
        "# Rendered by redoubt. Backs up one tenant to each of its repositories.",
        "set -eu",
        "",
        "fail() {",
        '    echo "backup: $*" >&2',
        "    exit 1",
        "}",
        "",
    ];
    if (input.freshnessMarker) {
        const marker = shellQuote(input.freshnessMarker);
        lines.push(
            `# Never back up the live database: only the copy the homeserver just wrote.`,
            `[ -e ${marker} ] || fail "no database backup at ${input.freshnessMarker}; did the homeserver receive SIGUSR2?"`,
            ...(input.homeserverStoppedFlag
                ? [`if [ ! -e ${shellQuote(input.homeserverStoppedFlag)} ]; then`, "    # The homeserver is running: it must just have written this backup."]
                : []),
            `${input.homeserverStoppedFlag ? "    " : ""}[ -n "$(find ${marker} -maxdepth 0 -mmin -${input.maxAgeMinutes ?? 60})" ] || fail "the database backup at ${input.freshnessMarker} is older than ${input.maxAgeMinutes ?? 60} minutes"`,
            ...(input.homeserverStoppedFlag ? ["fi"] : []),
            "",
        );
    }
    lines.push(
        "backup_to() {",
        "    site=$1",
        '    export RESTIC_REPOSITORY="$2"',
        '    export RESTIC_PASSWORD_FILE="$3"',
        "    sftp_command=$4",
        "    set --",
        '    if [ -n "$sftp_command" ]; then set -- -o "sftp.command=$sftp_command"; fi',
        "    # A wrong password must stop here with a clear message, not look like an empty repository.",
        '    if ! restic "$@" cat config >/dev/null 2>"/tmp/restic-$site.err"; then',
        '        if grep -q "wrong password" "/tmp/restic-$site.err"; then',
        '            fail "the password for the $site repository does not open it; check the tenant\'s backup secret"',
        "        fi",
        '        restic "$@" init >/dev/null || fail "cannot open or create the $site repository: $(cat "/tmp/restic-$site.err")"',
        "    fi",
        "    # A neutral host name: restic stores it in plain text in every snapshot.",
        `    restic "$@" backup --host redoubt --tag redoubt ${paths} >/dev/null || fail "backup to $site failed"`,
        `    restic "$@" forget --host redoubt --prune ${keep} >/dev/null || fail "retention on $site failed"`,
        '    restic "$@" check >/dev/null || fail "check of the $site repository failed"',
        '    echo "backup: $site done"',
        "}",
        "",
        ...input.repositories.map((r) => `backup_to ${shellQuote(r.site)} ${shellQuote(r.repository)} ${shellQuote(r.passwordFile)} ${shellQuote(r.sftpCommand ?? "")}`),
        "",
    );
    return lines.join("\n");
}

/** The restic repository on a tenant's Storage Box (relative to the box user's home). */
export function storageBoxRepository(user: string, host: string): string {
    return `sftp:${user}@${host}:redoubt`;
}

/** The Storage Box user and host of a repository string storageBoxRepository made; undefined for any other repository. */
export function storageBoxOf(repository: string): { user: string; host: string } | undefined {
    const m = /^sftp:([^@:/\s]+)@([^:/\s]+):/.exec(repository);
    return m ? { user: m[1], host: m[2] } : undefined;
}

/** The ssh command restic uses for a Storage Box: port 23, the tenant's key, the pinned host key. */
export function storageBoxSftpCommand(opts: { user: string; host: string; keyFile: string; knownHostsFile: string }): string {
    return `ssh -p 23 -i ${opts.keyFile} -o IdentitiesOnly=yes -o UserKnownHostsFile=${opts.knownHostsFile} -o StrictHostKeyChecking=accept-new ${opts.user}@${opts.host} -s sftp`;
}
