// The ops dashboard: the committed file is what the renderer writes, every
// panel asks only for series the collector or an enabled node exporter
// collector writes, every tenant series follows the dashboard's tenant filter,
// and the panels do not overlap on Grafana's 24-column grid. (PromQL syntax:
// promtool, in test/system/monitoring.test.ts.)
import { readFileSync } from "node:fs";
import { DASHBOARD_FILE } from "../../cli/write-schema";
import { DASHBOARD_PANELS, renderDashboard } from "../../components/render/dashboard";
import { COLLECTOR_METRICS, NODE_EXPORTER_COLLECTORS, RESTORE_DRILL_METRICS } from "../../components/render/monitoring";

interface Panel {
    id: number;
    title: string;
    gridPos: { x: number; y: number; w: number; h: number };
    targets: { expr: string }[];
}
const dashboard = JSON.parse(renderDashboard()) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };

/** The series names a PromQL expression selects (metric names before `{`, or bare), without functions and keywords. */
function metricsOf(expr: string): string[] {
    const withoutLabels = expr.replace(/\{[^}]*\}/g, "{}").replace(/\[[^\]]*\]/g, "");
    const words = [...withoutLabels.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*(?=\s*(\{|\)|$|\s|\/|-|\+|\*|==|>|<))/g)].map((m) => m[0]);
    const notMetrics = new Set(["by", "on", "or", "and", "unless", "without", "time", "vector", "count", "avg", "rate", "sum", "instance", "mode"]);
    return [...new Set(words.filter((w) => !notMetrics.has(w)))];
}

/** Node exporter metric families by the collector that writes them (the node exporter's collector/ sources). */
const NODE_FAMILIES: Record<string, string> = { node_cpu_: "cpu", node_filesystem_: "filesystem" };

describe("ops dashboard", () => {
    it("the committed file is what npm run schema renders", () => {
        expect(readFileSync(DASHBOARD_FILE, "utf8")).toBe(renderDashboard());
    });

    it("every panel has a unique id and title and one query", () => {
        expect(dashboard.panels).toHaveLength(DASHBOARD_PANELS.length);
        expect(new Set(dashboard.panels.map((p) => p.id)).size).toBe(dashboard.panels.length);
        expect(new Set(dashboard.panels.map((p) => p.title)).size).toBe(dashboard.panels.length);
        for (const p of dashboard.panels) expect({ title: p.title, queries: p.targets.length }).toEqual({ title: p.title, queries: 1 });
    });

    it.each(DASHBOARD_PANELS.map((p) => [p.title, p.expr] as const))("%s asks only for series something writes", (_title, expr) => {
        const written = new Set<string>([...Object.keys(COLLECTOR_METRICS), ...Object.values(RESTORE_DRILL_METRICS), "ALERTS"]);
        const metrics = metricsOf(expr);
        expect(metrics.length).toBeGreaterThan(0);
        for (const metric of metrics) {
            const family = Object.keys(NODE_FAMILIES).find((prefix) => metric.startsWith(prefix));
            const known = family ? (NODE_EXPORTER_COLLECTORS as readonly string[]).includes(NODE_FAMILIES[family]) : written.has(metric);
            expect({ metric, known }).toEqual({ metric, known: true });
        }
    });

    it("metricsOf finds what it should (the check above can fail)", () => {
        expect(metricsOf('1 - redoubt_x{tenant=~"$tenant"} / node_filesystem_size_bytes{fstype!~"a|b"}')).toEqual(["redoubt_x", "node_filesystem_size_bytes"]);
        expect(metricsOf("count(redoubt_nope == 0) or vector(0)")).toEqual(["redoubt_nope"]);
    });

    it("every selector of a series that carries a tenant follows the tenant filter", () => {
        const tenantMetrics = [
            ...Object.entries(COLLECTOR_METRICS)
                .filter(([, m]) => (m.labels as readonly string[]).includes("tenant"))
                .map(([name]) => name),
            ...Object.values(RESTORE_DRILL_METRICS),
        ];
        expect(dashboard.templating.list.map((v) => v.name)).toContain("tenant");
        for (const { expr } of DASHBOARD_PANELS) {
            for (const m of expr.matchAll(/(redoubt_[a-z_]+)(\{[^}]*\})?/g)) {
                if (tenantMetrics.includes(m[1])) expect({ selector: m[0], filtered: (m[2] ?? "").includes('tenant=~"$tenant"') }).toEqual({ selector: m[0], filtered: true });
            }
        }
    });

    it("panels stay inside the 24-column grid and never overlap", () => {
        const cells = new Set<string>();
        for (const { title, gridPos: g } of dashboard.panels) {
            expect({ title, inside: g.x >= 0 && g.x + g.w <= 24 }).toEqual({ title, inside: true });
            for (let x = g.x; x < g.x + g.w; x++)
                for (let y = g.y; y < g.y + g.h; y++) {
                    expect({ title, cell: `${x},${y}`, taken: cells.has(`${x},${y}`) }).toEqual({ title, cell: `${x},${y}`, taken: false });
                    cells.add(`${x},${y}`);
                }
        }
    });
});
