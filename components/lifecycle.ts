// Tenant lifecycle math: what a tenant's resources look like on a given day.
// Pure, so every plan is reproducible from (tenant file, as-of date, grace).
import type { Tenant } from "../tenants/schema";

/** The privacy page's promise: data gone within 7 days of cancellation. */
export const MAX_DELETION_GRACE_DAYS = 7;

export type LifecyclePhase =
    /** Served, protected, backed up. */
    | "active"
    /** Not served (homeserver, proxy and access containers removed); data and backups kept and protected. */
    | "suspended"
    /** Cancelled and within the grace period: not served, data unprotected so it can be deleted. */
    | "cancelled"
    /** Cancelled with an export requested but not yet delivered: not served, data kept protected until delivery. */
    | "awaiting-export"
    /** Past the deadline: nothing of the tenant is declared, so the next `pulumi up` destroys it. */
    | "deleted";

export interface Lifecycle {
    phase: LifecyclePhase;
    /** Whether any resource of the tenant is declared. */
    declared: boolean;
    /** Whether data resources (volume, storage boxes) carry `protect` and delete protection. */
    protectData: boolean;
    /** Whether the homeserver, proxy and access containers exist and the edge routes to the tenant. */
    served: boolean;
    /** Whether the nightly backups run. */
    backedUp: boolean;
    /** Whether an export job is declared. */
    exporting: boolean;
    /** The day by which all data must be gone (cancelled tenants whose deadline is known). */
    deleteBy?: string;
}

export function addDays(isoDate: string, days: number): string {
    const date = new Date(`${isoDate}T00:00:00Z`);
    date.setUTCDate(date.getUTCDate() + days);
    return date.toISOString().slice(0, 10);
}

export function todayUtc(now: Date = new Date()): string {
    return now.toISOString().slice(0, 10);
}

/**
 * How long a requested but undelivered export may hold a cancelled tenant's
 * data, counted from the cancellation or the request, whichever is later. The
 * privacy page promises deletion within 7 days "unless an export is
 * requested"; an export never delivered must not keep the data forever.
 */
export const MAX_EXPORT_WAIT_DAYS = 30;

/**
 * The deletion deadline of a cancelled tenant: cancellation plus grace; with an
 * export requested, delivery plus grace, and never later than the export wait
 * (request or cancellation plus MAX_EXPORT_WAIT_DAYS).
 */
export function deletionDeadline(tenant: Tenant, graceDays: number): string | undefined {
    if (tenant.status !== "cancelled" || tenant.cancelledOn === undefined) return undefined;
    if (tenant.export === undefined) return addDays(tenant.cancelledOn, graceDays);
    const waitFrom = later(tenant.cancelledOn, tenant.export.requestedOn);
    const waitEnds = addDays(waitFrom, MAX_EXPORT_WAIT_DAYS);
    if (tenant.export.deliveredOn === undefined) return waitEnds;
    const afterDelivery = addDays(later(tenant.export.deliveredOn, tenant.cancelledOn), graceDays);
    return afterDelivery < waitEnds ? afterDelivery : waitEnds;
}

function later(a: string, b: string): string {
    return a > b ? a : b;
}

/**
 * Dates in a tenant file that cannot be true on `asOf`: an export requested
 * or delivered in the future would hold (or release) data on a promise not
 * yet made. Each problem names the field.
 */
export function datingProblems(tenant: Tenant, asOf: string): { field: string; message: string }[] {
    const problems: { field: string; message: string }[] = [];
    if (tenant.export && tenant.export.requestedOn > asOf) {
        problems.push({
            field: "export.requestedOn",
            message: `is ${tenant.export.requestedOn}, after the plan's date ${asOf}; record an export only once the customer has asked for it`,
        });
    }
    if (tenant.export?.deliveredOn !== undefined && tenant.export.deliveredOn > asOf) {
        problems.push({ field: "export.deliveredOn", message: `is ${tenant.export.deliveredOn}, after the plan's date ${asOf}; set it on the day the archive was handed over` });
    }
    return problems;
}

export function lifecycleOf(tenant: Tenant, asOf: string, graceDays: number = MAX_DELETION_GRACE_DAYS): Lifecycle {
    if (!Number.isInteger(graceDays) || graceDays < 0 || graceDays > MAX_DELETION_GRACE_DAYS) {
        throw new RangeError(`deletion grace must be 0 to ${MAX_DELETION_GRACE_DAYS} days, got ${graceDays}`);
    }
    const exportPending = tenant.export !== undefined && tenant.export.deliveredOn === undefined && tenant.export.requestedOn <= asOf;
    if (tenant.status === "active" || (tenant.status === "cancelled" && tenant.cancelledOn !== undefined && asOf < tenant.cancelledOn)) {
        return { phase: "active", declared: true, protectData: true, served: true, backedUp: true, exporting: exportPending };
    }
    if (tenant.status === "suspended") {
        return { phase: "suspended", declared: true, protectData: true, served: false, backedUp: true, exporting: exportPending };
    }
    const deleteBy = deletionDeadline(tenant, graceDays);
    if (deleteBy === undefined) throw new RangeError(`tenant ${tenant.name} is cancelled without a cancellation date`);
    if (tenant.export !== undefined && tenant.export.deliveredOn === undefined && asOf < addDays(deleteBy, -graceDays)) {
        // The export needs the data: it stays protected until the archive is delivered, or until the
        // wait runs out; the last `graceDays` of the wait are the ordinary cancelled phase, so the
        // data is unprotected in time for the deleting run.
        return { phase: "awaiting-export", declared: true, protectData: true, served: false, backedUp: false, exporting: exportPending, deleteBy };
    }
    if (asOf >= deleteBy) {
        return { phase: "deleted", declared: false, protectData: false, served: false, backedUp: false, exporting: false, deleteBy };
    }
    return { phase: "cancelled", declared: true, protectData: false, served: false, backedUp: false, exporting: exportPending, deleteBy };
}
