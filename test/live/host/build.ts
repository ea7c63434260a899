// The live host's golden image: built once per set of inputs, cached under
// ${REDOUBT_LIVE_CACHE:-~/.cache/redoubt-live}/<key>/, where <key> hashes
// every input (this file, everything under image/: the build script, the
// package lists and the Debian suite, the guest's files, the Tuwunel
// stand-in). A build happens in a temporary directory next to the cache
// entries and is renamed into place only when complete, so an interrupted
// build never leaves a half cache entry.
//
// Steps (about 4 minutes cold on 2 cores; see README.md):
//  1. image/build-rootfs.sh trees: two mmdebstraps at once (the VM, the
//     containers' shared root), then the VM's configuration (keys, pebble's
//     certificate, the Storage Box sftp servers, the stand-in units).
//  2. Here: the container root as one image layer, pushed once per role with
//     its own image config (so its own manifest digest) into the VM's own
//     registry storage, by Debian's registry binary run in the VM's tree with
//     the registry API. Nothing is pushed from inside the emulated VM: the
//     layer's compression alone would take minutes there.
//  3. build-rootfs.sh disk: kernel, initramfs, raw ext4 disk image (mkfs -d).
//  4. One boot of the golden disk (through an overlay, snap.qcow2), until
//     everything answers (first-boot work done once, and a broken image fails
//     here, not in a test); then the running VM's state is saved (`state`),
//     so that a test resumes it in seconds instead of booting for minutes.
import { spawn, spawnSync, type SpawnOptions } from "node:child_process";
import { createHash, type Hash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import * as zlib from "node:zlib";
import YAML from "yaml";
import { connectWhenUp, waitReady } from "./guest";
import { QemuVm, SNAPSHOT_SHAPE, freePort, isAlive, qemuVersion, sleep } from "./vm";

/** Bump when the cache entry's layout changes without any input file changing. */
const CACHE_FORMAT = 1;

export const IMAGE_SOURCE_DIR = path.join(__dirname, "image");
const BUILD_SCRIPT = path.join(IMAGE_SOURCE_DIR, "build-rootfs.sh");

export const ROLES = ["homeserver", "proxy", "backupAgent", "edge", "tor", "wireguard", "pushProxy"] as const;
export type Role = (typeof ROLES)[number];

export const REGISTRY = "127.0.0.1:5000";
export const REPOSITORY_PREFIX = `${REGISTRY}/redoubt-live`;
export const IMAGE_TAG = "live";

/** The role's repository in the VM's registry: redoubt-live/<role in kebab case>. */
export function repositoryName(role: Role): string {
    return `redoubt-live/${role.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/** What a finished cache entry describes about itself (image.json). */
export interface ImageManifest {
    format: number;
    key: string;
    suite: string;
    builtAt: string;
    sshHostKey: string;
    sites: Record<"helsinki" | "falkenstein", { address: string; port: number; hostKey: string }>;
    images: Record<Role, { repository: string; tag: string; digest: string; verified: true }>;
    /** The saved running VM (files relative to the entry) and what it needs to resume. */
    snapshot: { state: string; overlay: string; qemuVersion: string; cpus: number; memoryMiB: number };
    timings: Record<string, number>;
}

export function cacheRoot(): string {
    return process.env.REDOUBT_LIVE_CACHE || path.join(os.homedir(), ".cache", "redoubt-live");
}

function listFiles(dir: string): string[] {
    const out: string[] = [];
    for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) out.push(...listFiles(full));
        else if (entry.isFile()) out.push(full);
    }
    return out;
}

/** The Debian suite the image is built from (image/packages.sh). */
export function imageSuite(): string {
    const match = /^SUITE=(\S+)/m.exec(fs.readFileSync(path.join(IMAGE_SOURCE_DIR, "packages.sh"), "utf8"));
    if (!match) throw new Error("image/packages.sh sets no SUITE");
    return match[1];
}

/** The cache key: a hash of every input of the image (and of the qemu whose saved VM state it holds). */
export function imageKey(): string {
    const hash = createHash("sha256");
    hash.update(`redoubt-live-host format ${CACHE_FORMAT}\nsuite ${imageSuite()}\n${qemuVersion()}\n`);
    for (const file of [__filename.replace(/\.js$/, ".ts"), ...listFiles(IMAGE_SOURCE_DIR)]) {
        const stat = fs.statSync(file);
        hash.update(`${path.relative(__dirname, file)} ${stat.mode & 0o111 ? "x" : "-"} ${stat.size}\n`);
        hash.update(fs.readFileSync(file));
    }
    return hash.digest("hex").slice(0, 20);
}

type Log = (line: string) => void;

/** Runs a command as root (directly, or through passwordless sudo), streaming its output to log. */
function asRoot(command: string, args: string[]): [string, string[]] {
    return process.getuid?.() === 0 ? [command, args] : ["sudo", ["-n", "--preserve-env=REDOUBT_LIVE_MIRROR,REDOUBT_LIVE_DISK_SIZE", command, ...args]];
}

function run(command: string, args: string[], log: Log, options: SpawnOptions = {}): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn(command, args, { ...options, stdio: ["ignore", "pipe", "pipe"] });
        let tail = "";
        const onData = (chunk: Buffer) => {
            const text = chunk.toString("utf8");
            tail = (tail + text).slice(-4000);
            for (const line of text.split("\n")) if (line.trim()) log(`  ${line}`);
        };
        child.stdout?.on("data", onData);
        child.stderr?.on("data", onData);
        child.on("error", (err) => reject(new Error(`${command}: ${err.message}`)));
        child.on("close", (code) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited ${code}\n${tail}`))));
    });
}

