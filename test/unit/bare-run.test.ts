// The bench's baseline (runBareUnderMocks) registers exactly the resources the stack program
// did, with the same parents, under the same mocks: otherwise its time would not be a fair
// comparison.
import { PROJECT, runBareUnderMocks, runStacks, type CapturedResource } from "../../lib/mock-run";

jest.setTimeout(60_000);

/**
 * The URN the SDK's mock monitor gives a resource: unlike the engine, it prefixes only the
 * parent's own type, not the parent's whole type chain (@pulumi/pulumi runtime/mocks.js,
 * createUrn: `qualifiedType.split("$").pop()`).
 */
function mockUrn(stack: string, resource: CapturedResource, byUrn: Map<string, CapturedResource>): string {
    const parent = resource.parent === undefined ? undefined : byUrn.get(resource.parent);
    return `urn:pulumi:${stack}::${PROJECT}::${parent ? `${parent.type}$` : ""}${resource.type}::${resource.name}`;
}

it("the bare program registers the same resources under the same parents as the stack program, for every stack", async () => {
    const runs = await runStacks({});
    expect(runs.map((r) => r.stack)).toEqual(["backup-helsinki", "backup-falkenstein", "iceland"]);
    for (const run of runs) {
        const byUrn = new Map(run.resources.map((r) => [r.urn, r]));
        const registered = await runBareUnderMocks(run.stack, run.resources);
        expect({ stack: run.stack, urns: [...registered].sort() }).toEqual({ stack: run.stack, urns: run.resources.map((r) => mockUrn(run.stack, r, byUrn)).sort() });
    }
});
