// The real Docker daemon the Docker stand-in's tests talk to, and what they
// need around it: a tiny busybox image (imported, no registry needed), a
// local registry (Debian's docker-registry) to pull from, and readers for the
// tar archives Docker returns. Nothing here is skipped: a missing daemon or
// program fails the tests with the command that provides it.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import Docker from "dockerode";
import { tarArchive } from "../../lib/live/docker";

export const DOCKER_SOCKET = process.env.REDOUBT_TEST_DOCKER_SOCKET ?? "/tmp/dockerd-test/docker.sock";

const HOW_TO_START = [
    `These tests need a Docker daemon listening on ${DOCKER_SOCKET} (set REDOUBT_TEST_DOCKER_SOCKET to use another socket).`,
    "On Debian (no systemd needed), as root:",
    "  apt-get install -y docker.io busybox-static docker-registry",
    "  mkdir -p /tmp/dockerd-test/data /tmp/dockerd-test/exec",
    "  dockerd --data-root /tmp/dockerd-test/data --exec-root /tmp/dockerd-test/exec \\",
    "    -H unix:///tmp/dockerd-test/docker.sock --pidfile /tmp/dockerd-test/pid >/tmp/dockerd-test/dockerd.log 2>&1 &",
].join("\n");

let started: ChildProcess | undefined;

/**
 * Starts a throwaway daemon on DOCKER_SOCKET when none answers there and this
 * machine has dockerd (Debian docker.io, as .ci/install-system-deps.sh
 * installs it); it is stopped when the test process exits.
 */
async function startDaemonIfMissing(): Promise<void> {
    if (existsSync(DOCKER_SOCKET) || process.env.REDOUBT_TEST_DOCKER_SOCKET || started) return;
    const dockerd = ["/usr/sbin/dockerd", "/usr/bin/dockerd"].find((p) => existsSync(p));
    if (!dockerd || process.getuid?.() !== 0) return;
    const root = "/tmp/dockerd-test";
    started = spawn(dockerd, ["--data-root", join(root, "data"), "--exec-root", join(root, "exec"), "-H", `unix://${DOCKER_SOCKET}`, "--pidfile", join(root, "pid")], {
        stdio: "ignore",
    });
    // Not holding the test process open; stopTestDaemon() stops it.
    started.unref();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !existsSync(DOCKER_SOCKET)) await new Promise((r) => setTimeout(r, 250));
}

/** Stops the daemon connectTestDaemon started, if it started one. */
export async function stopTestDaemon(): Promise<void> {
    const child = started;
    started = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    await exited;
}

/** The test daemon (started here when this machine can), or an error that says how to start it. */
export async function connectTestDaemon(): Promise<Docker> {
    await startDaemonIfMissing();
    if (!existsSync(DOCKER_SOCKET)) throw new Error(`No Docker socket at ${DOCKER_SOCKET}.\n${HOW_TO_START}`);
    const docker = new Docker({ socketPath: DOCKER_SOCKET });
    // A daemon just started takes a moment to answer on its new socket.
    const deadline = Date.now() + (started ? 30_000 : 0);
    for (;;) {
        try {
            await docker.ping();
            return docker;
        } catch (err) {
            if (Date.now() >= deadline)
                throw new Error(`The Docker daemon at ${DOCKER_SOCKET} does not answer (${err instanceof Error ? err.message : String(err)}).\n${HOW_TO_START}`, { cause: err });
            await new Promise((r) => setTimeout(r, 500));
        }
    }
}

async function drain(stream: NodeJS.ReadableStream): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    const text = Buffer.concat(chunks).toString("utf8");
    const error = text.split("\n").find((l) => l.includes('"error"'));
    if (error) throw new Error(`docker: ${error}`);
    return text;
}

/** Imports a one-layer image from a tar of files (`docker import`), unless the tag exists. */
export async function importImage(docker: Docker, tag: string, files: { name: string; content: Buffer; mode: number }[]): Promise<string> {
    try {
        return (await docker.getImage(tag).inspect()).Id;
    } catch {
        const [repo, version] = tag.split(/:(?=[^/]*$)/);
        await drain(await docker.importImage(Readable.from(tarArchive(files)), { repo, tag: version }));
        return (await docker.getImage(tag).inspect()).Id;
    }
}

export const BUSYBOX_IMAGE = "redoubt-live-unit/busybox:1";

/** A busybox-only image: /bin/busybox, run as `/bin/busybox <applet>`. */
export async function ensureBusyboxImage(docker: Docker): Promise<string> {
    const busybox = "/bin/busybox";
    if (!existsSync(busybox)) throw new Error(`No ${busybox} on this machine for the test image: apt-get install -y busybox-static`);
    return importImage(docker, BUSYBOX_IMAGE, [{ name: "bin/busybox", content: readFileSync(busybox), mode: 0o755 }]);
}

