// Bad tenant files and ledgers at the loader, one row each: whatever is in the
// tenants directory, loadTenants either loads a valid set or throws
// TenantSetError (never anything else), and each problem names the file, the
// field where there is one, and what is allowed. A property test mutates a
// valid tenant file and ledger at random and checks the same.
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { stringify } from "yaml";
import { loadTenants, MAX_ALIAS_COUNT, MAX_FILE_BYTES, parseLedgerText, parseTenantFile, TenantSetError, type TenantFileProblem } from "../../tenants/loader";
import { problemsOf, publicTenant, tenantDir } from "./tenant-fixtures";

/** The valid text of a tenant file. */
const tenantText = (name: string, id: number, extra: Record<string, unknown> = {}) => stringify(publicTenant(name, id, extra));
/** The valid text of a ledger issuing these tenants. */
const ledgerText = (entries: { name: string; id: number }[]) => stringify({ tenants: entries });
const lineCount = (text: string) => text.split("\n").length - (text.endsWith("\n") ? 1 : 0);

/** A mapping whose aliases expand 9^levels times ("billion laughs"), as a top-level field. */
function aliasBomb(levels = 9): string {
    const lines = [`  l0: &l0 [${Array<string>(9).fill('"lol"').join(", ")}]`];
    for (let i = 1; i < levels; i++)
        lines.push(
            `  l${i}: &l${i} [${Array<string>(9)
                .fill(`*l${i - 1}`)
                .join(", ")}]`,
        );
    return `junk:\n${lines.join("\n")}\n`;
}

/** Real fs, so a test can make one read fail (the loader reads through this module object). */
const realFs = jest.requireActual<typeof fs>("node:fs");

/** Builds the bad input in a directory holding a valid tenant (good.yaml) and its ledger; may return a cleanup. */
type Build = (dir: string) => void | (() => void);
const writeBad =
    (content: string | Uint8Array): Build =>
    (dir) =>
        fs.writeFileSync(path.join(dir, "bad.yaml"), content);
const writeLedger =
    (content: string | Uint8Array): Build =>
    (dir) =>
        fs.writeFileSync(path.join(dir, "ledger.yaml"), content);

const VALID = tenantText("bad", 2);
const PADDING = `# ${"x".repeat(MAX_FILE_BYTES)}\n`;

