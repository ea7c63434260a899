// The tenant's TLS proxy: the rendered Caddy JSON run by the real Caddy in
// front of a stub homeserver, on loopback only.
import { createServer, IncomingMessage, Server } from "node:http";
import { request } from "node:https";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HSTS_VALUE, renderCaddyConfig } from "../../components/render/caddy";
import { onionKeysFromSeed } from "../../components/render/tor";
import { freePort, LOOPBACK, makeTempDir, selfSignedCert, removeDir, run, start, Started, stop, waitForPort } from "./helpers";
import { requireProgram } from "./programs";

// Real programs, some started and waited for: more than jest's default 5 s.
jest.setTimeout(120_000);

interface Tenant {
    name: string;
    hostname: string;
    clientUrl: string;
    dir: string;
    port: number;
    certFile: string;
    keyFile: string;
    configFile: string;
    caddy?: Started;
}

interface Response {
    status: number;
    headers: IncomingMessage["headers"];
    body: string;
}

/** GET over TLS to the tenant's name (SNI, verified); `host` is the Host header, the tenant's name by default. */
function get(t: Tenant, path: string, host: string = t.hostname): Promise<Response> {
    return new Promise((resolve, reject) => {
        const req = request(
            {
                host: LOOPBACK,
                port: t.port,
                path,
                servername: t.hostname,
                headers: { Host: host },
                ca: readFileSync(t.certFile),
                agent: false,
            },
            (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c: Buffer) => chunks.push(c));
                res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
            },
        );
        req.setTimeout(10_000, () => req.destroy(new Error("timeout")));
        req.on("error", reject);
        req.end();
    });
}

/** Every file below dir (recursively). */
function filesBelow(dir: string): string[] {
    const out: string[] = [];
    for (const entry of readdirSync(dir)) {
        const p = join(dir, entry);
        if (statSync(p).isDirectory()) out.push(...filesBelow(p));
        else out.push(p);
    }
    return out;
}

/** An openssl s_client handshake; the client is willing to speak every version (SECLEVEL=0). */
function handshake(openssl: string, port: number, servername: string, caFile: string, version?: string) {
    const r = run(
        openssl,
        [
            "s_client",
            "-connect",
            `${LOOPBACK}:${port}`,
            "-servername",
            servername,
            ...(version ? [`-${version}`] : []),
            // The client must be willing: at the default security level OpenSSL 3 refuses TLS 1.0/1.1 itself.
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
            "-CAfile",
            caFile,
            "-verify_return_error",
            "-brief",
        ],
        { input: "", timeout: 15_000 },
    );
    return { code: r.code, output: r.stdout + r.stderr };
}

