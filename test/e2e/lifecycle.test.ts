// One tenant's life, planned under mocks step by step: active → suspended →
// active → cancelled (day 0, day 6, day 8). What exists, what is protected,
// what runs, what the edge routes, and what the deletion-deadline policy says.
import * as path from "node:path";
import { addDays } from "../../components/lifecycle";
import { restoreDrillUnitName } from "../../components/names";
import { runStacks, type CapturedResource, type StackRun } from "../../lib/mock-run";
import { mandatory, startPolicyPack, type PolicyPackSession } from "../../lib/policy-harness";
import { publicTenant, tenantDir } from "../unit/tenant-fixtures";
import { CONTAINER, labelsOf, NETWORK, plain, STORAGE_BOX, uploadContent, VOLUME } from "./stack-helpers";

jest.setTimeout(180_000);

const CANCELLED_ON = "2026-11-02";
const DOMAIN = "matrix.lumen.example";
const STACKS = ["backup-helsinki", "backup-falkenstein", "iceland"];

interface Step {
    iceland: StackRun;
    backups: StackRun[];
}

async function plan(status: Record<string, unknown>, asOf: string): Promise<Step> {
    const dir = tenantDir({ "lumen.yaml": publicTenant("lumen", 12, status), "ledger.yaml": "tenants:\n  - { name: lumen, id: 12 }\n" });
    const overrides = Object.fromEntries(STACKS.map((s) => [s, { "redoubt:asOf": asOf }]));
    const [helsinki, falkenstein, iceland] = await runStacks({ stacks: STACKS, tenantsDir: dir, configOverrides: overrides });
    return { iceland, backups: [helsinki, falkenstein] };
}

const lumen = (run: StackRun) => run.resources.filter((r) => r.name === "lumen" || r.name.startsWith("lumen-"));
/** The tenant's service containers by role (config carriers accompany them and are left out). */
const roles = (step: Step) =>
    lumen(step.iceland)
        .filter((r) => r.type === CONTAINER && labelsOf(r)["redoubt.role"] !== "config")
        .map((r) => labelsOf(r)["redoubt.role"])
        .sort();
/** Whether the edge's route table (written by its config carrier) routes the tenant's domain. */
const edgeRoutes = (step: Step) => {
    const carrier = step.iceland.resources.find((r) => r.type === CONTAINER && labelsOf(r)["redoubt.configures"] === "edge")!;
    return uploadContent(carrier, "/usr/local/etc/haproxy/haproxy.cfg").includes(DOMAIN);
};
const dataResources = (step: Step): CapturedResource[] => [
    ...lumen(step.iceland).filter((r) => r.type === VOLUME || r.name === "lumen-volume-luks" || r.name === "lumen-volume-key"),
    ...step.backups.flatMap((b) => lumen(b).filter((r) => r.type === STORAGE_BOX)),
];
const hasTimer = (step: Step) => lumen(step.iceland).some((r) => r.name === "lumen-backup-timer");
/** Whether a host command installs the tenant's monthly restore drill timer. */
const hasDrill = (step: Step) => lumen(step.iceland).some((r) => String(plain(r.inputs["create"]) ?? "").includes(`${restoreDrillUnitName("lumen")}.timer`));

let session: PolicyPackSession;
const steps: Record<string, Step> = {};

beforeAll(async () => {
    session = await startPolicyPack({ packDir: path.join(__dirname, "..", "..", "policies"), timeoutMs: 170_000 });
    steps.active = await plan({}, "2026-10-01");
    steps.suspended = await plan({ status: "suspended" }, "2026-10-10");
    steps.reactivated = await plan({}, "2026-10-20");
    steps.day0 = await plan({ status: "cancelled", cancelledOn: CANCELLED_ON }, CANCELLED_ON);
    steps.day6 = await plan({ status: "cancelled", cancelledOn: CANCELLED_ON }, addDays(CANCELLED_ON, 6));
    steps.day8 = await plan({ status: "cancelled", cancelledOn: CANCELLED_ON }, addDays(CANCELLED_ON, 8));
});

afterAll(async () => {
    await session?.close();
});