describe("the loader refuses bad input with a problem for the file, never a crash", () => {
    it.each<[string, Build, string, string, RegExp, number?]>([
        // Files that are not readable regular files.
        ["a directory named *.yaml", (dir) => fs.mkdirSync(path.join(dir, "bad.yaml")), "bad.yaml", "", /is a directory, not a tenant file; .*must be a regular file/],
        [
            "a dangling symbolic link",
            (dir) => fs.symlinkSync(path.join(dir, "nowhere.txt"), path.join(dir, "bad.yaml")),
            "bad.yaml",
            "",
            /is a symbolic link whose target \(.*nowhere\.txt\) does not exist; a tenant file must be a regular file/,
        ],
        ["a symbolic link to itself", (dir) => fs.symlinkSync("bad.yaml", path.join(dir, "bad.yaml")), "bad.yaml", "", /symbolic link that loops back on itself/],
        [
            "a symbolic link to a directory",
            (dir) => {
                fs.mkdirSync(path.join(dir, "sub"));
                fs.symlinkSync(path.join(dir, "sub"), path.join(dir, "bad.yaml"));
            },
            "bad.yaml",
            "",
            /is a symbolic link to a directory, not a tenant file/,
        ],
        ["a named pipe", (dir) => void execFileSync("mkfifo", [path.join(dir, "bad.yaml")]), "bad.yaml", "", /is a named pipe \(FIFO\), not a tenant file/],
        [
            "a file that cannot be read",
            (dir) => {
                fs.writeFileSync(path.join(dir, "bad.yaml"), VALID);
                // Permissions cannot stop root (the CI user), so the read itself is made to fail as EACCES would.
                const original = realFs.readFileSync;
                const spy = jest.spyOn(realFs, "readFileSync").mockImplementation((file, options) => {
                    if (typeof file === "string" && file.endsWith("bad.yaml")) throw Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" });
                    return original(file, options);
                });
                return () => spy.mockRestore();
            },
            "bad.yaml",
            "",
            /cannot be read: permission denied \(EACCES\)/,
        ],
        ["a file larger than 1 MiB", writeBad(VALID + PADDING), "bad.yaml", "", /is larger than 1 MiB \(\d+ bytes\); a tenant file is a few hundred bytes/],
        // Content that is not UTF-8 YAML text.
        [
            "bytes that are not UTF-8",
            writeBad(Buffer.concat([Buffer.from(VALID), Buffer.from([0x23, 0xc3, 0x28, 0x0a])])),
            "bad.yaml",
            "",
            /is not UTF-8 text \(byte 0xc3 .*\); a tenant file must be UTF-8 YAML text/,
            lineCount(VALID) + 1,
        ],
        ["UTF-16 text", writeBad(Buffer.from(`\ufeff${VALID}`, "utf16le")), "bad.yaml", "", /is UTF-16 text; a tenant file must be UTF-8/],
        [
            "a NUL byte (a binary file)",
            writeBad(`${VALID}\0\0\0`),
            "bad.yaml",
            "",
            /control character U\+0000 .*NUL byte.*tabs, line breaks and printable characters only/,
            lineCount(VALID) + 1,
        ],
        ["a terminal escape character", writeBad(`${VALID}contact: "\u001b[2J"\n`), "bad.yaml", "", /control character U\+001B/],
        // YAML that is not one mapping.
        ["an empty file", writeBad(""), "bad.yaml", "", /is empty; a tenant file is a YAML mapping of tenant fields/],
        ["a file of comments only", writeBad("# name: bad\n# id: 2\n"), "bad.yaml", "", /is empty; a tenant file is a YAML mapping/],
        ["a YAML list", writeBad(stringify([publicTenant("bad", 2)])), "bad.yaml", "", /must be a YAML mapping of tenant fields.*; it is a list/],
        ["a YAML string", writeBad("just some words\n"), "bad.yaml", "", /must be a YAML mapping of tenant fields.*; it is the text 'just some words'/],
        ["a YAML number", writeBad("42\n"), "bad.yaml", "", /must be a YAML mapping.*; it is the number 42/],
        ["a YAML null", writeBad("~\n"), "bad.yaml", "", /must be a YAML mapping.*; it is null/],
        ["two YAML documents", writeBad(`${VALID}---\n${VALID}`), "bad.yaml", "", /holds more than one YAML document .*line \d+\); a tenant file is a single document/],
        ["a YAML 1.1 directive", writeBad(`%YAML 1.1\n---\n${VALID}`), "bad.yaml", "", /declares %YAML 1\.1; a tenant file is YAML 1\.2/],
        // YAML the parser refuses or that would exhaust it.
        ["an alias bomb", writeBad(VALID + aliasBomb()), "bad.yaml", "", new RegExp(`not valid YAML: its aliases .* at most ${MAX_ALIAS_COUNT} are allowed`)],
        ["an alias without its anchor", writeBad(`${VALID}junk: *nowhere\n`), "bad.yaml", "", /not valid YAML: .*alias.*nowhere/i],
        ["collections nested too deep for the parser", writeBad(`${VALID}junk: ${"[".repeat(20000)}${"]".repeat(20000)}\n`), "bad.yaml", "", /nests collections too deeply/],
        ["a field given twice", writeBad(`${VALID}name: bad\n`), "bad.yaml", "name", /is given twice in one mapping \(first at line \d+\); each field may appear once/],
        ["a nested field given twice", writeBad(VALID.replace("mode: public", "mode: public\n  mode: tor")), "bad.yaml", "access.mode", /is given twice in one mapping/],
        ["tabs as indentation", writeBad(VALID.replace("  mode: public", "\tmode: public")), "bad.yaml", "", /not valid YAML: .*[Tt]ab/],
        ["an unterminated flow list", writeBad(`${VALID}extra: [1, 2\n`), "bad.yaml", "", /not valid YAML/],
        // Mappings with odd keys or values still name the field.
        ["a key written with a control character", writeBad(`${VALID}"a\\u0007b": 1\n`), "bad.yaml", JSON.stringify("a\u0007b"), /not a known field/],
        ["a __proto__ key", writeBad(`${VALID}__proto__: { plan: large }\n`), "bad.yaml", "__proto__", /not a known field/],
        ["an id of .nan", writeBad(VALID.replace("id: 2", "id: .nan")), "bad.yaml", "id", /whole number/],
        ["binary data for a contact", writeBad(VALID.replace(/contact: .*/, "contact: !!binary aGVsbG8=")), "bad.yaml", "contact", /email address/],
        [
            "a flood of unknown fields",
            writeBad(VALID + Array.from({ length: 500 }, (_, i) => `junk${i}: ${i}\n`).join("")),
            "bad.yaml",
            "",
            /has \d+ more problems; fix the ones above first/,
        ],
        // The ledger.
        [
            "a directory named ledger.yaml",
            (dir) => {
                fs.rmSync(path.join(dir, "ledger.yaml"));
                fs.mkdirSync(path.join(dir, "ledger.yaml"));
            },
            "ledger.yaml",
            "",
            /is a directory, not the ledger/,
        ],
        [
            "a dangling ledger link",
            (dir) => {
                fs.rmSync(path.join(dir, "ledger.yaml"));
                fs.symlinkSync(path.join(dir, "gone.yaml"), path.join(dir, "ledger.yaml"));
            },
            "ledger.yaml",
            "",
            /symbolic link whose target .* does not exist; the ledger must be a regular file/,
        ],
        [
            "a ledger larger than 1 MiB",
            writeLedger(ledgerText([{ name: "good", id: 1 }]) + PADDING),
            "ledger.yaml",
            "",
            /larger than 1 MiB .*the ledger holds a few dozen bytes per tenant/,
        ],
        ["a ledger that is not UTF-8", writeLedger(Buffer.from([0x74, 0x65, 0xff, 0x0a])), "ledger.yaml", "", /is not UTF-8 text .*the ledger must be UTF-8/],
        ["an empty ledger", writeLedger(""), "ledger.yaml", "", /is empty; the ledger is a YAML mapping with one field, tenants/],
        ["a ledger that is a list", writeLedger(stringify([{ name: "good", id: 1 }])), "ledger.yaml", "", /must be a YAML mapping with one field, tenants.*; it is a list/],
        ["a ledger alias bomb", writeLedger(ledgerText([{ name: "good", id: 1 }]) + aliasBomb()), "ledger.yaml", "", /not valid YAML: its aliases/],
        ["two ledgers in one file", writeLedger(`${ledgerText([{ name: "good", id: 1 }])}---\n${ledgerText([])}`), "ledger.yaml", "", /more than one YAML document/],
        ["tenants given twice in the ledger", writeLedger(`${ledgerText([{ name: "good", id: 1 }])}tenants: []\n`), "ledger.yaml", "tenants", /is given twice/],
        // The line rides in a rest parameter: a sixth declared parameter would make jest pass rows without one a done callback.
    ])("%s", (_title, build, file, field, message, ...rest) => {
        const line = rest[0];
        const dir = tenantDir({ "good.yaml": publicTenant("good", 1), "ledger.yaml": ledgerText([{ name: "good", id: 1 }]) });
        const cleanup = build(dir);
        let problems: TenantFileProblem[];
        try {
            problems = problemsOf(dir);
        } finally {
            if (cleanup) cleanup();
        }
        const match = problems.find((p) => p.file === path.join(dir, file) && p.field === field && message.test(p.message));
        // Printing the problems on failure shows what was reported instead.
        expect({ found: match !== undefined, problems }).toMatchObject({ found: true });
        if (line !== undefined) expect(match?.line).toBe(line);
        // Every problem is about a file in the directory and says something.
        for (const p of problems) {
            expect(p.file.startsWith(dir)).toBe(true);
            expect(p.message.length).toBeGreaterThan(10);
        }
    });
});

