// The ledger of issued names and ids (tenants/ledger.yaml) within itself (no
// name or id twice), against the tenant files (an invalid file is not a
// missing one), and against its own history (append-only, read from a git
// revision of a temporary repository).
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { ledgerAtRevision, RevisionNotFoundError } from "../../lib/plan-git";
import { checkLedgerHistory, loadTenants, parseLedgerText, readLedger, TenantSetError, type TenantFileProblem } from "../../tenants/loader";
import type { Ledger } from "../../tenants/schema";
import { publicTenant, tenantDir } from "./tenant-fixtures";

type Entry = Ledger["tenants"][number];
const ledgerOf = (...tenants: Entry[]): Ledger => ({ tenants });
const ledgerText = (...tenants: Entry[]) => stringify(ledgerOf(...tenants));
/** The ledger as ops write it: one flow mapping per line after "tenants:", so entry i is on line i + 2. */
const flowLedgerText = (entries: Entry[]) => `tenants:\n${entries.map((e) => `  - ${JSON.stringify(e)}\n`).join("")}`;

/** Loads a directory that must fail; returns the problems. */
function problemsOf(dir: string): TenantFileProblem[] {
    let caught: unknown;
    try {
        loadTenants(dir);
    } catch (error) {
        caught = error;
    }
    expect(caught).toBeInstanceOf(TenantSetError);
    return (caught as TenantSetError).problems;
}

function expectProblem(problems: TenantFileProblem[], file: string, field: string, message: RegExp): TenantFileProblem {
    const match = problems.find((p) => p.file === file && p.field === field && message.test(p.message));
    expect({ found: match !== undefined, problems }).toMatchObject({ found: true });
    return match!;
}

describe("a name or id listed twice in the ledger", () => {
    it.each<[string, Entry[], string, RegExp]>([
        [
            "a name twice",
            [
                { name: "alpha", id: 1 },
                { name: "bravo", id: 2 },
                { name: "alpha", id: 3 },
            ],
            "tenants.2.name",
            /'alpha' is already listed by entry tenants\.0 \(line \d+\)/,
        ],
        [
            "an id twice",
            [
                { name: "alpha", id: 1 },
                { name: "bravo", id: 2 },
                { name: "charlie", id: 2 },
            ],
            "tenants.2.id",
            /2 is already issued to 'bravo' by entry tenants\.1 .*take the next free id/,
        ],
        [
            "a deleted tenant's name issued again",
            [
                { name: "alpha", id: 1, deletedOn: "2026-01-10" },
                { name: "bravo", id: 2 },
                { name: "alpha", id: 3 },
            ],
            "tenants.2.name",
            /'alpha' is already listed by entry tenants\.0/,
        ],
        [
            "a deleted tenant's id issued again",
            [
                { name: "alpha", id: 1, deletedOn: "2026-01-10" },
                { name: "bravo", id: 2 },
                { name: "charlie", id: 1 },
            ],
            "tenants.2.id",
            /1 is already issued to 'alpha' by entry tenants\.0/,
        ],
    ])("%s is refused, naming the other entry", (_title, entries, field, message) => {
        const dir = tenantDir({ "bravo.yaml": publicTenant("bravo", 2), "ledger.yaml": flowLedgerText(entries) });
        const problem = expectProblem(problemsOf(dir), path.join(dir, "ledger.yaml"), field, message);
        // The line is the duplicate's own.
        expect(problem.line).toBe(Number(field.split(".")[1]) + 2);
    });

    it("parseLedgerText returns no ledger while a duplicate is listed", () => {
        const result = parseLedgerText("ledger.yaml", ledgerText({ name: "alpha", id: 1 }, { name: "alpha", id: 1 }));
        expect(result.ledger).toBeUndefined();
        expect(result.problems.map((p) => p.field)).toEqual(["tenants.1.name", "tenants.1.id"]);
    });

    it("distinct names and ids are accepted", () => {
        const entries = [
            { name: "alpha", id: 1, deletedOn: "2026-01-10" },
            { name: "bravo", id: 2 },
        ];
        expect(parseLedgerText("ledger.yaml", ledgerText(...entries))).toEqual({ ledger: ledgerOf(...entries), problems: [] });
    });
});

