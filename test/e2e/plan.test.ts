// `npm run plan` end to end: the CLI as ops run it (a child process), on the
// example tenants, on an invalid tenant directory, on a policy failure, and
// its --json output checked for secrets.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isSecretValue, runStacks, type CapturedResource } from "../../lib/mock-run";
import { buildPlan, planExitCode, redact, SECRET_PLACEHOLDER, type PlanDocument } from "../../lib/plan";
import { runCli } from "../cli-run";
import { examplesPlus, EXAMPLE_TENANTS_DIR, publicTenant } from "../unit/tenant-fixtures";

jest.setTimeout(180_000);

const ROOT = path.join(__dirname, "..", "..");
const AS_OF = "2026-03-01";

interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
}

function plan(args: string[], cwd = ROOT): Promise<Run> {
    return runCli("cli/plan.ts", args, { cwd });
}

function tempDir(prefix: string): string {
    return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

describe("npm run plan", () => {
    it("exits 0 on the example tenants and prints each tenant's summary", async () => {
        const run = await plan(["--as-of", AS_OF]);
        expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
        const out = run.stdout;
        for (const stack of ["backup-helsinki", "backup-falkenstein", "iceland"]) expect(out).toMatch(new RegExp(`^Stack ${stack} .*as of ${AS_OF}`, "m"));
        const iceland = out.slice(out.indexOf("Stack iceland"));
        // acme: public, plan medium (4096 MiB, 2 cpus, 512 processes), backups in both sites.
        expect(iceland).toMatch(/tenant acme \[active\] plan medium\n\s+endpoint: https:\/\/matrix\.acme\.example\n\s+limits:\s+homeserver memory 4096 MiB, cpus 2; processes 512/);
        expect(iceland).toMatch(/tenant nightowl \[active\] plan small\n\s+endpoint: https:\/\/[a-z2-7]{56}\.onion/);
        expect(iceland).toMatch(/tenant harbor \[active\] plan small\n\s+endpoint: \S+/);
        expect(iceland).toMatch(/backups:\s+helsinki, falkenstein/);
        expect(iceland).toMatch(/resources: .*\d+ docker:Container/);
        expect(out).toMatch(/policies: redoubt-privacy [\d.]+: 0 mandatory/);
        expect(out).toMatch(/^OK: no mandatory policy violation\.$/m);
    });

    it("exits 1 on an invalid tenant directory, naming file and field, and prints no plan", async () => {
        const dir = examplesPlus({ "broken.yaml": { ...publicTenant("broken", 9), plan: "huge" } });
        const run = await plan(["--tenants", dir]);
        expect(run.code).toBe(1);
        expect(run.stdout).toBe("");
        expect(run.stderr).toMatch(/broken\.yaml:\d+: plan: .*small.*medium.*large/);
        expect(run.stderr).not.toMatch(/unexpected/);
    });

    it("exits 1 on a --stack that has no config file, naming the file", async () => {
        const run = await plan(["--stack", "nowhere"]);
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(/stacks\/Pulumi\.nowhere\.yaml: \(file\): does not exist: there is no stack named nowhere \(known: .*iceland/);
        expect(run.stdout).toBe("");
    });

    it("refuses an invalid stack config before running anything, naming file and field", async () => {
        await expect(buildPlan({ stacks: ["iceland"], configOverrides: { iceland: { "redoubt:publicAddress": "somewhere" } } })).rejects.toMatchObject({
            name: "StackConfigError",
            file: "stacks/Pulumi.iceland.yaml",
            problems: [expect.objectContaining({ field: "redoubt:publicAddress" })],
        });
    });

    it("exits 2 and names the policy when the real tenants break a policy under the given policy config", async () => {
        // The example tenants keep logs 14 days (acme, harbor) and 7 days (nightowl). A policy
        // config tightening the retention to 7 days, the way `pulumi preview --policy-pack-config`
        // would, makes the real pack refuse the real resources of acme and harbor.
        const config = path.join(tempDir("redoubt-policy-config-"), "policy-config.json");
        fs.writeFileSync(config, JSON.stringify({ "container-log-retention": { maxLogRetentionDays: 7 } }));
        const run = await plan(["--stack", "iceland", "--as-of", AS_OF, "--policy-config", config]);
        expect(run.code).toBe(2);
        expect(run.stdout).toMatch(/\[MANDATORY\] container-log-retention: .*keeps logs for 14 days/);
        expect(run.stdout).toMatch(/^FAILED: \d+ mandatory policy violations? \(container-log-retention\)/m);
        // Attributed to the tenants that keep logs too long, not to nightowl.
        const nightowl = run.stdout.slice(run.stdout.indexOf("tenant nightowl"), run.stdout.indexOf("tenant harbor"));
        expect(nightowl).not.toMatch(/MANDATORY/);
    });

    it.each([
        [["--as-of", "2026-13-45"], /--as-of must be a real calendar date written YYYY-MM-DD, not '2026-13-45'/],
        [["--as-of"], /--as-of needs a value/],
        [["--frobnicate"], /unknown argument --frobnicate/],
    ])("refuses bad arguments %j with exit 1, naming the flag, planning nothing", async (args, message) => {
        const run = await plan(args);
        expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 1, stdout: "" });
        expect(run.stderr).toMatch(message);
    });

    it("--json contains every resource and diagnostic, and not one secret value", async () => {
        const run = await plan(["--json", "--as-of", AS_OF]);
        expect(run.code).toBe(0);
        const doc = JSON.parse(run.stdout) as PlanDocument;
        expect(doc.format).toBe("redoubt-plan/1");
        expect(doc.stacks.map((s) => s.stack)).toEqual(["backup-helsinki", "backup-falkenstein", "iceland"]);
        expect(run.stdout).toContain(`"${SECRET_PLACEHOLDER}"`);

        // The same program under the same mocks: every secret value it handed the engine.
        const runs = await runStacks({ configOverrides: Object.fromEntries(doc.stacks.map((s) => [s.stack, { "redoubt:asOf": AS_OF }])) });
        for (const r of runs) {
            const planned = doc.stacks.find((s) => s.stack === r.stack)!;
            expect(planned.resources.map((p) => p.urn)).toEqual(r.resources.map((c) => c.urn));
        }
        // (Stack outputs count as plain where they are not secret: the onion address is public.)
        const secrets = secretStrings([...runs.flatMap((r) => r.resources.map((x) => x.inputs)), ...runs.map((r) => r.outputs)]);
        expect(secrets.size).toBeGreaterThan(20);
        expect([...secrets].some((s) => s.startsWith("mock-password-"))).toBe(true);
        expect([...secrets].some((s) => s.includes("PRIVATE KEY"))).toBe(true);
        const leaked = [...secrets].filter((s) => run.stdout.includes(s) || run.stdout.includes(JSON.stringify(s).slice(1, -1)));
        expect(leaked).toEqual([]);
    });

    it("a past-deadline data volume (resources altered after the mock run) makes the plan exit 2 with deletion-deadline", async () => {
        // The program never declares a tenant past its deadline, so the only way to see
        // the policy bite here is to feed it what a stale program would: acme's volume
        // labelled cancelled with a deletion date before the plan's date.
        const doc = await buildPlan({
            stacks: ["iceland"],
            asOf: AS_OF,
            tenantsDir: EXAMPLE_TENANTS_DIR,
            transformRuns: (runs) =>
                runs.map((run) => ({
                    ...run,
                    resources: run.resources.map((r) => (r.name === "acme-volume-volume" ? relabel(r, { "redoubt.status": "cancelled", "redoubt.delete-by": "2026-02-01" }) : r)),
                })),
        });
        expect(planExitCode(doc)).toBe(2);
        const d = doc.stacks[0].diagnostics.filter((x) => x.level === "mandatory");
        expect(d.map((x) => x.policy)).toContain("deletion-deadline");
        expect(d.find((x) => x.policy === "deletion-deadline")).toMatchObject({ tenant: "acme", urn: expect.stringContaining("acme-volume-volume") });
    });
});

