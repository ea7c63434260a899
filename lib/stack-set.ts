// Checks across the whole set of stacks and tenants, before anything runs:
// what no single stack file or tenant file can show on its own. Every active
// tenant is served by exactly one primary stack and backed up by the stacks
// its primary names for its sites; the sites are the project's backup stacks
// (not a list in code); those stacks are where they say they are;
// no date is left pinned; no secret is committed in plain text; every image a
// tenant names comes from a registry the catalog uses.
import * as path from "node:path";
import { catalogRegistries, loadImageCatalog, registryOf, type ImageCatalog } from "../components/images";
import { datingProblems, lifecycleOf } from "../components/lifecycle";
import { STORAGE_BOX_LOCATIONS, stalePinProblem, type PrimaryStackConfig, type StackConfig } from "../stacks/config";
import { hostOf } from "../stacks/placement";
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

/**
 * Which tenants a stack declares on its day (as stacks/program.ts selects them): a primary
 * stack those placed on its host among `primaries` (hostOf), a backup stack those backing up to
 * its site; either narrowed by its redoubt:tenants.
 */
export function declaredBy(entry: StackEntry, primaries: readonly string[]): LoadedTenant[] {
    const { config } = entry;
    return entry.tenants
        .filter(({ tenant }) => config.tenants === undefined || config.tenants.includes(tenant.name))
        .filter(({ tenant }) => (config.role === "primary" ? hostOf(tenant, primaries).host === entry.stack : tenant.backups.sites.includes(config.site)))
        .filter(({ tenant }) => lifecycleOf(tenant, entry.asOf, config.deletionGraceDays).declared);
}

/** The primary stacks among `configs` (stack name → config), by name: the project's Docker hosts. */
export function primaryStacksOf(configs: Iterable<readonly [string, StackConfig]>): string[] {
    return [...configs]
        .filter(([, config]) => config.role === "primary")
        .map(([stack]) => stack)
        .sort();
}

/**
 * The primary stack (its Docker host) that serves a tenant: the host its file names, or the only
 * primary (hostOf), when that stack's redoubt:tenants (if any) lists it. Undefined for a tenant
 * the stack set cannot place (checkStackSet reports why).
 */
export function primaryOf(tenant: { name: string; host?: string }, configs: ReadonlyMap<string, StackConfig>): { stack: string; config: PrimaryStackConfig } | undefined {
    const { host } = hostOf(tenant, primaryStacksOf(configs));
    const config = host === undefined ? undefined : configs.get(host);
    if (config?.role !== "primary" || (config.tenants !== undefined && !config.tenants.includes(tenant.name))) return undefined;
    return { stack: host!, config };
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
    const primaries = primaryStacksOf(entries.map((e) => [e.stack, e.config] as const));
    problems.push(...coverageProblems(entries, primaries));
    const served = backupSitesOf(entries);
    for (const entry of entries) {
        if (entry.config.role === "primary")
            problems.push(...backupSiteProblems(entry, byStack, served, primaries), ...imageProblems(entry, options.projectDir), ...capacityProblems(entry, primaries));
    }
    return dedupe(problems);
}

/** A primary (one Docker host) declares no more tenants than its redoubt:maxTenants. */
function capacityProblems(primary: StackEntry, primaries: readonly string[]): SetProblem[] {
    if (primary.config.role !== "primary" || primary.config.maxTenants === undefined) return [];
    const declared = declaredBy(primary, primaries).map(({ tenant }) => tenant);
    const limit = primary.config.maxTenants;
    if (declared.length <= limit) return [];
    // The newest tenants (highest ids) are the ones to place elsewhere.
    const over = [...declared].sort((a, b) => b.id - a.id).slice(0, declared.length - limit);
    return [
        {
            file: primary.file,
            field: "redoubt:maxTenants",
            message: `this host is full: it would serve ${declared.length} tenants, more than its limit of ${limit}. Place ${over.map((t) => `'${t.name}'`).join(", ")} on another host (host: in ${over.length === 1 ? "its file and its ledger entry" : "their files and their ledger entries"}; a tenant never moves host once deployed, so only before ${over.length === 1 ? "its" : "their"} first up), or raise the limit if the host has room`,
        },
    ];
}

/**
 * Every tenant some stack should declare is placed on a host (hostOf) and declared by that
 * host's primary stack; no primary lists a tenant placed on another host.
 */
