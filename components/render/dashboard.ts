// The ops dashboard (Grafana's dashboard JSON model), rendered from the same
// metric names and thresholds as the collector and the alert rules, so a
// panel never asks for a series nobody writes. Written to
// monitoring/redoubt-dashboard.json by `npm run schema`; import it into
// Grafana with a Prometheus data source that scrapes the hosts' exporters.
// It shows only what the collector and the node exporter hold: states,
// counts, sizes and times, per tenant at most (no user data exists there).
import { ALERT_ROUTE, ALERT_THRESHOLDS, NODE_EXPORTER_JOB, RESTORE_DRILL_METRICS } from "./monitoring";

/** How a panel's values read: Grafana's unit ids. */
type Unit = "percentunit" | "h" | "d" | "bytes" | "short" | "none";

export interface DashboardPanel {
    title: string;
    /** What the panel answers, for the person looking at it at 3 a.m. */
    description: string;
    type: "timeseries" | "table" | "stat";
    expr: string;
    /** Grafana's legend template, from the series' labels. */
    legend?: string;
    unit: Unit;
    /** Where the value turns red (the alert's threshold), in the panel's unit. */
    red?: number;
    /** Red below the threshold instead of above it (days left, success). */
    redBelow?: boolean;
}

const T = ALERT_THRESHOLDS;
/** The dashboard's tenant filter (a Grafana variable over the collector's tenant label). */
const TENANT = 'tenant=~"$tenant"';
const NODE = `job="${NODE_EXPORTER_JOB}"`;
const route = Object.entries(ALERT_ROUTE)
    .map(([k, v]) => `${k}="${v}"`)
    .join(",");

/** Every panel, top to bottom: what is wrong now, then each tenant's limits, data, backups and certificates, then the host. */
export const DASHBOARD_PANELS: readonly DashboardPanel[] = [
    {
        title: "Firing alerts",
        description: "Every redoubt alert firing now, with its tenant, site or role. The README's alert table says what each means and what to do.",
        type: "table",
        expr: `ALERTS{alertstate="firing",${route}}`,
        unit: "none",
    },
    {
        title: "Containers not running",
        description:
            "Long-running containers (homeserver, proxy, tor, wireguard, push proxy, edge) that are not running. Backup agents and config carriers are not counted: they never run all the time.",
        type: "stat",
        expr: `count(redoubt_container_up{${TENANT}} == 0) or vector(0)`,
        unit: "short",
        red: 1,
    },
    {
        title: "Volumes closed",
        description: "Tenants whose encrypted volume is not open (after a reboot: run npm run tenant -- unlock).",
        type: "stat",
        expr: `count(redoubt_volume_open{${TENANT}} == 0) or vector(0)`,
        unit: "short",
        red: 1,
    },
    {
        title: "Memory against the plan's limit",
        description: "Each tenant slice's memory as a share of its limit (the plan's memory plus the helpers' headroom).",
        type: "timeseries",
        expr: `redoubt_tenant_memory_bytes{${TENANT}} / redoubt_tenant_memory_limit_bytes{${TENANT}}`,
        legend: "{{tenant}}",
        unit: "percentunit",
        red: T.limitRatio,
    },
    {
        title: "Processes against the plan's limit",
        description: "Each tenant slice's processes as a share of its TasksMax.",
        type: "timeseries",
        expr: `redoubt_tenant_pids{${TENANT}} / redoubt_tenant_pids_limit{${TENANT}}`,
        legend: "{{tenant}}",
        unit: "percentunit",
        red: T.limitRatio,
    },
    {
        title: "Volume fill",
        description: "How full each tenant's encrypted volume is (the plan's storage).",
        type: "timeseries",
        expr: `1 - redoubt_volume_avail_bytes{${TENANT}} / redoubt_volume_size_bytes{${TENANT}}`,
        legend: "{{tenant}}",
        unit: "percentunit",
        red: T.volumeFillRatio,
    },
    {
        title: "Hours since the last good backup",
        description: "Per tenant and site, the age of the last backup the site confirmed.",
        type: "table",
        expr: `(time() - redoubt_backup_last_success_timestamp_seconds{${TENANT}}) / 3600`,
        unit: "h",
        red: T.backupMaxAgeHours,
    },
    {
        title: "Days until a certificate expires",
        description: "The proxy's certificate (renewed by ACME, or issued by the tenant CA) and, for tor and vpn tenants, the tenant CA itself.",
        type: "table",
        expr: `(redoubt_certificate_expiry_timestamp_seconds{${TENANT}} - time()) / 86400`,
        unit: "d",
        red: T.certificateDays,
        redBelow: true,
    },
    {
        title: "Last restore drill",
        description: "1 if the last monthly drill rebuilt the tenant's database from that site's backup, 0 if it did not.",
        type: "table",
        expr: `${RESTORE_DRILL_METRICS.success}{${TENANT}}`,
        unit: "none",
        red: 1,
        redBelow: true,
    },
    {
        title: "Host CPU busy",
        description: "Share of the host's CPU time not idle, per host.",
        type: "timeseries",
        expr: `1 - avg by (instance) (rate(node_cpu_seconds_total{${NODE},mode="idle"}[5m]))`,
        legend: "{{instance}}",
        unit: "percentunit",
    },
    {
        title: "Host file systems",
        description: "How full each of the host's own file systems is (the tenants' LUKS files live on them).",
        type: "timeseries",
        expr: `1 - node_filesystem_avail_bytes{${NODE},fstype!~"tmpfs|ramfs"} / node_filesystem_size_bytes{${NODE},fstype!~"tmpfs|ramfs"}`,
        legend: "{{instance}} {{mountpoint}}",
        unit: "percentunit",
        red: T.volumeFillRatio,
    },
    {
        title: "Journal size",
        description: "Disk space the host's journal takes (bounded in days by the tenants' log retention).",
        type: "timeseries",
        expr: "redoubt_journal_disk_usage_bytes",
        legend: "{{instance}}",
        unit: "bytes",
        red: T.journalMaxBytes,
    },
];

