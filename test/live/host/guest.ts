// Talking to the live host VM while it boots: wait for its sshd (through the
// loopback forward), then for everything the live test needs
// (/usr/local/sbin/redoubt-live-ready in the image).
import * as net from "node:net";
import { SshConnection, type SshTarget } from "../../../lib/live/ssh";
import { sleep } from "./vm";

/**
 * True when something on host:port speaks SSH within timeoutMs. qemu's user
 * network accepts a forwarded connection before the guest does: the probe
 * waits for the banner itself (a guest whose sshd is not up yet resets the
 * connection, or answers once it is). Patient on purpose: under emulation an
 * sshd needs seconds per connection, and impatient probes only pile up.
 */
export function sshBanner(host: string, port: number, timeoutMs = 30_000): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.createConnection({ host, port });
        let data = "";
        const done = (ok: boolean) => {
            clearTimeout(timer);
            socket.destroy();
            resolve(ok);
        };
        const timer = setTimeout(() => done(false), timeoutMs);
        socket.setEncoding("utf8");
        socket.on("data", (chunk: string) => {
            data += chunk;
            if (data.includes("SSH-2.0-")) done(true);
        });
        socket.on("error", () => done(false));
        socket.on("close", () => done(false));
    });
}

export interface WaitOptions {
    deadline: number;
    log?: (line: string) => void;
    /** Gives up early (e.g. qemu died); returns a reason or undefined. */
    abort?: () => string | undefined;
}

/** Waits for sshd, then returns a connection whose first command has run. */
export async function connectWhenUp(target: SshTarget, options: WaitOptions): Promise<SshConnection> {
    let lastError = "no answer yet";
    while (Date.now() < options.deadline) {
        const reason = options.abort?.();
        if (reason) throw new Error(reason);
        if (await sshBanner(target.host, target.port)) {
            const ssh = new SshConnection(target);
            try {
                await ssh.run("true", { timeoutMs: 60_000 });
                return ssh;
            } catch (err) {
                ssh.close();
                lastError = (err as Error).message;
                // A pinned-key mismatch never heals by waiting.
                if (/host key does not match/.test(lastError)) throw err;
            }
        }
        await sleep(1_000);
    }
    throw new Error(`sshd on ${target.host}:${target.port} did not answer in time (${lastError})`);
}

/** Polls redoubt-live-ready until everything answers; logs what is still missing when it changes. */
export async function waitReady(ssh: SshConnection, options: WaitOptions): Promise<void> {
    let last = "";
    while (Date.now() < options.deadline) {
        const reason = options.abort?.();
        if (reason) throw new Error(reason);
        const result = await ssh.exec("/usr/local/sbin/redoubt-live-ready", { timeoutMs: 120_000 }).catch((err: Error) => ({ code: -1, stdout: err.message, stderr: "" }));
        if (result.code === 0) return;
        const status = (result.stdout + result.stderr).trim();
        if (status !== last) options.log?.(`  waiting: ${status}`);
        last = status;
        await sleep(2_000);
    }
    throw new Error(`the live host VM did not become ready in time (${last})`);
}
