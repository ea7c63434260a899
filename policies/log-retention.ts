// Promise: "System logs kept at most 30 days; no access logs, no IP logs."
//
// Container logs must be bounded in time: journald (the host's journald
// retention is what the redoubt.log-retention-days label stands for) or none.
// json-file/local rotate by size only and cannot promise days.
//
// The host's journald drop-in is written by a host command (HostBaseline):
// host-journal-retention checks its MaxFileSec + MaxRetentionSec, the longest
// an entry can live, and that a stack with journald containers has one.
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import { LOG_RETENTION_LABEL, T, configOf, describe, isRecord, labelsOf, configuredRoleOf, proxyCaddyConfig, homeserverConfig } from "./common";

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
            report(
                `The ${where} logs to journald but has no ${LOG_RETENTION_LABEL} label; add it with the number of days (at most ${maxLogRetentionDays}) the host keeps its logs.`,
            );
        } else if (!Number.isInteger(days) || days < 1) {
            report(`The ${where} has ${LOG_RETENTION_LABEL}="${raw}"; set it to a whole number of days between 1 and ${maxLogRetentionDays}.`);
        } else if (days > maxLogRetentionDays) {
            report(
                `The ${where} keeps logs for ${days} days (${LOG_RETENTION_LABEL}); set the tenant's logging.retentionDays to at most ${maxLogRetentionDays} days, as the privacy page promises.`,
            );
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
        if (args.type !== T.container || configuredRoleOf(args.props) !== "proxy") return;
        const where = describe(args.type, args.name);
        const caddy = proxyCaddyConfig(args.props, where, report, "the access log can be checked off");
        if (caddy === undefined) return;
        for (const server of caddyAccessLogServers(caddy.value)) {
            report(
                `The Caddy server "${server}" written by the config carrier ${where} has a "logs" key, which turns on access logging with client IPs; remove "logs" from apps.http.servers.${server}.`,
            );
        }
    },
};

const QUIET_LEVELS = ["warn", "error"];

export const homeserverQuietLogs: ResourceValidationPolicy = {
    name: "homeserver-quiet-logs",
    description: 'The homeserver logs at warn or error and never trusts client-supplied IP headers (ip_source = "connect_info").',
    validateResource: (args, report) => {
        if (args.type !== T.container || configuredRoleOf(args.props) !== "homeserver") return;
        const where = describe(args.type, args.name);
        const g = homeserverConfig(args.props, where, report, "so its log settings can be checked");
        if (g === undefined) return;
        const log = g["log"];
        if (typeof log !== "string" || !QUIET_LEVELS.includes(log)) {
            report(
                `The homeserver configured by ${where} logs at ${JSON.stringify(log ?? "(default info)")}; set log = "warn" (or "error") in [global]: info and debug log metadata.`,
            );
        }
        if (g["ip_source"] !== "connect_info") {
            report(
                `The homeserver configured by ${where} has ip_source = ${JSON.stringify(g["ip_source"] ?? "(default)")}; set ip_source = "connect_info" in [global] so client-supplied X-Forwarded-For addresses are never trusted or logged.`,
            );
        }
    },
};

const JOURNALD_DROP_IN = "/etc/systemd/journald.conf.d/";

function hours(text: string, key: string): number | undefined {
    const match = new RegExp(`^${key}=(\\d+)(h|d)$`, "m").exec(text);
    if (!match) return undefined;
    return Number(match[1]) * (match[2] === "d" ? 24 : 1);
}

/** The longest a journal entry can live under a drop-in's text, in hours, or a sentence saying what is missing. */
export function journalLifetimeHours(dropIn: string): number | string {
    const file = hours(dropIn, "MaxFileSec");
    const retention = hours(dropIn, "MaxRetentionSec");
    if (file === undefined || retention === undefined || file === 0 || retention === 0) {
        return "it must set both MaxFileSec= and MaxRetentionSec= to non-zero hours or days (0 or absent means no time limit)";
    }
    return file + retention;
}

export const hostJournalRetention: StackValidationPolicy = {
    name: "host-journal-retention",
    description: "The Docker host's journald keeps no entry longer than maxLogRetentionDays (MaxFileSec + MaxRetentionSec), and a stack whose containers log to journald sets it.",
    configSchema: { properties: { maxLogRetentionDays: { type: "integer", minimum: 1, default: 30 } } },
    validateStack: (args, report) => {
        const { maxLogRetentionDays } = configOf(args, { maxLogRetentionDays: 30 });
        const dropIns = args.resources.filter((r) => r.type === T.command && typeof r.props["create"] === "string" && String(r.props["create"]).includes(JOURNALD_DROP_IN));
        for (const r of dropIns) {
            const lifetime = journalLifetimeHours(String(r.props["create"]));
            const where = describe(r.type, r.name);
            if (typeof lifetime === "string") report(`The journald drop-in written by the ${where} is unbounded: ${lifetime}.`, r.urn);
            else if (lifetime > maxLogRetentionDays * 24) {
                report(
                    `The journald drop-in written by the ${where} lets entries live ${lifetime} hours; make MaxFileSec + MaxRetentionSec at most ${maxLogRetentionDays * 24} hours (${maxLogRetentionDays} days).`,
                    r.urn,
                );
            }
        }
        const journaldContainers = args.resources.filter((r) => r.type === T.container && r.props["logDriver"] === "journald");
        if (journaldContainers.length > 0 && dropIns.length === 0) {
            report(
                `${journaldContainers.length} container(s) log to journald, but no host command writes a journald drop-in under ${JOURNALD_DROP_IN}; declare the host's retention (HostBaseline) so logs are bounded in days.`,
            );
        }
    },
};

export const logRetentionPolicies = [containerLogRetention, proxyNoAccessLog, homeserverQuietLogs, hostJournalRetention];
