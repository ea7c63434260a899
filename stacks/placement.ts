// Which Docker host holds a tenant. One primary stack per host (README, Stacks), so a host is
// named by its primary stack. A tenant file's `host` names it; a project with one primary stack
// may leave it out. The ledger records it, so a tenant never moves host (tenants/loader.ts:
// checkAgainstLedger and checkLedgerHistory): its encrypted volume and data stay where they are.
// The program (selectTenants), the stack set (lib/stack-set.ts) and the per-tenant commands
// all place tenants through hostOf, so they cannot disagree.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";

/** Where a tenant goes: its host, or why it has none (a sentence about the tenant file's `host`). */
export type Placement = { host: string; problem?: undefined } | { host?: undefined; problem: string };

/**
 * The host (primary stack) of a tenant among the project's primary stacks: its file's `host`, or
 * the only primary when there is one and the file names none.
 */
export function hostOf(tenant: { name: string; host?: string }, primaries: readonly string[]): Placement {
    const allowed = primaries.length === 0 ? "there is none" : `allowed: ${primaries.join(", ")}`;
    if (tenant.host !== undefined) {
        if (primaries.includes(tenant.host)) return { host: tenant.host };
        return {
            problem: `is '${tenant.host}', which is not a primary stack of this project (a Docker host is a stack file stacks/Pulumi.<host>.yaml with redoubt:role: primary); ${allowed}`,
        };
    }
    if (primaries.length === 1) return { host: primaries[0] };
    if (primaries.length === 0) return { problem: "names no host, and the project has no primary stack to place it on; add stacks/Pulumi.<host>.yaml with redoubt:role: primary" };
    return {
        problem: `is required: this project has ${primaries.length} Docker hosts (primary stacks ${primaries.join(", ")}). Name the one that holds '${tenant.name}' and record it in its ledger entry; a tenant never moves host, so choose before its first up`,
    };
}

/** The stack a file in stacks/ configures (Pulumi.<stack>.yaml), or undefined for any other file. */
export function stackOfFile(file: string): string | undefined {
    return /^Pulumi\.(.+)\.yaml$/.exec(file)?.[1];
}

/**
 * The primary stacks of a project: its stack files (stacks/Pulumi.<stack>.yaml) whose
 * redoubt:role is primary. A file that cannot be read or parsed counts as none here; the plan's
 * validateInputs reports it, and the stack being run is added by the caller.
 */
export function primaryStacksIn(projectDir: string): string[] {
    const dir = path.join(projectDir, "stacks");
    let files: string[];
    try {
        files = fs.readdirSync(dir);
    } catch {
        return [];
    }
    return files
        .flatMap((file) => {
            const stack = stackOfFile(file);
            if (stack === undefined) return [];
            try {
                const doc = parse(fs.readFileSync(path.join(dir, file), "utf8")) as { config?: Record<string, unknown> } | null;
                return doc?.config?.["redoubt:role"] === "primary" ? [stack] : [];
            } catch {
                return [];
            }
        })
        .sort();
}
