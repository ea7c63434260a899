// The README's recipe for a new backup site (Extending: "A backup site"),
// followed for real in a temporary git copy of this tree: the site is one new
// stack file and one entry in the primary's redoubt:backupSites, and no code.
// `npm run plan` (the CLI, in the copy) then plans the new stack without being
// told about it; no tenant gets a box there until its file names the site;
// a tenant that opts in backs up there and to Helsinki, not to Falkenstein,
// and nothing of the other tenants changes. A recipe followed by half is
// refused (exit 1) before anything is planned.
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import type { PlanDocument, PlannedResource } from "../../lib/plan";
import type { PlanDiff } from "../../lib/plan-diff";
import type { CliRun } from "../cli-run";
import { publicTenant } from "../unit/tenant-fixtures";
import { AS_OF, repoOfThisTree, STORAGE_BOX } from "./stack-helpers";

jest.setTimeout(600_000);

const NEW_STACK = "stacks/Pulumi.backup-nuremberg.yaml";
const PRIMARY = "stacks/Pulumi.iceland.yaml";
/** The new site's stack file, as the README's recipe says: role, site, country, location. */
const NEW_STACK_TEXT = `# Backup site in Germany (Nuremberg): one Hetzner Storage Box per tenant that backs up here.
config:
  redoubt:role: backup
  redoubt:site: nuremberg
  redoubt:country: DE
  redoubt:location: nbg1
`;
/** The primary's entry for it, under redoubt:backupSites. */
const PRIMARY_ENTRY = "    nuremberg:\n      stack: backup-nuremberg\n      country: DE\n";
const EXISTING_TENANTS = ["acme", "harbor", "nightowl"];

let repo: string;
let primaryBefore: string;

const file = (rel: string) => path.join(repo, rel);
const git = (...args: string[]) => execFileSync("git", args, { cwd: repo, encoding: "utf8" });
const TS_NODE = require.resolve("ts-node/dist/bin.js");

/**
 * `npm run plan -- --as-of AS_OF <args> > out` in the copy, the way an operator
 * keeps the JSON: stdout goes to a file, not a pipe (the CLI exits as soon as it
 * has written, and a large document written to a pipe can be cut short).
 */
function plan(args: string[]): Promise<CliRun> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-plan-out-"));
    const out = path.join(dir, "plan.out");
    const fd = fs.openSync(out, "w");
    return new Promise<CliRun>((resolve, reject) => {
        const child = spawn(process.execPath, [TS_NODE, "--swc", "cli/plan.ts", "--as-of", AS_OF, ...args], { cwd: repo, stdio: ["ignore", fd, "pipe"] });
        let stderr = "";
        child.stderr?.on("data", (d) => (stderr += String(d)));
        child.once("error", reject);
        child.once("close", (code) => resolve({ code, stdout: fs.readFileSync(out, "utf8"), stderr }));
    }).finally(() => {
        fs.closeSync(fd);
        fs.rmSync(dir, { recursive: true, force: true });
    });
}

function addStackFile(): void {
    fs.writeFileSync(file(NEW_STACK), NEW_STACK_TEXT);
}

/** The entry goes after the last site of the primary's redoubt:backupSites (the end of the shipped file). */
function addPrimaryEntry(): void {
    const lines = primaryBefore.split("\n");
    const start = lines.findIndex((l) => l.startsWith("  redoubt:backupSites:"));
    expect(start).toBeGreaterThan(0);
    let end = start + 1;
    while (end < lines.length && /^ {4}/.test(lines[end])) end++;
    fs.writeFileSync(file(PRIMARY), [...lines.slice(0, end), ...PRIMARY_ENTRY.trimEnd().split("\n"), ...lines.slice(end)].join("\n"));
}

/** A new tenant that names the new site, issued in the ledger as ops would. */
function addTenantOptingIn(): void {
    fs.writeFileSync(file("tenants/zeta.yaml"), stringify({ ...publicTenant("zeta", 9), backups: { sites: ["helsinki", "nuremberg"] } }));
    fs.appendFileSync(file("tenants/ledger.yaml"), "  - { name: zeta, id: 9 }\n");
}

