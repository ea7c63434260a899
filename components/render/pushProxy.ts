// The tenant's push proxy (tinyproxy): the homeserver's only way out, and
// only by HTTPS CONNECT to the push gateways the tenant file allows. It logs
// nothing below critical, so no client address or destination is recorded.

export const PUSH_PROXY_PORT = 3128;
export const PUSH_PROXY_CONFIG_PATH = "/etc/tinyproxy/tinyproxy.conf";
export const PUSH_PROXY_FILTER_PATH = "/etc/tinyproxy/filter";

export interface PushProxyConfigInput {
    /** The subnet allowed to use the proxy: the tenant's services network. */
    allowFrom: string;
    /** Listen address, default 0.0.0.0 (the container's). */
    listen?: string;
    port?: number;
    filterFile?: string;
    /** Ports CONNECT may reach; default 443 only. */
    connectPorts?: number[];
}

export function renderPushProxyConfig(input: PushProxyConfigInput): string {
    return [
        "# Rendered by redoubt: allow-listed HTTPS egress for push notifications only.",
        `Port ${input.port ?? PUSH_PROXY_PORT}`,
        `Listen ${input.listen ?? "0.0.0.0"}`,
        "Timeout 60",
        "MaxClients 50",
        `Allow ${input.allowFrom}`,
        // Connection lines (with client addresses) are logged at Info and Connect levels.
        "LogLevel Critical",
        "Syslog Off",
        "DisableViaHeader Yes",
        "FilterDefaultDeny Yes",
        // Filter on the whole request target: a CONNECT is host:port, a plain request a full http:// URL,
        // so patterns of the form ^host:443$ let through HTTPS tunnels to the gateways and nothing else.
        "FilterURLs On",
        "FilterType ere",
        `Filter "${input.filterFile ?? PUSH_PROXY_FILTER_PATH}"`,
        ...(input.connectPorts ?? [443]).map((port) => `ConnectPort ${port}`),
        "",
    ].join("\n");
}

/** The allow list: one anchored pattern per gateway host and HTTPS port (a CONNECT's target), nothing else. */
export function renderPushFilter(gateways: string[], ports: number[] = [443]): string {
    return `${gateways.flatMap((host) => ports.map((port) => `^${host.replace(/\./g, "\\.")}:${port}$`)).join("\n")}\n`;
}
