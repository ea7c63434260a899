// Helpers for reading what a mocked stack run declared, and for planning a
// changed copy of this tree.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { isSecretValue, type CapturedResource, type StackRun } from "../../lib/mock-run";

const ROOT = path.join(__dirname, "..", "..");

/**
 * A temporary git repository holding this tree (tracked and untracked files,
 * not ignored ones) as its one commit, with this checkout's node_modules
 * linked in: `cli/plan.ts` runs there as in a clone, and `git diff` shows
 * what a test changed. The caller removes it.
 */
export function repoOfThisTree(): string {
    const repo = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-plan-repo-"));
    const files = execFileSync("git", ["ls-files", "-co", "--exclude-standard"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
    for (const f of files) {
        const from = path.join(ROOT, f);
        if (!fs.existsSync(from) || !fs.statSync(from).isFile()) continue;
        fs.mkdirSync(path.dirname(path.join(repo, f)), { recursive: true });
        fs.copyFileSync(from, path.join(repo, f));
    }
    // The pack's build is ignored by git but copied (after its sources, so it is as fresh there as
    // here): every plan in the copy would otherwise compile the pack first (lib/policy-build.ts).
    const packBuild = path.join(ROOT, "policies", "bin");
    if (fs.existsSync(packBuild)) fs.cpSync(packBuild, path.join(repo, "policies", "bin"), { recursive: true });
    fs.symlinkSync(path.join(ROOT, "node_modules"), path.join(repo, "node_modules"), "dir");
    const git = (...args: string[]) => execFileSync("git", ["-c", "user.email=t@example.invalid", "-c", "user.name=t", ...args], { cwd: repo, stdio: "pipe" });
    git("init", "-q");
    git("add", "-A");
    git("commit", "-qm", "base");
    return repo;
}

export const CONTAINER = "docker:index/container:Container";
export const NETWORK = "docker:index/network:Network";
export const VOLUME = "docker:index/volume:Volume";
export const STORAGE_BOX = "hcloud:index/storageBox:StorageBox";
/** A fixed "today" so plans are reproducible. */
export const AS_OF = "2026-11-23";

export const pinnedAsOf = (asOf: string = AS_OF) => ({
    iceland: { "redoubt:asOf": asOf },
    "backup-helsinki": { "redoubt:asOf": asOf },
    "backup-falkenstein": { "redoubt:asOf": asOf },
});

export function ofType(run: StackRun, type: string): CapturedResource[] {
    return run.resources.filter((r) => r.type === type);
}

/** The value with a secret marker removed (policies and the engine see through it too). */
export function plain<T = unknown>(value: unknown): T {
    return (isSecretValue(value) ? value.value : value) as T;
}

export function labelsOf(resource: CapturedResource): Record<string, string> {
    const labels = plain<{ label: string; value: string }[] | Record<string, string> | undefined>(resource.inputs.labels);
    if (Array.isArray(labels)) return Object.fromEntries(labels.map((l) => [l.label, l.value]));
    return labels ?? {};
}

/** The tenant a resource belongs to: its component's name prefix (every child is named `${tenant}-<part>`). */
export function tenantOf(resource: CapturedResource, tenants: string[]): string | undefined {
    return tenants.find((t) => resource.name === t || resource.name.startsWith(`${t}-`));
}

export function networksOf(container: CapturedResource): string[] {
    return plain<{ name: string }[]>(container.inputs.networksAdvanced ?? []).map((n) => n.name);
}

export interface Upload {
    file: string;
    content?: string;
    contentBase64?: string;
}

export function uploadsOf(container: CapturedResource): Upload[] {
    return plain<Upload[]>(container.inputs.uploads ?? []);
}

export function uploadContent(container: CapturedResource, file: string): string {
    const upload = uploadsOf(container).find((u) => u.file === file);
    if (!upload?.content) throw new Error(`${container.name} has no upload ${file}`);
    return upload.content;
}

/** Every string inside a value, with whether it sits under a secret marker. */
export function stringsIn(value: unknown, secret = false): { value: string; secret: boolean }[] {
    if (isSecretValue(value)) return stringsIn(value.value, true);
    if (typeof value === "string") return [{ value, secret }];
    if (Array.isArray(value)) return value.flatMap((v) => stringsIn(v, secret));
    if (value && typeof value === "object") return Object.values(value).flatMap((v) => stringsIn(v, secret));
    return [];
}
