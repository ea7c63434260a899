// Adding a tenant must never touch another tenant.
import { runStacks, type CapturedResource, type StackRun } from "../../lib/mock-run";
import { examplesPlus, EXAMPLE_TENANTS_DIR, publicTenant } from "../unit/tenant-fixtures";
import { pinnedAsOf, tenantOf } from "./stack-helpers";

const EXISTING = ["acme", "nightowl", "harbor"];

function inputsByUrn(runs: StackRun[]): Map<string, CapturedResource> {
    return new Map(runs.flatMap((run) => run.resources.filter((r) => tenantOf(r, EXISTING) !== undefined).map((r) => [r.urn, r] as const)));
}

describe("adding a fourth tenant", () => {
    let before: Map<string, CapturedResource>;
    let after: Map<string, CapturedResource>;
    let afterRuns: StackRun[];

    beforeAll(async () => {
        before = inputsByUrn(await runStacks({ tenantsDir: EXAMPLE_TENANTS_DIR, configOverrides: pinnedAsOf() }));
        afterRuns = await runStacks({ tenantsDir: examplesPlus({ "delta.yaml": publicTenant("delta", 4, { logging: { retentionDays: 30 } }) }), configOverrides: pinnedAsOf() });
        after = inputsByUrn(afterRuns);
    }, 90_000);

    it("changes no input, option or resource of the other three tenants", () => {
        expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
        for (const [urn, resource] of before) expect({ urn, resource: after.get(urn) }).toEqual({ urn, resource });
    });

    it("declares the new tenant in all three stacks", () => {
        for (const run of afterRuns) expect(run.resources.some((r) => tenantOf(r, ["delta"]) === "delta")).toBe(true);
    });
});
