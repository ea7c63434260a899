// One qemu VM of the live host test: started daemonized with a pidfile, its
// serial console in a file, a QMP socket (forwards added at run time, saving
// the VM's state), and always killed when the test process ends (an exit
// handler, and a detached watchdog for when the process dies without running
// handlers).
//
// No KVM (nested KVM fails here): software emulation (TCG). Networking is
// qemu's user network with restrict=on, so the guest reaches nothing outside
// the VM; only loopback host forwards lead in.
import { spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";

export interface HostForward {
    protocol: "tcp" | "udp";
    hostPort: number;
    guestPort: number;
    /** Guest address; default the guest's own (10.0.2.15). */
    guestAddress?: string;
}

export interface QemuOptions {
    workDir: string;
    kernel: string;
    initrd: string;
    disk: string;
    diskFormat: "raw" | "qcow2";
    memoryMiB: number;
    cpus: number;
    forwards: HostForward[];
    /** qemu's disk cache mode; "unsafe" (no flushes) suits throwaway overlays. */
    cache: "unsafe" | "writeback";
    /** Resume from a state file written by saveState (same command line otherwise) instead of booting. */
    incoming?: string;
}

/** qemu's address for the guest on its user network. */
export const GUEST_ADDRESS = "10.0.2.15";

/**
 * The VM shape the saved state is taken with (a restore needs the same).
 * Two vCPUs: each is one host thread under emulation, and CI has two cores.
 * The memory only costs what the guest touches.
 */
export const SNAPSHOT_SHAPE = { cpus: 2, memoryMiB: 6144 } as const;

let cachedQemuVersion: string | undefined;

/** qemu's version line: a saved VM state only resumes in the qemu that wrote it. */
export function qemuVersion(): string {
    if (cachedQemuVersion === undefined) {
        const result = spawnSync("qemu-system-x86_64", ["--version"], { encoding: "utf8" });
        if (result.error || result.status !== 0) throw new Error(`qemu-system-x86_64 --version failed: ${result.error?.message ?? result.stderr} (Debian package qemu-system-x86)`);
        cachedQemuVersion = result.stdout.split("\n")[0].trim();
    }
    return cachedQemuVersion;
}

const running = new Set<number>();
let handlersInstalled = false;

function killAllSync(): void {
    for (const pid of running) {
        try {
            process.kill(pid, "SIGKILL");
        } catch {
            // already gone
        }
    }
    running.clear();
}

function installExitHandlers(): void {
    if (handlersInstalled) return;
    handlersInstalled = true;
    process.on("exit", killAllSync);
    for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
        process.on(signal, () => {
            killAllSync();
            // A listener replaces Node's default of dying by the signal: keep
            // that default unless someone else handles the signal too.
            if (process.listenerCount(signal) === 1) process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
        });
    }
}

export function isAlive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch (err) {
        return (err as NodeJS.ErrnoException).code === "EPERM";
    }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A free TCP port on 127.0.0.1 (free now; qemu fails loudly if it is taken before it binds). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on("error", reject);
        server.listen(0, "127.0.0.1", () => {
            const port = (server.address() as net.AddressInfo).port;
            server.close(() => resolve(port));
        });
    });
}

function hostfwd(f: HostForward): string {
    return `${f.protocol}:127.0.0.1:${f.hostPort}-${f.guestAddress ?? GUEST_ADDRESS}:${f.guestPort}`;
}

export class QemuVm {
    private constructor(
        readonly pid: number,
        readonly options: QemuOptions,
        readonly consolePath: string,
        readonly monitorPath: string,
    ) {}