function tap(hash: Hash, counter?: { bytes: number }): Transform {
    return new Transform({
        transform(chunk: Buffer, _encoding, callback) {
            hash.update(chunk);
            if (counter) counter.bytes += chunk.length;
            callback(null, chunk);
        },
    });
}

interface Layer {
    file: string;
    diffId: string;
    digest: string;
    size: number;
}

/** The container root as one gzip-compressed image layer (as `docker import` would make it). */
async function makeLayer(root: string, file: string): Promise<Layer> {
    const entries = fs.readdirSync(root).sort();
    const [command, args] = asRoot("tar", ["--numeric-owner", "--sort=name", "--xattrs", "-C", root, "-cf", "-", ...entries]);
    const tar = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    tar.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => tar.on("close", resolve));
    const diff = createHash("sha256");
    const blob = createHash("sha256");
    const size = { bytes: 0 };
    await pipeline(tar.stdout, tap(diff), zlib.createGzip({ level: 3 }), tap(blob, size), fs.createWriteStream(file));
    const code = await exited;
    if (code !== 0) throw new Error(`tar of the container root failed (exit ${code}): ${stderr}`);
    return { file, diffId: `sha256:${diff.digest("hex")}`, digest: `sha256:${blob.digest("hex")}`, size: size.bytes };
}

interface RoleConfig {
    title: string;
    config: Record<string, unknown>;
}

const PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function imageConfig(role: Role, spec: RoleConfig, layer: Layer, created: string, suite: string): Buffer {
    const config = { ...spec.config } as Record<string, unknown>;
    config.Env = [PATH_ENV, ...((config.Env as string[] | undefined) ?? [])];
    config.Labels = {
        "org.opencontainers.image.title": spec.title,
        "org.opencontainers.image.description": `Redoubt live host test image for the ${role} role, from Debian ${suite} packages`,
        "org.redoubt.live.role": role,
        ...(role === "homeserver" ? { "org.redoubt.live.stand-in": "Tuwunel 1.9.0" } : {}),
    };
    const image = {
        architecture: "amd64",
        os: "linux",
        created,
        config,
        rootfs: { type: "layers", diff_ids: [layer.diffId] },
        history: [{ created, created_by: `redoubt live host build: Debian ${suite} root file system (test/live/host/image)` }],
    };
    return Buffer.from(JSON.stringify(image));
}

const sha256 = (data: Buffer) => `sha256:${createHash("sha256").update(data).digest("hex")}`;

/** Debian's registry (distribution 2.8), run from the VM's tree on a loopback port, writing the VM's registry storage. */
class BuildRegistry {
    private constructor(
        readonly url: string,
        private readonly child: ReturnType<typeof spawn>,
    ) {}

