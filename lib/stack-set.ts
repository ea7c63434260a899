// Checks across the whole set of stacks and tenants, before anything runs:
// what no single stack file or tenant file can show on its own. Every active
// tenant is served by exactly one primary stack and backed up by the stacks
// its primary names for its sites; those stacks are where they say they are;
// no date is left pinned; no secret is committed in plain text; every image a
// tenant names comes from a registry the catalog uses.
import * as path from "node:path";
import { catalogRegistries, loadImageCatalog, registryOf } from "../components/images";
import { datingProblems, lifecycleOf } from "../components/lifecycle";
import { STORAGE_BOX_LOCATIONS, stalePinProblem, type StackConfig } from "../stacks/config";
import type { LoadedTenant } from "../tenants/loader";

/** One problem, in the file that has to change. */
export interface SetProblem {
    file: string;
    field: string;
    message: string;
}

/** Thrown when the stacks and tenants disagree; nothing is planned or deployed. */
export class StackSetError extends Error {
    constructor(readonly problems: SetProblem[]) {
        super(
            `${problems.length} problem${problems.length === 1 ? "" : "s"} across stacks and tenants:\n${problems.map((p) => `  ${p.file}: ${p.field}: ${p.message}`).join("\n")}`,
        );
        this.name = "StackSetError";
    }
}

export interface StackEntry {
    stack: string;
    /** stacks/Pulumi.<stack>.yaml, as shown to the operator. */
    file: string;
    config: StackConfig;
    /** The value of redoubt:asOf in the file itself (not a run's override). */
    filePin?: string;
    /** The day this run evaluates the stack's lifecycles for. */
    asOf: string;
    /** The stack's tenants, already validated. */
    tenants: LoadedTenant[];
}

/** Which tenants a stack declares on its day (as stacks/program.ts selects them). */
export function declaredBy(entry: StackEntry): LoadedTenant[] {
    const { config } = entry;
    return entry.tenants
        .filter(({ tenant }) => config.tenants === undefined || config.tenants.includes(tenant.name))
        .filter(({ tenant }) => config.role === "primary" || tenant.backups.sites.includes(config.site))
        .filter(({ tenant }) => lifecycleOf(tenant, entry.asOf, config.deletionGraceDays).declared);
}

/**
 * Every problem across the stack set. `entries` holds every stack file of the
 * project (not only the stacks planned), so a stack that silently drops a
 * tenant is seen whichever stack is planned.
 */
export function checkStackSet(entries: StackEntry[], options: { today: string; projectDir: string }): SetProblem[] {
    const problems: SetProblem[] = [];
    const byStack = new Map(entries.map((e) => [e.stack, e]));
    for (const entry of entries) {
        const known = new Set(entry.tenants.map((l) => l.tenant.name));
        for (const name of entry.config.tenants ?? []) {
            if (!known.has(name)) problems.push({ file: entry.file, field: "redoubt:tenants", message: `names '${name}', which has no tenant file in ${entry.config.tenantsDir}` });
        }
        const stale = stalePinProblem(entry.filePin, options.today);
        if (stale) problems.push({ file: entry.file, ...stale });
        for (const { file, tenant } of entry.tenants) {
            for (const p of datingProblems(tenant, entry.asOf)) problems.push({ file, ...p });
        }
    }
    problems.push(...coverageProblems(entries, byStack));
    for (const entry of entries) {
        if (entry.config.role === "primary") problems.push(...backupSiteProblems(entry, byStack), ...imageProblems(entry, options.projectDir));
    }
    return dedupe(problems);
}

/** Every tenant some stack should declare is declared by exactly one primary. */
function coverageProblems(entries: StackEntry[], byStack: Map<string, StackEntry>): SetProblem[] {
    const problems: SetProblem[] = [];
    const primaries = entries.filter((e) => e.config.role === "primary");
    const servedBy = new Map<string, string[]>();
    for (const primary of primaries) {
        for (const { tenant } of declaredBy(primary)) servedBy.set(tenant.name, [...(servedBy.get(tenant.name) ?? []), primary.stack]);
    }
    // Every tenant file any stack reads, judged on the primary's day (or the first stack's).
    const seen = new Set<string>();
    for (const entry of [...primaries, ...entries]) {
        for (const loaded of entry.tenants) {
            const { tenant, file } = loaded;
            if (seen.has(tenant.name)) continue;
            seen.add(tenant.name);
            const day = primaries[0]?.asOf ?? entry.asOf;
            if (!lifecycleOf(tenant, day, entry.config.deletionGraceDays).declared) continue;
            const stacks = servedBy.get(tenant.name) ?? [];
            if (stacks.length === 0) {
                const narrowing = primaries.find((p) => p.config.tenants !== undefined);
                problems.push(
                    narrowing
                        ? {
                              file: narrowing.file,
                              field: "redoubt:tenants",
                              message: `leaves out tenant '${tenant.name}' (${path.basename(file)}), and no other primary stack serves it; list it, or remove redoubt:tenants to serve every tenant`,
                          }
                        : primaries.length === 0
                          ? { file, field: "", message: `tenant '${tenant.name}' is served by no stack: there is no primary stack in stacks/` }
                          : {
                                file: primaries[0].file,
                                field: "redoubt:tenantsDir",
                                message: `does not hold tenant '${tenant.name}' (${file}), so no primary stack serves it; point it at the tenants directory`,
                            },
                );
            } else if (stacks.length > 1) {
                problems.push({
                    file: byStack.get(stacks[1])!.file,
                    field: "redoubt:tenants",
                    message: `serves tenant '${tenant.name}', which ${stacks[0]} serves too; a tenant has exactly one primary stack (list it in one stack's redoubt:tenants only)`,
                });
            }
        }
    }
    return problems;
}

