// The shared SNI edge (HAProxy in TCP mode). It reads only the TLS
// ClientHello's server name and passes the connection through untouched: it
// never terminates TLS, never sees plaintext, and has no `log` line, so it
// logs nothing (HAProxy logs only where told to).

export const EDGE_CONFIG_PATH = "/usr/local/etc/haproxy/haproxy.cfg";
export const EDGE_LISTEN_PORT = 8443;

export interface EdgeRoute {
    /** The SNI name clients ask for. */
    hostname: string;
    /** host:port of the tenant's TLS proxy, reached over the tenant's ingress network. */
    backend: string;
}

export interface EdgeConfigInput {
    routes: EdgeRoute[];
    /** Listen address, default `:8443` (the container's; the host publishes 443 to it). */
    bind?: string;
    /** Resolve backends through Docker's embedded DNS (off in tests that use IP addresses). */
    dockerDns?: boolean;
}

function backendName(hostname: string): string {
    return `tenant_${hostname.replace(/[^a-z0-9]/g, "_")}`;
}

export function renderEdgeConfig(input: EdgeConfigInput): string {
    const routes = [...input.routes].sort((a, b) => a.hostname.localeCompare(b.hostname));
    const dockerDns = input.dockerDns ?? true;
    const lines = [
        "# Rendered by redoubt. SNI pass-through only: no TLS termination, no log lines.",
        "global",
        "    maxconn 4096",
        "",
        "defaults",
        "    mode tcp",
        "    timeout connect 5s",
        "    timeout client 1h",
        "    timeout server 1h",
        // A stopped tenant proxy must not stop the edge from starting.
        `    default-server init-addr ${dockerDns ? "last,libc,none" : "libc,none"}${dockerDns ? " resolvers docker" : ""}`,
        "",
        ...(dockerDns ? ["resolvers docker", "    nameserver dns 127.0.0.11:53", "    hold valid 10s", ""] : []),
        "frontend tls_in",
        `    bind ${input.bind ?? `:${EDGE_LISTEN_PORT}`}`,
        "    tcp-request inspect-delay 5s",
        "    tcp-request content accept if { req_ssl_hello_type 1 }",
        ...routes.map((r) => `    use_backend ${backendName(r.hostname)} if { req.ssl_sni -i ${r.hostname} }`),
        // Unknown names (and anything that is not TLS) are refused.
        "    tcp-request content reject",
        "",
        ...routes.flatMap((r) => [`backend ${backendName(r.hostname)}`, `    server proxy ${r.backend}`, ""]),
    ];
    return lines.join("\n");
}
