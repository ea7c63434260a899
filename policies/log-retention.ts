// Promise: "System logs kept at most 30 days; no access logs, no IP logs."
//
// Container logs must be bounded in time: journald (the host's journald
// retention is what the redoubt.log-retention-days label stands for) or none.
// json-file/local rotate by size only and cannot promise days.
//
// Not visible in resources: the host's journald drop-in itself
// (MaxRetentionSec + MaxFileSec); it is provisioned outside the stack, so the
// label is the contract and the host setup must honour it.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import {
    CADDY_CONFIG_PATH,
    LOG_RETENTION_LABEL,
    T,
    configOf,
    describe,
    isRecord,
    labelsOf,
    parseJsonText,
    roleOf,
    tuwunelGlobal,
    uploadText,
} from "./common";

const TIME_BOUNDED_DRIVERS = ["journald", "none"];

export const containerLogRetention: ResourceValidationPolicy = {
    name: "container-log-retention",
    description: "Container logs go to journald with a retention label of at most maxLogRetentionDays, or nowhere (logDriver none).",
    configSchema: {
        properties: {
            maxLogRetentionDays: { type: "integer", minimum: 1, default: 30 },
        },
    },
    validateResource: (args, report) => {
        if (args.type !== T.container) return;
        const { maxLogRetentionDays } = configOf(args, { maxLogRetentionDays: 30 });
        const where = describe(args.type, args.name);
        const driver = args.props["logDriver"];
        if (typeof driver !== "string" || !TIME_BOUNDED_DRIVERS.includes(driver)) {
            report(
                `The ${where} uses log driver ${JSON.stringify(driver ?? "(default json-file)")}, which rotates by size and cannot keep logs for a bounded time; set logDriver to "journald" (with the ${LOG_RETENTION_LABEL} label) or "none".`,
            );
            return;
        }
        if (driver === "none") return;
        const raw = labelsOf(args.props)[LOG_RETENTION_LABEL];
        const days = Number(raw);
        if (raw === undefined) {
            report(`The ${where} logs to journald but has no ${LOG_RETENTION_LABEL} label; add it with the number of days (at most ${maxLogRetentionDays}) the host keeps its logs.`);
        } else if (!Number.isInteger(days) || days < 1) {
            report(`The ${where} has ${LOG_RETENTION_LABEL}="${raw}"; set it to a whole number of days between 1 and ${maxLogRetentionDays}.`);
        } else if (days > maxLogRetentionDays) {
            report(`The ${where} keeps logs for ${days} days (${LOG_RETENTION_LABEL}); set the tenant's logging.retentionDays to at most ${maxLogRetentionDays} days, as the privacy page promises.`);
        }
    },
};

/** Servers in a Caddy JSON config that write an access log. */
export function caddyAccessLogServers(config: unknown): string[] {
    const servers = isRecord(config) && isRecord(config["apps"]) && isRecord(config["apps"]["http"]) ? config["apps"]["http"]["servers"] : undefined;
    if (!isRecord(servers)) return [];
    return Object.entries(servers)
        .filter(([, s]) => isRecord(s) && s["logs"] !== undefined)
        .map(([name]) => name);
}

export const proxyNoAccessLog: ResourceValidationPolicy = {
    name: "proxy-no-access-log",
    description: "The tenant proxy (Caddy) writes no access log: no server has a `logs` key.",
    validateResource: (args, report) => {
        if (args.type !== T.container || roleOf(args.props) !== "proxy") return;
        const where = describe(args.type, args.name);
        const text = uploadText(args.props, CADDY_CONFIG_PATH);
        if (text === undefined) {
            report(`The proxy ${where} has no Caddy config upload at ${CADDY_CONFIG_PATH}; upload the rendered Caddy JSON there so the access log can be checked off.`);
            return;
        }
        const parsed = parseJsonText(text);
        if (!parsed.ok) {
            report(`The proxy ${where} has a Caddy config that is not valid JSON (${parsed.error}); render it with JSON.stringify.`);
            return;
        }
        for (const server of caddyAccessLogServers(parsed.value)) {
            report(`The Caddy server "${server}" in the proxy ${where} has a "logs" key, which turns on access logging with client IPs; remove "logs" from apps.http.servers.${server}.`);
        }
    },
};

const QUIET_LEVELS = ["warn", "error"];

export const homeserverQuietLogs: ResourceValidationPolicy = {
    name: "homeserver-quiet-logs",
    description: "The homeserver logs at warn or error and never trusts client-supplied IP headers (ip_source = \"connect_info\").",
    validateResource: (args, report) => {
        if (args.type !== T.container || roleOf(args.props) !== "homeserver") return;
        const where = describe(args.type, args.name);
        const g = tuwunelGlobal(args.props);
        if (g === undefined) {
            report(`The homeserver ${where} has no config upload at /etc/tuwunel/tuwunel.toml; upload the rendered tuwunel.toml there so its log settings can be checked.`);
            return;
        }
        if (!g.ok) {
            report(`The homeserver ${where} has a tuwunel.toml that cannot be read (${g.error}); render valid TOML with a [global] table.`);
            return;
        }
        const log = g.value["log"];
        if (typeof log !== "string" || !QUIET_LEVELS.includes(log)) {
            report(`The homeserver ${where} logs at ${JSON.stringify(log ?? "(default info)")}; set log = "warn" (or "error") in [global]: info and debug log metadata.`);
        }
        if (g.value["ip_source"] !== "connect_info") {
            report(`The homeserver ${where} has ip_source = ${JSON.stringify(g.value["ip_source"] ?? "(default)")}; set ip_source = "connect_info" in [global] so client-supplied X-Forwarded-For addresses are never trusted or logged.`);
        }
    },
};

export const logRetentionPolicies = [containerLogRetention, proxyNoAccessLog, homeserverQuietLogs];
