import fc from "fast-check";
import { addDays, datingProblems, deletionDeadline, lifecycleOf, MAX_DELETION_GRACE_DAYS, MAX_EXPORT_WAIT_DAYS } from "../../components/lifecycle";
import { TenantSchema, type Tenant } from "../../tenants/schema";

const AGE_KEY = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
const base = TenantSchema.parse({ name: "acme", id: 1, contact: "it@acme.example", access: { mode: "public", domain: "matrix.acme.example" } });
const withStatus = (extra: Partial<Tenant>): Tenant => TenantSchema.parse({ ...base, ...extra });

describe("tenant lifecycle over time", () => {
    const cancelled = withStatus({ status: "cancelled", cancelledOn: "2026-11-01" });

    it("active: served, protected, backed up", () => {
        expect(lifecycleOf(base, "2026-11-01")).toMatchObject({ phase: "active", declared: true, protectData: true, served: true, backedUp: true });
    });

    it("suspended: not served, data protected and backed up", () => {
        expect(lifecycleOf(withStatus({ status: "suspended" }), "2026-11-01")).toMatchObject({ phase: "suspended", served: false, protectData: true, backedUp: true });
    });

    it("cancelled with a future date: still active until that day", () => {
        expect(lifecycleOf(cancelled, "2026-10-31").phase).toBe("active");
    });

    it.each([
        ["day 0", "2026-11-01", { phase: "cancelled", declared: true, protectData: false, served: false }],
        ["day 6", "2026-11-07", { phase: "cancelled", declared: true, protectData: false }],
        ["day 7", "2026-11-08", { phase: "deleted", declared: false }],
        ["day 8", "2026-11-09", { phase: "deleted", declared: false }],
    ])("cancelled, %s", (_day, asOf, expected) => {
        expect(lifecycleOf(cancelled, asOf)).toMatchObject({ ...expected, deleteBy: "2026-11-08" });
    });

    it("an export not yet delivered holds deletion; delivery starts the grace period", () => {
        const exporting = withStatus({ status: "cancelled", cancelledOn: "2026-11-01", export: { requestedOn: "2026-11-01", recipient: AGE_KEY } });
        expect(lifecycleOf(exporting, "2026-11-20")).toMatchObject({ phase: "awaiting-export", declared: true, protectData: true, exporting: true });
        const delivered = withStatus({ ...exporting, export: { requestedOn: "2026-11-01", recipient: AGE_KEY, deliveredOn: "2026-11-10" } });
        expect(deletionDeadline(delivered, 7)).toBe("2026-11-17");
        expect(lifecycleOf(delivered, "2026-11-16").declared).toBe(true);
        expect(lifecycleOf(delivered, "2026-11-17").declared).toBe(false);
    });

    it("an export never delivered holds the data for MAX_EXPORT_WAIT_DAYS from the later of request and cancellation, the last grace days unprotected", () => {
        const requested = "2026-11-05";
        const exporting = withStatus({ status: "cancelled", cancelledOn: "2026-11-01", export: { requestedOn: requested, recipient: AGE_KEY } });
        const end = addDays(requested, MAX_EXPORT_WAIT_DAYS);
        expect(deletionDeadline(exporting, 7)).toBe(end);
        expect(lifecycleOf(exporting, addDays(end, -8))).toMatchObject({ phase: "awaiting-export", protectData: true, deleteBy: end });
        expect(lifecycleOf(exporting, addDays(end, -7))).toMatchObject({ phase: "cancelled", protectData: false, declared: true, deleteBy: end });
        expect(lifecycleOf(exporting, end)).toMatchObject({ phase: "deleted", declared: false });
        // Delivered after the wait ran out changes nothing: the data was due for deletion already.
        const late = withStatus({ ...exporting, export: { requestedOn: requested, recipient: AGE_KEY, deliveredOn: addDays(end, 3) } });
        expect(deletionDeadline(late, 7)).toBe(end);
    });

    it("refuses export dates after the plan's date", () => {
        const future = withStatus({ status: "cancelled", cancelledOn: "2026-11-01", export: { requestedOn: "2026-11-09", recipient: AGE_KEY, deliveredOn: "2026-11-10" } });
        expect(datingProblems(future, "2026-11-08").map((p) => p.field)).toEqual(["export.requestedOn", "export.deliveredOn"]);
        expect(datingProblems(future, "2026-11-09").map((p) => p.field)).toEqual(["export.deliveredOn"]);
        expect(datingProblems(future, "2026-11-10")).toEqual([]);
    });

    it("the deadline is never later than cancellation (or delivery) plus 7 days, whatever the grace", () => {
        fc.assert(
            fc.property(fc.integer({ min: 0, max: MAX_DELETION_GRACE_DAYS }), fc.integer({ min: 0, max: 60 }), (grace, day) => {
                const asOf = addDays("2026-11-01", day);
                const lifecycle = lifecycleOf(cancelled, asOf, grace);
                return lifecycle.declared === day < grace && (lifecycle.deleteBy ?? "") <= addDays("2026-11-01", 7);
            }),
        );
    });

    it("refuses a grace period longer than the promise", () => {
        expect(() => lifecycleOf(cancelled, "2026-11-01", 8)).toThrow(/at most|0 to 7/);
    });

    it("adds days across month and year ends", () => {
        expect(addDays("2026-12-28", 7)).toBe("2027-01-04");
        expect(addDays("2028-02-25", 7)).toBe("2028-03-03");
    });
});
