// Monitoring of a Docker host that sees machine and service facts only:
// Debian's prometheus-node-exporter with an allow-list of collectors, a
// collector of our own (a bash script run every minute by a systemd timer)
// that writes redoubt_* metrics into the exporter's textfile directory, and
// the Prometheus alert rules for both. Nothing here reads a request, a log
// line, a user or room id, or a client address: the collector asks Docker,
// systemd, the mount table and certificate files for states, counts, sizes
// and times.
import { stringify } from "yaml";
import { CADDY_CERT_PATH, CADDY_TENANT_CA_PATH } from "./caddy";
import { BACKUP_SUCCESS_DIR, SCRIPTS_DIR, TENANTS_ROOT, tenantDataMount, tenantRoot } from "./host";

function shellQuote(value: string): string {
    return `'${value.replace(/'/g, `'\\''`)}'`;
}
import { ROLE_LABEL, TENANT_LABEL, type ContainerRole } from "../labels";
import { NAME_PREFIX, sliceName } from "../names";

/** The only labels a redoubt_* metric may carry: which tenant, container role, backup site or kind of certificate. */
export const MONITORING_LABELS = ["tenant", "role", "site", "kind"] as const;
export type MonitoringLabel = (typeof MONITORING_LABELS)[number];

/**
 * The node exporter's collectors we turn on (everything else is off with
 * --collector.disable-defaults): machine load, memory, disks and file systems,
 * pressure stall information, and our textfile metrics. None of them reads a
 * process's command line, a socket's peer or a log.
 */
export const NODE_EXPORTER_COLLECTORS = ["cpu", "meminfo", "filesystem", "loadavg", "diskstats", "pressure", "textfile"] as const;
/** Debian's prometheus-node-exporter reads textfile metrics here (its --collector.textfile.directory default). */
export const NODE_EXPORTER_TEXTFILE_DIR = "/var/lib/prometheus/node-exporter";
export const NODE_EXPORTER_PACKAGE = "prometheus-node-exporter";
export const NODE_EXPORTER_BINARY = `/usr/bin/${NODE_EXPORTER_PACKAGE}`;
export const NODE_EXPORTER_SERVICE = `${NODE_EXPORTER_PACKAGE}.service`;
/** Our drop-in for Debian's unit (which runs the exporter as user prometheus). */
export const NODE_EXPORTER_DROP_IN = `/etc/systemd/system/${NODE_EXPORTER_SERVICE}.d/redoubt.conf`;
/** Loopback by default: ops scrape through their SSH tunnel or WireGuard, never over the public address. */
export const NODE_EXPORTER_LISTEN_DEFAULT = "127.0.0.1:9100";
/** The scrape job name the alert rules expect ops to give the node exporter. */
export const NODE_EXPORTER_JOB = "redoubt-node";

/** The collector's script, unit names and the file it writes (one file: the exporter reads every *.prom there). */
export const COLLECTOR_SCRIPT = `${SCRIPTS_DIR}/monitoring-collector.sh`;
export const COLLECTOR_UNIT = `${NAME_PREFIX}-monitoring-collector`;
export const COLLECTOR_OUTPUT = `${NODE_EXPORTER_TEXTFILE_DIR}/${NAME_PREFIX}.prom`;

/** Container roles that run all the time (the backup agent runs from its timer; config carriers never run). */
export const LONG_RUNNING_ROLES: readonly ContainerRole[] = ["homeserver", "proxy", "tor", "wireguard", "push-proxy", "edge"];

/** A file of the proxy's config directory as the host sees it: on the tenant's volume, under config/proxy. */
function proxyConfigFile(tenantMount: string, containerPath: string): string {
    return `${tenantMount}/config/proxy/${containerPath.slice(containerPath.lastIndexOf("/") + 1)}`;
}

/**
 * The certificates whose expiry the collector reports, by `kind`: the one the
 * proxy serves, and for tor and vpn tenants the tenant CA that customers'
 * clients trust (renewing it means handing them a new CA certificate).
 */
export const MONITORED_CERTIFICATES = { proxy: CADDY_CERT_PATH, "tenant-ca": CADDY_TENANT_CA_PATH } as const;

/** Every metric the collector writes, with its type, help text and the labels it carries. */
export const COLLECTOR_METRICS = {
    redoubt_container_up: { type: "gauge", help: "1 if the container is running, else 0.", labels: ["tenant", "role"] },
    redoubt_container_healthy: { type: "gauge", help: "1 if the container's health check passes, else 0 (containers with a health check only).", labels: ["tenant", "role"] },
    redoubt_container_restarts_total: { type: "counter", help: "Restarts of the container by Docker's restart policy.", labels: ["tenant", "role"] },
    redoubt_tenant_memory_bytes: { type: "gauge", help: "Memory used by the tenant's slice.", labels: ["tenant"] },
    redoubt_tenant_memory_limit_bytes: { type: "gauge", help: "The tenant slice's memory limit (the plan's).", labels: ["tenant"] },
    redoubt_tenant_pids: { type: "gauge", help: "Processes in the tenant's slice.", labels: ["tenant"] },
    redoubt_tenant_pids_limit: { type: "gauge", help: "The tenant slice's process limit (the plan's).", labels: ["tenant"] },
    redoubt_tenant_cpu_seconds_total: { type: "counter", help: "CPU time used by the tenant's slice.", labels: ["tenant"] },
    redoubt_volume_open: { type: "gauge", help: "1 if the tenant's encrypted volume is open and mounted, else 0.", labels: ["tenant"] },
    redoubt_volume_size_bytes: { type: "gauge", help: "Size of the tenant's open volume.", labels: ["tenant"] },
    redoubt_volume_avail_bytes: { type: "gauge", help: "Free space on the tenant's open volume.", labels: ["tenant"] },
    redoubt_backup_last_success_timestamp_seconds: { type: "gauge", help: "When the tenant's last backup to the site succeeded.", labels: ["tenant", "site"] },
    redoubt_certificate_expiry_timestamp_seconds: {
        type: "gauge",
        help: "When a certificate of the tenant expires: the one its proxy serves (kind proxy), or its own CA (kind tenant-ca).",
        labels: ["tenant", "kind"],
    },
    redoubt_journal_disk_usage_bytes: { type: "gauge", help: "Disk space taken by the host's journal.", labels: [] },
    redoubt_collector_last_run_timestamp_seconds: { type: "gauge", help: "When the collector last finished.", labels: [] },
} as const satisfies Record<string, { type: "gauge" | "counter"; help: string; labels: readonly MonitoringLabel[] }>;
export type CollectorMetric = keyof typeof COLLECTOR_METRICS;

/** What the monthly restore drill (render/restore.ts) writes to the textfile directory, labelled tenant and site. */
export const RESTORE_DRILL_METRICS = {
    success: "redoubt_restore_drill_success",
    finished: "redoubt_restore_drill_timestamp_seconds",
    snapshot: "redoubt_restore_drill_snapshot_timestamp_seconds",
} as const;

/** Where the journal lives when persistent (Storage=persistent in our journald drop-in). */
export const JOURNAL_DIR = "/var/log/journal";

/**
 * The collector. Reads Docker's container states (labels tenant and role
 * only), the tenant slices' systemd accounting, whether each tenant's volume
 * is mounted and how full, the backup trigger's success times, the proxy
 * certificate's end date and the journal's size; writes them atomically (temp
 * file, then rename) so the exporter never reads half a file.
 * Test seams: REDOUBT_TENANTS_ROOT, REDOUBT_BACKUP_SUCCESS_DIR, REDOUBT_JOURNAL_DIR and the output path ($1).
 */
export function renderCollectorScript(): string {
    // The text format wants each family's HELP, TYPE and samples together: samples are gathered first, then grouped.
    const families = (Object.keys(COLLECTOR_METRICS) as CollectorMetric[])
        .map(
            (name) => `printf '%s\\n' ${shellQuote(`# HELP ${name} ${COLLECTOR_METRICS[name].help}`)} ${shellQuote(`# TYPE ${name} ${COLLECTOR_METRICS[name].type}`)}
    grep -E '^${name}[{ ]' "$samples" || true`,
        )
        .join("\n    ");
    return `#!/bin/bash
# Rendered by redoubt: machine and service facts for the node exporter's textfile collector.
# No request, log line, user, room or client address is read. Usage: monitoring-collector.sh [output-file]
set -euo pipefail

out=\${1:-${COLLECTOR_OUTPUT}}
tenants_root=\${REDOUBT_TENANTS_ROOT:-${TENANTS_ROOT}}
backup_dir=\${REDOUBT_BACKUP_SUCCESS_DIR:-${BACKUP_SUCCESS_DIR}}
journal_dir=\${REDOUBT_JOURNAL_DIR:-${JOURNAL_DIR}}

# A label value: only the characters tenant, role and site names use (never a quote or a backslash).
clean() {
    printf '%s' "$1" | tr -c 'A-Za-z0-9_.-' '_'
}

containers() {
    local ids
    ids=$(docker ps -aq --filter label=${ROLE_LABEL}) || return 0
    [ -n "$ids" ] || return 0
    # A container removed since \`docker ps\` makes inspect fail for it alone: the others are still reported.
    # shellcheck disable=SC2086 # ids is a list of container ids
    { docker inspect --format '{{with index .Config.Labels "${TENANT_LABEL}"}}{{.}}{{else}}-{{end}} {{with index .Config.Labels "${ROLE_LABEL}"}}{{.}}{{else}}-{{end}} {{.State.Running}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.RestartCount}}' $ids 2>/dev/null || true; } |
        while read -r tenant role running health restarts; do
            case "$role" in ${LONG_RUNNING_ROLES.join(" | ")}) ;; *) continue ;; esac
            labels="role=\\"$(clean "$role")\\""
            # The edge belongs to no tenant.
            if [ "$tenant" != - ]; then labels="tenant=\\"$(clean "$tenant")\\",$labels"; fi
            if [ "$running" = true ]; then up=1; else up=0; fi
            echo "redoubt_container_up{$labels} $up"
            case "$health" in
                healthy) echo "redoubt_container_healthy{$labels} 1" ;;
                unhealthy) echo "redoubt_container_healthy{$labels} 0" ;;
            esac
            case "$restarts" in *[!0-9]* | "") ;; *) echo "redoubt_container_restarts_total{$labels} $restarts" ;; esac
        done
}

