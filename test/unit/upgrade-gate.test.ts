// The upgrade gate as the program declares it, for every example tenant under
// mocks: a backed-up tenant's homeserver container depends on a host command
// that runs the gate with the very image the container will run; a tenant
// without backups has none. (The gate script itself: test/system/upgrade-gate.test.ts.)
import { containerName } from "../../components/names";
import { upgradeGatePath } from "../../components/render/upgrade";
import { lifecycleOf } from "../../components/lifecycle";
import { runStacks, type StackRun } from "../../lib/mock-run";
import { loadTenants } from "../../tenants/loader";
import { AS_OF, CONTAINER, ofType, pinnedAsOf, plain } from "../e2e/stack-helpers";
import { EXAMPLE_TENANTS_DIR } from "./tenant-fixtures";

const COMMAND = "command:remote:Command";

describe("the upgrade gate in the program", () => {
    let iceland: StackRun;
    beforeAll(async () => {
        const runs = await runStacks({ configOverrides: pinnedAsOf() });
        iceland = runs.find((r) => r.stack === "iceland")!;
    }, 120_000);

    const tenants = loadTenants(EXAMPLE_TENANTS_DIR).map((l) => l.tenant);

    it.each(tenants.map((t) => [t.name, t] as const))("%s: the homeserver waits for the gate, which is given the homeserver's image", (name, tenant) => {
        const lifecycle = lifecycleOf(tenant, AS_OF);
        const gate = ofType(iceland, COMMAND).find((c) => String(plain(c.inputs["create"])).includes(upgradeGatePath(name)));
        const homeserver = ofType(iceland, CONTAINER).find((c) => c.inputs["name"] === containerName(name, "homeserver"));
        if (!lifecycle.declared) return expect(homeserver).toBeUndefined();
        expect(homeserver).toBeDefined();
        if (!lifecycle.backedUp) return expect(gate).toBeUndefined();
        expect(gate).toBeDefined();
        // The container registers only once its parent, the Homeserver component, has: the SDK awaits the
        // parent's URN (runtime/resource.js prepareResource), which the engine gives after the component's
        // dependsOn have completed. So the gate runs first whether the dependency is on the container or above it.
        const waitsFor = (urn: string | undefined): string[] => {
            const r = urn === undefined ? undefined : iceland.resources.find((x) => x.urn === urn);
            return r === undefined ? [] : [...(r.dependencies ?? []), ...waitsFor(r.parent)];
        };
        expect(waitsFor(homeserver!.urn)).toContain(gate!.urn);
        expect(String(plain(gate!.inputs["create"])).endsWith(`${upgradeGatePath(name)} ${String(plain(homeserver!.inputs["image"]))}`)).toBe(true);
    });
});
