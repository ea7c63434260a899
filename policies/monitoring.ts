// Promise: "security monitoring (without logging user activity)". The host's
// monitoring configuration (the typed inputs of its redoubt:host:Monitoring
// component, from which the exporter's command line and the collector are
// rendered) runs only collectors that read machine facts, and every metric the
// collector writes carries only labels naming a tenant, a container role, a
// backup site or a kind of certificate: never a path, user, room or address.
//
// Not visible in resources: what the programs write at run time (the system
// test runs the collector and the exporter and checks their output).
import type { StackValidationPolicy } from "@pulumi/policy";
import { MONITORING_LABELS, MONITORING_TYPE, NODE_EXPORTER_COLLECTORS, asArray, describe, isRecord, type Props } from "./common";

const METRIC_PREFIX = "redoubt_";

/** Problems with a monitoring component's inputs, as full sentences saying what to change. */
export function monitoringProblems(name: string, props: Props): string[] {
    const where = describe(MONITORING_TYPE, name);
    const problems: string[] = [];
    if (props["disableDefaults"] !== true) {
        problems.push(
            `The ${where} does not turn the node exporter's default collectors off; set disableDefaults to true so only the listed collectors (${NODE_EXPORTER_COLLECTORS.join(", ")}) run.`,
        );
    }
    const collectors = props["collectors"];
    if (!Array.isArray(collectors)) {
        problems.push(`The ${where} lists no node exporter collectors; list them in collectors, from ${NODE_EXPORTER_COLLECTORS.join(", ")}.`);
    } else {
        for (const c of collectors.filter((c) => !NODE_EXPORTER_COLLECTORS.includes(String(c)))) {
            problems.push(
                `The ${where} runs the node exporter collector ${JSON.stringify(c)}, which is not on the allow-list; remove it or use only ${NODE_EXPORTER_COLLECTORS.join(", ")} (machine facts, no processes, sockets or logs).`,
            );
        }
    }
    const metrics = props["metrics"];
    if (!Array.isArray(metrics)) {
        problems.push(`The ${where} declares no collector metrics; list each metric the collector writes with its labels in metrics.`);
        return problems;
    }
    for (const m of asArray(metrics)) {
        const metric = isRecord(m) ? String(m["name"] ?? "") : "";
        if (!metric.startsWith(METRIC_PREFIX)) {
            problems.push(`The ${where} declares the collector metric ${JSON.stringify(metric)}; name every collector metric with the ${METRIC_PREFIX} prefix.`);
        }
        const labels = isRecord(m) ? asArray(m["labels"]).map(String) : [];
        for (const label of labels.filter((l) => !MONITORING_LABELS.includes(l))) {
            problems.push(
                `The ${where} gives the metric ${metric} the label ${JSON.stringify(label)}, which could carry user data (paths, users, rooms, addresses); remove it and label only with ${MONITORING_LABELS.join(", ")}.`,
            );
        }
    }
    return problems;
}

export const monitoringNoUserData: StackValidationPolicy = {
    name: "monitoring-no-user-data",
    description:
        "The host's monitoring runs only the node exporter collectors on the allow-list, and the collector's metrics carry only tenant, role, site and kind labels: no request paths, user or room ids, or client addresses.",
    validateStack: (args, report) => {
        for (const r of args.resources) {
            if (r.type !== MONITORING_TYPE) continue;
            for (const problem of monitoringProblems(r.name, r.props)) report(problem, r.urn);
        }
    },
};

export const monitoringPolicies = [monitoringNoUserData];
