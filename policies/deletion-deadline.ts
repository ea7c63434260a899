// Promise: "Delete at any time; all instance data gone within 7 days of
// cancellation unless an export was requested." The stacks label a cancelled
// tenant's resources with redoubt.delete-by (cancellation + grace, later while
// an export is pending); past that date no data resource may remain in the
// stack: a preview or update then fails until ops remove the tenant.
//
// Not visible in resources: copies outside the stack (Pulumi state history
// holds the tenant's secrets: see README; Storage Box snapshots: refused by
// storage-box-settings; restic repositories live inside the boxes).
import type { StackValidationPolicy } from "@pulumi/policy";
import { DATA_LABEL, DELETE_BY_LABEL, STATUS_LABEL, T, TENANT_LABEL, asOfDate, configOf, daysBetween, describe, isIsoDate, labelsOf, luksTenant, tenantStatuses } from "./common";

const DEFAULTS = { asOf: "", deletionGraceDays: 7 };
// awaiting-export: cancelled, but the data is kept (protected) until the export is delivered or the export
// wait runs out; it carries its delete-by date (the end of the wait) like a cancelled tenant's.
const DEADLINE_STATUSES = ["cancelled", "awaiting-export"];
const STATUSES = ["active", "suspended", "cancelled", "awaiting-export"];

export const deletionDeadline: StackValidationPolicy = {
    name: "deletion-deadline",
    description: "A cancelled tenant's data resources (data volumes, LUKS containers, Storage Boxes) are gone by their redoubt.delete-by date.",
    configSchema: {
        properties: {
            asOf: { type: "string", default: "", description: "The plan's date, YYYY-MM-DD; empty means today (UTC)." },
            deletionGraceDays: { type: "integer", minimum: 0, default: 7, description: "Days after cancellation the privacy page allows; quoted in messages." },
        },
    },
    validateStack: (args, report) => {
        const { asOf, deletionGraceDays } = configOf(args, DEFAULTS);
        const today = asOfDate(asOf);
        const statuses = tenantStatuses(args.resources);
        for (const r of args.resources) {
            let tenant: string | undefined;
            let status: string | undefined;
            let deleteBy: string | undefined;
            const labels = labelsOf(r.props);
            const isData = (r.type === T.volume && labels[DATA_LABEL] === "true") || r.type === T.storageBox || luksTenant(r) !== undefined;
            if (!isData) continue;
            if (r.type === T.command) {
                tenant = luksTenant(r);
                status = statuses.get(tenant ?? "")?.status;
                deleteBy = statuses.get(tenant ?? "")?.deleteBy;
            } else {
                tenant = labels[TENANT_LABEL];
                status = labels[STATUS_LABEL] ?? statuses.get(tenant ?? "")?.status;
                deleteBy = labels[DELETE_BY_LABEL] ?? statuses.get(tenant ?? "")?.deleteBy;
            }
            const where = describe(r.type, r.name);
            if (status !== undefined && !STATUSES.includes(status)) {
                report(`The ${where} has ${STATUS_LABEL}="${status}"; label it with the tenant's status, one of ${STATUSES.join(", ")}.`, r.urn);
                continue;
            }
            if (!DEADLINE_STATUSES.includes(status ?? "")) continue;
            if (!isIsoDate(deleteBy)) {
                report(
                    `Tenant ${tenant} is ${status} but its ${where} has no valid ${DELETE_BY_LABEL} date (${JSON.stringify(deleteBy ?? null)}); label it with the day its data must be gone (YYYY-MM-DD).`,
                    r.urn,
                );
                continue;
            }
            if (deleteBy < today) {
                const late = daysBetween(deleteBy, today);
                report(
                    `Tenant ${tenant} was cancelled and its data had to be deleted by ${deleteBy} (${late} day${late === 1 ? "" : "s"} ago as of ${today}; the privacy page promises ${deletionGraceDays} days), yet its ${where} is still in the stack; remove the tenant from this stack (or its tenant file) and run pulumi up, then crypto-erase the volume key.`,
                    r.urn,
                );
            }
        }
    },
};

export const deletionDeadlinePolicies = [deletionDeadline];
