// The live host test's Docker host: a real Debian trixie VM under qemu on this
// machine, booted from a cached golden image (build.ts) through a throwaway
// copy-on-write overlay. See README.md beside this file for what the image
// holds and for the commands the stand-ins answer to.
//
//   const image = await ensureHostImage(console.log);   // builds or reuses the cache
//   const host = await bootHost(image);                  // sshd, dockerd, registry, pebble answer
//   await host.run("docker version");
//   await host.stop();
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { SshConnection, type SshTarget } from "../../../lib/live/ssh";
import { ensureImageDir, type ImageManifest } from "./build";
import { connectWhenUp, waitReady } from "./guest";
import { GUEST_ADDRESS, QemuVm, SNAPSHOT_SHAPE, freePort, qemuVersion } from "./vm";

export { ROLES, type Role } from "./build";

export type Site = "helsinki" | "falkenstein";

export interface LiveHostImage {
    /** The cache entry: disk.img (raw, never booted by a test), vmlinuz, initrd.img, keys, images.live.yaml. */
    dir: string;
    /** The image catalog (images.yaml's schema) of the images in the VM's registry. */
    catalogFile: string;
    /** Root's private key for the VM (OpenSSH format), as SshTarget.privateKey wants it. */
    sshPrivateKey: string;
    /** The same key's file (mode 0600), for tools that want a path (ssh -i, DOCKER_HOST=ssh://). */
    sshPrivateKeyFile: string;
    /** The VM's sshd host key, "ssh-ed25519 AAAA...". */
    sshHostKey: string;
    /** The local ACME CA's directory, as containers on the VM's bridge networks reach it. */
    acmeDirectory: string;
    /** PEM of the CA that signed the ACME directory's HTTPS certificate (give Caddy it as the directory's trusted root). */
    acmeCaCertificate: string;
    /** The Storage Box stand-ins: sftp on port 23 of an address local to the VM. */
    sites: Record<Site, { address: string; port: number; hostKey: string }>;
    /** "The internet": any TCP connection here gets a fixed HTTP answer. */
    internetProbe: { address: string; port: number };
}

export interface LiveHost extends LiveHostImage {
    sshPort: number;
    /** For Docker clients: ssh://root@127.0.0.1:<sshPort> (key: sshPrivateKeyFile, host key: sshHostKey). */
    dockerHost: string;
    /** The VM's address (qemu user networking); the edge publishes 443 on it. */
    publicAddress: "10.0.2.15";
    /** 127.0.0.1 port forwarded to the VM's 10.0.2.15:443. */
    edgePort: number;
    /** This VM's directory: run.qcow2 (the overlay), console.log, qmp.sock. */
    workDir: string;
    /** qemu's QMP socket (HMP commands such as hostfwd_add go through human-monitor-command). */
    monitorSocket: string;
    exec(command: string, options?: { stdin?: string; timeoutMs?: number }): Promise<{ code: number | null; stdout: string; stderr: string }>;
    /** Like exec, but throws (with stderr) unless the command exits 0; resolves with stdout. */
    run(command: string, options?: { stdin?: string; timeoutMs?: number }): Promise<string>;
    /** Adds a loopback forward to the VM at run time (e.g. udp 51820+id for WireGuard); returns the 127.0.0.1 port. */
    forward(protocol: "tcp" | "udp", guestPort: number, hostPort?: number): Promise<number>;
    /** Clean reboot (systemctl reboot); resolves when sshd, dockerd, the registry and pebble answer again. */
    reboot(): Promise<void>;
    /** Kills the VM and removes its overlay (the console log stays in workDir). */
    stop(): Promise<void>;
    /** The serial console so far (kernel and systemd messages), for diagnosis. */
    consoleLog(): string;
}

export interface BootOptions {
    /** Where the overlay, console log and monitor socket go; default a new directory under the OS temp dir. */
    workDir?: string;
    /** Default 6144 (the saved VM's; another size boots cold). */
    memoryMiB?: number;
    /** Default 2 (the saved VM's; another count boots cold). Each vCPU is one host thread under emulation. */
    cpus?: number;
    /**
     * Boot the kernel instead of resuming the VM saved at image build time
     * (resuming takes seconds, booting minutes under emulation). Default false;
     * a resume that fails falls back to a cold boot by itself.
     */
    coldBoot?: boolean;
    /** How long boot (and each reboot) may take until everything answers; default 10 minutes. */
    bootTimeoutMs?: number;
    log?: (line: string) => void;
}

