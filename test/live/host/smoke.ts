// Smoke test of the live host VM, end to end:
//   npx ts-node --transpile-only test/live/host/smoke.ts
// Builds (or reuses) the golden image, boots a throwaway VM, pulls every
// catalog image by digest and runs each once, exercises the Storage Box
// stand-ins (sftp, restic from a container), the local ACME CA (a real
// TLS-ALPN-01 issuance through port 443), the internet stand-in, a reboot,
// and stop(). Prints timings at the end; exits non-zero on the first failure.
import * as fs from "node:fs";
import * as tls from "node:tls";
import YAML from "yaml";
import { renderTuwunelConfig } from "../../../components/render/tuwunel";
import { ROLES, bootHost, ensureHostImage, type LiveHost, type Role } from "./index";

const started = Date.now();
const timings: [string, number][] = [];
const stamp = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}]`;
const log = (line: string) => console.log(`${stamp()} ${line}`);

async function step<T>(name: string, body: () => Promise<T>): Promise<T> {
    log(`== ${name}`);
    const t = Date.now();
    const result = await body();
    const seconds = (Date.now() - t) / 1000;
    timings.push([name, seconds]);
    log(`   ${name}: ${seconds.toFixed(1)} s`);
    return result;
}

function expect(condition: boolean, message: string): void {
    if (!condition) throw new Error(`smoke: ${message}`);
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

async function main(): Promise<void> {
    const image = await step("ensureHostImage (cold build or cache)", () => ensureHostImage(log));
    await step("ensureHostImage again (warm cache)", () => ensureHostImage(log));
    const catalog = YAML.parse(fs.readFileSync(image.catalogFile, "utf8")) as Record<Role, { repository: string; tag: string; digest: string; verified: boolean }>;
    expect(JSON.stringify(Object.keys(catalog).sort()) === JSON.stringify([...ROLES].sort()), `catalog roles ${Object.keys(catalog)}`);
    // As the stacks pull: repository:tag@digest (components/images.ts pinnedReference).
    const ref = (role: Role) => `${catalog[role].repository}:${catalog[role].tag}@${catalog[role].digest}`;

    const host = await step("bootHost", () => bootHost(image, { log }));
    try {
        await checks(host, ref);
    } catch (err) {
        console.error(`--- console (last 60 lines) ---\n${host.consoleLog().split("\n").slice(-60).join("\n")}`);
        throw err;
    } finally {
        await step("stop", () => host.stop());
    }
    expect(!fs.existsSync(`${host.workDir}/run.qcow2`), "stop() left the overlay");

    console.log("\nTimings:");
    for (const [name, seconds] of timings) console.log(`  ${seconds.toFixed(1).padStart(7)} s  ${name}`);
    console.log(`  ${((Date.now() - started) / 1000).toFixed(1).padStart(7)} s  total`);
    console.log("\nsmoke: OK");
}

async function checks(host: LiveHost, ref: (role: Role) => string): Promise<void> {
    await step("docker version", async () => {
        console.log((await host.run("docker version")).trim());
        const images = (await host.run("docker image ls -q")).trim();
        expect(images === "", `the VM's image store should start empty, has: ${images}`);
    });

    await step("pull every image by digest", async () => {
        for (const role of ROLES) {
            const t = Date.now();
            await host.run(`docker pull -q ${ref(role)}`, { timeoutMs: 600_000 });
            log(`   pulled ${role} in ${((Date.now() - t) / 1000).toFixed(1)} s: ${ref(role)}`);
        }
    });

    await step("each image runs (read-only root, non-root uid)", async () => {
        const ro = "docker run --rm --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges --user 100001:100001";
        const runs: [Role, string][] = [
            ["homeserver", `${ro} ${ref("homeserver")} --version`],
            ["proxy", `${ro} ${ref("proxy")} caddy version`],
            ["edge", `${ro} ${ref("edge")} haproxy -v`],
            ["backupAgent", `${ro} ${ref("backupAgent")} version`],
            ["tor", `${ro} ${ref("tor")} tor --version`],
            ["pushProxy", `${ro} ${ref("pushProxy")} tinyproxy -v`],
            ["wireguard", `docker run --rm --read-only --cap-drop ALL --cap-add NET_ADMIN ${ref("wireguard")} sh -c 'wg --version && command -v wg-quick && ip -V && iptables -V'`],
        ];
        for (const [role, command] of runs) {
            const r = await host.exec(command, { timeoutMs: 300_000 });
            expect(r.code === 0, `${role}: ${command}: exit ${r.code}: ${r.stderr}`);
            log(`   ${role}: ${(r.stdout + r.stderr).trim().split("\n").join(" | ").slice(0, 160)}`);
        }
    });

    await step("homeserver stand-in: config, health check, backup, stop", async () => {
        // Our config leaves the well-known to the proxy; the smoke test still asks the stand-in for it.
        const config = `${renderTuwunelConfig({ serverName: "smoke.test", logLevel: "warn", registration: "token", mediaRetentionDays: 30, registrationTerms: { privacy_policy: { name: "Privacy policy", version: "1.0", url: "https://smoke.test/privacy" } } })}\n[global.well_known]\nclient = "https://smoke.test"\n`;
        await host.run(
            "set -e; rm -rf /srv/smoke-hs; mkdir -p /srv/smoke-hs/etc /srv/smoke-hs/data; cat > /srv/smoke-hs/etc/tuwunel.toml; " +
                "echo smoke-token > /srv/smoke-hs/etc/registration_token; chown -R 100001:100001 /srv/smoke-hs/data; chmod 0444 /srv/smoke-hs/etc/*",
            { stdin: config },
        );
        await host.run(
            `docker run -d --name smoke-hs --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges --user 100001:100001 ` +
                `-v /srv/smoke-hs/etc:/etc/tuwunel:ro -v /srv/smoke-hs/data:/var/lib/tuwunel -e TUWUNEL_CONFIG=/etc/tuwunel/tuwunel.toml ` +
                `-p 10.0.2.15:18008:8008 ${ref("homeserver")}`,
        );
        let healthy = false;
        for (let i = 0; i < 60 && !healthy; i++) {
            healthy = (await host.exec("docker exec smoke-hs tuwunel --health-check")).code === 0;
            if (!healthy) await new Promise((r) => setTimeout(r, 1000));
        }
        expect(healthy, `tuwunel --health-check never passed: ${(await host.exec("docker logs smoke-hs")).stdout}`);
        const versions = await host.run("curl -fsS http://10.0.2.15:18008/_matrix/client/versions");
        expect(versions.includes('"versions"'), `versions: ${versions}`);
        // A forward added at run time (qemu's hostfwd_add), from this machine.
        const port = await host.forward("tcp", 18008);
        const wellKnown = await (await fetch(`http://127.0.0.1:${port}/.well-known/matrix/client`)).text();
        expect(wellKnown.includes("https://smoke.test"), `well-known through 127.0.0.1:${port}: ${wellKnown}`);
        log(`   through the run-time forward 127.0.0.1:${port}: ${wellKnown.trim()}`);
        const unknown = await host.exec("curl -sS http://10.0.2.15:18008/_matrix/client/v3/login");
        expect(unknown.stdout.includes("M_UNRECOGNIZED"), `unknown path: ${unknown.stdout}`);
        await host.run("docker kill -s USR2 smoke-hs");
        let meta = "";
        for (let i = 0; i < 20 && !meta; i++) {
            meta = (await host.exec("stat -c %Y /srv/smoke-hs/data/backups/meta 2>/dev/null")).stdout.trim();
            if (!meta) await new Promise((r) => setTimeout(r, 500));
        }
        expect(meta !== "", "SIGUSR2 made no backup");
        log(`   backup: ${(await host.run("ls /srv/smoke-hs/data/backups/meta /srv/smoke-hs/data/backups/private")).trim().split("\n").join(" ")}`);
        await host.run("docker stop -t 20 smoke-hs");
        const exit = (await host.run("docker inspect -f '{{.State.ExitCode}}' smoke-hs")).trim();
        const logs = await host.run("docker logs smoke-hs 2>&1");
        expect(exit === "0", `stand-in exit code ${exit}: ${logs}`);
        expect(/STAND-IN/.test(logs), "the stand-in did not say it is one");
        expect(!/172\.17\.|10\.0\.2\.|127\.0\.0\.1|GET \//.test(logs), `the stand-in logged an address or a request line: ${logs}`);
        // Unknown keys are fatal with error_on_unknown_config_opts = true.
        await host.run("sed -i 's/^allow_federation = false/allow_federashun = false/' /srv/smoke-hs/etc/tuwunel.toml");
        const bad = await host.exec(
            `docker run --rm --read-only --user 100001:100001 -v /srv/smoke-hs/etc:/etc/tuwunel:ro -v /srv/smoke-hs/data:/var/lib/tuwunel ${ref("homeserver")} -c /etc/tuwunel/tuwunel.toml`,
        );
        expect(bad.code !== 0 && /allow_federashun/.test(bad.stdout + bad.stderr), `an unknown key must stop start-up: ${bad.stdout}${bad.stderr}`);
        await host.run("docker rm smoke-hs && rm -rf /srv/smoke-hs");
    });

    await step("Storage Box stand-ins: sshd on port 23, sftp, restic from a container", async () => {
        for (const [site, s] of Object.entries(host.sites)) {
            const scanned = (await host.run(`ssh-keyscan -t ed25519 -p ${s.port} ${s.address} 2>/dev/null`)).trim();
            expect(scanned.includes(s.hostKey), `${site}: ssh-keyscan shows ${scanned}, exported ${s.hostKey}`);
            log(`   ${site}: sshd on ${s.address}:${s.port} answers with the exported host key`);
        }
        const hel = host.sites.helsinki;
        const fsn = host.sites.falkenstein;
        await host.run(
            "set -e; rm -rf /srv/smoke-box; mkdir -p /srv/smoke-box; ssh-keygen -q -t ed25519 -N '' -f /srv/smoke-box/key; " +
                `printf '%s %s\\n' '[${hel.address}]:23 ${hel.hostKey}' '[${fsn.address}]:23 ${fsn.hostKey}' | sed 's/^\\(\\S*\\) \\(.*\\)$/\\1 \\2/' > /srv/smoke-box/known_hosts; ` +
                "redoubt-site-box add helsinki smoke-u1 < /srv/smoke-box/key.pub",
        );
        const sftp = (address: string, batch: string) =>
            host.exec(`sftp -b - -i /srv/smoke-box/key -P 23 -o UserKnownHostsFile=/srv/smoke-box/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes smoke-u1@${address}`, {
                stdin: batch,
            });
        const ok = await sftp(hel.address, "mkdir redoubt\nls\npwd\n");
        expect(ok.code === 0 && ok.stdout.includes("redoubt"), `sftp to helsinki: ${ok.stdout}${ok.stderr}`);
        log(`   helsinki sftp: ${ok.stdout.trim().split("\n").join(" | ")}`);
        const other = await sftp(fsn.address, "ls\n");
        expect(other.code !== 0, "a helsinki box must not log in at falkenstein");
        const shell = await host.exec(`ssh -i /srv/smoke-box/key -p 23 -o UserKnownHostsFile=/srv/smoke-box/known_hosts -o BatchMode=yes smoke-u1@${hel.address} id`);
        expect(!shell.stdout.includes("uid="), "a box must not run commands");
        // restic in the backup agent image, as an unlisted uid with a passwd entry only by bind mount.
        await host.run(
            "set -e; cd /srv/smoke-box; echo 'agent:x:100002:100002::/tmp:/usr/sbin/nologin' > passwd; cp key id; chown 100002 id; chmod 0400 id; " +
                "chown 100002 known_hosts; echo smoke-data > data.txt",
        );
        const sshCommand = `ssh -p 23 -i /box/id -o IdentitiesOnly=yes -o UserKnownHostsFile=/box/known_hosts -o StrictHostKeyChecking=yes smoke-u1@${hel.address} -s sftp`;
        const restic = await host.exec(
            `docker run --rm --read-only --tmpfs /tmp --cap-drop ALL --user 100002:100002 -v /srv/smoke-box/passwd:/etc/passwd:ro -v /srv/smoke-box:/box:ro ` +
                `-e RESTIC_PASSWORD=smoke -e RESTIC_CACHE_DIR=/tmp/cache --entrypoint /bin/sh ${ref("backupAgent")} -c ` +
                q(
                    `restic -r sftp:smoke-u1@${hel.address}:redoubt/repo -o sftp.command=${q(sshCommand)} init && restic -r sftp:smoke-u1@${hel.address}:redoubt/repo -o sftp.command=${q(sshCommand)} --host redoubt backup /box/data.txt`,
                ),
            { timeoutMs: 300_000 },
        );
        expect(restic.code === 0, `restic over sftp: ${restic.stdout}${restic.stderr}`);
        const repo = await host.run("ls /srv/redoubt-sites/helsinki/smoke-u1/home/redoubt/repo");
        expect(repo.includes("config") && repo.includes("snapshots"), `restic repository: ${repo}`);
        log(`   restic wrote a repository into the helsinki box: ${repo.trim().split("\n").join(" ")}`);
        await host.run("redoubt-site-box remove helsinki smoke-u1 && redoubt-site-box remove helsinki smoke-u1 && rm -rf /srv/smoke-box");
        expect(!(await host.run("ls /srv/redoubt-sites/helsinki")).includes("smoke-u1"), "remove left the box");
    });

    await step("pebble: directory with the exported CA, TLS-ALPN-01 issuance through :443", async () => {
        await host.run("cat > /root/acme-ca.pem", { stdin: host.acmeCaCertificate });
        const dir = await host.run(`curl -fsS --cacert /root/acme-ca.pem ${host.acmeDirectory}`);
        expect(dir.includes("newAccount"), `directory: ${dir}`);
        // From a container on a Docker bridge network, through the host.
        const fromContainer = await host.exec(
            `docker run --rm -v /root/acme-ca.pem:/ca.pem:ro --entrypoint python3 ${ref("homeserver")} -c ` +
                q(
                    `import ssl, urllib.request; print(urllib.request.urlopen("${host.acmeDirectory}", context=ssl.create_default_context(cafile="/ca.pem")).read().decode()[:4000])`,
                ),
        );
        expect(fromContainer.code === 0 && fromContainer.stdout.includes("newAccount"), `directory from a container: ${fromContainer.stdout}${fromContainer.stderr}`);
        // A real issuance: caddy on 10.0.2.15:443, pebble validating TLS-ALPN-01 through /etc/hosts.
        const caddyfile = [
            "{",
            "    admin off",
            "}",
            "smoke.test {",
            "    tls {",
            "        issuer acme {",
            `            dir ${host.acmeDirectory}`,
            "            trusted_roots /etc/caddy/acme-ca.pem",
            "            disable_http_challenge",
            "        }",
            "    }",
            '    respond "smoke ok"',
            "}",
        ].join("\n");
        await host.run("mkdir -p /srv/smoke-caddy && cp /root/acme-ca.pem /srv/smoke-caddy/ && cat > /srv/smoke-caddy/Caddyfile", { stdin: caddyfile });
        await host.run("grep -q ' smoke.test$' /etc/hosts || echo '10.0.2.15 smoke.test' >> /etc/hosts");
        await host.run(`docker run -d --name smoke-caddy -p 10.0.2.15:443:443 -v /srv/smoke-caddy:/etc/caddy:ro ${ref("proxy")}`);
        let served = "";
        for (let i = 0; i < 90 && !served.includes("smoke ok"); i++) {
            await new Promise((r) => setTimeout(r, 2000));
            served = (await host.exec("curl -sS --resolve smoke.test:443:10.0.2.15 -k https://smoke.test/")).stdout;
        }
        const caddyLogs = (await host.exec("docker logs smoke-caddy 2>&1 | tail -n 20")).stdout;
        expect(served.includes("smoke ok"), `caddy did not get a certificate from pebble:\n${caddyLogs}`);
        // The same certificate, seen from this machine through the edge forward.
        const issuer = await new Promise<string>((resolve, reject) => {
            const socket = tls.connect({ host: "127.0.0.1", port: host.edgePort, servername: "smoke.test", rejectUnauthorized: false }, () => {
                const cert = socket.getPeerCertificate();
                socket.end();
                resolve(`${cert.subjectaltname} issued by ${cert.issuer?.CN}`);
            });
            socket.on("error", reject);
        });
        expect(/smoke\.test/.test(issuer) && /Pebble/i.test(issuer), `certificate through the edge port: ${issuer}`);
        log(`   through 127.0.0.1:${host.edgePort}: ${issuer}`);
        await host.run("docker rm -f smoke-caddy && rm -rf /srv/smoke-caddy && sed -i '/ smoke.test$/d' /etc/hosts");
    });

    await step("internet stand-in: reachable from a bridge network, not from an internal one", async () => {
        const probe = q(
            `import socket; s = socket.create_connection(("${host.internetProbe.address}", ${host.internetProbe.port}), timeout=5); s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n"); print(s.makefile("rb").read().decode().splitlines()[-1])`,
        );
        const open = await host.exec(`docker run --rm --entrypoint python3 ${ref("homeserver")} -c ${probe}`);
        expect(open.code === 0 && open.stdout.includes("internet stand-in"), `egress probe: ${open.stdout}${open.stderr}`);
        await host.run("docker network create --internal smoke-internal >/dev/null");
        const closed = await host.exec(`docker run --rm --network smoke-internal --entrypoint python3 ${ref("homeserver")} -c ${probe}`);
        await host.run("docker network rm smoke-internal >/dev/null");
        expect(closed.code !== 0, "a container on an internal network reached the internet stand-in");
        log(`   bridge: "${open.stdout.trim()}"; internal network: refused (${closed.stderr.trim().split("\n").pop()})`);
    });

    await step("reboot", () => host.reboot());
    await step("after reboot: images still there, registry answers", async () => {
        const images = (await host.run("docker image ls --digests --format '{{.Repository}}@{{.Digest}}'")).trim().split("\n");
        expect(images.length >= ROLES.length, `images after reboot: ${images}`);
        await host.run(`docker run --rm --read-only --user 100001:100001 ${ref("homeserver")} --version`);
    });
}

main().catch((err: Error) => {
    console.error(`${stamp()} smoke FAILED: ${err.stack ?? err}`);
    process.exit(1);
});