describe("odd but valid tenant files still load", () => {
    it.each<[string, string | Uint8Array]>([
        ["with a UTF-8 byte order mark", `\ufeff${VALID}`],
        ["with CRLF line ends", VALID.replace(/\n/g, "\r\n")],
        ["with an anchor and alias", VALID.replace(/contact: (.*)/, "contact: &who $1\n# the contact again: *who")],
        ["with a YAML 1.2 directive", `%YAML 1.2\n---\n${VALID}`],
    ])("%s", (_title, content) => {
        const dir = tenantDir({ "bad.yaml": typeof content === "string" ? content : "", "ledger.yaml": ledgerText([{ name: "bad", id: 2 }]) });
        if (typeof content !== "string") fs.writeFileSync(path.join(dir, "bad.yaml"), content);
        expect(loadTenants(dir).map((l) => l.tenant.name)).toEqual(["bad"]);
    });

    it("a symbolic link to a valid tenant file", () => {
        const source = tenantDir({ "bad.yaml": VALID });
        const dir = tenantDir({ "ledger.yaml": ledgerText([{ name: "bad", id: 2 }]) });
        fs.symlinkSync(path.join(source, "bad.yaml"), path.join(dir, "bad.yaml"));
        expect(loadTenants(dir).map((l) => l.tenant.id)).toEqual([2]);
    });
});

