import { homeserverMetadataPrivate, proxyClientApiOnly, tuwunelMetadataProblems } from "../../policies/metadata-privacy";
import { CADDY_JSON, TUWUNEL_TOML, carrier } from "./fixtures";
import { runResource } from "./helpers";

const hs = (toml: string) => carrier("acme", "homeserver", { uploads: [{ file: "/etc/tuwunel/tuwunel.toml", content: toml }] });
const proxy = (json: string) => carrier("acme", "proxy", { uploads: [{ file: "/etc/caddy/caddy.json", content: json }] });
/** The rendered TOML with one `key = value` line replaced (or removed, with `undefined`). */
const withSetting = (key: string, value: string | undefined) => {
    const line = new RegExp(`^${key} = .*\\n`, "m");
    expect(TUWUNEL_TOML).toMatch(line);
    return TUWUNEL_TOML.replace(line, value === undefined ? "" : `${key} = ${value}\n`);
};

describe("homeserver-metadata-private", () => {
    it("accepts the rendered config", async () => {
        expect(await runResource(homeserverMetadataPrivate, carrier("acme", "homeserver"))).toEqual([]);
    });

    it.each([
        ["require_auth_for_profile_requests", "false", /set require_auth_for_profile_requests = true so only signed-in users/],
        ["require_auth_for_profile_requests", undefined, /unset \(default leaky\); set require_auth_for_profile_requests = true/],
        ["encryption_enabled_by_default_for_room_type", '"invite"', /set encryption_enabled_by_default_for_room_type = "all"/],
        ["new_user_displayname_suffix", undefined, /set new_user_displayname_suffix = ""/],
        ["allow_incoming_read_receipts", "true", /read receipts are taken from other servers/],
        ["allow_outgoing_read_receipts", undefined, /set allow_outgoing_read_receipts = false/],
        ["allow_incoming_typing", "true", /typing notices are taken/],
        ["allow_outgoing_typing", "true", /typing notices are sent/],
        ["allow_inbound_profile_lookup_federation_requests", undefined, /other servers cannot look up local profiles/],
        ["allow_jaeger", "true", /set allow_jaeger = false or remove it/],
        ["tracing_flame", "true", /set tracing_flame = false or remove it/],
        ["log_span_events", '"full"', /set log_span_events = "none"/],
        ["admin_log_capture", '"info"', /set admin_log_capture to "error" or "warn"/],
        ["admin_log_capture", undefined, /admin_log_capture is unset \(default info\)/],
        ["rocksdb_log_level", '"debug"', /set rocksdb_log_level to "error" or "fatal"/],
    ])("refuses %s = %s", async (key, value, message) => {
        expect(await runResource(homeserverMetadataPrivate, hs(withSetting(key, value)))).toEqual([expect.stringMatching(message)]);
    });

    it("accepts quieter or absent settings where absent is safe", async () => {
        const toml = withSetting("admin_log_capture", '"error"')
            .replace(/^allow_jaeger = .*\n/m, "")
            .replace(/^rocksdb_log_level = .*\n/m, "");
        expect(await runResource(homeserverMetadataPrivate, hs(toml))).toEqual([]);
    });

    it("refuses a carrier without a readable tuwunel.toml", async () => {
        expect(await runResource(homeserverMetadataPrivate, carrier("acme", "homeserver", { uploads: [] }))).toEqual([expect.stringMatching(/upload the rendered tuwunel.toml/)]);
        expect(await runResource(homeserverMetadataPrivate, hs("not = [toml"))).toEqual([expect.stringMatching(/cannot be read/)]);
    });

    it("names every problem of a config with all defaults", () => {
        // An empty [global]: every required setting is at Tuwunel's leaky default.
        expect(tuwunelMetadataProblems({})).toHaveLength(9);
    });
});

describe("proxy-client-api-only", () => {
    const caddy = () =>
        JSON.parse(CADDY_JSON) as { apps: { http: { servers: Record<string, { routes: { handle: { handler: string; routes?: { match?: { path: string[] }[] }[] }[] }[] }> } } };
    const proxyRoute = (config: ReturnType<typeof caddy>) => {
        const sub = config.apps.http.servers.tenant.routes[0].handle.find((h) => h.handler === "subroute");
        const route = sub?.routes?.find((r) => r.match?.[0].path.includes("/_matrix/client/*"));
        if (!route) throw new Error("the rendered Caddy config has no client API route");
        return route;
    };

    it("accepts the rendered config", async () => {
        expect(await runResource(proxyClientApiOnly, carrier("acme", "proxy"))).toEqual([]);
    });

    it.each(["/_matrix/*", "/_matrix/federation/*", "/_tuwunel/*", "/*"])("refuses a route passing %s to the homeserver", async (path) => {
        const config = caddy();
        proxyRoute(config).match = [{ path: ["/_matrix/client/*", path] }];
        expect(await runResource(proxyClientApiOnly, proxy(JSON.stringify(config)))).toEqual([
            expect.stringMatching(new RegExp(`passes ${path.replace(/[*/]/g, "\\$&")} to the homeserver; match only`)),
        ]);
    });

    it("refuses a reverse proxy without a path matcher (every path)", async () => {
        const config = caddy();
        delete proxyRoute(config).match;
        expect(await runResource(proxyClientApiOnly, proxy(JSON.stringify(config)))).toEqual([expect.stringMatching(/passes every path to the homeserver/)]);
    });

    it("refuses a carrier without a readable Caddy config", async () => {
        expect(await runResource(proxyClientApiOnly, carrier("acme", "proxy", { uploads: [] }))).toEqual([expect.stringMatching(/so its routes can be checked/)]);
        expect(await runResource(proxyClientApiOnly, proxy("{"))).toEqual([expect.stringMatching(/not valid JSON/)]);
    });
});
