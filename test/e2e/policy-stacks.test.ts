// The real stacks, as a mocked run registers them, through the real policy
// pack over gRPC: the example tenants pass, and each broken promise is caught
// by the right policy with a message that says what to change. Where the
// schema refuses an input, the run is changed after the program to bypass the
// schema, proving the policy catches it on its own.
import * as path from "node:path";
import { mandatory, startPolicyPack, type PolicyDiagnostic, type PolicyPackSession } from "../../lib/policy-harness";
import { runStacks, type CapturedResource, type StackRun } from "../../lib/mock-run";
import { tenantDir, publicTenant, EXAMPLE_TENANTS_DIR } from "../unit/tenant-fixtures";
import { AS_OF, CONTAINER, labelsOf, pinnedAsOf, plain } from "./stack-helpers";
import { addDays } from "../../components/lifecycle";

jest.setTimeout(180_000);

const PACK_DIR = path.join(__dirname, "..", "..", "policies");
let session: PolicyPackSession;
let runs: StackRun[];
/** The same stacks as their first real preview would show them: generated values and secrets unknown. */
let firstRuns: StackRun[];

beforeAll(async () => {
    session = await startPolicyPack({ packDir: PACK_DIR, timeoutMs: 170_000 });
    runs = await runStacks({ tenantsDir: EXAMPLE_TENANTS_DIR, configOverrides: pinnedAsOf() });
    firstRuns = await runStacks({ tenantsDir: EXAMPLE_TENANTS_DIR, configOverrides: pinnedAsOf(), firstPreview: true });
});

afterAll(async () => {
    await session?.close();
});

const asOfConfig = (asOf: string) => ({ "deletion-deadline": { asOf } });
const byStack = (stack: string) => runs.find((r) => r.stack === stack)!;

/** A deep copy of a stack's resources with one resource changed. */
function withChange(run: StackRun, match: (r: CapturedResource) => boolean, change: (r: CapturedResource) => void): CapturedResource[] {
    const copy = structuredClone(run.resources);
    const targets = copy.filter(match);
    expect(targets.length).toBeGreaterThan(0);
    targets.forEach(change);
    return copy;
}

function setLabel(resource: CapturedResource, label: string, value: string): void {
    const labels = plain<{ label: string; value: string }[]>(resource.inputs.labels);
    labels.find((l) => l.label === label)!.value = value;
}

function expectMandatory(diagnostics: PolicyDiagnostic[], policyName: string, message: RegExp): void {
    const found = mandatory(diagnostics).filter((d) => d.policyName === policyName);
    expect({ policyName, found: found.map((d) => d.message) }).toEqual({ policyName, found: expect.arrayContaining([expect.stringMatching(message)]) });
}

describe("the example tenants' stacks", () => {
    it.each(["iceland", "backup-helsinki", "backup-falkenstein"])("%s raises no mandatory diagnostic", async (stack) => {
        const { diagnostics } = await session.analyze(byStack(stack).resources, asOfConfig(AS_OF));
        expect(mandatory(diagnostics)).toEqual([]);
    });
});

/** One promise broken by changing the registered resources; each is caught by `policy` in a full and a first preview. */
interface BrokenPromise {
    what: string;
    match: (r: CapturedResource) => boolean;
    change: (r: CapturedResource) => void;
    policy: string;
    message: RegExp;
}

const uploadedConfig = (r: CapturedResource) => plain<{ file: string; content: string }[]>(r.inputs.uploads)[0];

const BROKEN_PROMISES: BrokenPromise[] = [
    {
        what: "a log retention of 45 days (the schema refuses it; the policy catches it too)",
        match: (r) => r.type === CONTAINER && labelsOf(r)["redoubt.tenant"] === "acme",
        change: (r) => setLabel(r, "redoubt.log-retention-days", "45"),
        policy: "container-log-retention",
        message: /45.*30|30.*45/,
    },
    {
        what: "a tenant container given a second tenant's network",
        match: (r) => r.name === "acme-homeserver-container",
        change: (r) => plain<{ name: string }[]>(r.inputs.networksAdvanced).push({ name: "redoubt-nightowl-services" }),
        policy: "network-isolation",
        message: /nightowl/,
    },
    {
        what: "an image given by tag (the schema refuses it for tenant files; the policy catches any container)",
        match: (r) => r.name === "acme-proxy-container",
        change: (r) => (r.inputs.image = "docker.io/library/caddy:2.10.2-alpine"),
        policy: "images-pinned-by-digest",
        message: /digest/,
    },
    {
        what: "a backup site in Iceland (the stack config refuses it; the policy catches it too)",
        match: (r) => r.name === "acme-backup-container",
        change: (r) => setLabel(r, "redoubt.backup-countries", "IS,DE"),
        policy: "backup-sites",
        message: /IS|Iceland/,
    },
    {
        what: "federation turned on for the tor tenant (whose onion name is generated)",
        match: (r) => r.name === "nightowl-homeserver-config-container",
        change: (r) => (uploadedConfig(r).content = uploadedConfig(r).content.replace("allow_federation = false", "allow_federation = true")),
        policy: "homeserver-no-federation",
        message: /set allow_federation = false/,
    },
    {
        what: "the tor tenant's proxy passing every /_matrix path to its homeserver",
        match: (r) => r.name === "nightowl-proxy-config-container",
        change: (r) => (uploadedConfig(r).content = uploadedConfig(r).content.replace('"/_matrix/client/*"', '"/_matrix/*"')),
        policy: "proxy-client-api-only",
        message: /passes \/_matrix\/\* to the homeserver/,
    },
];

