// The deadline notices the daily workflow turns into issues: pure date logic,
// checked against hand-worked dates and, as properties, against the lifecycle.
import fc from "fast-check";
import * as path from "node:path";
import { addDays, lifecycleOf, MAX_DELETION_GRACE_DAYS, MAX_EXPORT_WAIT_DAYS } from "../../components/lifecycle";
import { DEADLINE_NOTICE_DAYS, daysBetween, deadlineNotices, formatNotices } from "../../lib/deadlines";
import { TenantSchema, type Tenant } from "../../tenants/schema";
import { runCli } from "../cli-run";
import { examplesPlus, publicTenant, tenantDir } from "./tenant-fixtures";

const tenant = (name: string, id: number, extra: Record<string, unknown> = {}): Tenant => TenantSchema.parse(publicTenant(name, id, extra));
const cancelled = (name: string, id: number, cancelledOn: string, extra: Record<string, unknown> = {}) => tenant(name, id, { status: "cancelled", cancelledOn, ...extra });

describe("deadlineNotices", () => {
    it("counts days across month and year ends", () => {
        expect(daysBetween("2026-12-30", "2027-01-02")).toBe(3);
        expect(daysBetween("2026-03-01", "2026-02-27")).toBe(-2);
    });

    it("says nothing for active tenants and far deadlines", () => {
        expect(deadlineNotices([tenant("alpha", 1), cancelled("beta", 2, "2026-03-01")], "2026-02-20", 7)).toEqual([]);
    });

    it("reports a deletion from three days ahead: upcoming, due today, then passed", () => {
        // Cancelled on 2026-03-01 with 7 days' grace: the data must be gone on 2026-03-08.
        const t = [cancelled("beta", 2, "2026-03-01")];
        expect(deadlineNotices(t, "2026-03-04", 7)).toEqual([]);
        expect(deadlineNotices(t, "2026-03-05", 7)).toEqual([
            expect.objectContaining({ tenant: "beta", kind: "deletion", due: "2026-03-08", daysLeft: 3, state: "upcoming", phase: "cancelled" }),
        ]);
        const today = deadlineNotices(t, "2026-03-08", 7);
        expect(today).toEqual([expect.objectContaining({ daysLeft: 0, state: "today", phase: "deleted" })]);
        expect(today[0].action).toMatch(/npm run plan -- --accept-data-loss beta/);
        const late = deadlineNotices(t, "2026-03-10", 7);
        expect(late).toEqual([expect.objectContaining({ daysLeft: -2, state: "passed" })]);
        expect(late[0].action).toMatch(/was due on 2026-03-08, 2 days ago.*report the missed deadline/);
    });

    it("takes each tenant's grace from its own host's primary stack when given per tenant", () => {
        // Both cancelled on 2026-03-01; beta's host keeps 7 days of grace, gamma's 2.
        const t = [cancelled("beta", 2, "2026-03-01"), cancelled("gamma", 3, "2026-03-01")];
        const notices = deadlineNotices(t, "2026-03-03", (x) => (x.name === "gamma" ? 2 : 7));
        expect(notices).toEqual([expect.objectContaining({ tenant: "gamma", due: "2026-03-03", state: "today" })]);
    });

    it("reports an undelivered export before its wait stops protecting the data, and the deletion that follows", () => {
        // Requested on 2026-03-05, cancelled 2026-03-01: the wait runs to 2026-04-04 (30 days from the request);
        // the data is protected until 7 days before that, 2026-03-28.
        const t = [cancelled("gamma", 3, "2026-03-01", { export: { recipient: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p", requestedOn: "2026-03-05" } })];
        expect(addDays("2026-03-05", MAX_EXPORT_WAIT_DAYS)).toBe("2026-04-04");
        expect(deadlineNotices(t, "2026-03-24", 7)).toEqual([]);
        expect(deadlineNotices(t, "2026-03-25", 7)).toEqual([
            expect.objectContaining({ kind: "export", due: "2026-03-28", daysLeft: 3, state: "upcoming", phase: "awaiting-export" }),
        ]);
        const after = deadlineNotices(t, "2026-04-02", 7);
        expect(after.map((n) => [n.kind, n.state, n.due])).toEqual([
            ["export", "passed", "2026-03-28"],
            ["deletion", "upcoming", "2026-04-04"],
        ]);
        expect(after[0].action).toMatch(/deleted on 2026-04-04, delivered or not/);
    });

    it("drops the export notice once it is delivered", () => {
        const t = [
            cancelled("gamma", 3, "2026-03-01", {
                export: { recipient: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p", requestedOn: "2026-03-05", deliveredOn: "2026-03-20" },
            }),
        ];
        expect(deadlineNotices(t, "2026-03-25", 7)).toEqual([expect.objectContaining({ kind: "deletion", due: "2026-03-27", daysLeft: 2 })]);
    });

    it("sorts by due date, then tenant", () => {
        const t = [cancelled("zeta", 4, "2026-03-01"), cancelled("beta", 2, "2026-03-02"), cancelled("alpha", 1, "2026-03-01")];
        expect(deadlineNotices(t, "2026-03-08", 7).map((n) => n.tenant)).toEqual(["alpha", "zeta", "beta"]);
    });

    it("formats one line per notice, and a sentence when there is none", () => {
        expect(formatNotices([], "2026-03-01")).toBe(`No deletion or export deadline within ${DEADLINE_NOTICE_DAYS} days of 2026-03-01.`);
        const lines = formatNotices(deadlineNotices([cancelled("beta", 2, "2026-03-01")], "2026-03-09", 7), "2026-03-09").split("\n");
        expect(lines).toEqual([expect.stringMatching(/^- \*\*beta\*\* deletion PASSED \(2026-03-08, phase deleted\): /)]);
    });

    it("property: a deletion is reported exactly from DEADLINE_NOTICE_DAYS before the lifecycle's deadline, and is never upcoming once the plan deletes", () => {
        fc.assert(
            fc.property(fc.integer({ min: 0, max: MAX_DELETION_GRACE_DAYS }), fc.integer({ min: -20, max: 40 }), (grace, offset) => {
                const cancelledOn = "2026-06-15";
                const asOf = addDays(cancelledOn, offset);
                const t = cancelled("beta", 2, cancelledOn);
                const lifecycle = lifecycleOf(t, asOf, grace);
                const deleteBy = addDays(cancelledOn, grace);
                const notices = deadlineNotices([t], asOf, grace);
                const daysLeft = daysBetween(asOf, deleteBy);
                expect(notices.length).toBe(daysLeft <= DEADLINE_NOTICE_DAYS ? 1 : 0);
                for (const n of notices) {
                    expect(n.due).toBe(lifecycle.deleteBy ?? deleteBy);
                    expect(n.state === "upcoming").toBe(lifecycle.declared);
                }
            }),
        );
    });
});

describe("npm run deadlines", () => {
    const cli = path.join(__dirname, "..", "..", "cli", "deadlines.ts");

    it("exits 0 on the example tenants", async () => {
        const run = await runCli(cli, [], { env: { REDOUBT_AS_OF: "2026-03-01" } });
        expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
        expect(run.stdout).toMatch(/^deadlines as of 2026-03-01:\nNo deletion or export deadline/);
    }, 60_000);

    it("exits 5 and says what to do when a deletion deadline has passed, and writes the JSON the workflow reads", async () => {
        const dir = examplesPlus({ "beta.yaml": publicTenant("beta", 9, { status: "cancelled", cancelledOn: "2026-02-20" }) });
        const json = path.join(dir, "notices.json");
        const run = await runCli(cli, ["--tenants", dir, "--json", json], { env: { REDOUBT_AS_OF: "2026-03-01" } });
        expect(run.code).toBe(5);
        expect(run.stdout).toMatch(/\*\*beta\*\* deletion PASSED \(2026-02-27/);
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const written = require(json) as { asOf: string; notices: { tenant: string; state: string }[] };
        expect(written).toMatchObject({ asOf: "2026-03-01", notices: [{ tenant: "beta", state: "passed" }] });
    }, 60_000);

    it("exits 1 naming the file and field of an invalid tenant, and lists nothing", async () => {
        const dir = tenantDir({ "beta.yaml": publicTenant("beta", 1, { status: "cancelled" }), "ledger.yaml": "tenants:\n  - { name: beta, id: 1 }\n" });
        const run = await runCli(cli, ["--tenants", dir], { env: { REDOUBT_AS_OF: "2026-03-01" } });
        expect(run.code).toBe(1);
        expect(run.stdout).toBe("");
        expect(run.stderr).toMatch(/^deadlines: the tenant files are invalid; nothing was listed:\n.*beta\.yaml.*cancelledOn: is required when status is cancelled/s);
    }, 60_000);

    it("exits 1 on an unknown argument", async () => {
        const run = await runCli(cli, ["--bogus"]);
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(/^deadlines: unknown argument --bogus\nusage: npm run deadlines/);
    }, 60_000);
});
