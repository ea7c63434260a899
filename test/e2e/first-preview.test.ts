// The plan as each stack's first real preview: nothing exists yet, so every
// generated value (passwords, keys, certificates, ids) is unknown, and a
// policy that reads an unknown value is only advisory. These tests show that
// every promise policy stays in force there: the facts they read (config
// files, command texts, image references) hold no generated value.
import { buildPlan, type PlanDocument } from "../../lib/plan";

const AS_OF = "2026-03-01";
let first: PlanDocument;

beforeAll(async () => {
    first = await buildPlan({ asOf: AS_OF, firstPreview: true });
}, 180_000);

const advisoryBecauseUnknown = () =>
    first.stacks.flatMap((s) => s.diagnostics.filter((d) => d.level === "advisory" && /can't be known during preview/.test(d.message)).map((d) => d.policy));

describe("a first preview (generated values unknown)", () => {
    it("makes secrets and generated values unknown in what the program declares", () => {
        const iceland = first.stacks.find((s) => s.stack === "iceland")!;
        expect(JSON.stringify(iceland.resources.map((r) => r.inputs))).toContain("[unknown]");
    });

    it("breaks no promise on the example tenants", () => {
        expect(first.stacks.flatMap((s) => s.diagnostics.filter((d) => d.level === "mandatory"))).toEqual([]);
    });

    it("leaves no policy advisory: none reads an unknown value", () => {
        expect(first.stacks.flatMap((s) => s.diagnostics.map((d) => `${s.stack} ${d.level} ${d.policy}: ${d.message}`))).toEqual([]);
    });

    it("keeps the label, hardening, limit, log and backup policies mandatory: none of them reads an unknown value", () => {
        const advisory = new Set(advisoryBecauseUnknown());
        for (const policy of [
            "container-hardening",
            "tenant-labels",
            "container-resource-limits",
            "container-log-retention",
            "backup-agent-settings",
            "network-isolation",
            // Containers take the pinned reference (known), not the pulled image's computed repoDigest.
            "images-pinned-by-digest",
            // Host commands take container ids on stdin, so every script text is known.
            "no-inline-secrets-in-commands",
            "host-journal-retention",
        ]) {
            expect({ policy, advisory: advisory.has(policy) }).toEqual({ policy, advisory: false });
        }
    });
});
