// Builds temporary tenant directories for loader and stack tests.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { loadTenants, TenantSetError, type TenantFileProblem } from "../../tenants/loader";

export const EXAMPLE_TENANTS_DIR = path.join(__dirname, "..", "..", "tenants");

/** A minimal valid public tenant; override fields per test. */
export function publicTenant(name: string, id: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
    return { name, id, contact: `ops@${name}.example`, access: { mode: "public", domain: `matrix.${name}.example` }, ...extra };
}

/** Writes files (name → YAML text or object) into a fresh temporary directory. */
export function tenantDir(files: Record<string, string | Record<string, unknown>>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-tenants-"));
    for (const [file, content] of Object.entries(files)) {
        fs.writeFileSync(path.join(dir, file), typeof content === "string" ? content : stringify(content));
    }
    return dir;
}

/**
 * The example tenants plus extra tenant files, in a fresh temporary
 * directory, with the extras issued in the copied ledger as ops would.
 */
export function examplesPlus(extra: Record<string, Record<string, unknown>>): string {
    const dir = tenantDir(extra);
    for (const file of fs.readdirSync(EXAMPLE_TENANTS_DIR).filter((f) => f.endsWith(".yaml"))) {
        fs.copyFileSync(path.join(EXAMPLE_TENANTS_DIR, file), path.join(dir, file));
    }
    const issued = Object.values(extra).map((t) => `  - { name: ${String(t.name)}, id: ${String(t.id)} }\n`);
    fs.appendFileSync(path.join(dir, "ledger.yaml"), issued.join(""));
    return dir;
}

/** Loads a directory that must fail; returns the problems (and fails the test on any other outcome). */
export function problemsOf(dir: string): TenantFileProblem[] {
    let caught: unknown;
    let loaded: unknown;
    try {
        loaded = loadTenants(dir);
    } catch (error) {
        caught = error;
    }
    expect(loaded).toBeUndefined();
    expect(caught).toBeInstanceOf(TenantSetError);
    return (caught as TenantSetError).problems;
}