/** Grafana's panel grid is 24 columns wide. */
const GRID_COLUMNS = 24;
const WIDTH: Record<DashboardPanel["type"], number> = { stat: 6, table: 12, timeseries: 12 };
const HEIGHT: Record<DashboardPanel["type"], number> = { stat: 4, table: 8, timeseries: 8 };

function thresholds(panel: DashboardPanel): unknown {
    if (panel.red === undefined) return { mode: "absolute", steps: [{ color: "green", value: null }] };
    return panel.redBelow
        ? {
              mode: "absolute",
              steps: [
                  { color: "red", value: null },
                  { color: "green", value: panel.red },
              ],
          }
        : {
              mode: "absolute",
              steps: [
                  { color: "green", value: null },
                  { color: "red", value: panel.red },
              ],
          };
}

/** The dashboard as Grafana's JSON model, panels laid out left to right in rows. */
export function renderDashboard(panels: readonly DashboardPanel[] = DASHBOARD_PANELS): string {
    const datasource = { type: "prometheus", uid: "${datasource}" };
    let x = 0;
    let y = 0;
    let rowHeight = 0;
    const laidOut = panels.map((panel, i) => {
        const w = WIDTH[panel.type];
        if (x + w > GRID_COLUMNS) {
            x = 0;
            y += rowHeight;
            rowHeight = 0;
        }
        const gridPos = { x, y, w, h: HEIGHT[panel.type] };
        x += w;
        rowHeight = Math.max(rowHeight, gridPos.h);
        return {
            id: i + 1,
            type: panel.type,
            title: panel.title,
            description: panel.description,
            datasource,
            gridPos,
            targets: [
                {
                    refId: "A",
                    datasource,
                    expr: panel.expr,
                    ...(panel.legend ? { legendFormat: panel.legend } : {}),
                    ...(panel.type === "table" ? { instant: true, format: "table" } : {}),
                },
            ],
            fieldConfig: {
                defaults: { unit: panel.unit, thresholds: thresholds(panel), ...(panel.type === "timeseries" ? {} : { color: { mode: "thresholds" } }) },
                overrides: [],
            },
        };
    });
    const dashboard = {
        title: "Redoubt: hosts and tenants",
        uid: "redoubt-ops",
        description: "Rendered by redoubt (components/render/dashboard.ts); regenerate with npm run schema. Machine and service facts only: no user data.",
        tags: ["redoubt"],
        schemaVersion: 39,
        editable: false,
        time: { from: "now-24h", to: "now" },
        refresh: "1m",
        templating: {
            list: [
                { name: "datasource", label: "Prometheus", type: "datasource", query: "prometheus" },
                {
                    name: "tenant",
                    label: "Tenant",
                    type: "query",
                    datasource,
                    query: { query: "label_values(redoubt_volume_open, tenant)", refId: "tenants" },
                    refresh: 2,
                    includeAll: true,
                    multi: true,
                    allValue: ".*",
                    current: { text: "All", value: "$__all" },
                },
            ],
        },
        panels: laidOut,
    };
    return `${JSON.stringify(dashboard, null, 2)}\n`;
}
