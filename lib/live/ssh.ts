// SSH to a real host with its host key pinned, as @pulumi/command's remote
// connection does with `hostKey` (ssh.FixedHostKey: any other key is
// refused). Used by the live run for `command.remote.Command`, the Storage
// Box stand-in and the probes. One connection per target, reused; commands
// run as separate channels.
import * as http from "node:http";
import type { Duplex } from "node:stream";
import { Client, type ClientChannel } from "ssh2";

export interface SshTarget {
    host: string;
    port: number;
    user: string;
    /** OpenSSH private key (PEM or OpenSSH format); without one, the SSH agent at SSH_AUTH_SOCK is used (as ssh and the Docker provider do). */
    privateKey?: string;
    /** The pinned host key, `type base64` (the first two fields of `ssh-keyscan` output). */
    hostKey: string;
}

export interface ExecResult {
    code: number | null;
    signal?: string;
    stdout: string;
    stderr: string;
}

export interface ExecOptions {
    /** Written to the command's standard input, then closed. */
    stdin?: string;
    /** Give up after this long (the channel is closed); default 10 minutes. */
    timeoutMs?: number;
}

/** Parses `type base64 [comment]` into the key blob ssh2 hands a host verifier. */
function hostKeyBlob(hostKey: string): Buffer {
    const [type, data] = hostKey.trim().split(/\s+/);
    if (!type || !data) throw new Error(`host key must be "type base64", got ${JSON.stringify(hostKey)}`);
    return Buffer.from(data, "base64");
}

export class SshConnection {
    private client?: Client;
    private connecting?: Promise<Client>;

    constructor(readonly target: SshTarget) {}

    private connect(): Promise<Client> {
        if (this.client) return Promise.resolve(this.client);
        if (this.connecting) return this.connecting;
        const expected = hostKeyBlob(this.target.hostKey);
        this.connecting = new Promise<Client>((resolve, reject) => {
            const client = new Client();
            let mismatch = false;
            client
                .on("ready", () => {
                    this.client = client;
                    this.connecting = undefined;
                    resolve(client);
                })
                .on("error", (err) => {
                    this.connecting = undefined;
                    this.client = undefined;
                    reject(mismatch ? new Error(`${this.describe()}: the host key does not match the pinned key; refusing to connect`) : err);
                })
                .on("close", () => {
                    if (this.client === client) this.client = undefined;
                })
                .connect({
                    host: this.target.host,
                    port: this.target.port,
                    username: this.target.user,
                    ...(this.target.privateKey ? { privateKey: this.target.privateKey } : { agent: process.env.SSH_AUTH_SOCK }),
                    readyTimeout: 60_000,
                    keepaliveInterval: 15_000,
                    hostVerifier: (key: Buffer) => {
                        mismatch = !key.equals(expected);
                        return !mismatch;
                    },
                });
        });
        return this.connecting;
    }

    describe(): string {
        return `${this.target.user}@${this.target.host}:${this.target.port}`;
    }

    /** Runs one command; resolves with its exit code and output (never rejects on a non-zero exit). */
    async exec(command: string, options: ExecOptions = {}): Promise<ExecResult> {
        const client = await this.connect();
        const timeoutMs = options.timeoutMs ?? 600_000;
        return new Promise<ExecResult>((resolve, reject) => {
            client.exec(command, (err: Error | undefined, channel: ClientChannel) => {
                if (err) return reject(err);
                let stdout = "";
                let stderr = "";
                const timer = setTimeout(() => {
                    channel.close();
                    reject(new Error(`${this.describe()}: command did not finish within ${timeoutMs} ms: ${command.split("\n")[0]}`));
                }, timeoutMs);
                let code: number | null = null;
                let signal: string | undefined;
                channel.on("data", (d: Buffer) => (stdout += d.toString("utf8")));
                channel.stderr.on("data", (d: Buffer) => (stderr += d.toString("utf8")));
                channel.on("exit", (c: number | null, s?: string) => {
                    code = c;
                    signal = s ?? undefined;
                });
                channel.on("close", () => {
                    clearTimeout(timer);
                    resolve({ code, signal, stdout, stderr });
                });
                if (options.stdin !== undefined) channel.end(options.stdin);
                else channel.end();
            });
        });
    }

    /** Runs a command and throws, with its stderr, unless it exits 0. */
    async run(command: string, options: ExecOptions = {}): Promise<string> {
        const result = await this.exec(command, options);
        if (result.code !== 0) {
            throw new Error(`${this.describe()}: exit ${result.code ?? result.signal}: ${command.split("\n")[0]}\n${result.stderr.trim()}`);
        }
        return result.stdout;
    }

    /**
     * An HTTP agent whose connections are `docker system dial-stdio` sessions
     * on this connection: how the Docker CLI (and the Docker provider) reach
     * the Engine API at `ssh://user@host` (docker/cli connhelper). One SSH
     * connection, kept; each HTTP connection is a channel on it.
     */
    dockerAgent(): http.Agent {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 6 });
        const createConnection = (_options: unknown, callback: (err: Error | null, stream?: Duplex) => void): undefined => {
            this.connect().then(
                (client) =>
                    client.exec("docker system dial-stdio", (err: Error | undefined, channel: ClientChannel) => {
                        if (err) return callback(err);
                        // http.Agent treats its connections as sockets: give the channel the socket methods it calls.
                        const socketLike = channel as unknown as Record<string, unknown>;
                        for (const method of ["setKeepAlive", "setNoDelay", "ref", "unref"]) socketLike[method] ??= () => channel;
                        socketLike.setTimeout ??= () => channel;
                        callback(null, channel);
                    }),
                (err: Error) => callback(err),
            );
            return undefined;
        };
        (agent as unknown as { createConnection: typeof createConnection }).createConnection = createConnection;
        return agent;
    }

    close(): void {
        this.client?.end();
        this.client = undefined;
    }
}
