// Reads a directory of tenant files and validates each file, then the set.
// One error anywhere means no tenant at all is returned: nothing is ever
// deployed from a half-valid set.
import * as fs from "node:fs";
import * as path from "node:path";
import { isMap, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { LedgerSchema, serverNameOf, TenantSchema, type Ledger, type Tenant } from "./schema";

/** One problem in one tenant file. */
export interface TenantFileProblem {
    /** The file, as given (relative to the working directory when the directory was). */
    file: string;
    /** Dotted field path, e.g. `access.domain`; empty for the whole file. */
    field: string;
    /** 1-based line in the file, where the YAML parser knows it. */
    line?: number;
    message: string;
}

export function formatProblem(p: TenantFileProblem): string {
    const where = p.line !== undefined ? `${p.file}:${p.line}` : p.file;
    return p.field ? `${where}: ${p.field}: ${p.message}` : `${where}: ${p.message}`;
}

/** Thrown when any tenant file, or the set as a whole, is invalid. */
export class TenantSetError extends Error {
    constructor(readonly problems: TenantFileProblem[]) {
        super(`${problems.length} problem${problems.length === 1 ? "" : "s"} in the tenant files; nothing was loaded:\n${problems.map((p) => `  ${formatProblem(p)}`).join("\n")}`);
        this.name = "TenantSetError";
    }
}

/** A validated tenant and the file it came from. */
export interface LoadedTenant {
    file: string;
    tenant: Tenant;
}

const TENANT_FILE = /\.ya?ml$/;
/** The ledger of issued names and ids, beside the tenant files. */
export const LEDGER_FILE = "ledger.yaml";

/** Tenant files in a directory, sorted by name so every run sees the same order. */
export function tenantFilesIn(dir: string): string[] {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
        throw new TenantSetError([{ file: dir, field: "", message: "is not a directory of tenant files" }]);
    }
    return fs
        .readdirSync(dir)
        .filter((f) => TENANT_FILE.test(f) && f !== LEDGER_FILE)
        .sort()
        .map((f) => path.join(dir, f));
}

function lineOf(doc: Document, counter: LineCounter, fieldPath: PropertyKey[]): number | undefined {
    // Walk down as far as the document has the path: a missing field is
    // reported at the line of its nearest existing parent.
    for (let depth = fieldPath.length; depth >= 0; depth--) {
        const keys = fieldPath.slice(0, depth);
        const node = keys.length === 0 ? doc.contents : doc.getIn(keys as unknown[], true);
        if (node && typeof node === "object" && "range" in node && Array.isArray(node.range)) {
            // For a mapping value, point at its key's line rather than the value's end.
            if (depth > 0) {
                const parent = depth === 1 ? doc.contents : doc.getIn(keys.slice(0, -1) as unknown[], true);
                if (isMap(parent)) {
                    const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === keys[keys.length - 1]);
                    if (pair && isScalar(pair.key) && pair.key.range) return counter.linePos(pair.key.range[0]).line;
                }
            }
            return counter.linePos(node.range[0]).line;
        }
    }
    return undefined;
}

function valueAt(data: unknown, fieldPath: PropertyKey[]): unknown {
    let value = data;
    for (const key of fieldPath) {
        if (value === null || typeof value !== "object") return undefined;
        value = (value as Record<PropertyKey, unknown>)[key];
    }
    return value;
}

function issuesToProblems(file: string, doc: Document, counter: LineCounter, data: unknown, issues: z.core.$ZodIssue[]): TenantFileProblem[] {
    return issues.flatMap((issue) => {
        if (issue.code === "unrecognized_keys") {
            // One problem per unknown key, each at its own line.
            return issue.keys.map((key) => {
                const keyPath = [...issue.path, key];
                return { file, field: keyPath.join("."), line: lineOf(doc, counter, keyPath), message: issue.message };
            });
        }
        // zod's own wording for a missing field is "Invalid input: expected ..."; our own messages say more and stay.
        const missing = issue.code === "invalid_type" && valueAt(data, issue.path) === undefined && issue.message.startsWith("Invalid input");
        const message = missing ? "is required" : issue.message;
        return [{ file, field: issue.path.join("."), line: lineOf(doc, counter, issue.path), message }];
    });
}

