// Reads a directory of tenant files and validates each file, then the set.
// One error anywhere means no tenant at all is returned: nothing is ever
// deployed from a half-valid set.
import * as fs from "node:fs";
import * as path from "node:path";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from "yaml";
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
    let entries: string[];
    try {
        if (!fs.statSync(dir).isDirectory()) throw new Error("not a directory");
        entries = fs.readdirSync(dir);
    } catch {
        throw new TenantSetError([{ file: dir, field: "", message: "is not a directory of tenant files" }]);
    }
    // Every *.yaml name is returned, whatever it is (directory, broken link, ...): loadTenants reports each that is not a readable tenant file.
    return entries
        .filter((f) => TENANT_FILE.test(f) && f !== LEDGER_FILE)
        .sort()
        .map((f) => path.join(dir, f));
}

/** The largest tenant file or ledger read; a tenant file is a few hundred bytes, a ledger entry a few dozen. */
export const MAX_FILE_BYTES = 1024 * 1024;
/** How many alias expansions (`*name`) one file may make; stops "billion laughs" alias bombs. */
export const MAX_ALIAS_COUNT = 100;
/** Problems reported per file at most; the rest are counted, so a garbage file cannot flood the report. */
const MAX_PROBLEMS_PER_FILE = 25;

/** What a file read by the loader must be, for its messages. */
interface FileKind {
    /** What the file must be, e.g. "a tenant file". */
    noun: string;
    /** What its content must be. */
    shape: string;
    /** Why MAX_FILE_BYTES is plenty. */
    size: string;
}
const TENANT_FILE_KIND: FileKind = {
    noun: "a tenant file",
    shape: "a YAML mapping of tenant fields (see README 'Tenant file reference')",
    size: "a tenant file is a few hundred bytes",
};
const LEDGER_FILE_KIND: FileKind = {
    noun: "the ledger",
    shape: "a YAML mapping with one field, tenants: the list of issued names and ids, e.g. tenants: [{ name: acme, id: 1 }]",
    size: "the ledger holds a few dozen bytes per tenant",
};

const problemAt = (file: string, message: string, line?: number): TenantFileProblem => (line === undefined ? { file, field: "", message } : { file, field: "", line, message });

/** Makes text from a file or a library safe to print on one terminal line. */
function printable(text: string, max = 200): string {
    // eslint-disable-next-line no-control-regex
    const escaped = text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    return escaped.length > max ? `${escaped.slice(0, max)}…` : escaped;
}