    static async start(options: QemuOptions): Promise<QemuVm> {
        installExitHandlers();
        fs.mkdirSync(options.workDir, { recursive: true });
        const consolePath = path.join(options.workDir, "console.log");
        const monitorPath = path.join(options.workDir, "qmp.sock");
        const pidPath = path.join(options.workDir, "qemu.pid");
        for (const p of [monitorPath, pidPath]) fs.rmSync(p, { force: true });
        const netdev = ["user", "id=n0", "restrict=on", ...options.forwards.map((f) => `hostfwd=${hostfwd(f)}`)].join(",");
        const args = [
            "-name",
            "redoubt-live",
            "-nodefaults",
            "-no-user-config",
            // One host thread for all vCPUs. Multi-threaded TCG panicked the guest kernel here ("Oops: int3" in
            // can_migrate_task, then "Fatal exception in interrupt") while it live-patched its own code (jump labels,
            // text_poke_bp with int3) as Docker created networks: another vCPU ran a stale translation of the
            // patched bytes. Round-robin emulation has no such race; it is slower but never flaky.
            "-accel",
            "tcg,thread=single",
            "-cpu",
            "max",
            "-smp",
            String(options.cpus),
            "-m",
            String(options.memoryMiB),
            "-kernel",
            options.kernel,
            "-initrd",
            options.initrd,
            // mitigations=off: speculative-execution workarounds cost a lot under emulation
            // and protect nothing in a throwaway test VM.
            "-append",
            "root=/dev/vda rw console=ttyS0 net.ifnames=0 mitigations=off",
            "-drive",
            `file=${options.disk},if=virtio,format=${options.diskFormat},cache=${options.cache},discard=unmap`,
            "-netdev",
            netdev,
            "-device",
            "virtio-net-pci,netdev=n0",
            // Entropy from the host: sshd, dockerd and Python want it early.
            "-object",
            "rng-random,id=rng0,filename=/dev/urandom",
            "-device",
            "virtio-rng-pci,rng=rng0",
            // A new generation id in each qemu: a guest resumed from a saved state
            // reseeds its random number generator instead of repeating the saved one.
            "-device",
            "vmgenid,guid=auto",
            "-display",
            "none",
            "-serial",
            `file:${consolePath}`,
            "-qmp",
            `unix:${monitorPath},server=on,wait=off`,
            "-pidfile",
            pidPath,
            "-daemonize",
            ...(options.incoming ? ["-incoming", `exec:cat '${options.incoming.replace(/'/g, "'\\''")}'`] : []),
        ];
        // -daemonize: qemu returns once the VM runs (forwards bound, disk open) or fails.
        const result = spawnSync("qemu-system-x86_64", args, { encoding: "utf8", timeout: 60_000 });
        if (result.error) throw new Error(`qemu-system-x86_64 could not be started: ${result.error.message} (Debian package qemu-system-x86)`);
        if (result.status !== 0) throw new Error(`qemu-system-x86_64 failed (exit ${result.status}): ${(result.stderr || result.stdout).trim()}`);
        const pid = Number(fs.readFileSync(pidPath, "utf8").trim());
        if (!Number.isInteger(pid) || pid <= 0) throw new Error(`qemu wrote no pid to ${pidPath}`);
        running.add(pid);
        QemuVm.watchdog(pid);
        return new QemuVm(pid, options, consolePath, monitorPath);
    }

    /**
     * A detached shell that kills qemu once this process is gone, however it
     * ended (even SIGKILL, which runs no exit handler).
     */
    private static watchdog(qemuPid: number): void {
        const child = spawn(
            "/bin/sh",
            [
                "-c",
                'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 2; done; kill -9 "$2" 2>/dev/null; exit 0',
                "redoubt-live-watchdog",
                String(process.pid),
                String(qemuPid),
            ],
            { detached: true, stdio: "ignore" },
        );
        child.unref();
    }

    alive(): boolean {
        return isAlive(this.pid);
    }

    console(): string {
        try {
            return fs.readFileSync(this.consolePath, "utf8");
        } catch {
            return "";
        }
    }

    /** Waits until qemu has exited (e.g. after the guest powered off); false on timeout. */
    async waitExit(timeoutMs: number): Promise<boolean> {
        const deadline = Date.now() + timeoutMs;
        while (Date.now() < deadline) {
            if (!this.alive()) {
                running.delete(this.pid);
                return true;
            }
            await sleep(250);
        }
        return false;
    }

