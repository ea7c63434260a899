// Promise: "no metadata shared" beyond federation: who can look up a user's
// name and avatar, whether new rooms are encrypted, what the admin room and the
// logs capture, and which of the homeserver's endpoints the proxy exposes.
// Checked on the homeserver's uploaded tuwunel.toml ([global] table) and the
// proxy's uploaded Caddy JSON.
//
// Not visible in resources: what Tuwunel does with these settings at run time
// (the live host test asks the running proxy for the endpoints it must hide).
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { PROXIED_PATHS, T, asArray, configuredRoleOf, describe, homeserverConfigPolicy, isRecord, proxyCaddyConfig } from "./common";

/** A setting that must have exactly this value (its default is the leaky one), and why. */
interface Required {
    key: string;
    value: string | boolean;
    because: string;
}

const REQUIRED: readonly Required[] = [
    { key: "require_auth_for_profile_requests", value: true, because: "so only signed-in users can look up names and avatars" },
    { key: "encryption_enabled_by_default_for_room_type", value: "all", because: "so every new room is end-to-end encrypted" },
    { key: "new_user_displayname_suffix", value: "", because: "so no text is appended to new users' display names" },
    // Federation-only features, on by default.
    { key: "allow_incoming_read_receipts", value: false, because: "so no read receipts are taken from other servers" },
    { key: "allow_outgoing_read_receipts", value: false, because: "so no read receipts are sent to other servers" },
    { key: "allow_incoming_typing", value: false, because: "so no typing notices are taken from other servers" },
    { key: "allow_outgoing_typing", value: false, because: "so no typing notices are sent to other servers" },
    { key: "allow_inbound_profile_lookup_federation_requests", value: false, because: "so other servers cannot look up local profiles" },
];

/** Settings that must be false or absent (absent is false in Tuwunel 1.9). */
const TRACING_OFF = ["allow_jaeger", "tracing_flame"];
/** Log levels no wider than warn, for settings whose default is wider. */
const QUIET_LEVELS: Readonly<Record<string, { allowed: readonly string[]; default: string }>> = {
    admin_log_capture: { allowed: ["error", "warn"], default: "info" },
    rocksdb_log_level: { allowed: ["error", "fatal"], default: "error" },
};

const shown = (v: unknown, fallback: string) => (v === undefined ? `unset (default ${fallback})` : JSON.stringify(v));

/** Problems with a tuwunel.toml [global] table, as "set ..." sentences. */
export function tuwunelMetadataProblems(g: Record<string, unknown>): string[] {
    const problems: string[] = [];
    for (const { key, value, because } of REQUIRED) {
        if (g[key] !== value) problems.push(`${key} is ${shown(g[key], "leaky")}; set ${key} = ${JSON.stringify(value)} ${because}`);
    }
    for (const key of TRACING_OFF) {
        if (g[key] !== undefined && g[key] !== false) problems.push(`${key} is ${JSON.stringify(g[key])}; set ${key} = false or remove it so no traces leave the server`);
    }
    const spans = g["log_span_events"];
    if (spans !== undefined && spans !== "none") problems.push(`log_span_events is ${JSON.stringify(spans)}; set log_span_events = "none" so log lines carry no request spans`);
    for (const [key, { allowed, default: fallback }] of Object.entries(QUIET_LEVELS)) {
        const level = g[key] ?? fallback;
        if (typeof level !== "string" || !allowed.includes(level)) {
            problems.push(`${key} is ${shown(g[key], fallback)}; set ${key} to ${allowed.map((l) => JSON.stringify(l)).join(" or ")}`);
        }
    }
    return problems;
}

export const homeserverMetadataPrivate = homeserverConfigPolicy(
    "homeserver-metadata-private",
    "The homeserver config requires sign-in for profile lookups, encrypts new rooms by default, appends nothing to display names, turns federation-only receipts, typing and profile lookups off, exports no traces, and captures admin and RocksDB logs at warn or less.",
    "so its metadata settings can be checked",
    tuwunelMetadataProblems,
);

/** A Caddy route's path matchers (undefined: a matcher set without `path`, so every path matches). */
function routePaths(route: Record<string, unknown>): string[] | undefined {
    const sets = asArray(route["match"]).filter(isRecord);
    if (sets.length === 0) return undefined;
    const paths: string[] = [];
    for (const set of sets) {
        if (set["path"] === undefined) return undefined;
        for (const p of asArray(set["path"])) paths.push(String(p));
    }
    return paths;
}

/**
 * Paths a Caddy JSON config passes to a reverse proxy beyond `allowed`, as
 * sentences. Subroutes inherit their parent route's paths; a reverse proxy
 * reached with no path matcher on its way passes every path.
 */
export function caddyProxiedPathProblems(config: unknown, allowed: readonly string[] = PROXIED_PATHS): string[] {
    const problems: string[] = [];
    const visit = (routes: unknown, inherited: string[] | undefined, where: string) => {
        asArray(routes).forEach((route, i) => {
            if (!isRecord(route)) return;
            const paths = routePaths(route) ?? inherited;
            for (const handler of asArray(route["handle"]).filter(isRecord)) {
                if (handler["handler"] === "subroute") visit(handler["routes"], paths, `${where}[${i}] subroute`);
                if (handler["handler"] !== "reverse_proxy") continue;
                if (paths === undefined) {
                    problems.push(`route ${where}[${i}] passes every path to the homeserver; match only ${allowed.join(", ")}`);
                    continue;
                }
                for (const path of paths.filter((p) => !allowed.includes(p))) {
                    problems.push(
                        `route ${where}[${i}] passes ${path} to the homeserver; match only ${allowed.join(", ")} so federation, key and server-version endpoints stay unreachable`,
                    );
                }
            }
        });
    };
    const servers = isRecord(config) && isRecord(config["apps"]) && isRecord(config["apps"]["http"]) ? config["apps"]["http"]["servers"] : undefined;
    if (!isRecord(servers)) return problems;
    for (const [name, server] of Object.entries(servers)) if (isRecord(server)) visit(server["routes"], undefined, `apps.http.servers.${name}.routes`);
    return problems;
}

export const proxyClientApiOnly: ResourceValidationPolicy = {
    name: "proxy-client-api-only",
    description: "The tenant proxy passes only the client-server API and media paths to the homeserver: no federation, key or server-version endpoint.",
    validateResource: (args, report) => {
        if (args.type !== T.container || configuredRoleOf(args.props) !== "proxy") return;
        const where = describe(args.type, args.name);
        const caddy = proxyCaddyConfig(args.props, where, report, "its routes can be checked");
        if (caddy === undefined) return;
        for (const problem of caddyProxiedPathProblems(caddy.value)) report(`In the Caddy config written by the proxy's config carrier ${where}, ${problem}.`);
    },
};

export const metadataPrivacyPolicies = [homeserverMetadataPrivate, proxyClientApiOnly];
