// Promise: "No federation with other servers, no metadata shared."
// Checked on the homeserver's uploaded tuwunel.toml ([global] table) and on
// its environment (TUWUNEL_* env vars silently override the file).
//
// Not visible in resources: what the server does at run time; the egress side
// is enforced by network-isolation (the homeserver never joins an egress
// network, so even a mis-set flag has no route out).
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { T, TENANT_LABEL, asArray, configuredRoleOf, describe, isRecord, labelsOf, roleOf, homeserverConfig } from "./common";

/** Settings that must be explicitly false (their defaults are not safe or the promise wants them stated). */
const MUST_BE_FALSE = ["allow_federation"];
/** Settings that must be false or absent (absent means false in Tuwunel 1.9). */
const MUST_NOT_BE_TRUE = [
    "allow_public_room_directory_over_federation",
    "allow_public_room_directory_without_auth",
    "federate_created_rooms",
    "federate_admin_room",
    "allow_guest_registration",
];
/** URL preview allow lists: empty or absent, so no preview is fetched from outside. */
const MUST_BE_EMPTY = ["url_preview_domain_contains_allowlist", "url_preview_domain_explicit_allowlist", "url_preview_url_contains_allowlist"];
/** Env prefixes Tuwunel reads as config overrides. */
const CONFIG_ENV = /^(TUWUNEL|CONDUWUIT|CONDUIT)_/;

/** Problems with a tuwunel.toml [global] table, as "set ..." sentences. */
export function tuwunelFederationProblems(g: Record<string, unknown>): string[] {
    const problems: string[] = [];
    for (const key of MUST_BE_FALSE) {
        if (g[key] !== false) problems.push(`${key} is ${JSON.stringify(g[key] ?? "(default true)")}; set ${key} = false`);
    }
    for (const key of MUST_NOT_BE_TRUE) {
        if (g[key] === true) problems.push(`${key} is true; set ${key} = false or remove it`);
    }
    const trusted = g["trusted_servers"];
    if (!Array.isArray(trusted) || trusted.length > 0) {
        problems.push(`trusted_servers is ${JSON.stringify(trusted ?? '(default ["matrix.org"])')}; set trusted_servers = [] so no key server is asked`);
    }
    for (const key of MUST_BE_EMPTY) {
        const v = g[key];
        if (v !== undefined && !(Array.isArray(v) && v.length === 0))
            problems.push(`${key} is ${JSON.stringify(v)}; leave it empty or remove it so no URL preview is fetched from outside`);
    }
    return problems;
}

/** The tenant's own push proxy, the only outbound proxy its homeserver may use (components/pushProxy.ts builds it; drift-tested). */
export const tenantPushProxyUrl = (tenant: string) => `http://redoubt-${tenant}-push-proxy:3128`;

/**
 * Problems with the homeserver's outbound proxy: the only allowed one is the
 * tenant's own push proxy, for named push gateway hosts (never all traffic).
 */
export function tuwunelProxyProblems(g: Record<string, unknown>, tenant: string | undefined): string[] {
    const proxy = g["proxy"];
    if (proxy === undefined || proxy === "none") return [];
    const own = tenantPushProxyUrl(tenant ?? "<tenant>");
    if (!isRecord(proxy)) return [`proxy is ${JSON.stringify(proxy)}; remove it, or route only push gateways through ${own} with [[global.proxy.by_domain]]`];
    const problems: string[] = [];
    if (proxy["global"] !== undefined)
        problems.push(
            `[global.proxy] global sends all outbound traffic through a proxy; remove it and list only push gateway hosts under [[global.proxy.by_domain]] with url ${own}`,
        );
    for (const entry of asArray(proxy["by_domain"])) {
        if (!isRecord(entry)) continue;
        if (entry["url"] !== own) problems.push(`a [[global.proxy.by_domain]] url is ${JSON.stringify(entry["url"])}; use the tenant's own push proxy, ${own}`);
        const include = asArray(entry["include"]);
        if (include.length === 0 || include.some((d) => typeof d !== "string" || d.includes("*"))) {
            problems.push(
                `a [[global.proxy.by_domain]] include is ${JSON.stringify(entry["include"] ?? "(empty: every domain)")}; list the push gateway host names themselves, without wildcards`,
            );
        }
    }
    return problems;
}

export const homeserverNoFederation: ResourceValidationPolicy = {
    name: "homeserver-no-federation",
    description:
        "The homeserver config turns federation off, asks no key servers, fetches no URL previews, publishes no room directory over federation and proxies only push gateways through the tenant's own push proxy; no TUWUNEL_* env var overrides it.",
    validateResource: (args, report) => {
        if (args.type !== T.container) return;
        const where = describe(args.type, args.name);
        if (configuredRoleOf(args.props) === "homeserver") {
            const g = homeserverConfig(args.props, where, report, "with allow_federation = false");
            if (g !== undefined) {
                for (const problem of [...tuwunelFederationProblems(g), ...tuwunelProxyProblems(g, labelsOf(args.props)[TENANT_LABEL])]) {
                    report(`In the tuwunel.toml written by the homeserver's config carrier ${where}, ${problem}.`);
                }
            }
        }
        if (roleOf(args.props) !== "homeserver") return;
        for (const env of asArray(args.props["envs"])) {
            if (typeof env !== "string") continue;
            const key = env.split("=")[0];
            if (CONFIG_ENV.test(key) && key !== "TUWUNEL_CONFIG") {
                report(
                    `The homeserver ${where} sets the environment variable ${key}, which silently overrides tuwunel.toml; remove it and put the setting in the rendered config file.`,
                );
            }
        }
    },
};

/** Roles whose configuration the pack must read before it can vouch for a promise. */
const CHECKED_CONFIG_ROLES = ["homeserver", "proxy"];

/**
 * Fail closed: the federation, TLS and logging checks read the files a config
 * carrier writes. A homeserver or proxy without a carrier of its tenant would
 * run with files the pack never saw.
 */
export const serviceConfigDeclared: StackValidationPolicy = {
    name: "service-config-declared",
    description: "Every homeserver and proxy container has a config carrier of its own tenant that writes its configuration (so the pack has checked what it runs with).",
    validateStack: (args, report) => {
        const carried = new Set<string>();
        for (const r of args.resources) {
            if (r.type !== T.container) continue;
            const role = configuredRoleOf(r.props);
            if (role) carried.add(`${labelsOf(r.props)[TENANT_LABEL] ?? ""}/${role}`);
        }
        for (const r of args.resources) {
            if (r.type !== T.container) continue;
            const role = roleOf(r.props) ?? "";
            const tenant = labelsOf(r.props)[TENANT_LABEL] ?? "";
            if (CHECKED_CONFIG_ROLES.includes(role) && !carried.has(`${tenant}/${role}`)) {
                report(
                    `The ${role} ${describe(r.type, r.name)} of tenant ${tenant || "(none)"} has no config carrier (a container labelled ${"redoubt.role"}=config, redoubt.configures=${role}) of its tenant; declare one so its configuration is written and checked.`,
                    r.urn,
                );
            }
        }
    },
};

export const noFederationPolicies = [homeserverNoFederation, serviceConfigDeclared];