describe("a ledger entry whose tenant file exists but is invalid", () => {
    const ledger = ledgerText({ name: "alpha", id: 1 }, { name: "bravo", id: 2 });

    it("is not reported as having no file; the file's own problem is", () => {
        const dir = tenantDir({ "alpha.yaml": publicTenant("alpha", 1), "bravo.yaml": { ...publicTenant("bravo", 2), contact: "nope" }, "ledger.yaml": ledger });
        const problems = problemsOf(dir);
        expectProblem(problems, path.join(dir, "bravo.yaml"), "contact", /email/);
        expect(problems.filter((p) => /has no file/.test(p.message))).toEqual([]);
    });

    it("nor when the file is not YAML at all", () => {
        const dir = tenantDir({ "alpha.yaml": publicTenant("alpha", 1), "bravo.yaml": "- not\n- a tenant\n", "ledger.yaml": ledger });
        const problems = problemsOf(dir);
        expect(problems.map((p) => path.basename(p.file))).toEqual(["bravo.yaml"]);
    });

    it("nor when the file holds another tenant's name (it is misnamed, which is reported)", () => {
        const dir = tenantDir({ "alpha.yaml": publicTenant("alpha", 1), "bravo.yml": publicTenant("charlie", 3), "ledger.yaml": ledger });
        const problems = problemsOf(dir);
        expectProblem(problems, path.join(dir, "bravo.yml"), "name", /must be named charlie\.yaml/);
        expect(problems.filter((p) => /'bravo' has no file/.test(p.message))).toEqual([]);
    });

    it("but a tenant whose file is really gone is still reported", () => {
        const dir = tenantDir({ "alpha.yaml": publicTenant("alpha", 1), "ledger.yaml": ledger });
        expectProblem(problemsOf(dir), path.join(dir, "ledger.yaml"), "tenants", /tenant 'bravo' has no file but is not marked deleted/);
    });
});

describe("checkLedgerHistory: the ledger is append-only", () => {
    const alpha = { name: "alpha", id: 1 };
    const bravo = { name: "bravo", id: 2 };
    const gone = { name: "gone", id: 3, deletedOn: "2026-01-10" };
    const base = ledgerOf(alpha, bravo, gone);

    it.each<[string, Ledger]>([
        ["unchanged", base],
        ["with an entry appended", ledgerOf(alpha, bravo, gone, { name: "delta", id: 4 })],
        ["with deletedOn newly set", ledgerOf(alpha, { ...bravo, deletedOn: "2026-03-01" }, gone)],
        ["with its entries reordered", ledgerOf(gone, bravo, alpha)],
    ])("accepts the ledger %s", (_title, current) => {
        expect(checkLedgerHistory(base, current, "tenants/ledger.yaml", "origin/main")).toEqual([]);
    });

    it.each<[string, Ledger | undefined, string, RegExp]>([
        ["an entry removed", ledgerOf(alpha, gone), "tenants", /the entry \{ name: bravo, id: 2 \} \(tenants\.1 at origin\/main\) was removed; the ledger is append-only/],
        ["a deleted entry removed", ledgerOf(alpha, bravo), "tenants", /\{ name: gone, id: 3, deletedOn: 2026-01-10 \} .* was removed/],
        ["an id changed", ledgerOf({ ...alpha, id: 7 }, bravo, gone), "tenants.0.id", /is 7, but at origin\/main 'alpha' had id 1; the ledger is append-only .*restore 1/],
        ["a name changed", ledgerOf(alpha, { ...bravo, name: "brave" }, gone), "tenants.1.name", /is 'brave', but at origin\/main id 2 was issued to 'bravo'; .*append-only/],
        [
            "deletedOn removed",
            ledgerOf(alpha, bravo, { name: "gone", id: 3 }),
            "tenants.2.deletedOn",
            /was removed, but at origin\/main 'gone' was deleted on 2026-01-10; .*append-only/,
        ],
        [
            "deletedOn changed",
            ledgerOf(alpha, bravo, { ...gone, deletedOn: "2026-02-01" }),
            "tenants.2.deletedOn",
            /is 2026-02-01, but at origin\/main 'gone' was deleted on 2026-01-10/,
        ],
        ["the ledger deleted", undefined, "", /was deleted; .*append-only: restore it from origin\/main/],
    ])("refuses %s", (_title, current, field, message) => {
        expectProblem(checkLedgerHistory(base, current, "tenants/ledger.yaml", "origin/main"), "tenants/ledger.yaml", field, message);
    });

    it("an emptied ledger is refused once per issued entry", () => {
        const problems = checkLedgerHistory(base, ledgerOf(), "tenants/ledger.yaml", "main");
        expect(problems.map((p) => p.message.match(/name: (\w+)/)?.[1])).toEqual(base.tenants.map((e) => e.name));
    });

    it("nothing to compare with is no problem", () => {
        expect(checkLedgerHistory(undefined, base, "tenants/ledger.yaml", "main")).toEqual([]);
        expect(checkLedgerHistory(undefined, undefined, "tenants/ledger.yaml", "main")).toEqual([]);
        expect(checkLedgerHistory(ledgerOf(), undefined, "tenants/ledger.yaml", "main")).toEqual([]);
    });
});

