// Deadlines ops must act on, from the tenant files alone: a cancelled tenant's
// deletion day (the privacy page's "permanently deleted within 7 days") and the
// last day an undelivered export keeps its data protected. Pure: the daily
// workflow (.github/workflows/deadlines.yml) and `npm run deadlines` print it.
import { addDays, deletionDeadline, lifecycleOf, type LifecyclePhase } from "../components/lifecycle";
import type { Tenant } from "../tenants/schema";

/** How many days ahead a deadline is reported. */
export const DEADLINE_NOTICE_DAYS = 3;

export type DeadlineKind = "deletion" | "export";
export type DeadlineState = "upcoming" | "today" | "passed";

export interface DeadlineNotice {
    tenant: string;
    kind: DeadlineKind;
    /** The day it falls due (YYYY-MM-DD). */
    due: string;
    /** Days from the as-of date to `due`; negative once passed. */
    daysLeft: number;
    state: DeadlineState;
    /** The tenant's lifecycle phase on the as-of date. */
    phase: LifecyclePhase;
    /** What ops do now, as a full sentence. */
    action: string;
}

const ONE_DAY_MS = 86_400_000;

/** Whole days from `from` to `to` (both YYYY-MM-DD, UTC); negative when `to` is earlier. */
export function daysBetween(from: string, to: string): number {
    return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / ONE_DAY_MS);
}

const stateOf = (daysLeft: number): DeadlineState => (daysLeft > 0 ? "upcoming" : daysLeft === 0 ? "today" : "passed");
const days = (n: number) => `${n} day${n === 1 ? "" : "s"}`;

function deletionAction(name: string, due: string, daysLeft: number): string {
    const run = `run \`npm run plan -- --accept-data-loss ${name}\` to confirm that only ${name}'s data goes, then the deleting \`pulumi up\` of every stack (backup stacks first), then remove tenants/${name}.yaml and set its deletedOn in tenants/ledger.yaml`;
    if (daysLeft > 0) return `Deletion of ${name} is due on ${due}, in ${days(daysLeft)}: on that day ${run}.`;
    if (daysLeft === 0) return `Deletion of ${name} is due today (${due}): ${run}.`;
    return `Deletion of ${name} was due on ${due}, ${days(-daysLeft)} ago, and its tenant file is still here: if its data is not gone yet, ${run} now and report the missed deadline; if it is gone, remove the file and set deletedOn.`;
}

function exportAction(tenant: Tenant, due: string, deleteBy: string, daysLeft: number): string {
    const what = `The export of ${tenant.name} requested on ${tenant.export?.requestedOn ?? "?"} is not delivered`;
    const then = `after ${due} the data is no longer held for it and is deleted on ${deleteBy}, delivered or not`;
    if (daysLeft >= 0) return `${what}: deliver it and set export.deliveredOn by ${due} (${daysLeft === 0 ? "today" : `in ${days(daysLeft)}`}); ${then}.`;
    return `${what} and its wait ended on ${due}; ${then}: deliver it now if it can still be, and tell the customer.`;
}

/**
 * Every deadline within `noticeDays` of `asOf` (or passed), for every tenant,
 * sorted by due date then tenant. A cancelled tenant has a deletion deadline;
 * one with an undelivered export also has the export's.
 */
export function deadlineNotices(
    tenants: readonly Tenant[],
    asOf: string,
    /** Days of grace, or per tenant (each host's primary stack sets its own). */
    grace: number | ((tenant: Tenant) => number),
    noticeDays: number = DEADLINE_NOTICE_DAYS,
): DeadlineNotice[] {
    const notices: DeadlineNotice[] = [];
    for (const tenant of tenants) {
        const graceDays = typeof grace === "number" ? grace : grace(tenant);
        const deleteBy = deletionDeadline(tenant, graceDays);
        if (deleteBy === undefined) continue;
        const phase = lifecycleOf(tenant, asOf, graceDays).phase;
        const untilDeletion = daysBetween(asOf, deleteBy);
        if (untilDeletion <= noticeDays) {
            notices.push({
                tenant: tenant.name,
                kind: "deletion",
                due: deleteBy,
                daysLeft: untilDeletion,
                state: stateOf(untilDeletion),
                phase,
                action: deletionAction(tenant.name, deleteBy, untilDeletion),
            });
        }
        if (tenant.export !== undefined && tenant.export.deliveredOn === undefined && tenant.export.requestedOn <= asOf) {
            // The data stays protected for the export until `graceDays` before the wait ends (components/lifecycle.ts).
            const due = addDays(deleteBy, -graceDays);
            const untilDue = daysBetween(asOf, due);
            if (untilDue <= noticeDays) {
                notices.push({
                    tenant: tenant.name,
                    kind: "export",
                    due,
                    daysLeft: untilDue,
                    state: stateOf(untilDue),
                    phase,
                    action: exportAction(tenant, due, deleteBy, untilDue),
                });
            }
        }
    }
    return notices.sort((a, b) => a.due.localeCompare(b.due) || a.tenant.localeCompare(b.tenant) || a.kind.localeCompare(b.kind));
}

/** The notices as Markdown lines, one per deadline (the workflow's issue body and the CLI's output). */
export function formatNotices(notices: readonly DeadlineNotice[], asOf: string): string {
    if (notices.length === 0) return `No deletion or export deadline within ${DEADLINE_NOTICE_DAYS} days of ${asOf}.`;
    return notices
        .map((n) => `- **${n.tenant}** ${n.kind} ${n.state === "passed" ? "PASSED" : n.state === "today" ? "DUE TODAY" : "upcoming"} (${n.due}, phase ${n.phase}): ${n.action}`)
        .join("\n");
}