describe("Caddy (tenant TLS proxy)", () => {
    let caddy: string;
    let openssl: string;
    let root: string;
    let stub: Server;
    let stubPort: number;
    const stubRequests: { url: string; host: string | undefined }[] = [];
    // A token only our requests carry: if it shows up in any output or file, something logged the request.
    const probe = randomBytes(8).toString("hex");
    const tenants: Tenant[] = [];

    function caddyEnv(dir: string): NodeJS.ProcessEnv {
        return {
            PATH: process.env.PATH,
            HOME: join(dir, "home"),
            XDG_DATA_HOME: join(dir, "xdg-data"),
            XDG_CONFIG_HOME: join(dir, "xdg-config"),
            XDG_CACHE_HOME: join(dir, "xdg-cache"),
            TMPDIR: join(dir, "tmp"),
        };
    }

    function makeTenant(name: string, hostname: string): Omit<Tenant, "port" | "configFile"> {
        const dir = join(root, name);
        for (const sub of ["home", "xdg-data", "xdg-config", "xdg-cache", "tmp", "storage"]) mkdirSync(join(dir, sub), { recursive: true });
        const certFile = join(dir, "tls.crt");
        const keyFile = join(dir, "tls.key");
        selfSignedCert(openssl, { name: hostname, days: 2, keyFile, certFile, san: true });
        return { name, hostname, clientUrl: `https://${hostname}`, dir, certFile, keyFile };
    }

    function validate(configFile: string, dir: string) {
        const r = run(caddy, ["validate", "--config", configFile], { env: caddyEnv(dir) });
        return { code: r.code, output: r.stdout + r.stderr };
    }

    beforeAll(async () => {
        caddy = requireProgram("caddy", "caddy");
        openssl = requireProgram("openssl", "openssl");
        root = makeTempDir("caddy");
        stub = createServer((req, res) => {
            stubRequests.push({ url: req.url ?? "", host: req.headers.host });
            res.setHeader("Content-Type", "application/json");
            res.end(JSON.stringify({ versions: ["v1.11"], stub: "homeserver" }));
        });
        await new Promise<void>((r) => stub.listen(0, LOOPBACK, r));
        stubPort = (stub.address() as { port: number }).port;

        const onion = onionKeysFromSeed(Buffer.alloc(32, 9).toString("base64")).hostname;
        // The public tenant publishes support contacts; the tor tenant does not (the default). The tor tenant's
        // proxy is rendered as TenantCell renders it: no names and no client URL (its onion service is the only
        // way in, and the onion name is unknown until the tenant exists).
        for (const [name, hostname, support, named] of [
            ["public", "t1.test", { email: "help@t1.test", page: "https://t1.test/help?lang=en" }, true],
            ["tor", onion, undefined, false],
        ] as const) {
            const base = makeTenant(name, hostname);
            const port = await freePort();
            const config = renderCaddyConfig({
                hostnames: named ? [hostname] : undefined,
                upstream: `${LOOPBACK}:${stubPort}`,
                clientUrl: named ? base.clientUrl : undefined,
                tls: { kind: "files", certFile: base.certFile, keyFile: base.keyFile },
                listen: `${LOOPBACK}:${port}`,
                storagePath: join(base.dir, "storage"),
                support,
            });
            const configFile = join(base.dir, "caddy.json");
            writeFileSync(configFile, JSON.stringify(config, null, 2));
            tenants.push({ ...base, port, configFile });
        }
        for (const t of tenants) {
            const v = validate(t.configFile, t.dir);
            if (v.code !== 0) throw new Error(`caddy validate rejected the ${t.name} config:\n${v.output}`);
            t.caddy = start(caddy, ["run", "--config", t.configFile], { env: caddyEnv(t.dir), cwd: t.dir });
        }
        for (const t of tenants) await waitForPort(t.port, 15_000, t.caddy);
    }, 60_000);

    afterAll(async () => {
        for (const t of tenants) await stop(t.caddy);
        await new Promise<void>((r) => (stub ? stub.close(() => r()) : r()));
        removeDir(root);
    });

    test("caddy validate accepts the ACME variant (public tenants), with TLS-ALPN on the listen port and no HTTP challenge", () => {
        const dir = join(root, "acme");
        for (const sub of ["home", "xdg-data", "xdg-config", "xdg-cache", "tmp", "storage"]) mkdirSync(join(dir, sub), { recursive: true });
        const config = renderCaddyConfig({
            hostnames: ["t1.test"],
            upstream: `${LOOPBACK}:${stubPort}`,
            clientUrl: "https://t1.test",
            tls: { kind: "acme", email: "ops@t1.test" },
            listen: `${LOOPBACK}:8443`,
            storagePath: join(dir, "storage"),
        });
        const configFile = join(dir, "caddy.json");
        writeFileSync(configFile, JSON.stringify(config, null, 2));
        expect(validate(configFile, dir)).toMatchObject({ code: 0 });
        // The default listen address validates too (what production runs).
        writeFileSync(
            configFile,
            JSON.stringify(
                renderCaddyConfig({
                    ...{ hostnames: ["t1.test"], upstream: "homeserver:8008", clientUrl: "https://t1.test" },
                    tls: { kind: "acme", email: "ops@t1.test" },
                    storagePath: join(dir, "storage"),
                }),
            ),
        );
        expect(validate(configFile, dir)).toMatchObject({ code: 0 });
    });

    test("caddy validate rejects a broken config (the check can fail)", () => {
        const t = tenants[0];
        const broken = JSON.parse(readFileSync(t.configFile, "utf8"));
        // (Caddy's JSON accepts protocol_min "tls1.1": only the handshake tests below can show the minimum.)
        broken.apps.http.servers.tenant.routes[0].handle[0].handler = "no_such_handler";
        const file = join(t.dir, "broken.json");
        writeFileSync(file, JSON.stringify(broken));
        expect(validate(file, t.dir).code).not.toBe(0);
    });

    test("control: the TLS 1.0/1.1 client used below does complete a handshake with a server that allows it", async () => {
        // Without this, a refused TLS 1.1 handshake could be the client's own doing.
        const t = tenants[0];
        const port = await freePort();
        const server = start(openssl, [
            "s_server",
            "-accept",
            `${LOOPBACK}:${port}`,
            "-cert",
            t.certFile,
            "-key",
            t.keyFile,
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
            "-naccept",
            "4",
            "-quiet",
        ]);
        try {
            await waitForPort(port, 10_000, server);
            for (const [version, label] of [
                ["tls1", "TLSv1"],
                ["tls1_1", "TLSv1.1"],
            ]) {
                const r = handshake(openssl, port, t.hostname, t.certFile, version);
                expect(r).toMatchObject({ code: 0 });
                expect(r.output).toContain(`Protocol version: ${label}\n`);
            }
        } finally {
            await stop(server);
        }
    });

    describe.each(["public", "tor"])("%s tenant (certificate files)", (name) => {
        const tenant = () => tenants.find((t) => t.name === name)!;

        const hs = (version?: string, servername?: string) => handshake(openssl, tenant().port, servername ?? tenant().hostname, tenant().certFile, version);

        test.each(["tls1", "tls1_1"])("a %s handshake is refused by the server", (version) => {
            const r = hs(version);
            expect(r.code).not.toBe(0);
            expect(r.output).not.toContain("CONNECTION ESTABLISHED");
            // The refusal is the server's (an alert it sent), not the client's own policy.
            expect(r.output).toMatch(/alert protocol version|alert handshake failure/i);
        });

        test.each([
            ["tls1_2", "TLSv1.2"],
            ["tls1_3", "TLSv1.3"],
        ])("a %s handshake succeeds with the tenant's certificate", (version, label) => {
            const r = hs(version);
            expect(r).toMatchObject({ code: 0 });
            expect(r.output).toContain(`Protocol version: ${label}`);
            expect(r.output).toMatch(/Verification: OK/);
        });

        if (name === "public") {
            test("an SNI name that is not the tenant's gets no certificate", () => {
                const r = hs("tls1_3", "other.test");
                expect(r.code).not.toBe(0);
                expect(r.output).not.toContain("CONNECTION ESTABLISHED");
            });
        } else {
            test("any SNI name gets the tenant's one certificate (the onion service is the only way in)", () => {
                const r = hs("tls1_3", "other.test");
                expect(r).toMatchObject({ code: 0 });
                expect(r.output).toContain("CONNECTION ESTABLISHED");
            });

            test("/.well-known/matrix/client sends the client to the name it asked for", async () => {
                const t = tenant();
                const r = await get(t, "/.well-known/matrix/client", "other.onion");
                expect(JSON.parse(r.body)).toEqual({ "m.homeserver": { base_url: "https://other.onion" } });
            });
        }

        test("a client offering every version gets TLS 1.3 (preferred)", () => {
            const r = hs();
            expect(r).toMatchObject({ code: 0 });
            expect(r.output).toContain("Protocol version: TLSv1.3");
        });

        test("/.well-known/matrix/client says where the homeserver is, with HSTS", async () => {
            const t = tenant();
            const r = await get(t, `/.well-known/matrix/client?probe=${probe}`);
            expect(r.status).toBe(200);
            expect(r.headers["strict-transport-security"]).toBe(HSTS_VALUE);
            expect(r.headers["content-type"]).toBe("application/json");
            expect(JSON.parse(r.body)).toEqual({ "m.homeserver": { base_url: t.clientUrl } });
        });

        test("/_matrix/client/versions reaches the homeserver, with HSTS", async () => {
            const t = tenant();
            const before = stubRequests.length;
            const r = await get(t, `/_matrix/client/versions?probe=${probe}`);
            expect(r.status).toBe(200);
            expect(r.headers["strict-transport-security"]).toBe(HSTS_VALUE);
            expect(JSON.parse(r.body)).toEqual({ versions: ["v1.11"], stub: "homeserver" });
            expect(stubRequests.slice(before)).toEqual([{ url: `/_matrix/client/versions?probe=${probe}`, host: t.hostname }]);
        });

        test("media reaches the homeserver too (clients fetch thumbnails there)", async () => {
            const t = tenant();
            const before = stubRequests.length;
            expect((await get(t, `/_matrix/media/v3/config?probe=${probe}`)).status).toBe(200);
            expect(stubRequests.slice(before).map((r) => r.url)).toEqual([`/_matrix/media/v3/config?probe=${probe}`]);
        });

        test.each([
            "/admin",
            // The server's software and version, and federation itself.
            "/_matrix/federation/v1/version",
            "/_matrix/key/v2/server",
            // Tuwunel's own endpoints: server version, local user count.
            "/_tuwunel/server_version",
            "/_tuwunel/local_user_count",
            "/_conduwuit/server_version",
        ])("%s is a 404 that never reaches the homeserver, still with HSTS", async (path) => {
            const t = tenant();
            const before = stubRequests.length;
            const r = await get(t, `${path}?probe=${probe}`);
            expect(r.status).toBe(404);
            expect(r.headers["strict-transport-security"]).toBe(HSTS_VALUE);
            expect(stubRequests.length).toBe(before);
        });
    });

    test("/.well-known/matrix/support answers with the tenant's contacts (MSC1929) when it publishes them, with HSTS", async () => {
        const t = tenants.find((x) => x.name === "public")!;
        const before = stubRequests.length;
        const r = await get(t, `/.well-known/matrix/support?probe=${probe}`);
        expect(r.status).toBe(200);
        expect(r.headers["strict-transport-security"]).toBe(HSTS_VALUE);
        expect(r.headers["content-type"]).toBe("application/json");
        expect(r.headers["access-control-allow-origin"]).toBe("*");
        expect(JSON.parse(r.body)).toEqual({
            contacts: [{ role: "m.role.admin", email_address: "help@t1.test" }],
            support_page: "https://t1.test/help?lang=en",
        });
        expect(stubRequests.length).toBe(before);
    });

    test("/.well-known/matrix/support is a 404 for a tenant that publishes none, still with HSTS, never reaching the homeserver", async () => {
        const t = tenants.find((x) => x.name === "tor")!;
        const before = stubRequests.length;
        const r = await get(t, `/.well-known/matrix/support?probe=${probe}`);
        expect(r.status).toBe(404);
        expect(r.headers["strict-transport-security"]).toBe(HSTS_VALUE);
        expect(r.body).not.toMatch(/contacts|support_page|m\.role/);
        expect(stubRequests.length).toBe(before);
    });

    test("no access log: nothing Caddy printed or wrote mentions a request", async () => {
        // Make sure at least one request per tenant happened in this test too.
        for (const t of tenants) expect((await get(t, `/_matrix/client/versions?probe=${probe}`)).status).toBe(200);
        for (const t of tenants) await stop(t.caddy);
        for (const t of tenants) {
            const output = t.caddy!.output();
            expect(output).not.toContain(probe);
            expect(output).not.toMatch(/http\.log\.access|"remote_ip"|"remote_addr"|"uri"|_matrix|well-known/);
            // No file anywhere Caddy could write (HOME, XDG dirs, storage, working dir) holds a request.
            for (const file of filesBelow(t.dir)) {
                expect(file).not.toMatch(/\.log$|access/);
                const content = readFileSync(file, "utf8");
                if (file.endsWith("caddy.json") || file.endsWith("broken.json")) continue; // our own configs
                expect({ file, mentionsRequest: content.includes(probe) || /"remote_ip"|_matrix\/client\/versions/.test(content) }).toEqual({ file, mentionsRequest: false });
            }
        }
    });
});