/** In file order, so the list reads like the file; problems without a line last. */
const byLine = (a: TenantFileProblem, b: TenantFileProblem) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER);

/** Parses and validates one tenant file's text. A tenant is only usable when `problems` is empty. */
export function parseTenantFile(file: string, text: string): { tenant?: Tenant; problems: TenantFileProblem[] } {
    const counter = new LineCounter();
    const doc = parseDocument(text, { lineCounter: counter, uniqueKeys: true, prettyErrors: true });
    if (doc.errors.length > 0) {
        return {
            problems: doc.errors.map((e) => ({
                file,
                field: "",
                line: e.linePos?.[0]?.line,
                message: `is not valid YAML: ${e.message.split("\n")[0]}`,
            })),
        };
    }
    const data: unknown = doc.toJS();
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
        return { problems: [{ file, field: "", line: 1, message: "must be a YAML mapping of tenant fields (see README 'Tenant file reference')" }] };
    }
    const parsed = TenantSchema.safeParse(data);
    if (!parsed.success) return { problems: issuesToProblems(file, doc, counter, data, parsed.error.issues).sort(byLine) };
    const problems: TenantFileProblem[] = [];
    const expected = `${parsed.data.name}.yaml`;
    if (path.basename(file) !== expected && path.basename(file) !== `${parsed.data.name}.yml`) {
        problems.push({ file, field: "name", line: lineOf(doc, counter, ["name"]), message: `is '${parsed.data.name}', so the file must be named ${expected}` });
    }
    // The tenant is returned even with a misnamed file, so the set checks still see it (the set fails either way).
    return { tenant: parsed.data, problems };
}

/** Names the shared resources use (redoubt-edge, redoubt-edge.slice). */
export const RESERVED_NAMES = ["edge"];

/** Checks what must hold across the set: unique names, ids, domains and server names. */
export function validateTenantSet(loaded: LoadedTenant[]): TenantFileProblem[] {
    const problems: TenantFileProblem[] = [];
    const claim = (owners: Map<string, string>, key: string, file: string, field: string, what: string) => {
        const owner = owners.get(key);
        if (owner !== undefined) problems.push({ file, field, message: `${what} '${key}' is already used by ${owner}; it must be unique` });
        else owners.set(key, file);
    };
    const names = new Map<string, string>();
    const ids = new Map<string, string>();
    const hostnames = new Map<string, string>();
    // Resources are named redoubt-<tenant>-<part> and slices redoubt-<tenant>.slice (systemd nests on "-"):
    // "acme" and "acme-corp" would share names and limits.
    const all = loaded.map((l) => l.tenant.name);
    for (const { file, tenant } of loaded) {
        if (RESERVED_NAMES.includes(tenant.name)) problems.push({ file, field: "name", message: `'${tenant.name}' is reserved for shared resources; choose another name` });
        const prefix = all.find((other) => other !== tenant.name && tenant.name.startsWith(`${other}-`));
        if (prefix)
            problems.push({
                file,
                field: "name",
                message: `'${tenant.name}' begins with tenant '${prefix}' and a hyphen, so their resource and slice names would collide; choose a name that does not`,
            });
    }
    for (const { file, tenant } of loaded) {
        claim(names, tenant.name, file, "name", "name");
        claim(ids, String(tenant.id), file, "id", "id");
        const serverName = serverNameOf(tenant);
        if (tenant.access.mode === "public") claim(hostnames, tenant.access.domain, file, "access.domain", "domain");
        if (!(tenant.access.mode === "public" && tenant.access.domain === serverName)) {
            claim(hostnames, serverName, file, "homeserver.serverName", "server name");
        }
    }
    return problems;
}