/** Every file git sees changed or added, as `XY path`. */
function changedFiles(): string[] {
    return git("status", "--porcelain=v1", "--untracked-files=all").split("\n").filter(Boolean).sort();
}

const boxesIn = (doc: PlanDocument, stack: string): string[] =>
    doc.stacks
        .find((s) => s.stack === stack)!
        .resources.filter((r) => r.type === STORAGE_BOX)
        .map((r) => r.tenant ?? "(none)")
        .sort();

function labels(r: PlannedResource): Record<string, string> {
    const raw = r.inputs.labels;
    return Array.isArray(raw) ? Object.fromEntries((raw as { label: string; value: string }[]).map((l) => [l.label, l.value])) : ((raw ?? {}) as Record<string, string>);
}

const mandatory = (doc: PlanDocument) => doc.stacks.flatMap((s) => s.diagnostics.filter((d) => d.level === "mandatory").map((d) => `${s.stack}: ${d.policy}: ${d.message}`));

beforeAll(() => {
    repo = repoOfThisTree();
    primaryBefore = fs.readFileSync(file(PRIMARY), "utf8");
});

afterAll(() => {
    if (repo) fs.rmSync(repo, { recursive: true, force: true });
});

describe("a third backup site by the README's recipe", () => {
    it("is one new stack file and three added lines in the primary's redoubt:backupSites: no code, no other file", () => {
        addStackFile();
        addPrimaryEntry();
        expect(changedFiles()).toEqual([` M ${PRIMARY}`, `?? ${NEW_STACK}`]);
        expect(git("diff", "--numstat").trim()).toBe(`3\t0\t${PRIMARY}`);
        expect(git("diff", "-U0", "--", PRIMARY)).toContain(PRIMARY_ENTRY.trimEnd().replace(/^/gm, "+"));
    });

    it("is planned by `npm run plan` without being named, and changes nothing for any existing tenant (exit 0, empty diff)", async () => {
        const run = await plan(["--json", "--diff", "HEAD", "--no-policy"]);
        expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
        const { diff, plan: doc } = JSON.parse(run.stdout) as { diff: PlanDiff; plan: PlanDocument };
        expect(doc.stacks.map((s) => s.stack)).toEqual(["backup-helsinki", "backup-falkenstein", "backup-nuremberg", "iceland"]);
        const nuremberg = doc.stacks.find((s) => s.stack === "backup-nuremberg")!;
        expect({ role: nuremberg.role, site: nuremberg.site, country: nuremberg.country, tenants: nuremberg.tenants }).toEqual({
            role: "backup",
            site: "nuremberg",
            country: "DE",
            tenants: [],
        });
        // Existing tenants keep DEFAULT_BACKUP_SITES: no one gets a new box by surprise. The one
        // change is the primary's reference to the new stack (where an opting-in tenant's credentials come from).
        expect(boxesIn(doc, "backup-nuremberg")).toEqual([]);
        expect(diff.changes.map((c) => `${c.kind} ${c.stack} ${c.type} ${c.name} ${c.tenant ?? "(shared)"}`)).toEqual([
            "add iceland pulumi:pulumi:StackReference backup-nuremberg (shared)",
        ]);
        expect(diff.dataLoss).toEqual([]);
    });

    it("a tenant that opts in (backups.sites: [helsinki, nuremberg]) gets a box in nuremberg and none in falkenstein; the policy pack passes (exit 0)", async () => {
        addTenantOptingIn();
        expect(changedFiles()).toEqual([` M ${PRIMARY}`, " M tenants/ledger.yaml", `?? ${NEW_STACK}`, "?? tenants/zeta.yaml"]);
        const run = await plan(["--json", "--diff", "HEAD"]);
        expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
        const { diff, plan: doc } = JSON.parse(run.stdout) as { diff: PlanDiff; plan: PlanDocument };
        expect(doc.policyPack).toMatchObject({ name: "redoubt-privacy" });
        expect(mandatory(doc)).toEqual([]);

        expect(boxesIn(doc, "backup-nuremberg")).toEqual(["zeta"]);
        expect(boxesIn(doc, "backup-helsinki")).toEqual([...EXISTING_TENANTS, "zeta"]);
        expect(boxesIn(doc, "backup-falkenstein")).toEqual(EXISTING_TENANTS);
        const box = doc.stacks.find((s) => s.stack === "backup-nuremberg")!.resources.find((r) => r.type === STORAGE_BOX)!;
        expect(box.inputs.location).toBe("nbg1");
        expect(labels(box)).toMatchObject({ "redoubt.tenant": "zeta", "redoubt.country": "DE", "redoubt.backup-sites": "nuremberg" });

        const iceland = doc.stacks.find((s) => s.stack === "iceland")!;
        expect(iceland.tenants.find((t) => t.name === "zeta")!.backupSites).toEqual(["helsinki", "nuremberg"]);
        const agent = iceland.resources.find((r) => r.tenant === "zeta" && labels(r)["redoubt.role"] === "backup-agent")!;
        expect(labels(agent)).toMatchObject({ "redoubt.backup-sites": "helsinki,nuremberg", "redoubt.backup-countries": "FI,DE" });
        for (const name of EXISTING_TENANTS) expect(iceland.tenants.find((t) => t.name === name)!.backupSites).toEqual(["helsinki", "falkenstein"]);

        // Against the tree before the recipe: zeta's resources are added (in nuremberg among others), nothing of the other tenants changes.
        expect(diff.changes.filter((c) => c.tenant !== undefined && c.tenant !== "zeta")).toEqual([]);
        expect(diff.changes.filter((c) => c.tenant === "zeta").every((c) => c.kind === "add")).toBe(true);
        expect(diff.changes.filter((c) => c.stack === "backup-nuremberg").map((c) => `${c.kind} ${c.tenant} ${c.type}`)).toContain(`add zeta ${STORAGE_BOX}`);
        expect(diff.changes.filter((c) => c.stack === "backup-falkenstein")).toEqual([]);
        expect(diff.dataLoss).toEqual([]);
    });

    it("refuses the recipe without the primary's entry (exit 1, nothing planned), naming the tenant file, backups.sites and the sites that exist", async () => {
        fs.writeFileSync(file(PRIMARY), primaryBefore);
        const run = await plan([]);
        expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 1, stdout: "" });
        expect(run.stderr).toMatch(/^plan: the stacks and tenants disagree; nothing was planned:/);
        expect(run.stderr).toMatch(
            /tenants\/zeta\.yaml(:\d+)?: backups\.sites: names nuremberg, but stacks\/Pulumi\.iceland\.yaml, the primary stack serving this tenant, has no redoubt:backupSites\.nuremberg; add that entry \(stack backup-nuremberg\), or use one of: helsinki, falkenstein/,
        );
    });

    it("refuses the primary's entry without the stack file (exit 1, nothing planned), naming the primary, redoubt:backupSites and the sites that exist", async () => {
        addPrimaryEntry();
        fs.rmSync(file(NEW_STACK));
        const run = await plan([]);
        expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 1, stdout: "" });
        expect(run.stderr).toMatch(
            /stacks\/Pulumi\.iceland\.yaml: redoubt:backupSites\.nuremberg: names backup site nuremberg, which no backup stack of this project serves: there is no stacks\/Pulumi\.backup-nuremberg\.yaml .*the backup sites that exist: falkenstein \(backup-falkenstein, DE\), helsinki \(backup-helsinki, FI\)/,
        );
        expect(run.stderr).toMatch(
            /tenants\/zeta\.yaml(:\d+)?: backups\.sites: names nuremberg, which no backup stack of this project serves .*the backup sites that exist: falkenstein/,
        );
    });

    it("refuses a site name that is not a site name (exit 1), naming the file and field", async () => {
        addStackFile();
        fs.writeFileSync(file("tenants/zeta.yaml"), stringify({ ...publicTenant("zeta", 9), backups: { sites: ["helsinki", "Nuremberg"] } }));
        const run = await plan([]);
        expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 1, stdout: "" });
        expect(run.stderr).toMatch(/tenants\/zeta\.yaml:\d+: backups\.sites\.1: must be a lower-case site name/);
    });
});