describe("tenant lifecycle timeline", () => {
    it("active: every container, routed by the edge, data protected, nightly backups", () => {
        expect(roles(steps.active)).toEqual(["backup-agent", "homeserver", "proxy"]);
        expect(edgeRoutes(steps.active)).toBe(true);
        expect(dataResources(steps.active)).toHaveLength(5);
        for (const r of dataResources(steps.active)) expect({ urn: r.urn, protect: r.protect }).toEqual({ urn: r.urn, protect: true });
        for (const box of steps.active.backups.flatMap((b) => lumen(b).filter((r) => r.type === STORAGE_BOX))) expect(box.inputs.deleteProtection).toBe(true);
        expect(hasTimer(steps.active)).toBe(true);
        expect(hasDrill(steps.active)).toBe(true);
    });

    it("suspended: homeserver and proxy gone, edge no longer routes, data protected, backups continue, no restore drill (it needs the homeserver)", () => {
        expect(roles(steps.suspended)).toEqual(["backup-agent"]);
        expect(edgeRoutes(steps.suspended)).toBe(false);
        for (const r of dataResources(steps.suspended)) expect({ urn: r.urn, protect: r.protect }).toEqual({ urn: r.urn, protect: true });
        expect(hasTimer(steps.suspended)).toBe(true);
        expect(hasDrill(steps.suspended)).toBe(false);
    });

    it("reactivated: served again, and its data resources are exactly the ones it had (nothing replaced)", () => {
        expect(roles(steps.reactivated)).toEqual(roles(steps.active));
        expect(edgeRoutes(steps.reactivated)).toBe(true);
        expect(dataResources(steps.reactivated)).toEqual(dataResources(steps.active));
    });

    it("the volume's and networks' inputs never change with the status (Docker cannot relabel them: a change would replace them)", () => {
        const onHost = (step: Step) =>
            lumen(step.iceland)
                .filter((r) => r.type === VOLUME || r.type === NETWORK || r.name === "lumen-volume-luks")
                .map((r) => r.inputs);
        for (const step of [steps.suspended, steps.day0, steps.day6]) expect(onHost(step)).toEqual(onHost(steps.active));
    });

    it.each(["day0", "day6"])("cancelled, %s: not served, data unprotected and marked with its deadline", (day) => {
        const step = steps[day];
        expect(roles(step)).toEqual([]);
        expect(edgeRoutes(step)).toBe(false);
        expect(hasTimer(step)).toBe(false);
        const data = dataResources(step);
        expect(data).toHaveLength(5);
        for (const r of data) expect({ urn: r.urn, protect: r.protect }).toEqual({ urn: r.urn, protect: false });
        for (const box of step.backups.flatMap((b) => lumen(b).filter((r) => r.type === STORAGE_BOX))) {
            expect(box.inputs.deleteProtection).toBe(false);
            expect(plain<Record<string, string>>(box.inputs.labels)["redoubt.delete-by"]).toBe(addDays(CANCELLED_ON, 7));
        }
    });

    it("cancelled, day 8: nothing of the tenant is declared in any stack, so the next pulumi up destroys it", () => {
        expect(lumen(steps.day8.iceland)).toEqual([]);
        for (const backup of steps.day8.backups) expect(lumen(backup)).toEqual([]);
        expect(edgeRoutes(steps.day8)).toBe(false);
    });

    it("the deletion-deadline policy passes on day 6 and fails on day 8 if the data were still declared", async () => {
        const all = (step: Step) => [step.iceland, ...step.backups];
        for (const run of all(steps.day6)) {
            const { diagnostics } = await session.analyze(run.resources, { "deletion-deadline": { asOf: addDays(CANCELLED_ON, 6) } });
            expect(mandatory(diagnostics)).toEqual([]);
        }
        for (const run of all(steps.day6)) {
            const { diagnostics } = await session.analyze(run.resources, { "deletion-deadline": { asOf: addDays(CANCELLED_ON, 8) } });
            const deadline = mandatory(diagnostics).filter((d) => d.policyName === "deletion-deadline");
            expect({ stack: run.stack, failures: deadline.length > 0 }).toEqual({ stack: run.stack, failures: true });
        }
    });

    it("the crypto-erase runs when the volume is destroyed", () => {
        const luks = steps.day6.iceland.resources.find((r) => r.name === "lumen-volume-luks")!;
        expect(String(luks.inputs.delete)).toMatch(/lumen-luks\.sh erase/);
    });
});

describe("a cancellation announced for a later day", () => {
    it("is still an active tenant until that day, and passes every policy", async () => {
        const step = await plan({ status: "cancelled", cancelledOn: CANCELLED_ON }, addDays(CANCELLED_ON, -3));
        expect(roles(step)).toEqual(["backup-agent", "homeserver", "proxy"]);
        for (const r of dataResources(step)) expect({ urn: r.urn, protect: r.protect }).toEqual({ urn: r.urn, protect: true });
        for (const run of [step.iceland, ...step.backups]) {
            const { diagnostics } = await session.analyze(run.resources, { "deletion-deadline": { asOf: addDays(CANCELLED_ON, -3) } });
            expect({ stack: run.stack, mandatory: mandatory(diagnostics) }).toEqual({ stack: run.stack, mandatory: [] });
        }
    });
});

describe("data export", () => {
    const AGE = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";

    it("a requested export declares a job encrypting to the customer's key; deletion waits for delivery", async () => {
        const cancelled = { status: "cancelled", cancelledOn: CANCELLED_ON, export: { requestedOn: CANCELLED_ON, recipient: AGE } };
        const step = await plan(cancelled, addDays(CANCELLED_ON, 20));
        const job = step.iceland.resources.find((r) => r.name === "lumen-export-job");
        expect(String(job?.inputs.create)).toContain(`age --encrypt -r '${AGE}'`);
        // 20 days after cancellation, the data is still there, protected: the export was not delivered yet.
        expect(dataResources(step)).toHaveLength(5);
        for (const r of dataResources(step)) expect({ urn: r.urn, protect: r.protect }).toEqual({ urn: r.urn, protect: true });
        for (const run of [step.iceland, ...step.backups]) {
            const { diagnostics } = await session.analyze(run.resources, { "deletion-deadline": { asOf: addDays(CANCELLED_ON, 20) } });
            expect({ stack: run.stack, mandatory: mandatory(diagnostics) }).toEqual({ stack: run.stack, mandatory: [] });
        }
        const delivered = await plan({ ...cancelled, export: { ...cancelled.export, deliveredOn: addDays(CANCELLED_ON, 20) } }, addDays(CANCELLED_ON, 27));
        expect(lumen(delivered.iceland)).toEqual([]);
    });
});
