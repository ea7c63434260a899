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
 * The deletion deadline: cancellation plus grace, or, when an export was
 * requested, delivery plus grace (unknown until delivered).
 */
export function deletionDeadline(tenant: Tenant, graceDays: number): string | undefined {
    if (tenant.status !== "cancelled" || tenant.cancelledOn === undefined) return undefined;
    if (tenant.export === undefined) return addDays(tenant.cancelledOn, graceDays);
    if (tenant.export.deliveredOn === undefined) return undefined;
    const from = tenant.export.deliveredOn > tenant.cancelledOn ? tenant.export.deliveredOn : tenant.cancelledOn;
    return addDays(from, graceDays);
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
    if (deleteBy === undefined) {
        // The export needs the data: it stays protected until the archive is delivered.
        return { phase: "awaiting-export", declared: true, protectData: true, served: false, backedUp: false, exporting: exportPending };
    }
    if (asOf >= deleteBy) {
        return { phase: "deleted", declared: false, protectData: false, served: false, backedUp: false, exporting: false, deleteBy };
    }
    return { phase: "cancelled", declared: true, protectData: false, served: false, backedUp: false, exporting: exportPending, deleteBy };
}