function errorCode(error: unknown): string | undefined {
    return error && typeof error === "object" && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

function errorMessage(error: unknown): string {
    return printable(error instanceof Error ? error.message.split("\n")[0] : String(error));
}

const FS_ERRORS: Record<string, string> = {
    EACCES: "permission denied",
    EPERM: "operation not permitted",
    EIO: "input/output error",
    ENOENT: "it disappeared while the tenant files were being read",
    ENOTDIR: "a part of its path is not a directory",
    EISDIR: "it is a directory",
    ELOOP: "too many levels of symbolic links",
    EMFILE: "too many open files",
    ENFILE: "too many open files",
};

function describeFsError(error: unknown): string {
    const code = errorCode(error);
    return code ? `${FS_ERRORS[code] ?? errorMessage(error)} (${code})` : errorMessage(error);
}

function describeFileType(stat: fs.Stats): string {
    if (stat.isDirectory()) return "a directory";
    if (stat.isFIFO()) return "a named pipe (FIFO)";
    if (stat.isSocket()) return "a socket";
    if (stat.isCharacterDevice() || stat.isBlockDevice()) return "a device";
    return "an unknown kind of file";
}

/**
 * Reads a tenant file or the ledger as bytes, refusing (as problems, never by
 * throwing) anything that is not a readable regular file of sensible size.
 */
function readFileBytes(file: string, kind: FileKind): { bytes?: Buffer; problems: TenantFileProblem[] } {
    const fail = (message: string) => ({ problems: [problemAt(file, message)] });
    let stat: fs.Stats;
    let linked = false;
    try {
        stat = fs.lstatSync(file);
    } catch (error) {
        return fail(`cannot be read: ${describeFsError(error)}`);
    }
    if (stat.isSymbolicLink()) {
        linked = true;
        let target = "";
        try {
            target = ` (${printable(fs.readlinkSync(file))})`;
        } catch {
            // The target is only named to help; the link is refused either way.
        }
        try {
            stat = fs.statSync(file);
        } catch (error) {
            const code = errorCode(error);
            if (code === "ENOENT" || code === "ENOTDIR") return fail(`is a symbolic link whose target${target} does not exist; ${kind.noun} must be a regular file`);
            if (code === "ELOOP") return fail(`is a symbolic link that loops back on itself${target}; ${kind.noun} must be a regular file`);
            return fail(`is a symbolic link whose target${target} cannot be read: ${describeFsError(error)}`);
        }
    }
    if (!stat.isFile()) {
        return fail(
            `is ${linked ? "a symbolic link to " : ""}${describeFileType(stat)}, not ${kind.noun}; ${kind.noun} must be a regular file${kind === TENANT_FILE_KIND ? ", and only tenant files may be named *.yaml or *.yml here" : ""}`,
        );
    }
    if (stat.size > MAX_FILE_BYTES) return fail(`is larger than 1 MiB (${stat.size} bytes); ${kind.size}`);
    let bytes: Buffer;
    try {
        bytes = fs.readFileSync(file);
    } catch (error) {
        return fail(`cannot be read: ${describeFsError(error)}`);
    }
    // It may have grown since it was measured.
    if (bytes.length > MAX_FILE_BYTES) return fail(`is larger than 1 MiB (${bytes.length} bytes); ${kind.size}`);
    return { bytes, problems: [] };
}

/** Offset of the first byte that is not valid UTF-8, or -1. */
function firstInvalidUtf8(bytes: Uint8Array): number {
    for (let i = 0; i < bytes.length;) {
        const lead = bytes[i];
        const more = lead < 0x80 ? 0 : lead >= 0xc2 && lead <= 0xdf ? 1 : lead >= 0xe0 && lead <= 0xef ? 2 : lead >= 0xf0 && lead <= 0xf4 ? 3 : -1;
        if (more < 0) return i;
        // The second byte's range excludes overlong forms, surrogates and code points beyond U+10FFFF.
        const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
        const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
        for (let k = 1; k <= more; k++) {
            const byte = bytes[i + k];
            if (byte === undefined || byte < (k === 1 ? low : 0x80) || byte > (k === 1 ? high : 0xbf)) return i;
        }
        i += more + 1;
    }
    return -1;
}

/** Decodes a file's bytes as UTF-8 (a leading byte order mark is dropped), or says why it is not UTF-8 text. */
function decodeText(file: string, bytes: Uint8Array, kind: FileKind): { text?: string; problems: TenantFileProblem[] } {
    if (bytes.length > MAX_FILE_BYTES) return { problems: [problemAt(file, `is larger than 1 MiB (${bytes.length} bytes); ${kind.size}`)] };
    if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
        return { problems: [problemAt(file, `is UTF-16 text; ${kind.noun} must be UTF-8 (save it as UTF-8)`, 1)] };
    }
    const bad = firstInvalidUtf8(bytes);
    if (bad >= 0) {
        let line = 1;
        for (let i = 0; i < bad; i++) if (bytes[i] === 0x0a) line++;
        const hex = bytes[bad].toString(16).padStart(2, "0");
        return { problems: [problemAt(file, `is not UTF-8 text (byte 0x${hex} is not valid UTF-8; is it a binary file?); ${kind.noun} must be UTF-8 YAML text`, line)] };
    }
    try {
        return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), problems: [] };
    } catch (error) {
        return { problems: [problemAt(file, `is not UTF-8 text (${errorMessage(error)}); ${kind.noun} must be UTF-8 YAML text`)] };
    }
}