    static async start(hostRoot: string, logFile: string): Promise<BuildRegistry> {
        const port = await freePort();
        const env = [`REGISTRY_HTTP_ADDR=127.0.0.1:${port}`, "REGISTRY_LOG_LEVEL=warn", "REGISTRY_LOG_ACCESSLOG_DISABLED=true"];
        const [command, args] = asRoot("env", [...env, "chroot", hostRoot, "/usr/bin/docker-registry", "serve", "/etc/docker/registry/config.yml"]);
        const output = fs.openSync(logFile, "a");
        const child = spawn(command, args, { stdio: ["ignore", output, output] });
        fs.closeSync(output);
        const url = `http://127.0.0.1:${port}`;
        const deadline = Date.now() + 30_000;
        while (Date.now() < deadline) {
            if (child.exitCode !== null) throw new Error(`the build registry exited (${child.exitCode}): ${fs.readFileSync(logFile, "utf8").slice(-2000)}`);
            const ok = await fetch(`${url}/v2/`).then(
                (r) => r.ok,
                () => false,
            );
            if (ok) return new BuildRegistry(url, child);
            await sleep(200);
        }
        child.kill("SIGTERM");
        throw new Error("the build registry did not answer within 30 s");
    }

    async stop(): Promise<void> {
        if (this.child.exitCode !== null) return;
        const exited = new Promise((resolve) => this.child.on("close", resolve));
        this.child.kill("SIGTERM");
        await Promise.race([exited, sleep(10_000)]);
    }

    private async expect(response: Response, statuses: number[], what: string): Promise<Response> {
        if (!statuses.includes(response.status)) throw new Error(`registry: ${what}: HTTP ${response.status} ${await response.text()}`);
        return response;
    }

    async hasBlob(repository: string, digest: string): Promise<boolean> {
        const response = await fetch(`${this.url}/v2/${repository}/blobs/${digest}`, { method: "HEAD" });
        return response.status === 200;
    }

    /** Uploads a blob, or mounts it from another repository of this registry that has it. */
    async putBlob(repository: string, digest: string, data: () => Buffer, mountFrom?: string): Promise<void> {
        if (await this.hasBlob(repository, digest)) return;
        if (mountFrom) {
            const mount = await fetch(`${this.url}/v2/${repository}/blobs/uploads/?mount=${digest}&from=${mountFrom}`, { method: "POST" });
            if (mount.status === 201) return;
            await mount.arrayBuffer();
        }
        const start = await this.expect(await fetch(`${this.url}/v2/${repository}/blobs/uploads/`, { method: "POST" }), [202], `start upload to ${repository}`);
        const location = new URL(start.headers.get("location") ?? "", this.url);
        location.searchParams.set("digest", digest);
        const body = data();
        await this.expect(
            await fetch(location, { method: "PUT", body: new Uint8Array(body), headers: { "Content-Type": "application/octet-stream", "Content-Length": String(body.length) } }),
            [201],
            `upload ${digest} to ${repository}`,
        );
    }

    /** Puts a manifest under a tag; returns the digest the registry gives it (checked against our own). */
    async putManifest(repository: string, tag: string, manifest: Buffer): Promise<string> {
        const mediaType = "application/vnd.docker.distribution.manifest.v2+json";
        const response = await this.expect(
            await fetch(`${this.url}/v2/${repository}/manifests/${tag}`, { method: "PUT", body: new Uint8Array(manifest), headers: { "Content-Type": mediaType } }),
            [201],
            `put manifest ${repository}:${tag}`,
        );
        const digest = response.headers.get("docker-content-digest") ?? "";
        if (digest !== sha256(manifest)) throw new Error(`registry: ${repository}:${tag} stored as ${digest}, expected ${sha256(manifest)}`);
        const check = await fetch(`${this.url}/v2/${repository}/manifests/${digest}`, { method: "HEAD", headers: { Accept: mediaType } });
        if (check.status !== 200) throw new Error(`registry: ${repository}@${digest} does not answer (HTTP ${check.status})`);
        return digest;
    }
}

