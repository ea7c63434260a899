// `npm run tenant -- <preview|up|refresh> <tenant>` without the Pulumi CLI: a
// stand-in `pulumi` on PATH records argv and cwd of every call and answers
// what the Automation API parses (version, stack output/history/export JSON,
// and the engine events of a preview in the --event-log file, which the
// Automation API tails for CLIs up to 3.205: automation/stack.js setupEventLog).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { runStacks } from "../../lib/mock-run";
import { runCli, type CliRun } from "../cli-run";
import { sharedUrns, tenantUrns, tenantUrnsInState } from "../../lib/tenant-ops";

jest.setTimeout(120_000);

const ROOT = path.join(__dirname, "..", "..");

const STAND_IN = `#!${process.execPath}
// Stand-in for the Pulumi CLI (tests): records every call, answers what the Automation API parses.
const fs = require("fs");
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_PULUMI_LOG, JSON.stringify({ argv: args, cwd: process.cwd() }) + "\\n");
const is = (...w) => w.every((x, i) => args[i] === x);
const out = (v) => { process.stdout.write(typeof v === "string" ? v : JSON.stringify(v)); process.stdout.write("\\n"); process.exit(0); };
if (is("version")) out("v3.200.0");
if (is("stack", "output")) out({});
if (is("stack", "export")) out(process.env.FAKE_PULUMI_STATE ? JSON.parse(process.env.FAKE_PULUMI_STATE) : { version: 3, deployment: { manifest: {}, resources: [] } });
if (is("stack", "history")) { const t = new Date().toISOString(); out([{ version: 1, kind: "update", startTime: t, endTime: t, message: "", environment: {}, config: {}, result: "succeeded", resourceChanges: {} }]); }
if (process.env.FAKE_PULUMI_FAIL && args[0] === process.env.FAKE_PULUMI_FAIL) { process.stderr.write("error: stand-in failure\\n"); process.exit(255); }
if (args[0] === "preview" || args[0] === "up" || args[0] === "refresh") {
    // One step event per target, as the engine emits a ResourcePreEvent for every step ("same" included);
    // FAKE_PULUMI_CHANGES names the URNs (by their last segment) whose step is not "same".
    const log = args[args.indexOf("--event-log") + 1];
    if (args.includes("--event-log") && log) {
        const changes = JSON.parse(process.env.FAKE_PULUMI_CHANGES || "{}");
        let sequence = 0;
        const event = (body) => fs.appendFileSync(log, JSON.stringify({ sequence: sequence++, timestamp: 0, ...body }) + "\\n");
        const targets = args.flatMap((a, i) => (a === "--target" ? [args[i + 1]] : []));
        for (const urn of targets) event({ resourcePreEvent: { metadata: { op: changes[urn.split("::").pop()] || "same", urn, type: urn.split("::")[2].split("$").pop(), provider: "" } } });
        event({ summaryEvent: { maybeCorrupt: false, durationSeconds: 0, resourceChanges: { same: targets.length }, policyPacks: {} } });
    }
    process.stdout.write("stand-in " + args[0] + " done\\n");
}
process.exit(0);
`;

interface Call {
    argv: string[];
    cwd: string;
}

function standIn(): { bin: string; log: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-fake-pulumi-"));
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, "pulumi"), STAND_IN, { mode: 0o755 });
    return { bin, log: path.join(dir, "calls.jsonl") };
}

function tenantCli(args: string[], env: Record<string, string>, cwd = ROOT): Promise<CliRun> {
    return runCli("cli/tenant.ts", args, { cwd, env });
}

const calls = (log: string): Call[] =>
    fs.existsSync(log)
        ? fs
              .readFileSync(log, "utf8")
              .trim()
              .split("\n")
              .filter(Boolean)
              .map((l) => JSON.parse(l) as Call)
        : [];
const flagValues = (argv: string[], flag: string) => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]] : []));
const stackOf = (c: Call) => flagValues(c.argv, "--stack")[0];
/** PATH with node's own directory but no pulumi. */
const NO_PULUMI_PATH = [path.dirname(process.execPath), "/usr/bin", "/bin"].join(path.delimiter);

