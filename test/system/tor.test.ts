// The rendered torrc through tor's own config check, and our onion keys
// through tor itself: tor, started offline with our key file, must announce
// the onion address we computed at plan time.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { onionKeysFromSeed, renderTorrc } from "../../components/render/tor";
import { makeTempDir, removeDir, run, sleep, start, Started, stop } from "./helpers";
import { requireProgram } from "./programs";

// Real programs, some started and waited for: more than jest's default 5 s.
jest.setTimeout(120_000);

describe("tor onion service", () => {
    let tor: string;
    let dir: string;
    const running: Started[] = [];

    beforeAll(() => {
        tor = requireProgram("tor", "tor");
        dir = makeTempDir("tor");
    });
    afterAll(async () => {
        for (const p of running) await stop(p);
        removeDir(dir);
    });

    function layout(name: string): { torrc: string; dataDir: string; serviceDir: string; text: string } {
        const base = join(dir, name);
        const dataDir = join(base, "data");
        const serviceDir = join(base, "onion");
        // tor refuses a HiddenServiceDir (and DataDirectory) that others can read.
        mkdirSync(dataDir, { recursive: true, mode: 0o700 });
        mkdirSync(serviceDir, { recursive: true, mode: 0o700 });
        const text = renderTorrc({ target: "127.0.0.1:8443", dataDirectory: dataDir, serviceDirectory: serviceDir });
        const torrc = join(base, "torrc");
        writeFileSync(torrc, text);
        return { torrc, dataDir, serviceDir, text };
    }

    test("tor --verify-config accepts the rendered torrc", () => {
        const { torrc, text } = layout("verify");
        expect(text).toContain("HiddenServiceVersion 3");
        const r = run(tor, ["--verify-config", "-f", torrc]);
        expect({ code: r.code, out: r.stdout + r.stderr }).toMatchObject({ code: 0, out: expect.stringContaining("Configuration was valid") });
    });

    test("tor --verify-config rejects a broken torrc (the check can fail)", () => {
        const { torrc, text } = layout("broken");
        writeFileSync(torrc, text.replace("HiddenServicePort 443 ", "HiddenServicePort 443 nonsense:"));
        expect(run(tor, ["--verify-config", "-f", torrc]).code).not.toBe(0);
    });

    test.each([
        ["a fixed seed", Buffer.alloc(32, 7).toString("base64")],
        ["a random seed", randomBytes(32).toString("base64")],
    ])("tor, started offline with the key file from %s, serves the onion address we computed", async (_label, seed) => {
        const keys = onionKeysFromSeed(seed);
        expect(keys.hostname).toMatch(/^[a-z2-7]{56}\.onion$/);
        const { torrc, text, serviceDir } = layout(`run-${keys.hostname.slice(0, 8)}`);
        // Only the secret key, as the tenant's container gets it: tor derives the rest.
        writeFileSync(join(serviceDir, "hs_ed25519_secret_key"), Buffer.from(keys.secretKeyFileBase64, "base64"), { mode: 0o600 });
        // The test's copy only: no network at all.
        writeFileSync(torrc, `${text}DisableNetwork 1\n`);
        const p = start(tor, ["-f", torrc]);
        running.push(p);
        const hostnameFile = join(serviceDir, "hostname");
        const deadline = Date.now() + 20_000;
        while (!existsSync(hostnameFile) && !p.exited && Date.now() < deadline) await sleep(100);
        await sleep(200); // let tor finish writing
        const out = p.output();
        await stop(p);
        expect({ hostnameFileWritten: existsSync(hostnameFile), out }).toMatchObject({ hostnameFileWritten: true });
        expect(readFileSync(hostnameFile, "utf8").trim()).toBe(keys.hostname);
        // tor derived the public key file from our secret key: it must equal ours byte for byte.
        expect(readFileSync(join(serviceDir, "hs_ed25519_public_key")).toString("base64")).toBe(keys.publicKeyFileBase64);
        // and it kept our secret key rather than making its own.
        expect(readFileSync(join(serviceDir, "hs_ed25519_secret_key")).toString("base64")).toBe(keys.secretKeyFileBase64);
    });
});