/** The backup stacks a primary names exist, are at that site and in that country, and hold every tenant that backs up there. */
function backupSiteProblems(primary: StackEntry, byStack: Map<string, StackEntry>): SetProblem[] {
    if (primary.config.role !== "primary") return [];
    const problems: SetProblem[] = [];
    const field = (site: string, key: string) => `redoubt:backupSites.${site}.${key}`;
    for (const [site, ref] of Object.entries(primary.config.backupSites)) {
        const stackName = ref.stack.split("/").pop()!;
        const backup = byStack.get(stackName);
        if (!backup) {
            problems.push({ file: primary.file, field: field(site, "stack"), message: `names stack '${ref.stack}', which has no stacks/Pulumi.${stackName}.yaml` });
            continue;
        }
        const config = backup.config;
        if (config.role !== "backup") {
            problems.push({ file: primary.file, field: field(site, "stack"), message: `names stack '${ref.stack}', which is a ${config.role} stack, not a backup stack` });
            continue;
        }
        if (config.site !== site) {
            problems.push({ file: primary.file, field: field(site, "stack"), message: `names stack '${ref.stack}', whose redoubt:site is ${config.site}, not ${site}` });
        }
        const actual = STORAGE_BOX_LOCATIONS[config.location];
        if (ref.country !== actual) {
            problems.push({
                file: primary.file,
                field: field(site, "country"),
                message: `is ${ref.country}, but stack '${ref.stack}' keeps its boxes in ${config.location}, which is in ${actual}; correct the country here or the stack's location`,
            });
        }
        const held = new Set(declaredBy(backup).map((l) => l.tenant.name));
        for (const { tenant, file } of declaredBy(primary)) {
            if (tenant.backups.sites.includes(site as never) && !held.has(tenant.name)) {
                problems.push({
                    file: backup.file,
                    field: "redoubt:tenants",
                    message: `leaves out tenant '${tenant.name}' (${path.basename(file)}), which backs up to ${site}; list it, or remove redoubt:tenants`,
                });
            }
        }
    }
    // A tenant naming a site its primary has no stack for.
    for (const { tenant, file } of declaredBy(primary)) {
        for (const site of tenant.backups.sites) {
            if (!(site in primary.config.backupSites)) {
                problems.push({
                    file,
                    field: "backups.sites",
                    message: `names ${site}, but ${primary.file} has no redoubt:backupSites.${site}; use one of: ${Object.keys(primary.config.backupSites).join(", ")}`,
                });
            }
        }
    }
    return problems;
}

/** A tenant's image override comes from a registry the catalog already pulls from. */
function imageProblems(primary: StackEntry, projectDir: string): SetProblem[] {
    if (primary.config.role !== "primary") return [];
    let registries: string[];
    try {
        registries = catalogRegistries(loadImageCatalog(path.resolve(projectDir, primary.config.imageCatalog)));
    } catch (e) {
        return [{ file: primary.file, field: "redoubt:imageCatalog", message: `cannot be read: ${(e as Error).message.split("\n").join(" ")}` }];
    }
    const problems: SetProblem[] = [];
    for (const { tenant, file } of primary.tenants) {
        const image = tenant.homeserver.image;
        if (image === undefined) continue;
        const registry = registryOf(image);
        if (!registries.includes(registry)) {
            problems.push({
                file,
                field: "homeserver.image",
                message: `is pulled from ${registry}; images may only come from the registries the catalog uses: ${registries.join(", ")}`,
            });
        }
    }
    return problems;
}

function dedupe(problems: SetProblem[]): SetProblem[] {
    const seen = new Set<string>();
    return problems.filter((p) => {
        const key = `${p.file}\0${p.field}\0${p.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
    });
}