async function pushImages(work: string, layer: Layer, suite: string, log: Log): Promise<ImageManifest["images"]> {
    const roles = JSON.parse(fs.readFileSync(path.join(IMAGE_SOURCE_DIR, "container", "roles.json"), "utf8")).roles as Record<Role, RoleConfig>;
    const registry = await BuildRegistry.start(path.join(work, "host"), path.join(work, "logs", "build-registry.log"));
    const created = new Date().toISOString();
    const images = {} as ImageManifest["images"];
    try {
        let first: string | undefined;
        for (const role of ROLES) {
            const spec = roles[role];
            if (!spec) throw new Error(`image/container/roles.json has no role ${role}`);
            const repository = repositoryName(role);
            await registry.putBlob(repository, layer.digest, () => fs.readFileSync(layer.file), first);
            first ??= repository;
            const config = imageConfig(role, spec, layer, created, suite);
            await registry.putBlob(repository, sha256(config), () => config);
            const manifest = Buffer.from(
                JSON.stringify({
                    schemaVersion: 2,
                    mediaType: "application/vnd.docker.distribution.manifest.v2+json",
                    config: { mediaType: "application/vnd.docker.container.image.v1+json", size: config.length, digest: sha256(config) },
                    layers: [{ mediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip", size: layer.size, digest: layer.digest }],
                }),
            );
            const digest = await registry.putManifest(repository, IMAGE_TAG, manifest);
            images[role] = { repository: `${REGISTRY}/${repository}`, tag: IMAGE_TAG, digest, verified: true };
            log(`  ${role}: ${REGISTRY}/${repository}:${IMAGE_TAG}@${digest}`);
        }
    } finally {
        await registry.stop();
    }
    return images;
}

function catalogYaml(images: ImageManifest["images"], key: string): string {
    return [
        "# The live host test's image catalog (same schema as images.yaml): images built",
        "# from Debian packages by test/live/host/build.ts and held by the VM's own registry",
        `# on ${REGISTRY}; pulled by digest. The homeserver is a Tuwunel STAND-IN.`,
        `# Image cache key ${key}.`,
        YAML.stringify(images),
    ].join("\n");
}

/**
 * The shell command that makes free guest memory zero: zero pages cost
 * nothing in a saved state, while freed pages keep whatever they last held.
 * The page cache stays (a resumed VM starts warm); a tmpfs file as large as
 * the free memory is allocated (the kernel zeroes its pages) and dropped.
 */
const ZERO_FREE_MEMORY = [
    "sync",
    "mb=$(awk '/MemFree/ { print int($2 / 1024) - 256 }' /proc/meminfo)",
    "mkdir -p /run/zero-fill && mount -t tmpfs -o size=${mb}m zero-fill /run/zero-fill",
    "{ fallocate -l ${mb}MiB /run/zero-fill/zero || true; }",
    "umount /run/zero-fill && rmdir /run/zero-fill",
].join(" && ");

/**
 * Boots the golden disk once, through an overlay (snap.qcow2), until
 * everything answers, then saves the running VM (RAM and devices) into
 * `state`: a test resumes from it in seconds instead of booting for minutes
 * under emulation. disk.img itself is never mounted by a running guest, so it
 * stays as clean as mkfs left it (the cold-boot fallback boots it).
 */
async function snapshotBoot(out: string, log: Log): Promise<ImageManifest["snapshot"]> {
    const overlay = path.join(out, "snap.qcow2");
    // A relative backing file: the entry is renamed into place afterwards.
    const created = spawnSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", "disk.img", "-F", "raw", overlay], { cwd: out, encoding: "utf8" });
    if (created.error || created.status !== 0) throw new Error(`qemu-img create failed: ${created.error?.message ?? created.stderr} (Debian package qemu-utils)`);
    const sshPort = await freePort();
    const vmDir = path.join(out, "..", "first-boot");
    const vm = await QemuVm.start({
        workDir: vmDir,
        kernel: path.join(out, "vmlinuz"),
        initrd: path.join(out, "initrd.img"),
        disk: overlay,
        diskFormat: "qcow2",
        ...SNAPSHOT_SHAPE,
        forwards: [{ protocol: "tcp", hostPort: sshPort, guestPort: 22 }],
        cache: "writeback",
    });
    const target = {
        host: "127.0.0.1",
        port: sshPort,
        user: "root",
        privateKey: fs.readFileSync(path.join(out, "id_ed25519"), "utf8"),
        hostKey: fs.readFileSync(path.join(out, "host_ed25519.pub"), "utf8").trim(),
    };
    const abort = () => (vm.alive() ? undefined : `qemu exited during the first boot; console:\n${vm.console().slice(-3000)}`);
    try {
        const deadline = Date.now() + 15 * 60_000;
        const ssh = await connectWhenUp(target, { deadline, log, abort });
        log("  first boot: sshd answers");
        await waitReady(ssh, { deadline, log, abort });
        log("  first boot: everything answers");
        const catalog = await ssh.run("curl -fsS http://127.0.0.1:5000/v2/_catalog");
        for (const role of ROLES) {
            if (!catalog.includes(`"${repositoryName(role)}"`)) throw new Error(`the VM's registry lacks ${repositoryName(role)}: ${catalog}`);
        }
        const images = (await ssh.run("docker image ls -q")).trim();
        if (images) throw new Error(`the VM's Docker image store is not empty: ${images}`);
        const failed = (await ssh.run("systemctl --failed --plain --no-legend")).trim();
        if (failed) throw new Error(`units failed on the first boot:\n${failed}\n${await ssh.run("journalctl -b -p warning --no-pager | tail -n 40")}`);
        await ssh.run(ZERO_FREE_MEMORY, { timeoutMs: 300_000 });
        ssh.close();
        // Let sshd's session for this connection end before the state is taken.
        await sleep(3_000);
        const t = Date.now();
        await vm.saveState(path.join(out, "state"));
        log(`  first boot: VM state saved in ${((Date.now() - t) / 1000).toFixed(1)} s (${(fs.statSync(path.join(out, "state")).size / 1e6).toFixed(0)} MB)`);
    } catch (err) {
        fs.copyFileSync(vm.consolePath, path.join(out, "..", "logs", "first-boot-console.log"));
        throw err;
    } finally {
        await vm.kill();
        fs.rmSync(vmDir, { recursive: true, force: true });
    }
    return { state: "state", overlay: "snap.qcow2", qemuVersion: qemuVersion(), ...SNAPSHOT_SHAPE };
}

async function build(root: string, key: string, log: Log): Promise<void> {
    const started = Date.now();
    const timings: Record<string, number> = {};
    const lap = (name: string, since: number) => (timings[name] = Math.round((Date.now() - since) / 100) / 10);
    const work = fs.mkdtempSync(path.join(root, `.build-${key}-`));
    fs.writeFileSync(path.join(work, "pid"), String(process.pid));
    fs.mkdirSync(path.join(work, "logs"));
    log(`live host image ${key}: building in ${work}`);
    try {
        let t = Date.now();
        await run(...asRoot("bash", [BUILD_SCRIPT, "trees", work]), log);
        lap("rootfs", t);

        t = Date.now();
        const layer = await makeLayer(path.join(work, "ctr"), path.join(work, "layer.tar.gz"));
        log(`  container layer: ${(layer.size / 1e6).toFixed(0)} MB compressed, ${layer.digest}`);
        const suite = imageSuite();
        const images = await pushImages(work, layer, suite, log);
        lap("images", t);
        await run(...asRoot("rm", ["-rf", "--one-file-system", path.join(work, "ctr"), path.join(work, "layer.tar.gz")]), log);

        t = Date.now();
        await run(...asRoot("bash", [BUILD_SCRIPT, "disk", work]), log);
        await run(...asRoot("rm", ["-rf", "--one-file-system", path.join(work, "host")]), log);
        const out = path.join(work, "out");
        if (process.getuid?.() !== 0) await run("sudo", ["-n", "chown", "-R", `${process.getuid?.()}:${process.getgid?.()}`, out], log);
        lap("disk", t);

        t = Date.now();
        const snapshot = await snapshotBoot(out, log);
        lap("firstBoot", t);

        const site = (name: "helsinki" | "falkenstein", address: string) => ({ address, port: 23, hostKey: fs.readFileSync(path.join(out, `site-${name}.pub`), "utf8").trim() });
        timings.total = Math.round((Date.now() - started) / 100) / 10;
        const manifest: ImageManifest = {
            format: CACHE_FORMAT,
            key,
            suite,
            builtAt: new Date().toISOString(),
            sshHostKey: fs.readFileSync(path.join(out, "host_ed25519.pub"), "utf8").trim(),
            sites: { helsinki: site("helsinki", "198.51.100.11"), falkenstein: site("falkenstein", "198.51.100.12") },
            images,
            snapshot,
            timings,
        };
        fs.writeFileSync(path.join(out, "images.live.yaml"), catalogYaml(images, key));
        fs.chmodSync(path.join(out, "id_ed25519"), 0o600);
        // Last: image.json marks a complete entry, and the rename publishes it.
        fs.writeFileSync(path.join(out, "image.json"), JSON.stringify(manifest, null, 2) + "\n");
        fs.renameSync(out, path.join(root, key));
        log(`live host image ${key}: built in ${timings.total} s (${JSON.stringify(timings)})`);
        pruneOldEntries(root, key, log);
    } catch (err) {
        // Keep the logs of a failed build (the work directory goes).
        const failed = path.join(root, `failed-${key}`);
        fs.rmSync(failed, { recursive: true, force: true });
        fs.cpSync(path.join(work, "logs"), failed, { recursive: true });
        fs.writeFileSync(path.join(failed, "error.txt"), `${(err as Error).stack ?? err}\n`);
        log(`live host image ${key}: build failed; logs in ${failed}`);
        throw err;
    } finally {
        await run(...asRoot("rm", ["-rf", "--one-file-system", work]), log).catch((err: Error) => log(`  could not remove ${work}: ${err.message}`));
    }
}

/**
 * Entries of older inputs, beyond the newest two, go (each is about 1.5 GB).
 * A VM still running on one keeps its open files; only a boot not yet started
 * from it would miss it.
 */
function pruneOldEntries(root: string, current: string, log: Log): void {
    const entries = fs
        .readdirSync(root)
        .filter((name) => name !== current && fs.existsSync(path.join(root, name, "image.json")))
        .map((name) => ({ name, mtime: fs.statSync(path.join(root, name, "image.json")).mtimeMs }))
        .sort((a, b) => b.mtime - a.mtime);
    for (const { name } of entries.slice(1)) {
        log(`removing the old live host image ${name}`);
        fs.rmSync(path.join(root, name), { recursive: true, force: true });
    }
}

/** Leftovers of builds whose process is gone (an interrupted build never becomes an entry). */
function removeStaleBuilds(root: string, log: Log): void {
    for (const name of fs.readdirSync(root)) {
        if (!name.startsWith(".build-")) continue;
        const dir = path.join(root, name);
        let pid = 0;
        try {
            pid = Number(fs.readFileSync(path.join(dir, "pid"), "utf8").trim());
        } catch {
            // no pid file: the build died at once
        }
        if (pid && isAlive(pid)) continue;
        log(`removing an interrupted build: ${dir}`);
        spawn(...asRoot("rm", ["-rf", "--one-file-system", dir]), { stdio: "ignore" });
    }
}

/** One builder per key at a time, across processes (e.g. parallel test workers). */
async function withLock<T>(root: string, key: string, log: Log, body: () => Promise<T>): Promise<T> {
    const lock = path.join(root, `.lock-${key}`);
    let waited = false;
    for (;;) {
        try {
            fs.writeFileSync(lock, String(process.pid), { flag: "wx" });
            break;
        } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
            const holder = Number(fs.readFileSync(lock, "utf8").trim() || "0");
            if (!holder || !isAlive(holder)) {
                fs.rmSync(lock, { force: true });
                continue;
            }
            if (!waited) log(`live host image ${key}: waiting for the build of process ${holder}`);
            waited = true;
            await sleep(2_000);
        }
    }
    try {
        return await body();
    } finally {
        fs.rmSync(lock, { force: true });
    }
}

/** The cache entry for the current inputs, built when missing. Returns its directory. */
export async function ensureImageDir(log: Log = () => {}): Promise<string> {
    const root = cacheRoot();
    const key = imageKey();
    const dir = path.join(root, key);
    const complete = () => fs.existsSync(path.join(dir, "image.json"));
    if (complete()) return dir;
    fs.mkdirSync(root, { recursive: true });
    await withLock(root, key, log, async () => {
        if (complete()) return;
        removeStaleBuilds(root, log);
        await build(root, key, log);
    });
    return dir;
}
