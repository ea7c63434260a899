// The plan of another git revision, for `npm run plan -- --diff REF`: the
// revision's tree is exported (git archive, so the repository and its
// worktrees are untouched) into a temporary directory with this checkout's
// node_modules linked in, and that tree's own `cli/plan.ts --json` runs there
// in a child process (its stack program, its policies, its tenants).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { MAX_FILE_BYTES, parseLedgerText, type TenantFileProblem } from "../tenants/loader";
import type { Ledger } from "../tenants/schema";
import { PLAN_FORMAT, type PlanDocument } from "./plan";

export class RevisionPlanError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "RevisionPlanError";
    }
}

export interface RevisionPlanOptions {
    ref: string;
    /** The git repository (and node_modules) to use; default: this checkout. */
    projectDir: string;
    /** Arguments for the revision's plan besides --json (e.g. --stack, --as-of). */
    args?: string[];
    timeoutMs?: number;
}

export interface RevisionPlan {
    /** The resolved commit. */
    commit: string;
    /** The revision's plan, or undefined when it predates the plan command. */
    document?: PlanDocument;
    /** Why there is no document (the revision predates `npm run plan`). */
    missing?: string;
    /** The revision's plan exit code (0 or 2). */
    exitCode: number;
}

function git(projectDir: string, args: string[]): string {
    return execFileSync("git", args, { cwd: projectDir, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** Extracts `commit`'s tree into a new temporary directory; the caller removes it. */
export function exportRevision(projectDir: string, commit: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-plan-ref-"));
    const archive = path.join(dir, ".tree.tar");
    execFileSync("git", ["archive", "--format=tar", "-o", archive, commit], { cwd: projectDir, stdio: ["ignore", "ignore", "pipe"] });
    execFileSync("tar", ["-xf", archive, "-C", dir], { stdio: ["ignore", "ignore", "pipe"] });
    fs.rmSync(archive);
    for (const nm of ["node_modules", "policies/node_modules"]) {
        const source = path.join(projectDir, nm);
        const target = path.join(dir, nm);
        if (fs.existsSync(source) && fs.existsSync(path.dirname(target)) && !fs.existsSync(target)) fs.symlinkSync(source, target, "dir");
    }
    return dir;
}

export async function planAtRevision(options: RevisionPlanOptions): Promise<RevisionPlan> {
    const { ref, projectDir } = options;
    let commit: string;
    try {
        commit = git(projectDir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
    } catch {
        // Input, not a crash: the operator named a revision this clone does not have.
        throw new RevisionNotFoundError(ref);
    }
    const dir = exportRevision(projectDir, commit);
    try {
        if (!fs.existsSync(path.join(dir, "cli", "plan.ts"))) {
            return { commit, exitCode: 0, missing: `${ref} (${commit.slice(0, 12)}) predates the plan command (it has no cli/plan.ts): there is no plan to compare with` };
        }
        const tsNode = require.resolve("ts-node/dist/bin.js", { paths: [projectDir] });
        const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
            const child = spawn(process.execPath, [tsNode, "--swc", "cli/plan.ts", "--json", ...(options.args ?? [])], {
                cwd: dir,
                env: { ...process.env, TS_NODE_PROJECT: path.join(dir, "tsconfig.json") },
                stdio: ["ignore", "pipe", "pipe"],
            });
            let out = "";
            let err = "";
            child.stdout.on("data", (d) => (out += String(d)));
            child.stderr.on("data", (d) => (err += String(d)));
            const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 300_000);
            child.once("error", reject);
            child.once("close", (c) => {
                clearTimeout(timer);
                resolve({ code: c, stdout: out, stderr: err });
            });
        });
        if (code === 1) throw new RevisionPlanError(`--diff ${ref}: the tenant set or stack config at ${ref} is invalid, so it has no plan:\n${stderr.trim()}`);
        if (code !== 0 && code !== 2) throw new RevisionPlanError(`--diff ${ref}: the plan at ${ref} failed (exit ${code}):\n${stderr.trim()}`);
        let document: PlanDocument;
        try {
            document = JSON.parse(stdout) as PlanDocument;
        } catch {
            throw new RevisionPlanError(`--diff ${ref}: the plan at ${ref} did not print a JSON plan (does its cli/plan.ts know --json?)\n${stderr.trim()}`);
        }
        if (document.format !== PLAN_FORMAT)
            throw new RevisionPlanError(`--diff ${ref}: the plan at ${ref} is in format ${JSON.stringify(document.format)}, this one reads ${PLAN_FORMAT}`);
        return { commit, document, exitCode: code };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

/** A git revision that does not resolve to a commit in the repository. */
export class RevisionNotFoundError extends Error {
    constructor(readonly ref: string) {
        super(`revision '${ref}' does not exist in this repository`);
        this.name = "RevisionNotFoundError";
    }
}

/** The ledger as a git revision has it. */
export interface LedgerAtRevision {
    /** The commit `ref` resolved to. */
    commit: string;
    /** Whether the revision has a file at the ledger's path. */
    found: boolean;
    /** The parsed ledger, when found and valid. */
    ledger?: Ledger;
    /** What is wrong with the revision's ledger; its file is named `<ref>:<ledgerPath>`. */
    problems: TenantFileProblem[];
}

/** Runs git in `dir` without a shell; `error` is set when git could not be run at all. */
function gitIn(dir: string, args: string[], maxBuffer = 1024 * 1024) {
    return spawnSync("git", ["--literal-pathspecs", "-C", dir, ...args], { env: process.env, stdio: ["ignore", "pipe", "pipe"], maxBuffer, timeout: 60_000 });
}

function gitFailure(args: string[], result: ReturnType<typeof gitIn>): Error {
    const why = result.error ? result.error.message : String(result.stderr).trim() || `exit ${String(result.status ?? result.signal)}`;
    return new Error(`git ${args.join(" ")} failed: ${why}`);
}

/**
 * Reads the ledger at `ledgerPath` as revision `ref` has it, for checking that
 * the ledger only grew (checkLedgerHistory). Returns undefined when history
 * cannot be read: the ledger's directory is not inside a git work tree, or git
 * is not installed. `found` is false when the revision has no such file.
 * Throws RevisionNotFoundError when `ref` does not name a commit.
 */
export function ledgerAtRevision(ref: string, ledgerPath: string): LedgerAtRevision | undefined {
    const dir = path.dirname(path.resolve(ledgerPath));
    const name = path.basename(ledgerPath);
    if (!fs.existsSync(dir)) return undefined;
    const inside = gitIn(dir, ["rev-parse", "--is-inside-work-tree"]);
    if (inside.error || inside.status !== 0 || String(inside.stdout).trim() !== "true") return undefined;
    // A ref that starts with "-" would be read as an option; none names a commit.
    if (ref === "" || ref.startsWith("-") || ref.includes("\0")) throw new RevisionNotFoundError(ref);
    const resolved = gitIn(dir, ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`]);
    if (resolved.error) throw gitFailure(["rev-parse", ref], resolved);
    if (resolved.status !== 0) throw new RevisionNotFoundError(ref);
    const commit = String(resolved.stdout).trim();
    const file = `${ref}:${ledgerPath}`;
    // ls-tree (paths relative to dir) says whether the path exists there and what it is, before anything is read.
    const listArgs = ["ls-tree", "-l", "-z", commit, "--", name];
    const listed = gitIn(dir, listArgs);
    if (listed.error || listed.status !== 0) throw gitFailure(listArgs, listed);
    const entry = String(listed.stdout).split("\0")[0];
    if (!entry) return { commit, found: false, problems: [] };
    // "<mode> <type> <object> <size>\t<path>"
    const [mode, type, object, size] = entry.split("\t")[0].trim().split(/\s+/);
    const problem = (message: string) => ({ commit, found: true, problems: [{ file, field: "", message }] });
    if (type === "tree") return problem(`is a directory at ${ref}, not the ledger; the ledger must be a regular file`);
    if (mode === "120000") return problem(`is a symbolic link at ${ref}; the ledger must be a regular file`);
    if (type !== "blob") return problem(`is a ${type} at ${ref}, not the ledger; the ledger must be a regular file`);
    if (Number(size) > MAX_FILE_BYTES) return problem(`is larger than 1 MiB at ${ref} (${size} bytes); the ledger holds a few dozen bytes per tenant`);
    const readArgs = ["cat-file", "blob", object];
    const read = gitIn(dir, readArgs, MAX_FILE_BYTES + 1024);
    if (read.error || read.status !== 0) throw gitFailure(readArgs, read);
    const { ledger, problems } = parseLedgerText(file, read.stdout);
    return { commit, found: true, ledger, problems };
}
