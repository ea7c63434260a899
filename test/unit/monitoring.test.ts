// The monitoring renderers as plain functions: the committed rule file is the
// renderer's output, every rule is labelled and routed, the exporter's command
// line turns off every collector but ours, and the collector's metrics carry
// only allowed labels. promtool and shellcheck run in test/system/monitoring.test.ts.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { ALERT_RULES_FILE } from "../../cli/write-schema";
import {
    ALERT_GROUP,
    ALERT_ROUTE,
    ALERT_RULES,
    ALERT_THRESHOLDS,
    COLLECTOR_METRICS,
    MONITORING_LABELS,
    NODE_EXPORTER_BINARY,
    NODE_EXPORTER_COLLECTORS,
    NODE_EXPORTER_LISTEN_DEFAULT,
    NODE_EXPORTER_TEXTFILE_DIR,
    nodeExporterArgs,
    renderAlertRules,
    renderCollectorUnits,
    renderNodeExporterDropIn,
} from "../../components/render/monitoring";

interface RuleFile {
    groups: { name: string; rules: { alert: string; expr: string; for: string; labels: Record<string, string>; annotations: Record<string, string> }[] }[];
}

describe("alert rules", () => {
    it("the committed rule file is the renderer's output (regenerate with npm run schema)", () => {
        expect(readFileSync(ALERT_RULES_FILE, "utf8")).toBe(renderAlertRules());
    });

    it("has one rule per alert, each with a severity, the route to ops and a summary", () => {
        const file = parse(renderAlertRules()) as RuleFile;
        expect(file.groups.map((g) => g.name)).toEqual([ALERT_GROUP]);
        const rules = file.groups[0].rules;
        expect(new Set(rules.map((r) => r.alert)).size).toBe(ALERT_RULES.length);
        for (const rule of rules) {
            expect(["critical", "warning"]).toContain(rule.labels.severity);
            expect(rule.labels).toMatchObject(ALERT_ROUTE);
            expect(rule.annotations.summary).toMatch(/\.$/);
            expect(rule.for).toMatch(/^\d+[mh]$/);
        }
    });

    it("reads each threshold from ALERT_THRESHOLDS", () => {
        const expr = (alert: string) => ALERT_RULES.find((r) => r.alert === alert)?.expr ?? "";
        expect(expr("RedoubtBackupStale")).toContain(`> ${ALERT_THRESHOLDS.backupMaxAgeHours * 3600}`);
        expect(expr("RedoubtVolumeFilling")).toContain(`> ${ALERT_THRESHOLDS.volumeFillRatio}`);
        expect(expr("RedoubtMemoryNearLimit")).toContain(`> ${ALERT_THRESHOLDS.limitRatio}`);
        expect(expr("RedoubtCertificateExpiring")).toContain(`< ${ALERT_THRESHOLDS.certificateDays * 86400}`);
        expect(expr("RedoubtJournalTooLarge")).toContain(`> ${ALERT_THRESHOLDS.journalMaxBytes}`);
    });

    it("only the node exporter's own metrics and redoubt_* metrics are alerted on", () => {
        for (const rule of ALERT_RULES) {
            const metrics = rule.expr.match(/\b[a-z_]+_[a-z_]+(?=[{\s)]|$)/g) ?? [];
            for (const m of metrics) expect([rule.alert, m]).toEqual([rule.alert, expect.stringMatching(/^(redoubt_|node_)/)]);
        }
    });
});

describe("node exporter", () => {
    it("turns every default collector off and only ours on, listening on loopback unless told", () => {
        const args = nodeExporterArgs();
        expect(args[0]).toBe("--collector.disable-defaults");
        const enabled = args.filter((a) => /^--collector\.[a-z_]+$/.test(a) && a !== "--collector.disable-defaults").map((a) => a.slice("--collector.".length));
        expect(enabled.sort()).toEqual([...NODE_EXPORTER_COLLECTORS].sort());
        expect(args).toContain(`--collector.textfile.directory=${NODE_EXPORTER_TEXTFILE_DIR}`);
        expect(args).toContain(`--web.listen-address=${NODE_EXPORTER_LISTEN_DEFAULT}`);
        expect(NODE_EXPORTER_LISTEN_DEFAULT).toMatch(/^127\.0\.0\.1:/);
        expect(nodeExporterArgs({ listenAddress: "10.8.0.1:9100" })).toContain("--web.listen-address=10.8.0.1:9100");
    });

    it("replaces the unit's command line in a drop-in, and refuses an address that would add arguments", () => {
        const lines = renderNodeExporterDropIn()
            .split("\n")
            .filter((l) => l !== "" && !l.startsWith("#"));
        expect(lines).toEqual(["[Service]", "ExecStart=", `ExecStart=${NODE_EXPORTER_BINARY} ${nodeExporterArgs().join(" ")}`]);
        expect(() => renderNodeExporterDropIn({ listenAddress: "0.0.0.0:9100 --collector.processes" })).toThrow(/host:port/);
        expect(() => renderNodeExporterDropIn({ listenAddress: "$HOST:9100" })).toThrow(/host:port/);
    });
});

describe("collector", () => {
    it("declares only allowed labels on its metrics, all prefixed redoubt_", () => {
        for (const [name, metric] of Object.entries(COLLECTOR_METRICS)) {
            expect(name).toMatch(/^redoubt_/);
            for (const label of metric.labels) expect(MONITORING_LABELS).toContain(label);
            if (metric.type === "counter") expect(name).toMatch(/_total$/);
        }
    });

    it("runs every minute", () => {
        expect(renderCollectorUnits().timer).toMatch(/^OnCalendar=minutely$/m);
    });
});