describe("ledgerAtRevision: the ledger at a git revision", () => {
    const git = (cwd: string, ...args: string[]) =>
        execFileSync("git", ["-c", "user.name=Test", "-c", "user.email=test@example.invalid", "-c", "commit.gpgsign=false", "-c", "init.defaultBranch=main", ...args], {
            cwd,
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
        }).trim();
    const issued = ledgerOf({ name: "alpha", id: 1 }, { name: "bravo", id: 2 });
    let repo: string;
    let ledgerPath: string;

    beforeAll(() => {
        repo = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-ledger-git-"));
        const tenants = path.join(repo, "tenants");
        ledgerPath = path.join(tenants, "ledger.yaml");
        const commit = (tag: string) => {
            git(repo, "add", "-A");
            git(repo, "commit", "-q", "--allow-empty", "-m", tag);
            git(repo, "tag", tag);
        };
        git(repo, "init", "-q");
        fs.writeFileSync(path.join(repo, "README"), "no ledger yet\n");
        commit("before-ledger");
        fs.mkdirSync(tenants);
        fs.writeFileSync(ledgerPath, stringify(issued));
        commit("issued");
        fs.writeFileSync(ledgerPath, ledgerText({ name: "alpha", id: 1 }, { name: "alpha", id: 2 }));
        commit("duplicate");
        fs.writeFileSync(ledgerPath, "tenants: [\n");
        commit("broken");
        fs.rmSync(ledgerPath);
        fs.mkdirSync(ledgerPath);
        fs.writeFileSync(path.join(ledgerPath, "inside"), "x\n");
        commit("directory");
        fs.rmSync(ledgerPath, { recursive: true });
        fs.writeFileSync(ledgerPath, stringify(issued));
        commit("restored");
    });

    it("reads and parses the ledger a revision has", () => {
        const result = ledgerAtRevision("issued", ledgerPath);
        expect(result).toEqual({ commit: git(repo, "rev-parse", "issued^{commit}"), found: true, ledger: issued, problems: [] });
    });

    it("finds the file relative to the ledger's own directory, from any working directory", () => {
        const relative = path.relative(process.cwd(), ledgerPath);
        expect(ledgerAtRevision("HEAD", relative)?.ledger).toEqual(issued);
    });

    it("says found: false when the revision has no ledger", () => {
        expect(ledgerAtRevision("before-ledger", ledgerPath)).toEqual({ commit: git(repo, "rev-parse", "before-ledger"), found: false, problems: [] });
    });

    it.each<[string, RegExp]>([
        ["duplicate", /'alpha' is already listed by entry tenants\.0/],
        ["broken", /is not valid YAML/],
        ["directory", /is a directory at directory, not the ledger/],
    ])("reports the ledger at %s as a problem of <ref>:<path>", (ref, message) => {
        const result = ledgerAtRevision(ref, ledgerPath);
        expect(result?.found).toBe(true);
        expect(result?.ledger).toBeUndefined();
        expectProblem(result?.problems ?? [], `${ref}:${ledgerPath}`, result?.problems[0]?.field ?? "", message);
    });

    it.each(["no-such-branch", "-h", "issued:tenants/ledger.yaml", ""])("throws RevisionNotFoundError for '%s'", (ref) => {
        let caught: unknown;
        try {
            ledgerAtRevision(ref, ledgerPath);
        } catch (error) {
            caught = error;
        }
        expect(caught).toBeInstanceOf(RevisionNotFoundError);
        expect((caught as Error).message).toBe(`revision '${ref}' does not exist in this repository`);
    });

    it("is undefined outside a git work tree", () => {
        const outside = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-no-git-"));
        const ceiling = process.env.GIT_CEILING_DIRECTORIES;
        // Stops git looking above the temporary directory, in case the temporary directory is itself in a repository.
        process.env.GIT_CEILING_DIRECTORIES = path.dirname(outside);
        try {
            expect(ledgerAtRevision("HEAD", path.join(outside, "ledger.yaml"))).toBeUndefined();
        } finally {
            if (ceiling === undefined) delete process.env.GIT_CEILING_DIRECTORIES;
            else process.env.GIT_CEILING_DIRECTORIES = ceiling;
        }
    });

    it("is undefined when git is not installed", () => {
        const saved = process.env.PATH;
        process.env.PATH = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-empty-path-"));
        try {
            expect(ledgerAtRevision("HEAD", ledgerPath)).toBeUndefined();
        } finally {
            process.env.PATH = saved;
        }
    });

    it("with checkLedgerHistory, refuses a working ledger that dropped an entry, and leaves the repository as it was", () => {
        fs.writeFileSync(ledgerPath, ledgerText({ name: "alpha", id: 1 }));
        const statusBefore = git(repo, "status", "--porcelain");
        const base = ledgerAtRevision("restored", ledgerPath);
        const current = readLedger(path.dirname(ledgerPath));
        expect(current.problems).toEqual([]);
        const problems = checkLedgerHistory(base?.ledger, current.ledger, ledgerPath, "restored");
        expectProblem(problems, ledgerPath, "tenants", /\{ name: bravo, id: 2 \} .*was removed; the ledger is append-only/);
        expect(git(repo, "status", "--porcelain")).toBe(statusBefore);
        expect(fs.readFileSync(ledgerPath, "utf8")).toBe(ledgerText({ name: "alpha", id: 1 }));
    });
});