// Random damage to a valid tenant file and ledger: insertions, deletions,
// replacements (any Unicode, YAML syntax), swapped and duplicated lines,
// truncation and raw byte changes.
const YAML_TOKENS = [
    "&a ",
    "*a",
    "<<: *a\n",
    "!!binary ",
    "!!set\n",
    "!!omap\n",
    "!foo ",
    "%YAML 1.1\n---\n",
    "---\n",
    "...\n",
    "? ",
    ": ",
    "- ",
    "[",
    "]",
    "{",
    "}",
    '"',
    "'",
    "\t",
    "\n",
    "\r",
    "# ",
    "|\n",
    ">-\n",
    "~",
    "\u0000",
    "\ufeff",
    "\u2028",
    "__proto__: ",
    "constructor: ",
    "id: ",
    "name: ",
    "access:\n  mode: ",
    ".nan",
    "1e400",
    "0x1F",
    "-0",
    '"\\u0000"',
    '"\\ud800"',
    "2026-02-30",
    "\u{1F600}",
];
type Mutation =
    | { kind: "delete"; at: number; length: number }
    | { kind: "insert"; at: number; text: string }
    | { kind: "replace"; at: number; text: string }
    | { kind: "swapLines"; a: number; b: number }
    | { kind: "duplicateLine"; line: number }
    | { kind: "truncate"; at: number }
    | { kind: "byte"; at: number; value: number };
const position = fc.nat({ max: 10_000 });
const anyText = fc.oneof(fc.string({ unit: "binary", maxLength: 12 }), fc.constantFrom(...YAML_TOKENS));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant("delete" as const), at: position, length: fc.integer({ min: 1, max: 30 }) }),
    fc.record({ kind: fc.constant("insert" as const), at: position, text: anyText }),
    fc.record({ kind: fc.constant("replace" as const), at: position, text: anyText }),
    fc.record({ kind: fc.constant("swapLines" as const), a: position, b: position }),
    fc.record({ kind: fc.constant("duplicateLine" as const), line: position }),
    fc.record({ kind: fc.constant("truncate" as const), at: position }),
    fc.record({ kind: fc.constant("byte" as const), at: position, value: fc.integer({ min: 0, max: 255 }) }),
);

