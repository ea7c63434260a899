// The tenant's TLS proxy (Caddy), rendered as Caddy's native JSON so the
// policy pack can read it as data rather than parse a Caddyfile.

export const CADDY_CONFIG_PATH = "/etc/caddy/caddy.json";
/** Port Caddy listens on inside its container; the edge passes TLS through to it. */
export const CADDY_TLS_PORT = 8443;
export const CADDY_CERT_PATH = "/etc/caddy/tls.crt";
export const CADDY_KEY_PATH = "/etc/caddy/tls.key";
/**
 * The tenant CA's certificate (public), beside the proxy's own for tor and vpn tenants. Caddy never reads it:
 * the host's monitoring collector does, for the CA's expiry (the CA is what customers' clients trust).
 */
export const CADDY_TENANT_CA_PATH = "/etc/caddy/tenant-ca.crt";
/** The certificate the ACME directory's HTTPS endpoint is signed by, when it is a private CA. */
export const CADDY_ACME_ROOTS_PATH = "/etc/caddy/acme-roots.pem";
export const HSTS_VALUE = "max-age=31536000; includeSubDomains";
/**
 * The only paths the proxy passes to the homeserver: the client-server API and
 * media. Everything else answers 404 at the proxy: federation and key
 * endpoints (`/_matrix/federation/v1/version` names the server's software and
 * version), and Tuwunel's own `/_tuwunel/*` (server version, user count).
 */
export const PROXIED_PATHS = ["/_matrix/client/*", "/_matrix/media/*"] as const;

export type CaddyTls =
    /**
     * A public certificate by TLS-ALPN-01 through the SNI edge: no port 80 anywhere. From Let's Encrypt unless
     * `directory` names another ACME CA (a staging or test CA); `trustedRootsFile` holds the CA certificate that
     * the directory's own HTTPS endpoint is signed by, when that is not a public one.
     */
    | { kind: "acme"; email: string; directory?: string; trustedRootsFile?: string }
    /** Files from the tenant's own CA (tor and vpn tenants: public ACME cannot serve them). */
    | { kind: "files"; certFile: string; keyFile: string };

/** Where the tenant's users get help: what /.well-known/matrix/support publishes. */
export interface SupportContact {
    email?: string;
    page?: string;
}

/** The path clients ask for a server's support contacts (Matrix spec, MSC1929). */
export const SUPPORT_WELL_KNOWN_PATH = "/.well-known/matrix/support";

/**
 * The body of /.well-known/matrix/support (MSC1929): the email as an
 * `m.role.admin` contact and the page as `support_page`. Only what is given is
 * published; a document with neither is invalid, so it is refused.
 */
export function renderSupportWellKnown(support: SupportContact): string {
    if (support.email === undefined && support.page === undefined) throw new Error("renderSupportWellKnown: give an email or a page (MSC1929 needs at least one)");
    return JSON.stringify({
        ...(support.email !== undefined ? { contacts: [{ email_address: support.email, role: "m.role.admin" }] } : {}),
        ...(support.page !== undefined ? { support_page: support.page } : {}),
    });
}

/** The client URL of a proxy that answers any name: https and the host the client asked for (a Caddy placeholder). */
export const REQUEST_HOST_URL = "https://{http.request.host}";

export interface CaddyConfigInput {
    /**
     * Names the proxy answers for (SNI and Host).
     * @default any name: for a tor tenant, whose onion service is the proxy's only way in and whose onion
     * name is generated (unknown until the tenant exists); an ACME certificate needs the names
     */
    hostnames?: string[];
    /** host:port of the homeserver on the tenant's services network. */
    upstream: string;
    /**
     * What /.well-known/matrix/client says.
     * @default REQUEST_HOST_URL: https and the name the client asked for
     */
    clientUrl?: string;
    tls: CaddyTls;
    /** Listen address, default `:8443`. */
    listen?: string;
    /** Where Caddy keeps certificates and ACME state. */
    storagePath: string;
    /** What /.well-known/matrix/support publishes; without it that path answers 404. */
    support?: SupportContact;
}

