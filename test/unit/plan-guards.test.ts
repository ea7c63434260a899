// The plan's guards against a run that would quietly weaken it: a policy
// config that disables or loosens a promise policy, and data loss in a diff
// that nobody acknowledged.
import { parseArgs, unacknowledgedDataLoss } from "../../cli/plan";
import { policyConfigProblems, RUN_POLICY_SETTINGS } from "../../lib/plan";
import type { PlanDiff } from "../../lib/plan-diff";
import type { PolicyInfo } from "../../lib/policy-harness";

const policies: PolicyInfo[] = [
    { name: "log-retention", description: "", enforcementLevel: "mandatory", kind: "resource", configDefaults: { maxLogRetentionDays: 30 } },
    { name: "deletion-deadline", description: "", enforcementLevel: "mandatory", kind: "stack", configDefaults: { asOf: "", deletionGraceDays: 7 } },
    { name: "image-freshness", description: "", enforcementLevel: "advisory", kind: "resource", configDefaults: { maxAgeDays: 90 } },
];

describe("--policy-config", () => {
    it.each([
        ["disabling a promise policy", { "log-retention": { enforcementLevel: "disabled" } }, /'log-retention' keeps a privacy promise; it cannot be set to "disabled"/],
        ["making it advisory", { "log-retention": { enforcementLevel: "advisory" } }, /cannot be set to "advisory"/],
        ["loosening its threshold", { "log-retention": { maxLogRetentionDays: 365 } }, /its maxLogRetentionDays is 30 in the pack and may only be made lower, not 365/],
        ["lengthening the grace period", { "deletion-deadline": { deletionGraceDays: 30 } }, /deletionGraceDays is 7 in the pack and may only be made lower/],
        ["a threshold that is not a number", { "log-retention": { maxLogRetentionDays: "7" } }, /may only be made lower, not "7"/],
        [
            "naming a policy the pack does not have",
            { "log-retentoin": { enforcementLevel: "mandatory" } },
            /'log-retentoin' is not a policy of the pack; known: deletion-deadline, image-freshness, log-retention/,
        ],
    ])("refuses %s", (_what, config, message) => {
        expect(policyConfigProblems(policies, config)).toEqual([expect.stringMatching(message)]);
    });

    it("allows a promise policy's threshold made stricter", () => {
        expect(policyConfigProblems(policies, { "log-retention": { maxLogRetentionDays: 7 }, "deletion-deadline": { deletionGraceDays: 3 } })).toEqual([]);
    });

    it("allows the run's date, restating the defaults, and anything on an advisory policy", () => {
        expect(RUN_POLICY_SETTINGS).toContain("asOf");
        const config = {
            "deletion-deadline": { asOf: "2026-01-01", deletionGraceDays: 7, enforcementLevel: "mandatory" },
            "image-freshness": { enforcementLevel: "disabled", maxAgeDays: 5 },
        };
        expect(policyConfigProblems(policies, config)).toEqual([]);
    });
});

describe("--diff with data loss", () => {
    const loss = (tenant: string | undefined) => ({ type: "docker:index/volume:Volume", name: `${tenant ?? "edge"}-volume`, tenant, dataLoss: "would be DELETED" });
    const diff = (tenants: (string | undefined)[]) => ({ dataLoss: tenants.map(loss) }) as unknown as PlanDiff;

    it("is refused unless each tenant whose data goes is named", () => {
        expect(unacknowledgedDataLoss(diff(["acme", "harbor"]), []).map((c) => c.tenant)).toEqual(["acme", "harbor"]);
        expect(unacknowledgedDataLoss(diff(["acme", "harbor"]), ["acme"]).map((c) => c.tenant)).toEqual(["harbor"]);
        expect(unacknowledgedDataLoss(diff(["acme", "harbor"]), ["acme", "harbor"])).toEqual([]);
    });

    it("cannot accept the loss of shared data by naming a tenant", () => {
        expect(unacknowledgedDataLoss(diff([undefined]), ["acme"])).toHaveLength(1);
    });

    it("--accept-data-loss needs --diff", () => {
        expect(() => parseArgs(["--accept-data-loss", "acme"])).toThrow(/only applies with --diff/);
        expect(parseArgs(["--diff", "HEAD", "--accept-data-loss", "acme", "--accept-data-loss=harbor"]).acceptDataLoss).toEqual(["acme", "harbor"]);
    });
});