    /** Ends qemu: SIGTERM, then SIGKILL if it lingers. */
    async kill(): Promise<void> {
        if (this.alive()) {
            try {
                process.kill(this.pid, "SIGTERM");
            } catch {
                // gone meanwhile
            }
            if (!(await this.waitExit(10_000))) {
                try {
                    process.kill(this.pid, "SIGKILL");
                } catch {
                    // gone meanwhile
                }
                await this.waitExit(10_000);
            }
        }
        running.delete(this.pid);
    }

    /** Runs one QMP command (after the capabilities handshake); resolves with its "return" value. */
    qmp(execute: string, args?: Record<string, unknown>, timeoutMs = 30_000): Promise<unknown> {
        return new Promise((resolve, reject) => {
            const socket = net.createConnection(this.monitorPath);
            let buffer = "";
            let stage = 0;
            const timer = setTimeout(() => {
                socket.destroy();
                reject(new Error(`qemu QMP: no answer to ${execute} within ${timeoutMs} ms`));
            }, timeoutMs);
            const finish = (err: Error | undefined, value?: unknown) => {
                clearTimeout(timer);
                socket.end();
                if (err) reject(err);
                else resolve(value);
            };
            socket.setEncoding("utf8");
            socket.on("error", (err) => finish(err));
            socket.on("data", (chunk: string) => {
                buffer += chunk;
                let newline: number;
                while ((newline = buffer.indexOf("\n")) >= 0) {
                    const line = buffer.slice(0, newline).trim();
                    buffer = buffer.slice(newline + 1);
                    if (!line) continue;
                    const message = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string };
                    if (message.event) continue;
                    if (message.error) return finish(new Error(`qemu QMP ${execute}: ${message.error.desc}`));
                    if (stage === 0 && message.QMP) {
                        stage = 1;
                        socket.write(JSON.stringify({ execute: "qmp_capabilities" }) + "\n");
                    } else if (stage === 1 && "return" in message) {
                        stage = 2;
                        socket.write(JSON.stringify(args ? { execute, arguments: args } : { execute }) + "\n");
                    } else if (stage === 2 && "return" in message) {
                        return finish(undefined, message.return);
                    }
                }
            });
        });
    }

    /** Runs one human-monitor (HMP) command through QMP; resolves with its output. */
    async monitor(command: string): Promise<string> {
        return String((await this.qmp("human-monitor-command", { "command-line": command })) ?? "").trim();
    }

    /**
     * Saves the running VM's state (RAM and devices) into a file; qemu then
     * stays paused, with its disk flushed, until it is killed. A later qemu
     * with the same command line and `incoming` resumes from it.
     */
    async saveState(file: string, timeoutMs = 600_000): Promise<void> {
        await this.qmp("migrate", { uri: `exec:cat > '${file.replace(/'/g, "'\\''")}'` });
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const info = (await this.qmp("query-migrate")) as { status?: string; "error-desc"?: string };
            if (info.status === "completed") return;
            if (info.status === "failed" || info.status === "cancelled") throw new Error(`qemu: saving the VM state failed: ${info["error-desc"] ?? info.status}`);
            if (Date.now() > deadline) throw new Error("qemu: saving the VM state timed out");
            await sleep(500);
        }
    }

    /** Adds a loopback host forward at run time (qemu's hostfwd_add); returns the host port. */
    async addForward(forward: Omit<HostForward, "hostPort"> & { hostPort?: number }): Promise<number> {
        const hostPort = forward.hostPort ?? (await freePort());
        const output = await this.monitor(`hostfwd_add n0 ${hostfwd({ ...forward, hostPort })}`);
        if (output) throw new Error(`qemu hostfwd_add ${forward.protocol} ${hostPort} -> ${forward.guestPort}: ${output}`);
        return hostPort;
    }
}