function coverageProblems(entries: StackEntry[], primaries: readonly string[]): SetProblem[] {
    const problems: SetProblem[] = [];
    const primaryEntries = entries.filter((e) => e.config.role === "primary");
    const byStack = new Map(primaryEntries.map((e) => [e.stack, e]));
    // Every tenant file any stack reads, judged on the primary's day (or the first stack's).
    const seen = new Set<string>();
    for (const entry of [...primaryEntries, ...entries]) {
        for (const { tenant, file } of entry.tenants) {
            if (seen.has(tenant.name)) continue;
            seen.add(tenant.name);
            const day = primaryEntries[0]?.asOf ?? entry.asOf;
            if (!lifecycleOf(tenant, day, entry.config.deletionGraceDays).declared) continue;
            const placement = hostOf(tenant, primaries);
            if (placement.problem !== undefined) {
                problems.push({ file, field: "host", message: placement.problem });
                continue;
            }
            const host = byStack.get(placement.host)!;
            if (!host.tenants.some((l) => l.tenant.name === tenant.name)) {
                problems.push({
                    file: host.file,
                    field: "redoubt:tenantsDir",
                    message: `does not hold tenant '${tenant.name}' (${file}), which is placed on this host; point it at the tenants directory`,
                });
            } else if (host.config.tenants !== undefined && !host.config.tenants.includes(tenant.name)) {
                problems.push({
                    file: host.file,
                    field: "redoubt:tenants",
                    message: `leaves out tenant '${tenant.name}' (${path.basename(file)}), which is placed on this host and no other stack may serve it; list it, or remove redoubt:tenants to serve every tenant placed here`,
                });
            }
        }
    }
    for (const primary of primaryEntries) {
        for (const name of primary.config.tenants ?? []) {
            const loaded = primary.tenants.find((l) => l.tenant.name === name);
            const placed = loaded && hostOf(loaded.tenant, primaries).host;
            if (placed !== undefined && placed !== primary.stack) {
                problems.push({
                    file: primary.file,
                    field: "redoubt:tenants",
                    message: `lists '${name}', which is placed on ${placed} (host: in ${path.basename(loaded!.file)}); a primary stack serves only the tenants on its own host: remove it here`,
                });
            }
        }
    }
    return problems;
}

/**
 * The backup sites of the project: each backup stack's redoubt:site, with the
 * stacks that serve it. This set, not a list in code, is what a primary's
 * redoubt:backupSites and a tenant's backups.sites may name.
 */
export function backupSitesOf(entries: readonly StackEntry[]): Map<string, StackEntry[]> {
    const sites = new Map<string, StackEntry[]>();
    for (const entry of entries) {
        if (entry.config.role === "backup") sites.set(entry.config.site, [...(sites.get(entry.config.site) ?? []), entry]);
    }
    return new Map([...sites].sort(([a], [b]) => a.localeCompare(b)));
}

/** Where a stack's data is: a backup stack's location decides its country. */
function countryOf(entry: StackEntry): string {
    return entry.config.role === "backup" ? STORAGE_BOX_LOCATIONS[entry.config.location] : entry.config.country;
}

/** "falkenstein (backup-falkenstein, DE), helsinki (backup-helsinki, FI)": what an operator may name instead. */
function describeSites(sites: Map<string, StackEntry[]>): string {
    if (sites.size === 0) return "none (there is no stacks/Pulumi.<stack>.yaml with redoubt:role: backup)";
    return [...sites].map(([site, stacks]) => `${site} (${stacks.map((s) => `${s.stack}, ${countryOf(s)}`).join("; ")})`).join(", ");
}

/**
 * The backup stacks a primary names exist, are at that site and in that
 * country, and hold every tenant that backs up there; every site a tenant
 * names has a backup stack and an entry in its primary; a tenant's sites are
 * in different countries.
 */
