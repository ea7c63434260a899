// The live engine's `pulumi up` semantics, with the real random and tls
// stand-ins and a recording provider in place of Docker: what is created,
// updated, replaced (delete-before-replace or not) and deleted, in which
// order, what protect refuses, and that secrets never reach the state file
// in plain text.
import { X509Certificate } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { changes, deletionOrder, urnOf, type Step } from "../../lib/live/engine";
import { randomPassword } from "../../lib/live/generated";
import { readState, type StateResource } from "../../lib/live/state";
import { up as upAt, type Shape } from "./live-engine-fixture";

// A test spawns ts-node for its failing runs and makes several runs in process: seconds each on a
// loaded 2-core machine. jest's default 5 s let a test time out while its run went on, and that
// run then broke the next test ("another live run is in progress") or, after the file ended,
// crashed the worker (a module loaded after the environment was torn down).
jest.setTimeout(60_000);

describe("live engine", () => {
    let dir: string;
    let statePath: string;
    let log: string[];
    const up = (shape: Shape): Promise<Step[]> => upAt(statePath, shape, log);
    /** A run in its own process: a failed run leaves rejected outputs behind that jest would count against the test. */
    const upInChild = (shape: Shape) =>
        spawnSync(process.execPath, ["-r", "ts-node/register", path.join(__dirname, "live-engine-fixture.ts"), statePath, JSON.stringify(shape)], {
            encoding: "utf8",
            env: { ...process.env, TS_NODE_SWC: "true" },
        });

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), "live-engine-"));
        statePath = path.join(dir, "state.json");
        log = [];
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("creates everything once, then a run with no change changes nothing", async () => {
        const first = await up({});
        expect(changes(first).every((s) => s.op === "create")).toBe(true);
        expect(log).toEqual(["create base", "create extra"]);
        const second = await up({});
        expect(changes(second)).toEqual([]);
        expect(log).toEqual(["create base", "create extra"]);
    });

    it("updates in place what the provider can update, and dependents see the new outputs", async () => {
        await up({});
        const steps = await up({ size: 2 });
        expect(changes(steps).map((s) => `${s.op} ${s.urn.split("::").pop()}`)).toEqual(["update base", "update extra"]);
        const state = readState(statePath, "dev");
        expect(state.outputs.echo).toBe("one:2");
    });

    it("replaces create-before-delete by default: the old one goes after every other step", async () => {
        await up({});
        log.length = 0;
        await up({ image: "two" });
        expect(log).toEqual(["create base", "update extra", "delete base"]);
    });

    it("replaces delete-before-create when the program asks for deleteBeforeReplace", async () => {
        await up({ dbr: true });
        log.length = 0;
        await up({ image: "two", dbr: true });
        expect(log).toEqual(["delete base", "create base", "update extra"]);
    });

    it("deletes what the program no longer declares, dependents before what they depend on", async () => {
        await up({});
        log.length = 0;
        const steps = await up({ withExtra: false });
        expect(log).toEqual(["delete extra"]);
        expect(changes(steps).map((s) => s.op)).toEqual(["delete"]);
    });

    it("refuses to replace a protected resource; lifting protect is a run of its own", async () => {
        await up({ protect: true, withExtra: false });
        const refused = upInChild({ protect: true, image: "two", withExtra: false });
        expect(refused.status).toBe(1);
        expect(refused.stderr).toMatch(/base is protected and would be replaced \(changed: image\)/);
        await up({ protect: false, withExtra: false });
        log.length = 0;
        await up({ protect: false, image: "two", withExtra: false });
        expect(log).toEqual(["create base", "delete base"]);
    });

    it("refuses to delete a protected resource the program no longer declares, and the state keeps it", async () => {
        await up({ protect: true, withExtra: false });
        await expect(up({ withBase: false, withExtra: false })).rejects.toThrow(/protected resource\(s\) are no longer declared/);
        expect(readState(statePath, "dev").resources.some((r) => r.urn.endsWith("::base"))).toBe(true);
        expect(log).toEqual(["create base"]);
    });

    it("keeps secrets out of the state file in plain text and records component outputs", async () => {
        await up({});
        const state = readState(statePath, "dev");
        const password = state.resources.find((r) => r.type === "random:index/randomPassword:RandomPassword")!;
        const plain = (password.outputs.result as { value: string }).value;
        expect(plain).toHaveLength(24);
        const onDisk = fs.readFileSync(statePath, "utf8");
        expect(onDisk).not.toContain(plain);
        const key = state.resources.find((r) => r.type === "tls:index/privateKey:PrivateKey")!;
        expect(onDisk).not.toContain((key.outputs.privateKeyPem as { value: string }).value.split("\n")[1]);
        const group = state.resources.find((r) => r.type === "test:group:Group")!;
        expect(group.outputs).toEqual({ tenant: "acme" });
        expect(group.urn).toBe(urnOf("dev", "live-test", undefined, "test:group:Group", "acme"));
        const base = state.resources.find((r) => r.urn.endsWith("::base"))!;
        expect(base.urn).toBe("urn:pulumi:dev::live-test::test:group:Group$test:index/thing:Thing::base");
    });

    it("issues a real certificate for the CA", async () => {
        await up({});
        const state = readState(statePath, "dev");
        const ca = state.resources.find((r) => r.type === "tls:index/selfSignedCert:SelfSignedCert")!;
        const cert = new X509Certificate(String(ca.outputs.certPem));
        expect(cert.subject).toContain("CN=Live test CA");
        expect(cert.ca).toBe(true);
    });
});

describe("deletion order", () => {
    const r = (urn: string, dependencies: string[] = []): StateResource => ({
        urn,
        type: "t",
        custom: true,
        protect: false,
        deleteBeforeReplace: false,
        dependencies,
        inputs: {},
        outputs: {},
    });
    it("puts every resource after the resources that depend on it", () => {
        const order = deletionOrder([r("net"), r("vol"), r("box", ["net", "vol"]), r("cfg", ["box"])]).map((x) => x.urn);
        expect(order.indexOf("cfg")).toBeLessThan(order.indexOf("box"));
        expect(order.indexOf("box")).toBeLessThan(order.indexOf("net"));
        expect(order.indexOf("box")).toBeLessThan(order.indexOf("vol"));
    });
});

describe("random password", () => {
    it("honours the length, the character classes and their minimums", () => {
        for (let i = 0; i < 50; i++) {
            const p = randomPassword({ length: 12, special: true, overrideSpecial: "-_", minUpper: 2, minNumeric: 3, minSpecial: 2 });
            expect(p).toHaveLength(12);
            expect(p.replace(/[^A-Z]/g, "").length).toBeGreaterThanOrEqual(2);
            expect(p.replace(/[^0-9]/g, "").length).toBeGreaterThanOrEqual(3);
            expect(p.replace(/[^-_]/g, "").length).toBeGreaterThanOrEqual(2);
            expect(p).toMatch(/^[A-Za-z0-9_-]+$/);
        }
    });
});
