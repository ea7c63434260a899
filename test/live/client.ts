// A Matrix client's view of the live host, from this machine: TLS through
// the forwarded edge port with the name a client would send, one HTTP/1.1
// request at a time on a connection that can be kept open.
import { spawnSync } from "node:child_process";
import * as tls from "node:tls";

export interface HttpAnswer {
    status: number;
    headers: Record<string, string>;
    body: string;
}

export interface TlsSession {
    socket: tls.TLSSocket;
    protocol: string | null;
    peerCertificate: tls.DetailedPeerCertificate;
    /** Sends one GET on this connection and reads the answer (Content-Length framed). */
    get(path: string): Promise<HttpAnswer>;
    close(): void;
}

export interface ConnectOptions {
    port: number;
    servername: string;
    /** CA certificates to trust (PEM); the connection fails unless the chain verifies. */
    ca: string[];
    minVersion?: tls.SecureVersion;
    maxVersion?: tls.SecureVersion;
    timeoutMs?: number;
}

/** Opens a verified TLS connection to 127.0.0.1:port with SNI `servername`. */
export function connect(options: ConnectOptions): Promise<TlsSession> {
    return new Promise((resolve, reject) => {
        const socket = tls.connect({
            host: "127.0.0.1",
            port: options.port,
            servername: options.servername,
            ca: options.ca,
            minVersion: options.minVersion ?? "TLSv1.2",
            maxVersion: options.maxVersion,
            ALPNProtocols: ["http/1.1"],
        });
        const timer = setTimeout(() => {
            socket.destroy();
            reject(new Error(`TLS to ${options.servername} via 127.0.0.1:${options.port} timed out`));
        }, options.timeoutMs ?? 30_000);
        socket.once("error", (e: Error) => {
            clearTimeout(timer);
            reject(e);
        });
        socket.once("secureConnect", () => {
            clearTimeout(timer);
            let buffer = Buffer.alloc(0);
            let waiting: ((chunk: Buffer) => void) | undefined;
            socket.on("data", (chunk: Buffer) => {
                buffer = Buffer.concat([buffer, chunk]);
                waiting?.(chunk);
            });
            const get = (path: string) =>
                new Promise<HttpAnswer>((resolveGet, rejectGet) => {
                    // A connection the server (or the edge) already closed: say so now. Writing to it
                    // would only fail on an "error" nobody listens to any more, and look like a slow answer.
                    if (socket.destroyed || !socket.writable) {
                        rejectGet(new Error(`${options.servername}: connection already closed before GET ${path}`));
                        return;
                    }
                    buffer = Buffer.alloc(0);
                    const requestTimer = setTimeout(() => rejectGet(new Error(`no answer to GET ${path} from ${options.servername}`)), options.timeoutMs ?? 30_000);
                    const tryParse = () => {
                        const end = buffer.indexOf("\r\n\r\n");
                        if (end < 0) return;
                        const head = buffer.subarray(0, end).toString("latin1").split("\r\n");
                        const headers: Record<string, string> = {};
                        for (const line of head.slice(1)) {
                            const i = line.indexOf(":");
                            headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
                        }
                        const length = Number(headers["content-length"] ?? 0);
                        if (buffer.length < end + 4 + length) return;
                        clearTimeout(requestTimer);
                        waiting = undefined;
                        resolveGet({ status: Number(head[0].split(" ")[1]), headers, body: buffer.subarray(end + 4, end + 4 + length).toString("utf8") });
                    };
                    waiting = tryParse;
                    socket.once("close", () => rejectGet(new Error(`${options.servername}: connection closed before the answer to GET ${path}`)));
                    socket.write(`GET ${path} HTTP/1.1\r\nHost: ${options.servername}\r\nUser-Agent: redoubt-live-test\r\nConnection: keep-alive\r\n\r\n`);
                });
            resolve({ socket, protocol: socket.getProtocol(), peerCertificate: socket.getPeerCertificate(true), get, close: () => socket.destroy() });
        });
    });
}

/** One GET on a fresh connection. */
export async function fetchOnce(options: ConnectOptions, path: string): Promise<HttpAnswer & { protocol: string | null; certificate: tls.DetailedPeerCertificate }> {
    const session = await connect(options);
    try {
        const answer = await session.get(path);
        return { ...answer, protocol: session.protocol, certificate: session.peerCertificate };
    } finally {
        session.close();
    }
}

/**
 * Whether a TLS 1.1 handshake succeeds. OpenSSL 3 refuses TLS 1.0/1.1 on its
 * own at the default security level, which would prove nothing about the
 * server (SECURITY.md): SECLEVEL=0 leaves the refusal to the server.
 */
export function tls11Accepted(port: number, servername: string): { accepted: boolean; output: string } {
    const r = spawnSync("openssl", ["s_client", "-connect", `127.0.0.1:${port}`, "-servername", servername, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"], {
        input: "",
        encoding: "utf8",
        timeout: 30_000,
    });
    const output = `${r.stdout}\n${r.stderr}`;
    return { accepted: r.status === 0 && /Protocol\s*:\s*TLSv1\.1/.test(output), output };
}