/** The JSON document Caddy runs with (`caddy run --config caddy.json`). */
export function renderCaddyConfig(input: CaddyConfigInput): Record<string, unknown> {
    const listen = input.listen ?? `:${CADDY_TLS_PORT}`;
    const port = listen.slice(listen.lastIndexOf(":") + 1);
    if (input.tls.kind === "acme" && !input.hostnames?.length) throw new Error("renderCaddyConfig: an ACME certificate needs the names it is for (hostnames)");
    // Caddy replaces the placeholder in a static response's body and leaves the JSON's own braces alone.
    const wellKnown = JSON.stringify({ "m.homeserver": { base_url: input.clientUrl ?? REQUEST_HOST_URL } });
    const jsonHeaders = { "Content-Type": ["application/json"], "Access-Control-Allow-Origin": ["*"] };
    const supportRoutes = input.support
        ? [
              {
                  match: [{ path: [SUPPORT_WELL_KNOWN_PATH] }],
                  handle: [{ handler: "static_response", status_code: 200, headers: jsonHeaders, body: renderSupportWellKnown(input.support) }],
              },
          ]
        : [];
    const tlsApp =
        input.tls.kind === "acme"
            ? {
                  automation: {
                      policies: [
                          {
                              subjects: input.hostnames,
                              issuers: [
                                  {
                                      module: "acme",
                                      email: input.tls.email,
                                      ...(input.tls.directory ? { ca: input.tls.directory } : {}),
                                      ...(input.tls.trustedRootsFile ? { trusted_roots_pem_files: [input.tls.trustedRootsFile] } : {}),
                                      // The edge forwards :443 to this port untouched; no HTTP challenge, no port 80.
                                      challenges: { http: { disabled: true }, "tls-alpn": { alternate_port: Number(port) } },
                                  },
                              ],
                          },
                      ],
                  },
              }
            : { certificates: { load_files: [{ certificate: input.tls.certFile, key: input.tls.keyFile, tags: ["tenant"] }] } };
    return {
        admin: { disabled: true },
        // Caddy's own runtime log: warnings and errors only. No access log: no server below has `logs`.
        logging: { logs: { default: { level: "WARN" } } },
        storage: { module: "file_system", root: input.storagePath },
        apps: {
            http: {
                servers: {
                    tenant: {
                        listen: [listen],
                        automatic_https: { disable_redirects: true },
                        tls_connection_policies: [
                            {
                                ...(input.hostnames ? { match: { sni: input.hostnames } } : {}),
                                protocol_min: "tls1.2",
                                protocol_max: "tls1.3",
                                ...(input.tls.kind === "files" ? { certificate_selection: { any_tag: ["tenant"] } } : {}),
                            },
                        ],
                        routes: [
                            {
                                ...(input.hostnames ? { match: [{ host: input.hostnames }] } : {}),
                                handle: [
                                    {
                                        handler: "headers",
                                        response: { set: { "Strict-Transport-Security": [HSTS_VALUE] }, deferred: false },
                                    },
                                    {
                                        handler: "subroute",
                                        routes: [
                                            {
                                                match: [{ path: ["/.well-known/matrix/client"] }],
                                                handle: [
                                                    {
                                                        handler: "static_response",
                                                        status_code: 200,
                                                        headers: jsonHeaders,
                                                        body: wellKnown,
                                                    },
                                                ],
                                            },
                                            ...supportRoutes,
                                            {
                                                match: [{ path: [...PROXIED_PATHS] }],
                                                handle: [{ handler: "reverse_proxy", upstreams: [{ dial: input.upstream }] }],
                                            },
                                            { handle: [{ handler: "static_response", status_code: 404 }] },
                                        ],
                                    },
                                ],
                                terminal: true,
                            },
                        ],
                    },
                },
            },
            tls: tlsApp,
        },
    };
}