tenants() {
    local dir tenant t mount key value size avail cert end site when
    for dir in "$tenants_root"/*/; do
        [ -e "$dir/volume.luks" ] || continue
        tenant=$(basename "$dir")
        t=$(clean "$tenant")
        # The plan's limits are the tenant slice's; "infinity" and [not set] are skipped.
        while IFS='=' read -r key value; do
            case "$value" in *[!0-9]* | "") continue ;; esac
            case "$key" in
                MemoryCurrent) echo "redoubt_tenant_memory_bytes{tenant=\\"$t\\"} $value" ;;
                MemoryMax) echo "redoubt_tenant_memory_limit_bytes{tenant=\\"$t\\"} $value" ;;
                TasksCurrent) echo "redoubt_tenant_pids{tenant=\\"$t\\"} $value" ;;
                TasksMax) echo "redoubt_tenant_pids_limit{tenant=\\"$t\\"} $value" ;;
                CPUUsageNSec) echo "redoubt_tenant_cpu_seconds_total{tenant=\\"$t\\"} $((value / 1000000000))" ;;
            esac
        done < <(systemctl show -p MemoryCurrent -p MemoryMax -p TasksCurrent -p TasksMax -p CPUUsageNSec "${sliceName("$tenant")}" 2>/dev/null || true)
        mount=$tenants_root/$tenant${tenantDataMount("").slice(tenantRoot("").length)}
        if mountpoint -q "$mount" 2>/dev/null; then
            echo "redoubt_volume_open{tenant=\\"$t\\"} 1"
            if read -r size avail < <(df -B1 --output=size,avail "$mount" 2>/dev/null | tail -n 1); then
                echo "redoubt_volume_size_bytes{tenant=\\"$t\\"} $size"
                echo "redoubt_volume_avail_bytes{tenant=\\"$t\\"} $avail"
            fi
        else
            echo "redoubt_volume_open{tenant=\\"$t\\"} 0"
        fi
${Object.entries(MONITORED_CERTIFICATES)
    .map(
        ([kind, file]) => `        cert=${proxyConfigFile('"$mount"', file)}
        if [ -f "$cert" ] && end=$(openssl x509 -noout -enddate -in "$cert" 2>/dev/null); then
            echo "redoubt_certificate_expiry_timestamp_seconds{tenant=\\"$t\\",kind=\\"${kind}\\"} $(date -d "\${end#notAfter=}" +%s)"
        fi`,
    )
    .join("\n")}
        for site in "$backup_dir/$tenant"/*; do
            [ -f "$site" ] || continue
            read -r when < "$site" || continue
            case "$when" in *[!0-9]* | "") continue ;; esac
            echo "redoubt_backup_last_success_timestamp_seconds{tenant=\\"$t\\",site=\\"$(clean "$(basename "$site")")\\"} $when"
        done
    done
}

journal() {
    local bytes
    if [ -d "$journal_dir" ] && bytes=$(du -sb "$journal_dir" 2>/dev/null | cut -f1); then
        echo "redoubt_journal_disk_usage_bytes $bytes"
    fi
}

tmp=$(mktemp "$out.XXXXXX")
samples=$(mktemp)
trap 'rm -f "$tmp" "$samples"' EXIT
{
    containers
    tenants
    journal
    echo "redoubt_collector_last_run_timestamp_seconds $(date +%s)"
} > "$samples"
{
    ${families}
} > "$tmp"
chmod 0644 "$tmp"
mv "$tmp" "$out"
`;
}

/** The collector's service and its every-minute timer. */
export function renderCollectorUnits(): { service: string; timer: string } {
    return {
        service: `[Unit]
Description=Redoubt monitoring collector (machine and service facts, no user data)
After=docker.service

[Service]
Type=oneshot
ExecStart=${COLLECTOR_SCRIPT}
`,
        timer: `[Unit]
Description=Redoubt monitoring collector, every minute

[Timer]
OnCalendar=minutely
AccuracySec=5s

[Install]
WantedBy=timers.target
`,
    };
}

export interface NodeExporterInput {
    /** host:port the exporter listens on. @default NODE_EXPORTER_LISTEN_DEFAULT */
    listenAddress?: string;
}

/** The component type whose inputs are the host's monitoring configuration (read by the monitoring-no-user-data policy). */
export const MONITORING_TYPE = "redoubt:host:Monitoring";

/** The monitoring configuration as typed inputs: what the exporter runs and what the collector writes. */
export interface MonitoringInputs {
    /** --collector.disable-defaults: every collector not listed is off. */
    disableDefaults: boolean;
    collectors: string[];
    textfileDirectory: string;
    listenAddress: string;
    /** The collector's metrics and the labels each carries. */
    metrics: { name: string; labels: string[] }[];
}

export function monitoringInputs(input: NodeExporterInput = {}): MonitoringInputs {
    return {
        disableDefaults: true,
        collectors: [...NODE_EXPORTER_COLLECTORS],
        textfileDirectory: NODE_EXPORTER_TEXTFILE_DIR,
        listenAddress: input.listenAddress ?? NODE_EXPORTER_LISTEN_DEFAULT,
        metrics: Object.entries(COLLECTOR_METRICS).map(([name, m]) => ({ name, labels: [...m.labels] })),
    };
}

/** The exporter's command line, from the typed inputs: only our collectors, our textfile directory, the chosen address. */
export function nodeExporterArgs(input: NodeExporterInput = {}): string[] {
    const inputs = monitoringInputs(input);
    return [
        ...(inputs.disableDefaults ? ["--collector.disable-defaults"] : []),
        ...inputs.collectors.map((c) => `--collector.${c}`),
        `--collector.textfile.directory=${inputs.textfileDirectory}`,
        `--web.listen-address=${inputs.listenAddress}`,
    ];
}

/**
 * A drop-in for Debian's unit with our command line. Not Debian's
 * /etc/default/prometheus-node-exporter: that is a conffile, and a changed
 * conffile makes unattended-upgrades hold back the package's updates.
 */
export function renderNodeExporterDropIn(input: NodeExporterInput = {}): string {
    const args = nodeExporterArgs(input);
    if (args.some((a) => /[\s"'\\$%`;]/.test(a)))
        throw new Error(`the node exporter's listen address ${JSON.stringify(input.listenAddress)} must be host:port, without spaces, quotes, $ or %`);
    return `# Rendered by redoubt: only the collectors listed here run (machine facts and our textfile metrics).
[Service]
ExecStart=
ExecStart=${NODE_EXPORTER_BINARY} ${args.join(" ")}
`;
}

/**
 * Refuses a host without Debian's node exporter, with what to install, and
 * makes the textfile directory the collector writes to.
 */
export function renderNodeExporterCheck(): string {
    return `#!/bin/sh
# Rendered by redoubt: the Docker host has Debian's node exporter.
set -eu
if [ ! -x ${NODE_EXPORTER_BINARY} ]; then
    echo "redoubt: the Docker host has no ${NODE_EXPORTER_PACKAGE}; install it (apt-get install ${NODE_EXPORTER_PACKAGE}) so ops can scrape machine facts and the redoubt_* metrics" >&2
    exit 1
fi
mkdir -p ${NODE_EXPORTER_TEXTFILE_DIR}
`;
}

/** Thresholds, defined once: the rules, their tests and the README read them here. */
export const ALERT_THRESHOLDS = {
    backupMaxAgeHours: 26,
    volumeFillRatio: 0.85,
    limitRatio: 0.9,
    certificateDays: 14,
    // Renewing a tenant CA means handing the customer a new CA certificate for every client: weeks, not days.
    tenantCaDays: 60,
    journalMaxBytes: 4 * 1024 ** 3,
    collectorStaleSeconds: 300,
    restartsIn15m: 3,
    /** The drill runs on the 1st of each month: a missed month shows after 35 days. */
    restoreDrillMaxAgeDays: 35,
} as const;

export const ALERT_ROUTE = { team: "ops" } as const;
export type Severity = "critical" | "warning";

export interface AlertRule {
    alert: string;
    expr: string;
    /** How long the condition must hold before the alert fires (Prometheus duration). */
    for: string;
    severity: Severity;
    summary: string;
}

const T = ALERT_THRESHOLDS;
const pct = (ratio: number) => `${Math.round(ratio * 100)} %`;

export const ALERT_RULES: readonly AlertRule[] = [
    {
        alert: "RedoubtNodeExporterDown",
        expr: `up{job="${NODE_EXPORTER_JOB}"} == 0`,
        for: "5m",
        severity: "critical",
        summary: "The Docker host's node exporter cannot be scraped: no machine or service facts arrive.",
    },
    {
        alert: "RedoubtCollectorStale",
        expr: `time() - redoubt_collector_last_run_timestamp_seconds > ${T.collectorStaleSeconds} or (up{job="${NODE_EXPORTER_JOB}"} == 1 unless on(instance) redoubt_collector_last_run_timestamp_seconds)`,
        for: "5m",
        severity: "warning",
        summary: `The redoubt monitoring collector has not written its metrics for ${T.collectorStaleSeconds / 60} minutes (check ${COLLECTOR_UNIT}.timer).`,
    },
    {
        alert: "RedoubtContainerDown",
        expr: "redoubt_container_up == 0",
        for: "5m",
        severity: "critical",
        summary: "A long-running container is not running.",
    },
    {
        alert: "RedoubtContainerUnhealthy",
        expr: "redoubt_container_healthy == 0",
        for: "5m",
        severity: "warning",
        summary: "A container's health check fails.",
    },
    {
        alert: "RedoubtContainerRestartLoop",
        expr: `increase(redoubt_container_restarts_total[15m]) >= ${T.restartsIn15m}`,
        for: "0m",
        severity: "warning",
        summary: `A container restarted ${T.restartsIn15m} times or more within 15 minutes.`,
    },
    {
        alert: "RedoubtMemoryNearLimit",
        expr: `redoubt_tenant_memory_bytes / redoubt_tenant_memory_limit_bytes > ${T.limitRatio}`,
        for: "10m",
        severity: "warning",
        summary: `A tenant uses more than ${pct(T.limitRatio)} of its plan's memory.`,
    },
    {
        alert: "RedoubtPidsNearLimit",
        expr: `redoubt_tenant_pids / redoubt_tenant_pids_limit > ${T.limitRatio}`,
        for: "10m",
        severity: "warning",
        summary: `A tenant runs more than ${pct(T.limitRatio)} of its plan's processes.`,
    },
    {
        alert: "RedoubtVolumeClosed",
        expr: "redoubt_volume_open == 0",
        for: "5m",
        severity: "critical",
        summary: "A tenant's encrypted volume is closed (after a reboot: run npm run tenant -- unlock).",
    },
    {
        alert: "RedoubtVolumeFilling",
        expr: `1 - redoubt_volume_avail_bytes / redoubt_volume_size_bytes > ${T.volumeFillRatio}`,
        for: "15m",
        severity: "warning",
        summary: `A tenant's data volume is more than ${pct(T.volumeFillRatio)} full.`,
    },
    {
        alert: "RedoubtHostFilesystemFilling",
        expr: `1 - node_filesystem_avail_bytes{fstype!~"tmpfs|ramfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|ramfs"} > ${T.volumeFillRatio}`,
        for: "15m",
        severity: "warning",
        summary: `A file system of the Docker host is more than ${pct(T.volumeFillRatio)} full.`,
    },
    {
        alert: "RedoubtBackupStale",
        expr: `time() - redoubt_backup_last_success_timestamp_seconds > ${T.backupMaxAgeHours * 3600}`,
        for: "0m",
        severity: "critical",
        summary: `A tenant's last successful backup to a site is older than ${T.backupMaxAgeHours} hours.`,
    },
    {
        alert: "RedoubtBackupNeverSucceeded",
        expr: "redoubt_volume_open == 1 unless on(tenant) redoubt_backup_last_success_timestamp_seconds",
        for: `${T.backupMaxAgeHours}h`,
        severity: "critical",
        summary: `A tenant's volume has been open for ${T.backupMaxAgeHours} hours without a successful backup to any site.`,
    },
    {
        alert: "RedoubtCertificateExpiring",
        expr: `redoubt_certificate_expiry_timestamp_seconds{kind="proxy"} - time() < ${T.certificateDays * 86400}`,
        for: "0m",
        severity: "warning",
        summary: `A certificate a tenant's proxy serves expires within ${T.certificateDays} days.`,
    },
    {
        alert: "RedoubtTenantCaExpiring",
        expr: `redoubt_certificate_expiry_timestamp_seconds{kind="tenant-ca"} - time() < ${T.tenantCaDays * 86400}`,
        for: "0m",
        severity: "warning",
        summary: `A tor or vpn tenant's own CA expires within ${T.tenantCaDays} days: renew it and hand the customer the new CA certificate (stack output caCertificate) before it does.`,
    },
    {
        alert: "RedoubtRestoreDrillFailed",
        expr: `${RESTORE_DRILL_METRICS.success} == 0`,
        for: "0m",
        severity: "critical",
        summary:
            "The last monthly restore drill of a tenant's backup at a site did not rebuild its database: that backup may not restore (run the drill's service by hand and read its journal).",
    },
    {
        alert: "RedoubtRestoreDrillStale",
        expr: `time() - ${RESTORE_DRILL_METRICS.finished} > ${T.restoreDrillMaxAgeDays * 86400}`,
        for: "0m",
        severity: "warning",
        summary: `No restore drill of a tenant's backup at a site has finished for ${T.restoreDrillMaxAgeDays} days (check its timer).`,
    },
    {
        alert: "RedoubtJournalTooLarge",
        expr: `redoubt_journal_disk_usage_bytes > ${T.journalMaxBytes}`,
        for: "30m",
        severity: "warning",
        summary: `The host's journal takes more than ${T.journalMaxBytes / 1024 ** 3} GiB.`,
    },
];

export const ALERT_GROUP = "redoubt";

/** The Prometheus rule file (YAML) for every alert, each labelled with its severity and routed to ops. */
export function renderAlertRules(rules: readonly AlertRule[] = ALERT_RULES): string {
    const doc = {
        groups: [
            {
                name: ALERT_GROUP,
                rules: rules.map((r) => ({
                    alert: r.alert,
                    expr: r.expr,
                    for: r.for,
                    labels: { severity: r.severity, ...ALERT_ROUTE },
                    annotations: { summary: r.summary },
                })),
            },
        ],
    };
    return `# Rendered by redoubt (components/render/monitoring.ts); regenerate with npm run schema.\n${stringify(doc, { lineWidth: 0 })}`;
}
