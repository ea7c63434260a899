// `npm run plan -- --diff`: diffPlans on plans of two tenant directories
// (mocks only, fast), and one real `--diff REF` against a temporary git
// repository holding a copy of this tree.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildPlan, type PlanDocument, type PlannedResource } from "../../lib/plan";
import { diffInputs, diffPlans, flatten, renderDiff } from "../../lib/plan-diff";
import { addDays } from "../../components/lifecycle";
import { PLANS } from "../../tenants/schema";
import { runCli } from "../cli-run";
import { examplesPlus, EXAMPLE_TENANTS_DIR, publicTenant } from "../unit/tenant-fixtures";
import { repoOfThisTree } from "./stack-helpers";

jest.setTimeout(180_000);

const AS_OF = "2026-03-01";

function copyExamples(edit: (dir: string) => void): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-plan-diff-"));
    for (const f of fs.readdirSync(EXAMPLE_TENANTS_DIR).filter((f) => f.endsWith(".yaml"))) fs.copyFileSync(path.join(EXAMPLE_TENANTS_DIR, f), path.join(dir, f));
    edit(dir);
    return dir;
}

const planOf = (tenantsDir: string) => buildPlan({ tenantsDir, asOf: AS_OF, policy: false });

describe("diffPlans", () => {
    let base: PlanDocument;
    beforeAll(async () => {
        base = await planOf(EXAMPLE_TENANTS_DIR);
    });

    it("shows nothing when nothing changed", async () => {
        const again = await planOf(copyExamples(() => undefined));
        const diff = diffPlans(base, again);
        expect(diff.changes).toEqual([]);
        expect(renderDiff(diff, { before: "a", after: "b" })).toMatch(/no resource changes/);
    });

    it("a new tenant: only that tenant's resources are added, in every stack it uses", async () => {
        const after = await planOf(examplesPlus({ "zeta.yaml": publicTenant("zeta", 9) }));
        const diff = diffPlans(base, after);
        const added = diff.changes.filter((c) => c.kind === "add");
        expect(new Set(added.map((c) => c.tenant))).toEqual(new Set(["zeta"]));
        expect(new Set(added.map((c) => c.stack))).toEqual(new Set(["backup-helsinki", "backup-falkenstein", "iceland"]));
        // Everything zeta's cell declares is added, nothing of it elsewhere.
        const zetaAfter = after.stacks.flatMap((s) => s.resources.filter((r) => r.tenant === "zeta").map((r) => r.urn)).sort();
        expect(added.map((c) => c.urn).sort()).toEqual(zetaAfter);
        expect(diff.changes.filter((c) => c.kind === "remove" || c.kind === "replace")).toEqual([]);
        expect(diff.dataLoss).toEqual([]);
        // No other tenant changes; only shared resources (the edge's routes) may.
        expect(diff.changes.filter((c) => c.kind === "change" && c.tenant !== undefined)).toEqual([]);
        const text = renderDiff(diff, { before: "base", after: "new" });
        expect(text).toMatch(/tenant zeta: \d+ to add, 0 to change, 0 to replace, 0 to remove/);
        expect(text).not.toMatch(/tenant (acme|nightowl|harbor):/);
        expect(text).not.toMatch(/DATA LOSS/);
    });

    it("a plan change of one tenant: the homeserver's memory limit changes field by field, and nothing of other tenants", async () => {
        const after = await planOf(
            copyExamples((dir) => fs.writeFileSync(path.join(dir, "acme.yaml"), fs.readFileSync(path.join(dir, "acme.yaml"), "utf8").replace("plan: medium", "plan: large"))),
        );
        const diff = diffPlans(base, after);
        expect(new Set(diff.changes.map((c) => c.tenant))).toEqual(new Set(["acme"]));
        expect(diff.changes.every((c) => c.kind === "change")).toBe(true);
        const hs = diff.changes.find((c) => c.name === "acme-homeserver-container")!;
        expect(hs.fields).toEqual([
            { path: "cpus", before: String(PLANS.medium.cpus), after: String(PLANS.large.cpus) },
            { path: "memory", before: PLANS.medium.memoryMiB, after: PLANS.large.memoryMiB },
            { path: "memorySwap", before: PLANS.medium.memoryMiB, after: PLANS.large.memoryMiB },
        ]);
        const text = renderDiff(diff, { before: "base", after: "new" });
        expect(text).toContain(`memory: ${PLANS.medium.memoryMiB} → ${PLANS.large.memoryMiB}`);
        expect(text).not.toMatch(/DATA LOSS/);
    });

    it("a removed tenant file: its protected volume and storage boxes are reported as data loss, first", async () => {
        const after = await planOf(
            copyExamples((dir) => {
                fs.rmSync(path.join(dir, "harbor.yaml"));
                const ledger = path.join(dir, "ledger.yaml");
                if (fs.existsSync(ledger))
                    fs.writeFileSync(ledger, fs.readFileSync(ledger, "utf8").replace(/\{ name: harbor, id: 3 \}/, "{ name: harbor, id: 3, deletedOn: 2026-02-20 }"));
            }),
        );
        const diff = diffPlans(base, after);
        expect(diff.changes.every((c) => (c.tenant === "harbor" ? c.kind === "remove" : c.tenant === undefined))).toBe(true);
        const lost = diff.dataLoss.map((c) => `${c.stack} ${c.name}`);
        expect(lost).toEqual(expect.arrayContaining(["iceland harbor-volume-volume", "iceland harbor-volume-luks", "backup-helsinki harbor-box", "backup-falkenstein harbor-box"]));
        expect(diff.dataLoss.find((c) => c.name === "harbor-volume-volume")!.protect.before).toBe(true);
        const text = renderDiff(diff, { before: "base", after: "new" });
        expect(text.split("\n")[0]).toMatch(/^!!! DATA LOSS: \d+ resources holding tenant data would be deleted or replaced/);
        expect(text.indexOf("harbor-volume-volume (protected) of tenant harbor would be DELETED")).toBeLessThan(text.indexOf("Plan diff"));
        expect(text).toMatch(/- docker:Volume harbor-volume-volume \[protected\] {2}!!! DATA LOSS/);
    });

    it("a secret input that changes is shown as [secret] → [secret], never its value", () => {
        const r = (value: string): PlannedResource => ({
            type: "t:x:Y",
            name: "n",
            urn: "u",
            protect: false,
            custom: true,
            inputs: { password: "[secret]", size: 1 },
            secretDigests: { password: value },
        });
        expect(diffInputs(r("sha256:aa"), r("sha256:aa"))).toEqual([]);
        expect(diffInputs(r("sha256:aa"), r("sha256:bb"))).toEqual([{ path: "password", before: "[secret]", after: "[secret]", secret: true }]);
    });

    it("keys lists of labels and uploads by their name, not their position", () => {
        const flat = flatten({ labels: [{ label: "redoubt.tenant", value: "acme" }], uploads: [{ file: "/etc/x", content: "y" }], capAdd: ["CHOWN"] });
        expect([...flat.keys()]).toEqual(["labels[redoubt.tenant].label", "labels[redoubt.tenant].value", "uploads[/etc/x].file", "uploads[/etc/x].content", "capAdd"]);
    });
});

