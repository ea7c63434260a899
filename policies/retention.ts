// Promise: "media are kept for your plan's days, and no longer". Checked on
// the homeserver's uploaded tuwunel.toml ([global] table): the commands Tuwunel
// runs on SIGUSR2 (admin_signal_execute), which the host's backup timer sends
// every night, must delete media past the retention window, local uploads
// included, before the database backup.
//
// Not visible here: which plan a tenant is on (no resource carries it), so the
// pack bounds the days by the longest plan's; the exact days per plan are
// checked by test/unit/media-retention.test.ts over every plan and example
// tenant. Nor can it see that the timer fires (test/unit and the live test).
import { homeserverConfigPolicy } from "./common";

// Copied so that the pack is self-contained; test/policy/retention.test.ts fails if they drift apart.
/** The longest media retention of any plan (PLANS in tenants/schema.ts). */
export const MAX_MEDIA_RETENTION_DAYS = 365;
/** Tuwunel's admin command for a database backup (TUWUNEL_BACKUP_COMMAND in components/render/tuwunel.ts). */
export const BACKUP_COMMAND = "server backup-database";

/**
 * Tuwunel 1.9's `media delete-range` (src/admin/media/mod.rs, MediaCommand::DeleteRange):
 * a duration, --older-than (not --newer-than), and --yes-i-want-to-delete-local-media,
 * without which it skips local media (all of ours: there is no federation).
 */
const DELETE_RANGE = ["media", "delete-range"];
const REQUIRED_FLAGS = ["--older-than", "--yes-i-want-to-delete-local-media"];
const EXPECTED = `"media delete-range <days>d --older-than --yes-i-want-to-delete-local-media" with <days> from 1 to ${MAX_MEDIA_RETENTION_DAYS}`;

/** Why one `media delete-range` command does not delete every media file older than an allowed number of days, or undefined. */
function deleteRangeProblem(command: string): string | undefined {
    const [, , duration, ...flags] = command.trim().split(/\s+/);
    const days = /^([0-9]+)d$/.exec(duration ?? "")?.[1];
    if (days === undefined || Number(days) < 1 || Number(days) > MAX_MEDIA_RETENTION_DAYS) {
        return `its duration ${JSON.stringify(duration ?? "")} is not a whole number of days from 1 to ${MAX_MEDIA_RETENTION_DAYS} written like 30d`;
    }
    const extra = flags.filter((f) => !REQUIRED_FLAGS.includes(f));
    const missing = REQUIRED_FLAGS.filter((f) => !flags.includes(f));
    if (missing.length > 0 || extra.length > 0) {
        return `its flags must be exactly ${REQUIRED_FLAGS.join(" ")} (${[...missing.map((f) => `missing ${f}`), ...extra.map((f) => `unexpected ${f}`)].join(", ")})`;
    }
    return undefined;
}

/** Problems with the media retention of a tuwunel.toml [global] table, as sentences. */
export function mediaRetentionProblems(g: Record<string, unknown>): string[] {
    const raw = g["admin_signal_execute"];
    if (!Array.isArray(raw) || !raw.every((c): c is string => typeof c === "string")) {
        return [
            `admin_signal_execute is ${raw === undefined ? "unset" : JSON.stringify(raw)}; set it to [${EXPECTED}, "${BACKUP_COMMAND}"] so the nightly backup signal deletes expired media`,
        ];
    }
    const problems: string[] = [];
    const isDeleteRange = (c: string) => DELETE_RANGE.every((word, i) => c.trim().split(/\s+/)[i] === word);
    const deletions = raw.map((command, index) => ({ command, index })).filter(({ command }) => isDeleteRange(command));
    const backup = raw.findIndex((c) => c.trim().split(/\s+/).join(" ") === BACKUP_COMMAND);
    if (deletions.length !== 1) {
        problems.push(`admin_signal_execute has ${deletions.length} media delete-range commands; it needs exactly one: ${EXPECTED}`);
    }
    for (const { command } of deletions) {
        const problem = deleteRangeProblem(command);
        if (problem !== undefined) problems.push(`in admin_signal_execute, ${JSON.stringify(command)}: ${problem}; write ${EXPECTED}`);
    }
    if (backup < 0) {
        problems.push(`admin_signal_execute has no "${BACKUP_COMMAND}"; add it after the media deletion so the nightly signal still writes the database backup`);
    } else if (deletions.some(({ index }) => index > backup)) {
        problems.push(
            `admin_signal_execute runs media delete-range after "${BACKUP_COMMAND}"; put it first, so the backup agent (started when the backup is written) never reads media while they are being deleted`,
        );
    }
    return problems;
}

export const homeserverMediaRetention = homeserverConfigPolicy(
    "homeserver-media-retention",
    `The homeserver config deletes media (local uploads included) older than at most ${MAX_MEDIA_RETENTION_DAYS} days on the nightly backup signal, before the database backup.`,
    "so its media retention can be checked",
    mediaRetentionProblems,
);

export const retentionPolicies = [homeserverMediaRetention];