export const INTERNET_PROBE = { address: "203.0.113.80", port: 80 } as const;
export const ACME_DIRECTORY = `https://${GUEST_ADDRESS}:14000/dir`;

/** Builds the golden image when its inputs changed (minutes), else reuses the cache (milliseconds). */
export async function ensureHostImage(log?: (line: string) => void): Promise<LiveHostImage> {
    const dir = await ensureImageDir(log);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, "image.json"), "utf8")) as ImageManifest;
    const keyFile = path.join(dir, "id_ed25519");
    return {
        dir,
        catalogFile: path.join(dir, "images.live.yaml"),
        sshPrivateKey: fs.readFileSync(keyFile, "utf8"),
        sshPrivateKeyFile: keyFile,
        sshHostKey: manifest.sshHostKey,
        acmeDirectory: ACME_DIRECTORY,
        acmeCaCertificate: fs.readFileSync(path.join(dir, "acme-ca.pem"), "utf8"),
        sites: manifest.sites,
        internetProbe: { ...INTERNET_PROBE },
    };
}

/** Boots a throwaway VM from the image; resolves when sshd, dockerd, the registry, pebble and the stand-ins answer. */
export async function bootHost(image: LiveHostImage, options: BootOptions = {}): Promise<LiveHost> {
    const log = options.log ?? (() => {});
    const bootTimeoutMs = options.bootTimeoutMs ?? 10 * 60_000;
    const workDir = options.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-live-vm-"));
    fs.mkdirSync(workDir, { recursive: true });
    const overlay = path.join(workDir, "run.qcow2");
    const shape = { cpus: options.cpus ?? SNAPSHOT_SHAPE.cpus, memoryMiB: options.memoryMiB ?? SNAPSHOT_SHAPE.memoryMiB };
    const manifest = JSON.parse(fs.readFileSync(path.join(image.dir, "image.json"), "utf8")) as ImageManifest;
    const snapshot = manifest.snapshot;
    const reasonNotToResume = options.coldBoot
        ? "cold boot asked for"
        : !fs.existsSync(path.join(image.dir, snapshot.state))
          ? "no saved state"
          : snapshot.qemuVersion !== qemuVersion()
            ? `the state was saved by ${snapshot.qemuVersion}`
            : snapshot.cpus !== shape.cpus || snapshot.memoryMiB !== shape.memoryMiB
              ? `the state was saved with ${snapshot.cpus} CPUs and ${snapshot.memoryMiB} MiB`
              : undefined;

    const attempt = async (resume: boolean): Promise<{ vm: QemuVm; ssh: SshConnection; sshPort: number; edgePort: number }> => {
        // Resuming needs the disk as it was when the state was saved; a cold boot starts from the clean golden disk.
        const backing = resume ? [path.join(image.dir, snapshot.overlay), "qcow2"] : [path.join(image.dir, "disk.img"), "raw"];
        fs.rmSync(overlay, { force: true });
        const created = spawnSync("qemu-img", ["create", "-q", "-f", "qcow2", "-b", backing[0], "-F", backing[1], overlay], { encoding: "utf8" });
        if (created.error || created.status !== 0) throw new Error(`qemu-img create failed: ${created.error?.message ?? created.stderr} (Debian package qemu-utils)`);
        // Ports are free when picked; if another process takes one first, qemu fails and we pick again.
        for (let tries = 1; ; tries++) {
            const sshPort = await freePort();
            const edgePort = await freePort();
            let vm: QemuVm;
            try {
                vm = await QemuVm.start({
                    workDir,
                    kernel: path.join(image.dir, "vmlinuz"),
                    initrd: path.join(image.dir, "initrd.img"),
                    disk: overlay,
                    diskFormat: "qcow2",
                    ...shape,
                    forwards: [
                        { protocol: "tcp", hostPort: sshPort, guestPort: 22 },
                        { protocol: "tcp", hostPort: edgePort, guestPort: 443 },
                    ],
                    cache: "unsafe",
                    incoming: resume ? path.join(image.dir, snapshot.state) : undefined,
                });
            } catch (err) {
                if (tries < 3 && /host forwarding|hostfwd|Could not set up/i.test((err as Error).message)) continue;
                throw err;
            }
            log(
                `live host: qemu pid ${vm.pid} (${resume ? "resuming the saved VM" : "cold boot"}), ssh 127.0.0.1:${sshPort}, edge 127.0.0.1:${edgePort}, console ${vm.consolePath}`,
            );
            const target: SshTarget = { host: "127.0.0.1", port: sshPort, user: "root", privateKey: image.sshPrivateKey, hostKey: image.sshHostKey };
            const abort = () => (vm.alive() ? undefined : `qemu exited; console:\n${vm.console().slice(-3000)}`);
            const started = Date.now();
            try {
                // A resumed VM answers within seconds or not at all.
                const ssh = await connectWhenUp(target, { deadline: started + (resume ? 180_000 : bootTimeoutMs), log, abort });
                if (resume) {
                    // The saved VM's clock stopped when its state was saved.
                    await ssh.run(`date -u -s @${(Date.now() / 1000).toFixed(3)} >/dev/null`);
                }
                log(`live host: sshd answers after ${((Date.now() - started) / 1000).toFixed(1)} s`);
                await waitReady(ssh, { deadline: started + bootTimeoutMs, log, abort });
                log(`live host: ${resume ? "resumed" : "booted"}, everything answers after ${((Date.now() - started) / 1000).toFixed(1)} s`);
                return { vm, ssh, sshPort, edgePort };
            } catch (err) {
                await vm.kill();
                throw new Error(`${(err as Error).message}\n--- console (last lines) ---\n${vm.console().split("\n").slice(-40).join("\n")}`, { cause: err });
            }
        }
    };

    let booted: Awaited<ReturnType<typeof attempt>>;
    try {
        if (reasonNotToResume) {
            log(`live host: cold boot (${reasonNotToResume})`);
            booted = await attempt(false);
        } else {
            try {
                booted = await attempt(true);
            } catch (err) {
                log(`live host: resuming the saved VM failed, booting cold instead: ${(err as Error).message.split("\n")[0]}`);
                booted = await attempt(false);
            }
        }
    } catch (err) {
        fs.rmSync(overlay, { force: true });
        throw err;
    }
    const { vm: theVm, sshPort, edgePort } = booted;
    let ssh: SshConnection | undefined = booted.ssh;
    let stopped = false;
    const target: SshTarget = { host: "127.0.0.1", port: sshPort, user: "root", privateKey: image.sshPrivateKey, hostKey: image.sshHostKey };
    const abort = () => (theVm.alive() ? undefined : `qemu exited; console:\n${theVm.console().slice(-3000)}`);

    const connection = (): SshConnection => {
        if (stopped) throw new Error("the live host VM was stopped");
        if (!ssh) throw new Error("the live host VM is rebooting");
        return ssh;
    };

    const waitRebooted = async (previousBootId: string): Promise<void> => {
        const started = Date.now();
        const deadline = started + bootTimeoutMs;
        // Until a different boot answers: the old sshd may still answer for a moment.
        for (;;) {
            try {
                ssh = await connectWhenUp(target, { deadline, log, abort });
                const bootId = (await ssh.run("cat /proc/sys/kernel/random/boot_id")).trim();
                if (bootId !== previousBootId) break;
                ssh.close();
                ssh = undefined;
            } catch (err) {
                throw new Error(`${(err as Error).message}\n--- console (last lines) ---\n${theVm.console().split("\n").slice(-40).join("\n")}`, { cause: err });
            }
            await new Promise((resolve) => setTimeout(resolve, 2_000));
        }
        log(`live host: sshd answers again after ${((Date.now() - started) / 1000).toFixed(1)} s`);
        await waitReady(ssh, { deadline, log, abort });
        log(`live host: rebooted, everything answers after ${((Date.now() - started) / 1000).toFixed(1)} s`);
    };

    const host: LiveHost = {
        ...image,
        sshPort,
        dockerHost: `ssh://root@127.0.0.1:${sshPort}`,
        publicAddress: GUEST_ADDRESS,
        edgePort,
        workDir,
        monitorSocket: theVm.monitorPath,
        exec: (command, opts) => connection().exec(command, opts),
        run: (command, opts) => connection().run(command, opts),
        forward: (protocol, guestPort, hostPort) => theVm.addForward({ protocol, guestPort, hostPort }),
        reboot: async () => {
            const before = (await connection().run("cat /proc/sys/kernel/random/boot_id")).trim();
            // --no-block: the command returns before sshd goes down with the session.
            await connection().run("systemctl reboot --no-block");
            connection().close();
            ssh = undefined;
            await waitRebooted(before);
        },
        stop: async () => {
            if (stopped) return;
            stopped = true;
            ssh?.close();
            ssh = undefined;
            await theVm.kill();
            fs.rmSync(overlay, { force: true });
            fs.rmSync(theVm.monitorPath, { force: true });
        },
        consoleLog: () => theVm.console(),
    };
    return host;
}