describe("npm run plan -- --diff REF (real git revision)", () => {
    it("compares with a temporary commit of this tree and shows exactly the changed tenant", async () => {
        const repo = repoOfThisTree();
        const acme = path.join(repo, "tenants", "acme.yaml");
        fs.writeFileSync(acme, fs.readFileSync(acme, "utf8").replace("plan: medium", "plan: large"));

        const run = await runCli("cli/plan.ts", ["--diff", "HEAD", "--as-of", AS_OF, "--no-policy"], { cwd: repo });
        fs.rmSync(repo, { recursive: true, force: true });
        expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
        const diffPart = run.stdout.slice(0, run.stdout.indexOf("\nStack "));
        expect(diffPart).toMatch(/^Plan diff HEAD \([0-9a-f]{12}\) → this tree/);
        // The slice, the volume, the homeserver's limits and its config (the plan's media retention days).
        expect(diffPart).toMatch(/tenant acme: 0 to add, 4 to change, 0 to replace, 0 to remove/);
        expect(diffPart).toMatch(/~ docker:Container acme-homeserver-config-container\n\s+uploads: \[secret\] → \[secret\] \(changed\)/);
        expect(diffPart).toContain(`memory: ${PLANS.medium.memoryMiB} → ${PLANS.large.memoryMiB}`);
        expect(diffPart).toMatch(/storageBoxType: "bx21" → "bx31"/);
        expect(diffPart).not.toMatch(/tenant (nightowl|harbor)|DATA LOSS/);
        // Then the plan of this tree.
        expect(run.stdout).toMatch(/tenant acme \[active\] plan large/);
    });

    it("refuses data loss (exit 4) until the operator names the tenant whose data goes", async () => {
        const repo = repoOfThisTree();
        try {
            // harbor cancelled long enough ago that this plan destroys its volume and boxes.
            const harbor = path.join(repo, "tenants", "harbor.yaml");
            fs.appendFileSync(harbor, `status: cancelled\ncancelledOn: "${addDays(AS_OF, -10)}"\n`);
            const refused = await runCli("cli/plan.ts", ["--diff", "HEAD", "--as-of", AS_OF, "--no-policy"], { cwd: repo });
            expect(refused.code).toBe(4);
            expect(refused.stdout).toMatch(/!!! DATA LOSS: .*of tenant harbor would be DELETED/);
            expect(refused.stderr).toMatch(/REFUSED: this change deletes or replaces data of harbor .* --accept-data-loss harbor/);
            const wrongTenant = await runCli("cli/plan.ts", ["--diff", "HEAD", "--as-of", AS_OF, "--no-policy", "--accept-data-loss", "acme"], { cwd: repo });
            expect(wrongTenant.code).toBe(4);
            const accepted = await runCli("cli/plan.ts", ["--diff", "HEAD", "--as-of", AS_OF, "--no-policy", "--accept-data-loss", "harbor"], { cwd: repo });
            expect({ code: accepted.code, stderr: accepted.stderr }).toEqual({ code: 0, stderr: "" });
        } finally {
            fs.rmSync(repo, { recursive: true, force: true });
        }
    });

    it("refuses (exit 1) a revision that does not exist, and a ledger that rewrote its history", async () => {
        const repo = repoOfThisTree();
        try {
            const missing = await runCli("cli/plan.ts", ["--diff", "no-such-branch", "--as-of", AS_OF, "--no-policy"], { cwd: repo });
            expect({ code: missing.code, stdout: missing.stdout }).toEqual({ code: 1, stdout: "" });
            expect(missing.stderr).toMatch(/revision 'no-such-branch' does not exist in this repository/);
            // harbor renamed in its file and in the ledger alike: consistent now, but the ledger lost an entry.
            const ledger = path.join(repo, "tenants", "ledger.yaml");
            fs.writeFileSync(ledger, fs.readFileSync(ledger, "utf8").replace("name: harbor", "name: haven"));
            const harbor = path.join(repo, "tenants", "harbor.yaml");
            fs.writeFileSync(path.join(repo, "tenants", "haven.yaml"), fs.readFileSync(harbor, "utf8").replace("name: harbor", "name: haven"));
            fs.rmSync(harbor);
            const rewritten = await runCli("cli/plan.ts", ["--as-of", AS_OF, "--no-policy"], { cwd: repo });
            expect({ code: rewritten.code, stdout: rewritten.stdout }).toEqual({ code: 1, stdout: "" });
            expect(rewritten.stderr).toMatch(/tenants\/ledger\.yaml.*harbor.*append-only/);
        } finally {
            fs.rmSync(repo, { recursive: true, force: true });
        }
    });
});
