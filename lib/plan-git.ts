// The plan of another git revision, for `npm run plan -- --diff REF`: the
// revision's tree is exported (git archive, so the repository and its
// worktrees are untouched) into a temporary directory with this checkout's
// node_modules linked in, and that tree's own `cli/plan.ts --json` runs there
// in a child process (its stack program, its policies, its tenants).
import { execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
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
        throw new RevisionPlanError(`--diff ${ref}: no such git revision in ${projectDir} (fetch it first, e.g. git fetch origin)`);
    }
    const dir = exportRevision(projectDir, commit);
    try {
        if (!fs.existsSync(path.join(dir, "cli", "plan.ts"))) {
            return { commit, exitCode: 0, missing: `${ref} (${commit.slice(0, 12)}) predates the plan command (it has no cli/plan.ts): there is no plan to compare with` };
        }
        const tsNode = require.resolve("ts-node/dist/bin.js", { paths: [projectDir] });
        const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
            const child = spawn(process.execPath, [tsNode, "--transpile-only", "cli/plan.ts", "--json", ...(options.args ?? [])], {
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