function mutate(original: string, mutations: Mutation[]): Buffer {
    let text = original;
    let bytes: Buffer | undefined;
    for (const m of mutations) {
        if (m.kind === "byte") {
            bytes = Buffer.from(bytes ?? Buffer.from(text));
            if (bytes.length > 0) bytes[m.at % bytes.length] = m.value;
            continue;
        }
        if (bytes) {
            // Later text edits see the damaged bytes as the text they decode to.
            text = bytes.toString("utf8");
            bytes = undefined;
        }
        const at = m.kind === "delete" || m.kind === "insert" || m.kind === "replace" || m.kind === "truncate" ? m.at % (text.length + 1) : 0;
        const lines = text.split("\n");
        switch (m.kind) {
            case "delete":
                text = text.slice(0, at) + text.slice(at + m.length);
                break;
            case "insert":
                text = text.slice(0, at) + m.text + text.slice(at);
                break;
            case "replace":
                text = text.slice(0, at) + m.text + text.slice(at + m.text.length);
                break;
            case "swapLines": {
                const a = m.a % lines.length;
                const b = m.b % lines.length;
                [lines[a], lines[b]] = [lines[b], lines[a]];
                text = lines.join("\n");
                break;
            }
            case "duplicateLine": {
                const line = m.line % lines.length;
                lines.splice(line, 0, lines[line]);
                text = lines.join("\n");
                break;
            }
            case "truncate":
                text = text.slice(0, at);
                break;
        }
    }
    return bytes ?? Buffer.from(text);
}

describe("random damage never crashes the loader", () => {
    const tenant = tenantText("alpha", 1, {
        plan: "medium",
        homeserver: { push: "proxy", pushGateways: ["matrix.org"] },
        logging: { level: "error", retentionDays: 7 },
        backups: { schedule: "03:30", keep: { daily: 5 }, sites: ["helsinki", "falkenstein"] },
    });
    const ledger = ledgerText([
        { name: "alpha", id: 1 },
        { name: "bravo", id: 2 },
    ]);
    const bravo = tenantText("bravo", 2);

    it("the undamaged files load (so damage is what the property exercises)", () => {
        expect(loadTenants(tenantDir({ "alpha.yaml": tenant, "bravo.yaml": bravo, "ledger.yaml": ledger })).map((l) => l.tenant.name)).toEqual(["alpha", "bravo"]);
    });

    it("loadTenants either loads or throws TenantSetError naming files in the directory", () => {
        const dir = tenantDir({ "bravo.yaml": bravo });
        fc.assert(
            fc.property(fc.constantFrom("alpha.yaml", "ledger.yaml"), fc.array(mutation, { minLength: 1, maxLength: 6 }), (target, mutations) => {
                fs.writeFileSync(path.join(dir, "alpha.yaml"), target === "alpha.yaml" ? mutate(tenant, mutations) : tenant);
                fs.writeFileSync(path.join(dir, "ledger.yaml"), target === "ledger.yaml" ? mutate(ledger, mutations) : ledger);
                let problems: TenantFileProblem[] = [];
                try {
                    loadTenants(dir);
                } catch (error) {
                    if (!(error instanceof TenantSetError)) throw error;
                    problems = error.problems;
                }
                for (const p of problems) {
                    expect(p.file.startsWith(dir)).toBe(true);
                    expect(typeof p.field).toBe("string");
                    expect(p.message).not.toBe("");
                }
            }),
            { numRuns: 400 },
        );
    });

    it("parseTenantFile and parseLedgerText never throw, whatever the text or bytes", () => {
        const content = fc.oneof(fc.string({ unit: "binary", maxLength: 200 }), fc.uint8Array({ maxLength: 200 }), fc.constantFrom(...YAML_TOKENS));
        fc.assert(
            fc.property(content, (text) => {
                const tenantResult = parseTenantFile("x.yaml", text);
                const ledgerResult = parseLedgerText("ledger.yaml", text);
                // Invalid content comes back as problems, never as a tenant or ledger without them.
                return (tenantResult.problems.length > 0 || tenantResult.tenant !== undefined) && ledgerResult.problems.length > 0 === (ledgerResult.ledger === undefined);
            }),
            { numRuns: 300 },
        );
    });
});
