// Shared plumbing for the system tests: temp dirs, free loopback ports,
// child processes that are always stopped.
import { ChildProcess, spawn, spawnSync, SpawnSyncOptions } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";

export const LOOPBACK = "127.0.0.1";

export function makeTempDir(prefix: string): string {
    return mkdtempSync(join(tmpdir(), `redoubt-${prefix}-`));
}

export function removeDir(dir: string | undefined): void {
    if (dir) rmSync(dir, { recursive: true, force: true });
}

export interface RunResult {
    code: number | null;
    stdout: string;
    stderr: string;
}

export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): RunResult {
    const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 120_000, ...opts });
    if (r.error) throw r.error;
    return { code: r.status, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

/** Runs and throws (with the output) unless the exit code is 0. */
export function runOk(cmd: string, args: string[], opts: SpawnSyncOptions = {}): RunResult {
    const r = run(cmd, args, opts);
    if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
    return r;
}

/** A loopback port nobody listens on right now (the kernel picks it). */
export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const srv = createServer();
        srv.once("error", reject);
        srv.listen(0, LOOPBACK, () => {
            const addr = srv.address();
            if (addr === null || typeof addr === "string") return reject(new Error("no port"));
            srv.close(() => resolve(addr.port));
        });
    });
}

export function waitForPort(port: number, timeoutMs = 15_000, child?: Started): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    return new Promise((resolve, reject) => {
        const attempt = () => {
            if (child && child.exited) return reject(new Error(`process exited (${child.exitCode}) before listening on ${port}:\n${child.output()}`));
            const s = new Socket();
            s.once("connect", () => {
                s.destroy();
                resolve();
            });
            s.once("error", () => {
                s.destroy();
                if (Date.now() > deadline) reject(new Error(`nothing listens on ${LOOPBACK}:${port} after ${timeoutMs} ms${child ? `:\n${child.output()}` : ""}`));
                else setTimeout(attempt, 100);
            });
            s.connect(port, LOOPBACK);
        };
        attempt();
    });
}

export interface Started {
    child: ChildProcess;
    stdout: string[];
    stderr: string[];
    exited: boolean;
    exitCode: number | null;
    output(): string;
}

/** Starts a long-running program, recording everything it prints. */
export function start(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Started {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"] });
    const started: Started = {
        child,
        stdout: [],
        stderr: [],
        exited: false,
        exitCode: null,
        output: () => `--- stdout ---\n${started.stdout.join("")}\n--- stderr ---\n${started.stderr.join("")}`,
    };
    child.stdout?.on("data", (d: Buffer) => started.stdout.push(d.toString("utf8")));
    child.stderr?.on("data", (d: Buffer) => started.stderr.push(d.toString("utf8")));
    child.on("exit", (code) => {
        started.exited = true;
        started.exitCode = code;
    });
    return started;
}

/** Stops a program started with `start` (SIGTERM, then SIGKILL) and waits for it. */
export async function stop(started: Started | undefined, graceMs = 3_000): Promise<void> {
    if (!started || started.exited) return;
    const done = new Promise<void>((resolve) => started.child.once("exit", () => resolve()));
    started.child.kill("SIGTERM");
    const timer = setTimeout(() => {
        if (!started.exited) started.child.kill("SIGKILL");
    }, graceMs);
    await done;
    clearTimeout(timer);
}

export function sleep(ms: number): Promise<void> {
    return new Promise((r) => setTimeout(r, ms));
}

/** Every file below dir, by relative path, with its bytes as base64: two trees compare with toEqual. */
export function fileTree(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (d: string) => {
        for (const e of readdirSync(d)) {
            const p = join(d, e);
            if (statSync(p).isDirectory()) walk(p);
            else out[relative(dir, p)] = readFileSync(p).toString("base64");
        }
    };
    walk(dir);
    return out;
}

export interface SelfSignedCert {
    /** The certificate's CN (and, with `san`, its one DNS subject alternative name). */
    name: string;
    days: number;
    keyFile: string;
    certFile: string;
    san?: boolean;
}

/** A P-256 self-signed certificate and its key, made by Debian's openssl (`openssl req -x509`). */
export function selfSignedCert(openssl: string, cert: SelfSignedCert): void {
    const args = ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", cert.keyFile, "-out", cert.certFile];
    args.push("-days", String(cert.days), "-subj", `/CN=${cert.name}`);
    if (cert.san) args.push("-addext", `subjectAltName=DNS:${cert.name}`);
    runOk(openssl, args);
}
