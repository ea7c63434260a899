// The shared SNI edge: the rendered HAProxy config run for real in front of
// two loopback TLS backends. The edge must pass TLS through untouched.
import { X509Certificate, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { Socket } from "node:net";
import { join } from "node:path";
import { connect, createServer, Server } from "node:tls";
import { renderEdgeConfig } from "../../components/render/edge";
import { freePort, LOOPBACK, makeTempDir, selfSignedCert, removeDir, run, start, Started, stop, waitForPort } from "./helpers";
import { requireProgram } from "./programs";

// Real programs, some started and waited for: more than jest's default 5 s.
jest.setTimeout(120_000);

interface Backend {
    hostname: string;
    cert: string;
    key: string;
    server: Server;
    port: number;
    /** SNI names the backend itself saw in ClientHellos. */
    seen: string[];
}

type Outcome = { ok: true; fingerprint: string; greeting: string } | { ok: false; error: string };

function tlsThroughEdge(port: number, servername: string, ca: string[]): Promise<Outcome> {
    return new Promise((resolve) => {
        const s = connect({ host: LOOPBACK, port, servername, ca, timeout: 10_000 });
        let greeting = "";
        let done = false;
        const finish = (o: Outcome) => {
            if (done) return;
            done = true;
            s.destroy();
            resolve(o);
        };
        s.on("secureConnect", () => {
            s.on("data", (d: Buffer) => {
                greeting += d.toString("utf8");
                if (greeting.endsWith("\n")) finish({ ok: true, fingerprint: s.getPeerX509Certificate()!.fingerprint256, greeting: greeting.trim() });
            });
        });
        s.on("timeout", () => finish({ ok: false, error: "timeout" }));
        s.on("error", (e) => finish({ ok: false, error: e.message }));
        s.on("close", () => finish({ ok: false, error: "closed" }));
    });
}

describe("HAProxy SNI edge (pass-through)", () => {
    let haproxy: string;
    let openssl: string;
    let dir: string;
    let edgePort: number;
    let edge: Started | undefined;
    let configFile: string;
    const backends: Backend[] = [];

    beforeAll(async () => {
        haproxy = requireProgram("haproxy", "haproxy");
        openssl = requireProgram("openssl", "openssl");
        dir = makeTempDir("edge");
        for (const hostname of ["a.test", "b.test"]) {
            const cert = join(dir, `${hostname}.crt`);
            const key = join(dir, `${hostname}.key`);
            selfSignedCert(openssl, { name: hostname, days: 2, keyFile: key, certFile: cert, san: true });
            const seen: string[] = [];
            // Each backend answers with its own name, over TLS it terminates itself.
            const server = createServer(
                {
                    cert: readFileSync(cert),
                    key: readFileSync(key),
                    SNICallback: (name, cb) => {
                        seen.push(name);
                        cb(null);
                    },
                },
                (sock) => {
                    sock.end(`backend ${hostname}\n`);
                },
            );
            await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
            backends.push({ hostname, cert, key, server, port: (server.address() as { port: number }).port, seen });
        }
        edgePort = await freePort();
        configFile = join(dir, "haproxy.cfg");
        writeFileSync(
            configFile,
            renderEdgeConfig({ routes: backends.map((b) => ({ hostname: b.hostname, backend: `${LOOPBACK}:${b.port}` })), bind: `${LOOPBACK}:${edgePort}`, dockerDns: false }),
        );
        const check = run(haproxy, ["-c", "-f", configFile]);
        if (check.code !== 0) throw new Error(`haproxy -c rejected the rendered config:\n${check.stdout}${check.stderr}`);
        // -db: foreground, no daemon; the test owns the process.
        edge = start(haproxy, ["-db", "-f", configFile], { cwd: dir });
        await waitForPort(edgePort, 10_000, edge);
    }, 60_000);

    afterAll(async () => {
        await stop(edge);
        for (const b of backends) await new Promise<void>((r) => b.server.close(() => r()));
        removeDir(dir);
    });

    const fingerprint = (b: Backend) => new X509Certificate(readFileSync(b.cert)).fingerprint256;
    const allCAs = () => backends.map((b) => readFileSync(b.cert, "utf8"));

    test("haproxy -c accepts the production rendering (Docker DNS, container names) too", () => {
        const file = join(dir, "production.cfg");
        writeFileSync(
            file,
            renderEdgeConfig({
                routes: [
                    { hostname: "t1.example.org", backend: "redoubt-t1-proxy:8443" },
                    { hostname: "t2.example.org", backend: "redoubt-t2-proxy:8443" },
                ],
            }),
        );
        const r = run(haproxy, ["-c", "-f", file]);
        expect({ code: r.code, output: r.stdout + r.stderr }).toMatchObject({ code: 0 });
    });

    test("haproxy -c rejects a broken config (the check can fail)", () => {
        const file = join(dir, "broken.cfg");
        writeFileSync(file, readFileSync(configFile, "utf8").replace("mode tcp", "mode tpc"));
        expect(run(haproxy, ["-c", "-f", file]).code).not.toBe(0);
    });

    test.each(["a.test", "b.test"])("a client asking for %s gets that backend's own certificate and bytes (no termination at the edge)", async (name) => {
        const b = backends.find((x) => x.hostname === name)!;
        const other = backends.find((x) => x.hostname !== name)!;
        const seenBefore = b.seen.length;
        const r = await tlsThroughEdge(edgePort, name, allCAs());
        expect(r).toEqual({ ok: true, fingerprint: fingerprint(b), greeting: `backend ${name}` });
        expect(fingerprint(b)).not.toBe(fingerprint(other));
        // The backend itself saw the client's ClientHello, SNI and all.
        expect(b.seen.slice(seenBefore)).toEqual([name]);
    });

    test.each(["c.test", "A.TEST.evil", ""])("an unknown server name (%j) is refused", async (name) => {
        const seenBefore = backends.map((b) => b.seen.length);
        const r = await tlsThroughEdge(edgePort, name, allCAs());
        expect(r.ok).toBe(false);
        expect(backends.map((b) => b.seen.length)).toEqual(seenBefore);
    });

    test("anything that is not TLS is refused", async () => {
        const reply = await new Promise<string>((resolve) => {
            const s = new Socket();
            let got = "";
            s.on("data", (d: Buffer) => (got += d.toString("utf8")));
            s.on("close", () => resolve(got));
            s.on("error", () => undefined);
            s.setTimeout(10_000, () => s.destroy());
            s.connect(edgePort, LOOPBACK, () => s.write("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n"));
        });
        expect(reply).toBe("");
    });

    test("the edge logs nothing about connections", async () => {
        const marker = `${randomBytes(4).toString("hex")}.test`;
        await tlsThroughEdge(edgePort, "a.test", allCAs());
        await tlsThroughEdge(edgePort, marker, allCAs());
        await stop(edge);
        const output = edge!.output();
        expect(output).not.toContain(marker);
        expect(output).not.toMatch(/a\.test|tls_in|tenant_a_test|127\.0\.0\.1:\d+ \[/);
    });
});