function backupSiteProblems(primary: StackEntry, byStack: Map<string, StackEntry>, served: Map<string, StackEntry[]>, primaries: readonly string[]): SetProblem[] {
    if (primary.config.role !== "primary") return [];
    const problems: SetProblem[] = [];
    const backupSites = primary.config.backupSites;
    const field = (site: string, key: string) => `redoubt:backupSites.${site}.${key}`;
    const existing = describeSites(served);
    for (const [site, ref] of Object.entries(backupSites)) {
        const stackName = ref.stack.split("/").pop()!;
        const backup = byStack.get(stackName);
        if (!backup) {
            const serving = served.get(site);
            problems.push(
                serving
                    ? {
                          file: primary.file,
                          field: field(site, "stack"),
                          message: `names stack '${ref.stack}', which has no stacks/Pulumi.${stackName}.yaml; site ${site} is served by ${serving.map((s) => s.stack).join(", ")}`,
                      }
                    : {
                          file: primary.file,
                          field: `redoubt:backupSites.${site}`,
                          message: `names backup site ${site}, which no backup stack of this project serves: there is no stacks/Pulumi.${stackName}.yaml and no stack file with redoubt:role: backup and redoubt:site: ${site}. Add that stack file (redoubt:role, redoubt:site, redoubt:country, redoubt:location) or remove this entry; the backup sites that exist: ${existing}`,
                      },
            );
            continue;
        }
        const config = backup.config;
        if (config.role !== "backup") {
            problems.push({ file: primary.file, field: field(site, "stack"), message: `names stack '${ref.stack}', which is a ${config.role} stack, not a backup stack` });
            continue;
        }
        if (config.site !== site) {
            const serving = served.get(site);
            problems.push({
                file: primary.file,
                field: field(site, "stack"),
                message: `names stack '${ref.stack}', whose redoubt:site is ${config.site}, not ${site}; ${serving ? `site ${site} is served by ${serving.map((s) => s.stack).join(", ")}` : `no backup stack serves ${site}; the backup sites that exist: ${existing}`}`,
            });
        }
        const actual = STORAGE_BOX_LOCATIONS[config.location];
        if (ref.country !== actual) {
            problems.push({
                file: primary.file,
                field: field(site, "country"),
                message: `is ${ref.country}, but stack '${ref.stack}' keeps its boxes in ${config.location}, which is in ${actual}; correct the country here or the stack's location`,
            });
        }
        const held = new Set(declaredBy(backup, primaries).map((l) => l.tenant.name));
        for (const { tenant, file } of declaredBy(primary, primaries)) {
            if (tenant.backups.sites.includes(site) && !held.has(tenant.name)) {
                problems.push({
                    file: backup.file,
                    field: "redoubt:tenants",
                    message: `leaves out tenant '${tenant.name}' (${path.basename(file)}), which backs up to ${site}; list it, or remove redoubt:tenants`,
                });
            }
        }
    }
    // Each tenant's sites: served by a backup stack, listed by its primary, in different countries.
    const usable = Object.keys(backupSites).filter((site) => served.has(site));
    for (const { tenant, file } of declaredBy(primary, primaries)) {
        for (const site of tenant.backups.sites) {
            if (!served.has(site)) {
                problems.push({
                    file,
                    field: "backups.sites",
                    message: `names ${site}, which no backup stack of this project serves (no stacks/Pulumi.<stack>.yaml has redoubt:role: backup and redoubt:site: ${site}); the backup sites that exist: ${existing}`,
                });
            } else if (!(site in backupSites)) {
                problems.push({
                    file,
                    field: "backups.sites",
                    message: `names ${site}, but ${primary.file}, the primary stack serving this tenant, has no redoubt:backupSites.${site}; add that entry (stack ${served
                        .get(site)!
                        .map((s) => s.stack)
                        .join(" or ")}), or use one of: ${usable.join(", ") || "none"}`,
                });
            }
        }
        const byCountry = new Map<string, string[]>();
        for (const site of tenant.backups.sites) {
            const country = backupSites[site]?.country;
            if (country !== undefined) byCountry.set(country, [...(byCountry.get(country) ?? []), site]);
        }
        for (const [country, sites] of byCountry) {
            if (sites.length < 2) continue;
            problems.push({
                file,
                field: "backups.sites",
                message: `names ${sites.join(" and ")}, which are ${sites.length === 2 ? "both" : "all"} in ${country}; a tenant's backup sites must be in different countries (the privacy page promises geographically separate backups). Sites and countries: ${Object.entries(
                    backupSites,
                )
                    .map(([s, r]) => `${s} (${r.country})`)
                    .join(", ")}`,
            });
        }
    }
    return problems;
}

/** A tenant's image override comes from a registry the catalog already pulls from. */
function imageProblems(primary: StackEntry, projectDir: string): SetProblem[] {
    if (primary.config.role !== "primary") return [];
    let catalog: ImageCatalog;
    try {
        catalog = loadImageCatalog(path.resolve(projectDir, primary.config.imageCatalog));
    } catch (e) {
        return [{ file: primary.file, field: "redoubt:imageCatalog", message: `cannot be read: ${(e as Error).message.split("\n").join(" ")}` }];
    }
    const registries = catalogRegistries(catalog);
    const problems: SetProblem[] = [];
    // A canary must be a tenant whose homeserver runs the catalog's release: otherwise nobody runs it first.
    const canaries = new Map(primary.tenants.map(({ tenant }) => [tenant.name, tenant]));
    for (const name of catalog.homeserver.rollout?.canary ?? []) {
        const tenant = canaries.get(name);
        const why = tenant === undefined ? "no tenant file declares it" : tenant.homeserver.image !== undefined ? "it runs its own homeserver.image" : undefined;
        if (why !== undefined) {
            problems.push({
                file: primary.config.imageCatalog,
                field: "homeserver.rollout.canary",
                message: `names ${name}, but ${why}; name a tenant that runs the catalog's homeserver`,
            });
        }
    }
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