/** Reads the ledger; undefined when the directory has none (identity checks are then skipped). */
export function readLedger(dir: string): { ledger?: Ledger; problems: TenantFileProblem[] } {
    const file = path.join(dir, LEDGER_FILE);
    if (!fs.existsSync(file)) return { problems: [] };
    const counter = new LineCounter();
    const doc = parseDocument(fs.readFileSync(file, "utf8"), { lineCounter: counter, uniqueKeys: true, prettyErrors: true });
    if (doc.errors.length > 0)
        return { problems: doc.errors.map((e) => ({ file, field: "", line: e.linePos?.[0]?.line, message: `is not valid YAML: ${e.message.split("\n")[0]}` })) };
    const data: unknown = doc.toJS();
    const parsed = LedgerSchema.safeParse(data);
    if (!parsed.success) return { problems: issuesToProblems(file, doc, counter, data, parsed.error.issues).sort(byLine) };
    return { ledger: parsed.data, problems: [] };
}

/**
 * Checks tenants against the ledger: ids never change, names and ids are
 * never reused, and a tenant file is never removed while its data may exist.
 */
export function checkAgainstLedger(loaded: LoadedTenant[], ledger: Ledger, ledgerFile: string): TenantFileProblem[] {
    const problems: TenantFileProblem[] = [];
    const byName = new Map(ledger.tenants.map((e) => [e.name, e]));
    const byId = new Map(ledger.tenants.map((e) => [e.id, e]));
    for (const { file, tenant } of loaded) {
        const issued = byName.get(tenant.name);
        const idOwner = byId.get(tenant.id);
        if (issued?.deletedOn) {
            problems.push({ file, field: "name", message: `'${tenant.name}' belonged to a tenant deleted on ${issued.deletedOn}; names are never reused, choose another` });
        } else if (issued && issued.id !== tenant.id) {
            problems.push({
                file,
                field: "id",
                message: `is ${tenant.id}, but ${ledgerFile} issued id ${issued.id} to '${tenant.name}'; a tenant's id never changes (it fixes its subnets and uid)`,
            });
        } else if (idOwner && idOwner.name !== tenant.name) {
            problems.push({ file, field: "id", message: `${tenant.id} was issued to '${idOwner.name}' in ${ledgerFile}; ids are never reused, take the next free id` });
        } else if (!issued) {
            problems.push({ file, field: "name", message: `'${tenant.name}' is not in ${ledgerFile}; issue it by adding '- { name: ${tenant.name}, id: ${tenant.id} }' there` });
        }
    }
    const present = new Set(loaded.map((l) => l.tenant.name));
    for (const entry of ledger.tenants) {
        if (!entry.deletedOn && !present.has(entry.name)) {
            problems.push({
                file: ledgerFile,
                field: "tenants",
                message: `tenant '${entry.name}' has no file but is not marked deleted; removing a tenant file destroys its data. Restore the file and set status: cancelled, then set deletedOn here once its deletion deadline has passed`,
            });
        }
    }
    return problems;
}

/**
 * Loads every tenant file in `dir`. Throws TenantSetError listing every
 * problem in every file when anything is wrong; returns tenants sorted by id.
 */
export function loadTenants(dir: string): LoadedTenant[] {
    const files = tenantFilesIn(dir);
    const problems: TenantFileProblem[] = [];
    const loaded: LoadedTenant[] = [];
    for (const file of files) {
        const result = parseTenantFile(file, fs.readFileSync(file, "utf8"));
        problems.push(...result.problems);
        if (result.tenant) loaded.push({ file, tenant: result.tenant });
    }
    problems.push(...validateTenantSet(loaded));
    const { ledger, problems: ledgerProblems } = readLedger(dir);
    problems.push(...ledgerProblems);
    if (ledger) problems.push(...checkAgainstLedger(loaded, ledger, path.join(dir, LEDGER_FILE)));
    if (problems.length > 0) throw new TenantSetError(problems);
    return loaded.sort((a, b) => a.tenant.id - b.tenant.id);
}
