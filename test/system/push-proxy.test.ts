// The push proxy's rendered tinyproxy config, run for real: HTTPS tunnels to
// an allowed gateway pass; any other host, port or plain HTTP is refused; and
// nothing about the connections is logged.
import { createServer as createTlsServer, connect as tlsConnect, type Server } from "node:tls";
import { request } from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderPushFilter, renderPushProxyConfig } from "../../components/render/pushProxy";
import { freePort, makeTempDir, selfSignedCert, removeDir, start, stop, waitForPort, type Started } from "./helpers";
import { requireProgram } from "./programs";

jest.setTimeout(60_000);

const LOOPBACK = "127.0.0.1";

/** Sends a CONNECT through the proxy; resolves with the proxy's status, and the tunnel's reply when it opened. */
function tunnel(proxyPort: number, target: string): Promise<{ status: number; reply?: string }> {
    return new Promise((resolve, reject) => {
        const req = request({ host: LOOPBACK, port: proxyPort, method: "CONNECT", path: target });
        req.once("connect", (res, socket) => {
            if (res.statusCode !== 200) {
                socket.destroy();
                resolve({ status: res.statusCode ?? 0 });
                return;
            }
            const tls = tlsConnect({ socket, servername: "localhost", rejectUnauthorized: false }, () => tls.write("ping\n"));
            tls.once("data", (d) => {
                resolve({ status: 200, reply: d.toString().trim() });
                tls.destroy();
            });
            tls.once("error", reject);
        });
        req.once("response", (res) => resolve({ status: res.statusCode ?? 0 }));
        req.once("error", reject);
        req.end();
    });
}

function plainGet(proxyPort: number, url: string): Promise<number> {
    return new Promise((resolve, reject) => {
        const req = request({ host: LOOPBACK, port: proxyPort, method: "GET", path: url });
        req.once("response", (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
        });
        req.once("error", reject);
        req.end();
    });
}

describe("push proxy (tinyproxy)", () => {
    let dir: string;
    let proxy: Started | undefined;
    let gateway: Server | undefined;
    let proxyPort: number;
    let gatewayPort: number;

    beforeAll(async () => {
        const tinyproxy = requireProgram("tinyproxy", "tinyproxy");
        const openssl = requireProgram("openssl", "openssl");
        dir = makeTempDir("redoubt-push-proxy-");
        selfSignedCert(openssl, { name: "localhost", days: 1, keyFile: join(dir, "key.pem"), certFile: join(dir, "cert.pem") });
        gatewayPort = await freePort();
        gateway = createTlsServer({ key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) }, (socket) => {
            socket.once("data", () => socket.end("pong\n"));
        });
        await new Promise<void>((resolve) => gateway!.listen(gatewayPort, LOOPBACK, resolve));
        proxyPort = await freePort();
        writeFileSync(join(dir, "filter"), renderPushFilter(["localhost"], [gatewayPort]));
        writeFileSync(
            join(dir, "tinyproxy.conf"),
            renderPushProxyConfig({ allowFrom: `${LOOPBACK}/32`, listen: LOOPBACK, port: proxyPort, filterFile: join(dir, "filter"), connectPorts: [gatewayPort] }),
        );
        proxy = start(tinyproxy, ["-d", "-c", join(dir, "tinyproxy.conf")]);
        await waitForPort(proxyPort, 10_000, proxy);
    });

    afterAll(async () => {
        await stop(proxy);
        await new Promise<void>((resolve) => (gateway ? gateway.close(() => resolve()) : resolve()));
        removeDir(dir);
    });

    it("opens an HTTPS tunnel to an allowed gateway, end to end", async () => {
        expect(await tunnel(proxyPort, `localhost:${gatewayPort}`)).toEqual({ status: 200, reply: "pong" });
    });

    it("refuses any other host, even the same address under another name", async () => {
        expect((await tunnel(proxyPort, `${LOOPBACK}:${gatewayPort}`)).status).toBe(403);
        expect((await tunnel(proxyPort, "push.evil.example:443")).status).toBe(403);
    });

    it("refuses another port of an allowed gateway", async () => {
        expect((await tunnel(proxyPort, "localhost:22")).status).toBe(403);
    });

    it("refuses plain HTTP, even to an allowed gateway", async () => {
        expect(await plainGet(proxyPort, `http://localhost:${gatewayPort}/_matrix/push/v1/notify`)).toBe(403);
    });

    it("logs nothing about the connections", async () => {
        await tunnel(proxyPort, `localhost:${gatewayPort}`);
        await tunnel(proxyPort, "push.evil.example:443");
        const output = proxy!.output();
        expect(output).not.toMatch(/127\.0\.0\.1|localhost|evil\.example|CONNECT/);
    });
});