export interface TarEntry {
    name: string;
    mode: number;
    uid: number;
    gid: number;
    type: string;
    content: Buffer;
}

/** Reads a (ustar or PAX) tar archive as Docker's archive API returns it. */
export function readTar(archive: Buffer): TarEntry[] {
    const entries: TarEntry[] = [];
    let paxPath: string | undefined;
    for (let off = 0; off + 512 <= archive.length;) {
        const h = archive.subarray(off, off + 512);
        if (h.every((b) => b === 0)) break;
        const field = (start: number, len: number) =>
            h
                .subarray(start, start + len)
                .toString("utf8")
                .replace(/\0.*$/s, "");
        const num = (start: number, len: number) => parseInt(field(start, len).trim() || "0", 8);
        const size = num(124, 12);
        const type = field(156, 1) || "0";
        const content = archive.subarray(off + 512, off + 512 + size);
        off += 512 + Math.ceil(size / 512) * 512;
        if (type === "x") {
            const m = /\d+ path=([^\n]*)\n/.exec(content.toString("utf8"));
            paxPath = m?.[1];
            continue;
        }
        if (type === "g") continue;
        const prefix = field(345, 155);
        const name = paxPath ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
        paxPath = undefined;
        entries.push({ name, mode: num(100, 8), uid: num(108, 8), gid: num(116, 8), type, content: Buffer.from(content) });
    }
    return entries;
}

/** One file of a container's filesystem (its volumes included) through the archive API: works on a container that never ran. */
export async function readContainerFile(docker: Docker, id: string, path: string): Promise<TarEntry> {
    const stream = await docker.getContainer(id).getArchive({ path });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    const [entry] = readTar(Buffer.concat(chunks));
    if (!entry) throw new Error(`no ${path} in ${id}`);
    return entry;
}

async function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = createServer();
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const address = server.address();
            server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
        });
    });
}

export interface TestRegistry {
    /** host:port, e.g. 127.0.0.1:40123 (loopback registries are insecure-allowed by dockerd's defaults). */
    address: string;
    stop(): void;
}

/** A throwaway registry (Debian's docker-registry) on a loopback port; stopped by its pid. */
export async function startRegistry(): Promise<TestRegistry> {
    const binary = "/usr/bin/docker-registry";
    if (!existsSync(binary)) throw new Error(`No ${binary} for the remote-image tests: apt-get install -y docker-registry`);
    const dir = mkdtempSync(join(tmpdir(), "rdt-registry-"));
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    writeFileSync(
        join(dir, "config.yml"),
        [
            "version: 0.1",
            "log:",
            "  level: error",
            "storage:",
            "  filesystem:",
            `    rootdirectory: ${dir}/data`,
            "  delete:",
            "    enabled: true",
            "http:",
            `  addr: ${address}`,
            "",
        ].join("\n"),
    );
    const child: ChildProcess = spawn(binary, ["serve", join(dir, "config.yml")], { stdio: "ignore" });
    const stop = () => {
        if (child.pid && child.exitCode === null) process.kill(child.pid);
        rmSync(dir, { recursive: true, force: true });
    };
    for (let i = 0; i < 50; i++) {
        try {
            const res = await fetch(`http://${address}/v2/`);
            if (res.ok) return { address, stop };
        } catch {
            // not listening yet
        }
        await new Promise((r) => setTimeout(r, 100));
    }
    stop();
    throw new Error(`docker-registry did not come up on ${address}`);
}

/** Pushes a local tag and returns the manifest digest the registry reports. */
export async function pushImage(docker: Docker, tag: string): Promise<string> {
    const text = await drain(await docker.getImage(tag).push({ authconfig: {} }));
    const m = /"Digest":"(sha256:[0-9a-f]{64})"/.exec(text) ?? /digest: (sha256:[0-9a-f]{64})/.exec(text);
    if (!m) throw new Error(`no digest in the push output: ${text}`);
    return m[1];
}

/** Removes every container, network and volume whose name starts with `prefix`. */
export async function removeByPrefix(docker: Docker, prefix: string): Promise<void> {
    for (const c of await docker.listContainers({ all: true })) {
        if (c.Names.some((n) => n.replace(/^\//, "").startsWith(prefix))) await docker.getContainer(c.Id).remove({ force: true, v: true });
    }
    for (const n of await docker.listNetworks()) if (n.Name.startsWith(prefix)) await docker.getNetwork(n.Id).remove();
    const { Volumes } = await docker.listVolumes();
    for (const v of Volumes ?? []) if (v.Name.startsWith(prefix)) await docker.getVolume(v.Name).remove({ force: true });
}
