// One tenant's targets (`npm run tenant -- preview|up`) come from a program run
// with that tenant alone: the same URNs as the whole program declares for it,
// the same among 10 tenants as among 1,000, and never another tenant's.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { writeSyntheticTenants } from "../../cli/bench";
import { runStacks } from "../../lib/mock-run";
import { tenantsOf } from "../../lib/plan";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { planTenantOperation, sharedChangesOf, sharedUrns, tenantUrns, type TenantOpPlan } from "../../lib/tenant-ops";

jest.setTimeout(120_000);

const TENANT = "bench-0001"; // public: it has routes on the shared edge
const OTHER_TENANT = /bench-(?!0001)\d{4}/;

function syntheticSet(count: number): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `redoubt-targets-${count}-`));
    writeSyntheticTenants(dir, count);
    return dir;
}

const byStack = (plan: TenantOpPlan) => Object.fromEntries(plan.steps.map((s) => [s.stack, { urns: [...s.urns].sort(), shared: [...s.shared].sort() }]));

describe("one tenant's targets", () => {
    const dirs: string[] = [];
    afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

    it("among 10 tenants: exactly what the whole program declares for the tenant, and shared resources of the whole program", async () => {
        const dir = syntheticSet(10);
        dirs.push(dir);
        const plan = await planTenantOperation({ tenant: TENANT, tenantsDir: dir });
        const whole = await runStacks({ tenantsDir: dir });
        expect(plan.steps.map((s) => s.stack)).toEqual(["backup-helsinki", "backup-falkenstein", "iceland"]);
        for (const step of plan.steps) {
            const run = whole.find((r) => r.stack === step.stack)!;
            expect([...step.urns].sort()).toEqual([...tenantUrns(run.resources, TENANT)].sort());
            const everyShared = new Set(sharedUrns(run.resources));
            expect(step.shared.filter((u) => !everyShared.has(u))).toEqual([]);
            // The tenant's own resources are named after it; no URN names another tenant.
            expect(step.urns.every((u) => new RegExp(`::${TENANT}(-[a-z0-9-]+)?$`).test(u))).toBe(true);
            expect([...step.urns, ...step.shared].filter((u) => OTHER_TENANT.test(u))).toEqual([]);
        }
        expect(plan.steps.find((s) => s.stack === "iceland")!.shared.some((u) => u.endsWith("::edge-container"))).toBe(true);
    });

    it("for every example tenant: exactly the URNs the whole program declares for it, in the same stacks", async () => {
        const whole = await runStacks({});
        const names = [...new Set(whole.flatMap((r) => [...tenantsOf(r.resources).values()].filter((t): t is string => t !== undefined)))].sort();
        expect(names.length).toBeGreaterThanOrEqual(3);
        for (const name of names) {
            const plan = await planTenantOperation({ tenant: name });
            const expected = whole.filter((r) => tenantUrns(r.resources, name).length > 0);
            expect(plan.steps.map((s) => s.stack).sort()).toEqual(expected.map((r) => r.stack).sort());
            for (const run of expected) {
                const step = plan.steps.find((s) => s.stack === run.stack)!;
                expect({ name, urns: [...step.urns].sort() }).toEqual({ name, urns: [...tenantUrns(run.resources, name)].sort() });
                const everyShared = new Set(sharedUrns(run.resources));
                expect(step.shared.filter((u) => !everyShared.has(u))).toEqual([]);
            }
        }
    });

    it("among 1,000 tenants: the same targets as among 10, none of another tenant", async () => {
        const small = syntheticSet(10);
        const large = syntheticSet(1000);
        dirs.push(small, large);
        const few = await planTenantOperation({ tenant: TENANT, tenantsDir: small });
        const many = await planTenantOperation({ tenant: TENANT, tenantsDir: large });
        expect(byStack(many)).toEqual(byStack(few));
        expect(many.steps.flatMap((s) => [...s.urns, ...s.shared]).filter((u) => OTHER_TENANT.test(u))).toEqual([]);
    });

    it("the whole set is still validated first: a broken file among 1,000 refuses the operation, naming file and field", async () => {
        const dir = syntheticSet(1000);
        dirs.push(dir);
        const broken = path.join(dir, "bench-0777.yaml");
        fs.writeFileSync(broken, fs.readFileSync(broken, "utf8").replace(/^plan: .*$/m, "plan: huge"));
        await expect(planTenantOperation({ tenant: TENANT, tenantsDir: dir })).rejects.toThrow(/bench-0777\.yaml.*plan/s);
    });
});

describe("shared changes in a preview's engine events", () => {
    const edge = "urn:pulumi:iceland::redoubt::redoubt:edge:Edge$docker:index/container:Container::edge-container";
    const image = "urn:pulumi:iceland::redoubt::docker:index/remoteImage:RemoteImage::image-caddy";
    const own = "urn:pulumi:iceland::redoubt::redoubt:tenant:TenantCell::acme";
    let sequence = 0; // as the engine numbers its events
    const step = (urn: string, op: string): EngineEvent =>
        ({ sequence: sequence++, timestamp: 0, resourcePreEvent: { metadata: { op, urn, type: "t", provider: "" } } }) as EngineEvent;

    it("counts every step of a shared resource that changes something, and nothing else", () => {
        const changing = ["create", "update", "replace", "delete", "create-replacement", "delete-replaced", "import"];
        for (const op of changing) expect(sharedChangesOf("iceland", new Set([edge, image]), [step(edge, op)])).toEqual([{ stack: "iceland", urn: edge, op }]);
        for (const op of ["same", "read", "refresh"]) expect(sharedChangesOf("iceland", new Set([edge]), [step(edge, op)])).toEqual([]);
        // The tenant's own change is the point of the operation, not a shared change; other events carry no step.
        const events = [step(own, "create"), step(image, "same"), { sequence: 1, timestamp: 0, summaryEvent: {} } as EngineEvent];
        expect(sharedChangesOf("iceland", new Set([edge, image]), events)).toEqual([]);
        // The same event read twice from the event log is one change.
        const once = step(edge, "update");
        expect(sharedChangesOf("iceland", new Set([edge]), [once, { ...once }])).toEqual([{ stack: "iceland", urn: edge, op: "update" }]);
    });
});