describe.each([
    ["a full preview", () => runs],
    ["a first preview (generated values unknown)", () => firstRuns],
])("broken promises are caught by the right policy, as mandatory, in %s", (_mode, runsOf) => {
    it.each(BROKEN_PROMISES)("$what", async ({ match, change, policy, message }) => {
        const resources = withChange(
            runsOf().find((r) => r.stack === "iceland")!,
            match,
            change,
        );
        const { diagnostics } = await session.analyze(resources, asOfConfig(AS_OF));
        expectMandatory(diagnostics, policy, message);
    });
});

describe("broken promises are caught by the right policy", () => {
    it("a cancelled tenant 8 days past its date with its volume still declared", async () => {
        const cancelledOn = "2026-11-01";
        const dir = tenantDir({ "gone.yaml": publicTenant("gone", 9, { status: "cancelled", cancelledOn }) });
        // Planned on day 6 the program still declares the data; the policy is asked about day 8.
        const [iceland] = await runStacks({
            stacks: ["iceland"],
            tenantsDir: dir,
            configOverrides: {
                iceland: { "redoubt:asOf": addDays(cancelledOn, 6) },
                "backup-helsinki": { "redoubt:asOf": addDays(cancelledOn, 6) },
                "backup-falkenstein": { "redoubt:asOf": addDays(cancelledOn, 6) },
            },
        });
        expect(iceland.resources.some((r) => r.name === "gone-volume-volume")).toBe(true);
        const onDay6 = await session.analyze(iceland.resources, asOfConfig(addDays(cancelledOn, 6)));
        expect(mandatory(onDay6.diagnostics)).toEqual([]);
        const onDay8 = await session.analyze(iceland.resources, asOfConfig(addDays(cancelledOn, 8)));
        expectMandatory(onDay8.diagnostics, "deletion-deadline", /gone/);
    });

    it("renamed internal children are still found: the LUKS command of a cancelled tenant past its date, and an unprotected one", async () => {
        const cancelledOn = "2026-11-01";
        const dir = tenantDir({ "gone.yaml": publicTenant("gone", 9, { status: "cancelled", cancelledOn }) });
        const day6 = addDays(cancelledOn, 6);
        const [iceland] = await runStacks({
            stacks: ["iceland"],
            tenantsDir: dir,
            configOverrides: { iceland: { "redoubt:asOf": day6 }, "backup-helsinki": { "redoubt:asOf": day6 }, "backup-falkenstein": { "redoubt:asOf": day6 } },
        });
        // Every child renamed (name and URN): policies read types and structure, so nothing they check may depend on a name.
        const rename = (r: CapturedResource) => ({
            ...r,
            name: `x${r.name.length}-${r.type.split(":").pop()}`,
            urn: r.urn.replace(/::[^:]+$/, `::renamed-${r.name.length}-${r.type.split(":").pop()}`),
        });
        const renamedUrns = new Map(iceland.resources.map((r) => [r.urn, rename(r).urn]));
        const renamed = iceland.resources.map((r) => ({
            ...rename(r),
            parent: r.parent ? (renamedUrns.get(r.parent) ?? r.parent) : undefined,
            dependencies: (r.dependencies ?? []).map((d) => renamedUrns.get(d) ?? d),
        }));
        const luksCommands = renamed.filter((r) => r.type === "command:remote:Command" && renamed.find((p) => p.urn === r.parent)?.type === "redoubt:tenant:EncryptedVolume");
        expect(luksCommands).toHaveLength(1);
        expect(luksCommands[0].name).not.toMatch(/luks/);
        const onDay8 = await session.analyze(renamed, asOfConfig(addDays(cancelledOn, 8)));
        expect(
            mandatory(onDay8.diagnostics)
                .filter((d) => d.policyName === "deletion-deadline")
                .map((d) => d.urn),
        ).toEqual(expect.arrayContaining([luksCommands[0].urn]));
        // The example tenants renamed: every policy still passes them (nothing found by name is missing)...
        const examples = byStack("iceland").resources;
        const exampleUrns = new Map(examples.map((r) => [r.urn, rename(r).urn]));
        const renamedExamples = examples.map((r) => ({
            ...rename(r),
            parent: r.parent ? (exampleUrns.get(r.parent) ?? r.parent) : undefined,
            dependencies: (r.dependencies ?? []).map((d) => exampleUrns.get(d) ?? d),
        }));
        expect(mandatory((await session.analyze(renamedExamples, asOfConfig(AS_OF))).diagnostics)).toEqual([]);
        // ...and an unprotected, renamed LUKS command of an active tenant is still refused.
        const unprotected = renamedExamples.map((r) =>
            r.type === "command:remote:Command" && renamedExamples.find((p) => p.urn === r.parent)?.type === "redoubt:tenant:EncryptedVolume" ? { ...r, protect: false } : r,
        );
        expectMandatory((await session.analyze(unprotected, asOfConfig(AS_OF))).diagnostics, "data-resources-protected", /holds data of active tenant/);
    });
});