/** Characters YAML does not allow in a stream (it allows tab, line breaks and printable Unicode only). */
const NOT_YAML_PRINTABLE = /[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;

/** A parsed YAML file: its document, the line counter and its plain JavaScript value. */
interface ParsedYaml {
    doc: Document;
    counter: LineCounter;
    data: unknown;
}

const yamlProblem = (file: string, message: string, line?: number) => problemAt(file, `is not valid YAML: ${message}`, line);

/** Describes a parsed YAML value that should have been a mapping. */
function describeValue(data: unknown): string {
    if (data === null || data === undefined) return "null";
    if (Array.isArray(data)) return "a list";
    if (typeof data === "string") return `the text '${printable(data, 40)}'`;
    if (typeof data === "number" || typeof data === "bigint") return `the number ${String(data)}`;
    if (typeof data === "boolean") return `the boolean ${String(data)}`;
    if (data instanceof Set) return "a set (!!set)";
    if (data instanceof Map) return "an ordered map (!!omap)";
    if (data instanceof Date) return "a timestamp";
    if (data instanceof Uint8Array) return "binary data (!!binary)";
    return "not a plain mapping";
}

const isPlainMapping = (data: unknown): data is Record<string, unknown> =>
    data !== null && typeof data === "object" && (Object.getPrototypeOf(data) === Object.prototype || Object.getPrototypeOf(data) === null);

/**
 * Reports keys given twice in one mapping, with their field path. The yaml
 * package's own check (uniqueKeys) is quadratic in the number of keys, so a
 * megabyte of keys would stall the loader for minutes; this one is linear.
 */
function duplicateKeys(file: string, doc: Document, counter: LineCounter): TenantFileProblem[] {
    const problems: TenantFileProblem[] = [];
    const walk = (node: unknown, fieldPath: PropertyKey[]) => {
        if (problems.length >= MAX_PROBLEMS_PER_FILE) return;
        if (isMap(node)) {
            const seen = new Map<string, number | undefined>();
            for (const pair of node.items) {
                const key = isScalar(pair.key) ? pair.key : undefined;
                const keyLine = key?.range ? counter.linePos(key.range[0]).line : undefined;
                if (key) {
                    const id = `${typeof key.value}:${String(key.value)}`;
                    if (seen.has(id)) {
                        const first = seen.get(id);
                        problems.push({
                            file,
                            field: fieldOf([...fieldPath, String(key.value)]),
                            line: keyLine,
                            message: `is given twice in one mapping${first !== undefined ? ` (first at line ${first})` : ""}; each field may appear once`,
                        });
                    } else seen.set(id, keyLine);
                }
                walk(pair.value, [...fieldPath, key ? String(key.value) : "?"]);
            }
        } else if (isSeq(node)) {
            node.items.forEach((item, index) => walk(item, [...fieldPath, index]));
        }
    };
    walk(doc.contents, []);
    return problems;
}

/**
 * Parses YAML text into a plain value, reporting (never throwing) whatever
 * keeps it from being exactly one YAML 1.2 document whose top level is a
 * mapping.
 */
function parseYamlText(file: string, text: string, kind: FileKind): { parsed?: ParsedYaml; problems: TenantFileProblem[] } {
    if (text.length > MAX_FILE_BYTES) return { problems: [problemAt(file, `is larger than 1 MiB (${text.length} characters); ${kind.size}`)] };
    const bad = NOT_YAML_PRINTABLE.exec(text);
    if (bad) {
        const before = text.slice(0, bad.index);
        const line = before.split("\n").length;
        const column = bad.index - before.lastIndexOf("\n");
        const code = `U+${(bad[0].codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
        const binary = bad[0] === "\u0000" ? " (a NUL byte: is it a binary file?)" : "";
        return {
            problems: [
                problemAt(
                    file,
                    `contains the control character ${code} at line ${line}, column ${column}${binary}; ${kind.noun} is YAML text: tabs, line breaks and printable characters only`,
                    line,
                ),
            ],
        };
    }
    const counter = new LineCounter();
    let doc: Document;
    try {
        // uniqueKeys is checked below (linearly); logLevel "error" keeps the yaml package from printing warnings itself.
        doc = parseDocument(text, { lineCounter: counter, uniqueKeys: false, prettyErrors: true, logLevel: "error" });
    } catch (error) {
        return { problems: [yamlProblem(file, errorMessage(error))] };
    }
    if (doc.errors.length > 0) {
        const multiple = doc.errors.find((e) => e.code === "MULTIPLE_DOCS");
        if (multiple) {
            return {
                problems: [
                    problemAt(
                        file,
                        `holds more than one YAML document (a second one starts with the '---' at line ${multiple.linePos?.[0]?.line ?? "?"}); ${kind.noun} is a single document`,
                        multiple.linePos?.[0]?.line,
                    ),
                ],
            };
        }
        return {
            problems: doc.errors.slice(0, MAX_PROBLEMS_PER_FILE).map((e) => {
                const message = printable(e.message.split("\n")[0]);
                // The parser recurses once per level of nesting and gives up when the stack runs out.
                if (/maximum call stack/i.test(message)) {
                    return yamlProblem(file, `it nests collections too deeply for the parser (${message}); ${kind.noun} nests a few levels at most`, e.linePos?.[0]?.line);
                }
                return yamlProblem(file, message, e.linePos?.[0]?.line);
            }),
        };
    }
    const version = doc.directives?.yaml;
    if (version?.explicit && version.version !== "1.2") {
        return { problems: [problemAt(file, `declares %YAML ${version.version}; ${kind.noun} is YAML 1.2 (remove the %YAML line)`, 1)] };
    }
    const duplicates = duplicateKeys(file, doc, counter);
    if (duplicates.length > 0) return { problems: duplicates };
    let data: unknown;
    try {
        data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (error) {
        const message = errorMessage(error);
        if (/excessive alias count/i.test(message)) {
            return {
                problems: [yamlProblem(file, `its aliases (*name) expand to too many values (${message}); at most ${MAX_ALIAS_COUNT} are allowed, and ${kind.noun} needs none`)],
            };
        }
        return { problems: [yamlProblem(file, message)] };
    }
    const empty = doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null && !doc.contents.source);
    if (empty) return { problems: [problemAt(file, `is empty; ${kind.noun} is ${kind.shape}`, 1)] };
    if (!isPlainMapping(data)) {
        const line = doc.contents && "range" in doc.contents && doc.contents.range ? counter.linePos(doc.contents.range[0]).line : 1;
        return { problems: [problemAt(file, `must be ${kind.shape}; it is ${describeValue(data)}`, line)] };
    }
    return { parsed: { doc, counter, data }, problems: [] };
}

/** Keeps one file's problems to a readable number, saying how many more there are. */
function capProblems(file: string, problems: TenantFileProblem[]): TenantFileProblem[] {
    if (problems.length <= MAX_PROBLEMS_PER_FILE) return problems;
    return [...problems.slice(0, MAX_PROBLEMS_PER_FILE), problemAt(file, `has ${problems.length - MAX_PROBLEMS_PER_FILE} more problems; fix the ones above first`)];
}

/** A field path as printed: plain keys as they are, odd ones (long, spaces, control characters) quoted. */
function fieldOf(fieldPath: readonly PropertyKey[]): string {
    return fieldPath
        .map((key) => {
            if (typeof key === "number") return String(key);
            const text = typeof key === "symbol" ? (key.description ?? "?") : key;
            return /^[A-Za-z0-9_-]{1,64}$/.test(text) ? text : JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
        })
        .join(".");
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
            // One problem per unknown key, each at its own line (a flood of them is cut short by capProblems).
            return issue.keys.slice(0, MAX_PROBLEMS_PER_FILE + 1).map((key) => {
                const keyPath = [...issue.path, key];
                return { file, field: fieldOf(keyPath), line: lineOf(doc, counter, keyPath), message: issue.message };
            });
        }
        // zod's own wording for a missing field is "Invalid input: expected ..."; our own messages say more and stay.
        const missing = issue.code === "invalid_type" && valueAt(data, issue.path) === undefined && issue.message.startsWith("Invalid input");
        const message = missing ? "is required" : issue.message;
        return [{ file, field: fieldOf(issue.path), line: lineOf(doc, counter, issue.path), message }];
    });
}

/** In file order, so the list reads like the file; problems without a line last. */
const byLine = (a: TenantFileProblem, b: TenantFileProblem) => (a.line ?? Number.MAX_SAFE_INTEGER) - (b.line ?? Number.MAX_SAFE_INTEGER);

/** A problem for a file the loader itself failed on: a bug, but the file is refused rather than crashing the run. */
const loaderFailure = (file: string, error: unknown): TenantFileProblem =>
    problemAt(file, `could not be checked (the loader failed on it: ${errorMessage(error)}); it is refused until it can be. This is a bug in tenants/loader.ts`);

/** Parses and validates one tenant file's text (or bytes). A tenant is only usable when `problems` is empty. */
export function parseTenantFile(file: string, text: string | Uint8Array): { tenant?: Tenant; problems: TenantFileProblem[] } {
    try {
        return parseTenantText(file, text);
    } catch (error) {
        return { problems: [loaderFailure(file, error)] };
    }
}

/** A file's content as text: given as text, or bytes decoded as UTF-8 (or why they are not). */
function textOf(file: string, content: string | Uint8Array, kind: FileKind): { text?: string; problems: TenantFileProblem[] } {
    return typeof content === "string" ? { text: content, problems: [] } : decodeText(file, content, kind);
}

/**
 * A file's content decoded, parsed as YAML and validated by `schema`: the
 * value and a way to find a field's line, or the problems, in file order.
 */
function readValidated<S extends z.ZodType>(
    file: string,
    content: string | Uint8Array,
    kind: FileKind,
    schema: S,
): { ok: true; value: z.infer<S>; lineAt: (fieldPath: PropertyKey[]) => number | undefined } | { ok: false; problems: TenantFileProblem[] } {
    const { text, problems: textProblems } = textOf(file, content, kind);
    if (text === undefined) return { ok: false, problems: textProblems };
    const { parsed, problems: yamlProblems } = parseYamlText(file, text, kind);
    if (!parsed) return { ok: false, problems: yamlProblems };
    const { doc, counter, data } = parsed;
    const result = schema.safeParse(data);
    if (!result.success) return { ok: false, problems: capProblems(file, issuesToProblems(file, doc, counter, data, result.error.issues).sort(byLine)) };
    return { ok: true, value: result.data, lineAt: (fieldPath) => lineOf(doc, counter, fieldPath) };
}

function parseTenantText(file: string, content: string | Uint8Array): { tenant?: Tenant; problems: TenantFileProblem[] } {
    const read = readValidated(file, content, TENANT_FILE_KIND, TenantSchema);
    if (!read.ok) return { problems: read.problems };
    const { value: tenant, lineAt } = read;
    const problems: TenantFileProblem[] = [];
    const expected = `${tenant.name}.yaml`;
    if (path.basename(file) !== expected && path.basename(file) !== `${tenant.name}.yml`) {
        problems.push({ file, field: "name", line: lineAt(["name"]), message: `is '${tenant.name}', so the file must be named ${expected}` });
    }
    // The tenant is returned even with a misnamed file, so the set checks still see it (the set fails either way).
    return { tenant, problems };
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

/**
 * Parses and validates the ledger's text (or bytes, which are checked to be
 * UTF-8 first), e.g. as read from a git revision. `file` names it in problems.
 * The ledger is only returned when it has no problem, including no name or id
 * listed twice.
 */
export function parseLedgerText(file: string, text: string | Uint8Array): { ledger?: Ledger; problems: TenantFileProblem[] } {
    try {
        const read = readValidated(file, text, LEDGER_FILE_KIND, LedgerSchema);
        if (!read.ok) return { problems: read.problems };
        const problems = duplicateLedgerEntries(file, read.value, read.lineAt);
        if (problems.length > 0) return { problems: capProblems(file, problems) };
        return { ledger: read.value, problems: [] };
    } catch (error) {
        return { problems: [loaderFailure(file, error)] };
    }
}

/** A name or id listed twice in the ledger: each was issued once, so each appears once. */
function duplicateLedgerEntries(file: string, ledger: Ledger, lineAt: (fieldPath: PropertyKey[]) => number | undefined): TenantFileProblem[] {
    const problems: TenantFileProblem[] = [];
    const names = new Map<string, number>();
    const ids = new Map<number, number>();
    const where = (index: number) => {
        const line = lineAt(["tenants", index]);
        return `entry tenants.${index}${line !== undefined ? ` (line ${line})` : ""}`;
    };
    ledger.tenants.forEach((entry, index) => {
        const nameOwner = names.get(entry.name);
        if (nameOwner !== undefined) {
            problems.push({
                file,
                field: `tenants.${index}.name`,
                line: lineAt(["tenants", index, "name"]),
                message: `'${entry.name}' is already listed by ${where(nameOwner)}; a name is issued once, so it appears once in the ledger`,
            });
        } else names.set(entry.name, index);
        const idOwner = ids.get(entry.id);
        if (idOwner !== undefined) {
            problems.push({
                file,
                field: `tenants.${index}.id`,
                line: lineAt(["tenants", index, "id"]),
                message: `${entry.id} is already issued to '${ledger.tenants[idOwner].name}' by ${where(idOwner)}; an id is issued once, take the next free id`,
            });
        } else ids.set(entry.id, index);
    });
    return problems;
}

/** Reads the ledger; undefined when the directory has none (identity checks are then skipped). */
export function readLedger(dir: string): { ledger?: Ledger; problems: TenantFileProblem[] } {
    const file = path.join(dir, LEDGER_FILE);
    try {
        // lstat, not exists: a dangling link named ledger.yaml is a problem, not "no ledger".
        fs.lstatSync(file);
    } catch (error) {
        if (errorCode(error) === "ENOENT" || errorCode(error) === "ENOTDIR") return { problems: [] };
    }
    const { bytes, problems } = readFileBytes(file, LEDGER_FILE_KIND);
    if (!bytes) return { problems };
    return parseLedgerText(file, bytes);
}

/**
 * Checks tenants against the ledger: ids never change, names and ids are
 * never reused, and a tenant file is never removed while its data may exist.
 * `fileNames` are the tenant files that exist, loaded or not (base names
 * without .yaml/.yml): a ledger entry whose file exists but did not load is
 * not reported as missing, since that file's own problems are.
 */
export function checkAgainstLedger(loaded: LoadedTenant[], ledger: Ledger, ledgerFile: string, fileNames?: ReadonlySet<string>): TenantFileProblem[] {
    const problems: TenantFileProblem[] = [];
    const byName = new Map<string, Ledger["tenants"][number]>();
    const byId = new Map<number, Ledger["tenants"][number]>();
    // The first entry wins, as it was issued first (duplicates are reported by parseLedgerText).
    for (const entry of ledger.tenants) {
        if (!byName.has(entry.name)) byName.set(entry.name, entry);
        if (!byId.has(entry.id)) byId.set(entry.id, entry);
    }
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
            problems.push({
                file,
                field: "name",
                message: `'${tenant.name}' is not in ${ledgerFile}; issue it by adding '${ledgerEntryText(tenant.name, tenant.id, tenant.host)}' there`,
            });
        } else {
            problems.push(...placementAgainstLedger(file, tenant, issued, ledgerFile));
        }
    }
    const present = new Set(loaded.map((l) => l.tenant.name));
    for (const entry of ledger.tenants) {
        if (!entry.deletedOn && !present.has(entry.name) && !fileNames?.has(entry.name)) {
            problems.push({
                file: ledgerFile,
                field: "tenants",
                message: `tenant '${entry.name}' has no file but is not marked deleted; removing a tenant file destroys its data. Restore the file and set status: cancelled, then set deletedOn here once its deletion deadline has passed`,
            });
        }
    }
    return problems;
}

/** A ledger entry as ops write it in tenants/ledger.yaml, for messages that say what to add. */
function ledgerEntryText(name: string, id: number, host: string | undefined): string {
    return `- { name: ${name}, id: ${id}${host === undefined ? "" : `, host: ${host}`} }`;
}

/**
 * A tenant's host against its ledger entry: once the ledger records a host, the file names that
 * host for good (a tenant never moves: its encrypted volume and data are on that host), and a
 * file that names a host has it recorded, so it cannot be changed later without the ledger's
 * history showing it (checkLedgerHistory).
 */
function placementAgainstLedger(file: string, tenant: Tenant, issued: Ledger["tenants"][number], ledgerFile: string): TenantFileProblem[] {
    if (issued.host === undefined) {
        if (tenant.host === undefined) return [];
        return [
            {
                file,
                field: "host",
                message: `is '${tenant.host}', but ${ledgerFile} records no host for '${tenant.name}'; record it there ('${ledgerEntryText(tenant.name, issued.id, tenant.host)}'), so the tenant stays on it`,
            },
        ];
    }
    if (tenant.host === issued.host) return [];
    return [
        {
            file,
            field: "host",
            message:
                tenant.host === undefined
                    ? `is missing, but ${ledgerFile} placed '${tenant.name}' on '${issued.host}'; write host: ${issued.host}`
                    : `is '${tenant.host}', but ${ledgerFile} placed '${tenant.name}' on '${issued.host}'; a tenant never moves host (its encrypted volume and data are there): set host: ${issued.host} again`,
        },
    ];
}

/**
 * Checks that the ledger only grew since `base` (e.g. the ledger at the main
 * branch): every entry of `base` is still there with the same name and id, and
 * a host or deletedOn once set stays as it was. Entries may be added, and a
 * host or deletedOn set. `current` is undefined when the ledger file no longer exists (an
 * invalid ledger is reported by parseLedgerText, not here); `base` is
 * undefined when there was none. `baseLabel` names the base in messages, e.g.
 * "origin/main".
 */
export function checkLedgerHistory(base: Ledger | undefined, current: Ledger | undefined, ledgerFile: string, baseLabel: string): TenantFileProblem[] {
    if (!base || base.tenants.length === 0) return [];
    if (!current) {
        const count = base.tenants.length;
        return [
            problemAt(
                ledgerFile,
                `was deleted; at ${baseLabel} it issued ${count} tenant name${count === 1 ? "" : "s"} and id${count === 1 ? "" : "s"}, and the ledger is append-only: restore it from ${baseLabel}`,
            ),
        ];
    }
    const problems: TenantFileProblem[] = [];
    const byName = new Map<string, number>();
    const byId = new Map<number, number>();
    current.tenants.forEach((entry, index) => {
        if (!byName.has(entry.name)) byName.set(entry.name, index);
        if (!byId.has(entry.id)) byId.set(entry.id, index);
    });
    for (const [baseIndex, was] of base.tenants.entries()) {
        const described = `{ name: ${was.name}, id: ${was.id}${was.deletedOn ? `, deletedOn: ${was.deletedOn}` : ""} }`;
        const sameName = byName.get(was.name);
        const sameId = byId.get(was.id);
        if (sameName !== undefined && current.tenants[sameName].id !== was.id) {
            problems.push({
                file: ledgerFile,
                field: `tenants.${sameName}.id`,
                message: `is ${current.tenants[sameName].id}, but at ${baseLabel} '${was.name}' had id ${was.id}; the ledger is append-only and an issued id never changes: restore ${was.id}`,
            });
            continue;
        }
        if (sameName === undefined && sameId !== undefined) {
            problems.push({
                file: ledgerFile,
                field: `tenants.${sameId}.name`,
                message: `is '${current.tenants[sameId].name}', but at ${baseLabel} id ${was.id} was issued to '${was.name}'; the ledger is append-only and an issued name never changes: restore '${was.name}'`,
            });
            continue;
        }
        if (sameName === undefined) {
            problems.push({
                file: ledgerFile,
                field: "tenants",
                message: `the entry ${described} (tenants.${baseIndex} at ${baseLabel}) was removed; the ledger is append-only (names and ids are never reused): restore it`,
            });
            continue;
        }
        const now = current.tenants[sameName];
        if (was.host !== undefined && now.host !== was.host) {
            problems.push({
                file: ledgerFile,
                field: `tenants.${sameName}.host`,
                message: `${now.host === undefined ? "was removed" : `is '${now.host}'`}, but at ${baseLabel} '${was.name}' was placed on '${was.host}'; a tenant never moves host and a recorded host never changes: restore host: ${was.host}`,
            });
        }
        if (was.deletedOn && now.deletedOn !== was.deletedOn) {
            problems.push({
                file: ledgerFile,
                field: `tenants.${sameName}.deletedOn`,
                message: `${now.deletedOn === undefined ? "was removed" : `is ${now.deletedOn}`}, but at ${baseLabel} '${was.name}' was deleted on ${was.deletedOn}; the ledger is append-only and a deletedOn once set never changes: restore deletedOn: ${was.deletedOn}`,
            });
        }
    }
    return problems;
}

/**
 * Loads every tenant file in `dir`. Throws TenantSetError listing every
 * problem in every file when anything is wrong; returns tenants sorted by id.
 * Bad input never throws anything else: a file that cannot be read, is not
 * UTF-8 YAML or is not a tenant is a problem for that file.
 */
export function loadTenants(dir: string): LoadedTenant[] {
    const files = tenantFilesIn(dir);
    const problems: TenantFileProblem[] = [];
    const loaded: LoadedTenant[] = [];
    for (const file of files) {
        const { bytes, problems: readProblems } = readFileBytes(file, TENANT_FILE_KIND);
        if (!bytes) {
            problems.push(...readProblems);
            continue;
        }
        const result = parseTenantFile(file, bytes);
        problems.push(...result.problems);
        if (result.tenant) loaded.push({ file, tenant: result.tenant });
    }
    problems.push(...validateTenantSet(loaded));
    const { ledger, problems: ledgerProblems } = readLedger(dir);
    problems.push(...ledgerProblems);
    const fileNames = new Set(files.map((file) => path.basename(file).replace(TENANT_FILE, "")));
    if (ledger) problems.push(...checkAgainstLedger(loaded, ledger, path.join(dir, LEDGER_FILE), fileNames));
    if (problems.length > 0) throw new TenantSetError(problems);
    return loaded.sort((a, b) => a.tenant.id - b.tenant.id);
}