describe("redact", () => {
    it("replaces every secret, however deep, and records a digest per secret path", () => {
        const secret = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });
        const digests: Record<string, string> = {};
        const out = redact({ a: secret("x"), b: [{ c: secret({ d: "y" }) }], e: "plain" }, "", digests);
        expect(out).toEqual({ a: "[secret]", b: [{ c: "[secret]" }], e: "plain" });
        expect(Object.keys(digests).sort()).toEqual(["a", "b[0].c"]);
        expect(JSON.stringify(digests)).not.toMatch(/"x"|"y"/);
    });
});

function relabel(r: CapturedResource, labels: Record<string, string>): CapturedResource {
    const current = (r.inputs["labels"] as { label: string; value: string }[]).filter((l) => !(l.label in labels));
    return { ...r, inputs: { ...r.inputs, labels: [...current, ...Object.entries(labels).map(([label, value]) => ({ label, value }))] } };
}

/** Every string inside a secret marker, plus the key-like tokens inside them, minus what also appears in plain inputs. */
function secretStrings(values: unknown[]): Set<string> {
    const secret = new Set<string>();
    const plain = new Set<string>();
    const walk = (v: unknown, inSecret: boolean) => {
        if (isSecretValue(v)) return walk(v.value, true);
        if (typeof v === "string") {
            const into = inSecret ? secret : plain;
            into.add(v);
            for (const token of v.match(/mock-password-[0-9a-f]+|mock-[0-9a-f]{32}|[A-Za-z0-9+/_-]{32,}={0,2}/g) ?? []) into.add(token);
            return;
        }
        if (Array.isArray(v)) v.forEach((e) => walk(e, inSecret));
        else if (v && typeof v === "object") Object.values(v).forEach((e) => walk(e, inSecret));
    };
    for (const v of values) walk(v, false);
    // A value that also stands in a plain input is not secret by nature (the SDK marks whole
    // inputs secret, e.g. a host command's connection, host name included).
    const plainText = [...plain];
    return new Set([...secret].filter((s) => s.length >= 8 && !plainText.some((p) => p.includes(s))));
}
