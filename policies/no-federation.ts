// Promise: "No federation with other servers, no metadata shared."
// Checked on the homeserver's uploaded tuwunel.toml ([global] table) and on
// its environment (TUWUNEL_* env vars silently override the file).
//
// Not visible in resources: what the server does at run time; the egress side
// is enforced by network-isolation (the homeserver never joins an egress
// network, so even a mis-set flag has no route out).
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { T, TUWUNEL_CONFIG_PATH, asArray, describe, roleOf, tuwunelGlobal } from "./common";

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
const MUST_BE_EMPTY = [
    "url_preview_domain_contains_allowlist",
    "url_preview_domain_explicit_allowlist",
    "url_preview_url_contains_allowlist",
];
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
        problems.push(`trusted_servers is ${JSON.stringify(trusted ?? "(default [\"matrix.org\"])")}; set trusted_servers = [] so no key server is asked`);
    }
    for (const key of MUST_BE_EMPTY) {
        const v = g[key];
        if (v !== undefined && !(Array.isArray(v) && v.length === 0)) problems.push(`${key} is ${JSON.stringify(v)}; leave it empty or remove it so no URL preview is fetched from outside`);
    }
    return problems;
}

export const homeserverNoFederation: ResourceValidationPolicy = {
    name: "homeserver-no-federation",
    description: "The homeserver config turns federation off, asks no key servers, fetches no URL previews and publishes no room directory over federation; no TUWUNEL_* env var overrides it.",
    validateResource: (args, report) => {
        if (args.type !== T.container || roleOf(args.props) !== "homeserver") return;
        const where = describe(args.type, args.name);
        const g = tuwunelGlobal(args.props);
        if (g === undefined) {
            report(`The homeserver ${where} has no config upload at ${TUWUNEL_CONFIG_PATH}; upload the rendered tuwunel.toml there with allow_federation = false.`);
        } else if (!g.ok) {
            report(`The homeserver ${where} has a tuwunel.toml that cannot be read (${g.error}); render valid TOML with a [global] table.`);
        } else {
            for (const problem of tuwunelFederationProblems(g.value)) report(`In the tuwunel.toml of the homeserver ${where}, ${problem}.`);
        }
        for (const env of asArray(args.props["envs"])) {
            if (typeof env !== "string") continue;
            const key = env.split("=")[0];
            if (CONFIG_ENV.test(key) && key !== "TUWUNEL_CONFIG") {
                report(`The homeserver ${where} sets the environment variable ${key}, which silently overrides tuwunel.toml; remove it and put the setting in the rendered config file.`);
            }
        }
    },
};

export const noFederationPolicies = [homeserverNoFederation];