describe("npm run tenant", () => {
    // Worked out independently of the command: the whole program with every tenant.
    let own: Map<string, string[]>;
    let shared: Set<string>;
    beforeAll(async () => {
        const runs = await runStacks({});
        own = new Map(runs.map((r) => [r.stack, tenantUrns(r.resources, "acme")]));
        shared = new Set(runs.flatMap((r) => sharedUrns(r.resources)));
    });
    const EDGE = "urn:pulumi:iceland::redoubt::redoubt:edge:Edge$docker:index/container:Container::edge-container";
    const env = (log: string, bin: string, extra: Record<string, string> = {}) => ({ PATH: `${bin}${path.delimiter}${NO_PULUMI_PATH}`, FAKE_PULUMI_LOG: log, ...extra });

    it("up: previews every stack with the shared resources, then updates only the tenant's own URNs, backup stacks first, never --target-dependents", async () => {
        const { bin, log } = standIn();
        const run = await tenantCli(["up", "acme"], env(log, bin));
        expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 0 });
        const all = calls(log);
        expect(all.every((c) => c.cwd === ROOT)).toBe(true);
        const ops = all.filter((c) => c.argv[0] === "preview" || c.argv[0] === "up");
        const stacks = ["backup-helsinki", "backup-falkenstein", "iceland"];
        expect(ops.map((c) => `${c.argv[0]} ${stackOf(c)}`)).toEqual([...stacks.map((s) => `preview ${s}`), ...stacks.map((s) => `up ${s}`)]);
        for (const op of ops) {
            const stack = stackOf(op);
            const targets = flagValues(op.argv, "--target");
            expect(op.argv).not.toContain("--target-dependents");
            expect(flagValues(op.argv, "--policy-pack")).toEqual([path.join(ROOT, "policies")]);
            if (op.argv[0] === "up") {
                // Exactly acme's resources as the whole program declares them.
                expect([...targets].sort()).toEqual([...own.get(stack)!].sort());
            } else {
                // acme's resources and shared ones; never another tenant's.
                expect(targets.filter((u) => !shared.has(u)).sort()).toEqual([...own.get(stack)!].sort());
                if (stack === "iceland") expect(targets).toContain(EDGE);
            }
        }
        expect(own.get("iceland")).toContain("urn:pulumi:iceland::redoubt::redoubt:tenant:TenantCell::acme");
        expect(own.get("iceland")!.some((u) => u.endsWith("::acme-homeserver-container"))).toBe(true);
        // Each stack is selected (or created) before it is previewed.
        const firstSelect = all.findIndex((c) => c.argv[0] === "stack" && c.argv[1] === "select");
        expect(firstSelect).toBeGreaterThanOrEqual(0);
        expect(firstSelect).toBeLessThan(all.findIndex((c) => c.argv[0] === "preview"));
        expect(run.stdout).toContain("stand-in up done");
    });

    it("up stops before changing anything when its preview shows a shared resource changing, and says what and how to go on", async () => {
        const { bin, log } = standIn();
        const run = await tenantCli(["up", "acme"], env(log, bin, { FAKE_PULUMI_CHANGES: JSON.stringify({ "edge-container": "update", "acme-homeserver-container": "create" }) }));
        expect(run.code).toBe(1);
        expect(run.stderr).toContain(`iceland: update edge-container (${EDGE})`);
        expect(run.stderr).toMatch(/stopped before changing anything: it would also change 1 shared resource/);
        expect(run.stderr).toContain("npm run tenant -- up acme --shared");
        // The tenant's own change is not a shared change.
        expect(run.stderr).not.toContain("acme-homeserver-container");
        expect(calls(log).filter((c) => c.argv[0] === "up")).toEqual([]);
        expect(calls(log).filter((c) => c.argv[0] === "preview")).toHaveLength(3);
    });

    it("up --shared applies the shared change too, targeting the shared resources only in the stack where they change", async () => {
        const { bin, log } = standIn();
        const run = await tenantCli(["up", "acme", "--shared"], env(log, bin, { FAKE_PULUMI_CHANGES: JSON.stringify({ "edge-container": "update" }) }));
        expect({ code: run.code, stderr: run.stderr }).toMatchObject({ code: 0 });
        const ups = calls(log).filter((c) => c.argv[0] === "up");
        expect(ups.map(stackOf)).toEqual(["backup-helsinki", "backup-falkenstein", "iceland"]);
        for (const up of ups) {
            const targets = flagValues(up.argv, "--target");
            expect(up.argv).not.toContain("--target-dependents");
            expect(targets.includes(EDGE)).toBe(stackOf(up) === "iceland");
            expect(targets.filter((u) => !shared.has(u)).sort()).toEqual([...own.get(stackOf(up))!].sort());
        }
    });

    it("preview lists the shared resources that would change and changes nothing; --shared is refused for preview", async () => {
        const { bin, log } = standIn();
        const preview = await tenantCli(["preview", "acme", "--stack", "iceland"], env(log, bin, { FAKE_PULUMI_CHANGES: JSON.stringify({ "edge-container": "replace" }) }));
        expect(preview.code).toBe(0);
        expect(preview.stderr).toContain(`shared resources that would change (an up needs --shared):\n  iceland: replace edge-container (${EDGE})`);
        expect(calls(log).filter((c) => c.argv[0] === "up")).toEqual([]);
        const refused = await tenantCli(["preview", "acme", "--shared"], env(log, bin));
        expect(refused.code).toBe(1);
        expect(refused.stderr).toMatch(/--shared: only for up/);
    });

    it("preview runs the policy pack, refresh targets the tenant's own URNs without it; --stack limits the stacks", async () => {
        const { bin, log } = standIn();
        const preview = await tenantCli(["preview", "nightowl", "--stack", "iceland"], env(log, bin));
        expect(preview.code).toBe(0);
        const refresh = await tenantCli(["refresh", "nightowl", "--stack", "backup-helsinki"], env(log, bin));
        expect(refresh.code).toBe(0);
        const ops = calls(log).filter((c) => ["preview", "refresh"].includes(c.argv[0]));
        expect(ops.map((c) => [c.argv[0], stackOf(c)])).toEqual([
            ["preview", "iceland"],
            ["refresh", "backup-helsinki"],
        ]);
        expect(flagValues(ops[0].argv, "--policy-pack")).toEqual([path.join(ROOT, "policies")]);
        expect(flagValues(ops[0].argv, "--target")).toContain("urn:pulumi:iceland::redoubt::redoubt:tenant:TenantCell::nightowl");
        const refreshed = flagValues(ops[1].argv, "--target");
        expect(refreshed).toContain("urn:pulumi:backup-helsinki::redoubt::redoubt:backup:BackupBucket::nightowl");
        expect(refreshed.every((u) => !shared.has(u))).toBe(true);
        expect(ops[1].argv).not.toContain("--target-dependents");
    });

    it("also targets the tenant's resources that only the state still holds", async () => {
        const { bin, log } = standIn();
        const gone = "urn:pulumi:iceland::redoubt::redoubt:tenant:TenantCell$redoubt:tenant:Homeserver$docker:index/container:Container::acme-old-container";
        const state = {
            version: 3,
            deployment: {
                resources: [
                    { urn: "urn:pulumi:iceland::redoubt::redoubt:tenant:TenantCell::acme", type: "redoubt:tenant:TenantCell" },
                    { urn: gone, type: "docker:index/container:Container", parent: "urn:pulumi:iceland::redoubt::redoubt:tenant:TenantCell::acme" },
                    {
                        urn: "urn:pulumi:iceland::redoubt::docker:index/container:Container::other",
                        type: "docker:index/container:Container",
                        inputs: { labels: [{ label: "redoubt.tenant", value: "harbor" }] },
                    },
                ],
            },
        };
        expect(tenantUrnsInState(state, "acme")).toEqual(["urn:pulumi:iceland::redoubt::redoubt:tenant:TenantCell::acme", gone]);
        const run = await tenantCli(["preview", "acme", "--stack", "iceland"], {
            PATH: `${bin}${path.delimiter}${NO_PULUMI_PATH}`,
            FAKE_PULUMI_LOG: log,
            FAKE_PULUMI_STATE: JSON.stringify(state),
        });
        expect(run.code).toBe(0);
        const preview = calls(log).find((c) => c.argv[0] === "preview")!;
        expect(flagValues(preview.argv, "--target")).toContain(gone);
        expect(flagValues(preview.argv, "--target").some((u) => u.endsWith("::other"))).toBe(false);
    });

    it("refuses an unknown tenant before starting Pulumi (exit 1)", async () => {
        const { bin, log } = standIn();
        const run = await tenantCli(["up", "nobody"], { PATH: `${bin}${path.delimiter}${NO_PULUMI_PATH}`, FAKE_PULUMI_LOG: log });
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(/unknown tenant 'nobody'.*known: acme, harbor, nightowl/);
        expect(calls(log)).toEqual([]);
    });

    it("refuses an invalid tenant set before starting Pulumi (exit 1), naming file and field", async () => {
        // A copy of this tree with one broken tenant file (the tenant command reads the stacks' tenant directory).
        const copy = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-tenant-cli-"));
        for (const entry of ["cli", "components", "lib", "stacks", "tenants", "images.yaml", "Pulumi.yaml", "package.json", "tsconfig.json"]) {
            if (fs.existsSync(path.join(ROOT, entry))) fs.cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true });
        }
        fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(copy, "node_modules"), "dir");
        const acme = path.join(copy, "tenants", "acme.yaml");
        fs.writeFileSync(acme, fs.readFileSync(acme, "utf8").replace("contact: it@acme.example", "contact: not-an-address"));
        const { bin, log } = standIn();
        const run = await tenantCli(["up", "acme"], { PATH: `${bin}${path.delimiter}${NO_PULUMI_PATH}`, FAKE_PULUMI_LOG: log }, copy);
        fs.rmSync(copy, { recursive: true, force: true });
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(/acme\.yaml:\d+: contact: .*email/);
        expect(calls(log)).toEqual([]);
    });

    it("says clearly when the Pulumi CLI is not installed (exit 1, install hint)", async () => {
        const run = await tenantCli(["preview", "acme"], { PATH: NO_PULUMI_PATH });
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(/Pulumi CLI is not installed \(no `pulumi` on PATH\).*get\.pulumi\.com/);
    });

    it("stops at the first stack that fails (exit 2): the primary is not touched when a backup stack fails", async () => {
        const { bin, log } = standIn();
        const run = await tenantCli(["up", "acme"], { PATH: `${bin}${path.delimiter}${NO_PULUMI_PATH}`, FAKE_PULUMI_LOG: log, FAKE_PULUMI_FAIL: "up" });
        expect(run.code).toBe(2);
        expect(run.stderr).toMatch(/pulumi failed/);
        expect(
            calls(log)
                .filter((c) => c.argv[0] === "up")
                .map(stackOf),
        ).toEqual(["backup-helsinki"]);
    });
});
