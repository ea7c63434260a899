// The rendered export script, run by sh: one tar archive of the tenant's
// data, encrypted with age to the customer's key only.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { renderExportScript } from "../../components/render/host";
import { fileTree as tree, makeTempDir, removeDir, run, runOk } from "./helpers";
import { requireProgram } from "./programs";

// Real programs, some started and waited for: more than jest's default 5 s.
jest.setTimeout(120_000);

describe("export script (age)", () => {
    let age: string;
    let ageKeygen: string;
    let tar: string;
    let sh: string;
    let dir: string;
    let identity: string;
    let recipient: string;
    let otherIdentity: string;
    const tenant = "t-export";
    const label = "2025-02-01";

    function keypair(file: string): string {
        runOk(ageKeygen, ["-o", file]);
        return /^# public key: (age1[0-9a-z]+)$/m.exec(readFileSync(file, "utf8"))![1];
    }

    function writeScript(name: string): string {
        const file = join(dir, `${name}.sh`);
        writeFileSync(file, renderExportScript({ tenant, recipient, label }), { mode: 0o700 });
        return file;
    }

    function decryptAndUnpack(archive: string, id: string, into: string): void {
        mkdirSync(into, { recursive: true });
        const plain = join(into, "..", `${relative(dir, into).replace(/\//g, "_")}.tar`);
        runOk(age, ["--decrypt", "-i", id, "-o", plain, archive]);
        runOk(tar, ["-C", into, "-xf", plain]);
    }

    beforeAll(() => {
        age = requireProgram("age", "age");
        ageKeygen = requireProgram("age-keygen", "age");
        tar = requireProgram("tar", "tar");
        sh = requireProgram("sh", "dash");
        dir = makeTempDir("export");
        identity = join(dir, "customer.key");
        recipient = keypair(identity);
        otherIdentity = join(dir, "someone-else.key");
        keypair(otherIdentity);
    });
    afterAll(() => removeDir(dir));

    test("exports backups/ and media/, decryptable by the customer's identity only, byte for byte", () => {
        const data = join(dir, "data1");
        mkdirSync(join(data, "backups"), { recursive: true });
        mkdirSync(join(data, "media", "ab"), { recursive: true });
        mkdirSync(join(data, "db-live"), { recursive: true });
        writeFileSync(join(data, "backups", "db.bin"), randomBytes(1024 * 1024));
        writeFileSync(join(data, "backups", "meta"), "1\n");
        writeFileSync(join(data, "media", "ab", "cat.jpg"), randomBytes(100 * 1024));
        writeFileSync(join(data, "media", "name with spaces"), randomBytes(10));
        // Not part of an export: the live database.
        writeFileSync(join(data, "db-live", "LOCK"), "x");
        const out = join(dir, "out1");

        const r = run(sh, [writeScript("export1"), data, out]);
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
        const archive = join(out, `${tenant}-${label}.tar.age`);
        expect(r.stdout.trim()).toBe(archive);
        expect(readdirSync(out)).toEqual([`${tenant}-${label}.tar.age`]);
        expect(statSync(out).mode & 0o777).toBe(0o700);
        // age's binary format, nothing readable.
        const head = readFileSync(archive);
        expect(head.subarray(0, 21).toString("utf8")).toBe("age-encryption.org/v1");
        expect(head.includes(readFileSync(join(data, "backups", "db.bin")).subarray(0, 64))).toBe(false);

        const restored = join(dir, "restored1");
        decryptAndUnpack(archive, identity, restored);
        const expected = tree(data);
        delete expected["db-live/LOCK"];
        expect(tree(restored)).toEqual(expected);

        const wrong = run(age, ["--decrypt", "-i", otherIdentity, archive]);
        expect(wrong.code).not.toBe(0);
        expect(wrong.stderr).toMatch(/no identity matched/i);
    });

    test("without media/ it exports backups/ alone", () => {
        const data = join(dir, "data2");
        mkdirSync(join(data, "backups"), { recursive: true });
        writeFileSync(join(data, "backups", "db.bin"), randomBytes(4096));
        const out = join(dir, "out2");
        const r = run(sh, [writeScript("export2"), data, out]);
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
        const restored = join(dir, "restored2");
        decryptAndUnpack(join(out, `${tenant}-${label}.tar.age`), identity, restored);
        expect(tree(restored)).toEqual(tree(data));
    });

    test("without backups/ it fails with a clear message and writes no archive", () => {
        const data = join(dir, "data3");
        mkdirSync(join(data, "media"), { recursive: true });
        writeFileSync(join(data, "media", "x"), "x");
        const out = join(dir, "out3");
        const r = run(sh, [writeScript("export3"), data, out]);
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(`export: no database backup in ${data}/backups; run the tenant's backup first`);
        expect(existsSync(out) ? readdirSync(out) : []).toEqual([]);
    });
});
