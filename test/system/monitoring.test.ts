// Monitoring run through Debian's programs: promtool checks and unit-tests
// every alert rule (a series that fires and one that does not, for each),
// shellcheck reads the collector, and the collector runs against stub
// docker/systemctl/mountpoint/df on PATH (real openssl, du, date) into output
// that `promtool check metrics` accepts and that carries only allowed labels.
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { stringify } from "yaml";
import { CADDY_TENANT_CA_PATH } from "../../components/render/caddy";
import { DASHBOARD_PANELS, type DashboardPanel } from "../../components/render/dashboard";
import { renderBackupTrigger } from "../../components/render/host";
import {
    ALERT_ROUTE,
    ALERT_RULES,
    ALERT_THRESHOLDS,
    COLLECTOR_METRICS,
    COLLECTOR_SCRIPT,
    COLLECTOR_UNIT,
    MONITORING_LABELS,
    NODE_EXPORTER_BINARY,
    NODE_EXPORTER_COLLECTORS,
    NODE_EXPORTER_DROP_IN,
    NODE_EXPORTER_JOB,
    NODE_EXPORTER_PACKAGE,
    NODE_EXPORTER_SERVICE,
    NODE_EXPORTER_TEXTFILE_DIR,
    renderNodeExporterDropIn,
    renderAlertRules,
    RESTORE_DRILL_METRICS,
    renderCollectorScript,
    renderCollectorUnits,
    renderNodeExporterCheck,
} from "../../components/render/monitoring";
import { freePort, LOOPBACK, makeTempDir, selfSignedCert, removeDir, run, runOk, start, stop, waitForPort } from "./helpers";
import { findProgram, requireProgram } from "./programs";

jest.setTimeout(120_000);

interface Series {
    series: string;
    values: string;
}
interface Case {
    /** promtool's interval between samples. */
    interval: string;
    series: Series[];
    at: string;
    /** The alert's labels (from the series), when it fires. */
    labels?: Record<string, string>;
}

const T = ALERT_THRESHOLDS;
const node = { job: NODE_EXPORTER_JOB, instance: "host-1:9100" };
const hs = { tenant: "acme", role: "homeserver" };
const acme = { tenant: "acme" };
const sel = (name: string, labels: Record<string, string>) =>
    `${name}{${Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(",")}}`;
/** A constant series of `n` samples. */
const flat = (value: number, n = 40) => `${value}x${n}`;
const ratioCase = (used: string, limit: string, ratio: number): Case => ({
    interval: "1m",
    series: [
        { series: sel(used, acme), values: flat(ratio * 1000) },
        { series: sel(limit, acme), values: flat(1000) },
    ],
    at: "20m",
    labels: acme,
});
const site = { tenant: "acme", site: "helsinki" };
const root = { device: "/dev/vda1", fstype: "ext4", mountpoint: "/" };

/** For every alert: series that make it fire (with the alert's labels) and series that do not. */
const CASES: Record<string, { fires: Case; quiet: Case }> = {
    RedoubtNodeExporterDown: {
        fires: { interval: "1m", series: [{ series: sel("up", node), values: flat(0) }], at: "10m", labels: node },
        quiet: { interval: "1m", series: [{ series: sel("up", node), values: flat(1) }], at: "10m" },
    },
    RedoubtCollectorStale: {
        // A last run stuck at the epoch is older than the threshold from then on.
        fires: { interval: "1m", series: [{ series: sel("redoubt_collector_last_run_timestamp_seconds", node), values: flat(0) }], at: "20m", labels: node },
        // Each minute's run writes that minute's time.
        quiet: { interval: "1m", series: [{ series: sel("redoubt_collector_last_run_timestamp_seconds", node), values: "0+60x40" }], at: "20m" },
    },
    RedoubtContainerDown: {
        fires: { interval: "1m", series: [{ series: sel("redoubt_container_up", hs), values: flat(0) }], at: "10m", labels: hs },
        quiet: { interval: "1m", series: [{ series: sel("redoubt_container_up", hs), values: flat(1) }], at: "10m" },
    },
    RedoubtContainerUnhealthy: {
        fires: { interval: "1m", series: [{ series: sel("redoubt_container_healthy", hs), values: flat(0) }], at: "10m", labels: hs },
        quiet: { interval: "1m", series: [{ series: sel("redoubt_container_healthy", hs), values: flat(1) }], at: "10m" },
    },
    RedoubtContainerRestartLoop: {
        fires: { interval: "1m", series: [{ series: sel("redoubt_container_restarts_total", hs), values: "0+1x40" }], at: "20m", labels: hs },
        // Restarted long ago, stable since.
        quiet: { interval: "1m", series: [{ series: sel("redoubt_container_restarts_total", hs), values: flat(T.restartsIn15m + 5) }], at: "20m" },
    },
    RedoubtMemoryNearLimit: {
        fires: ratioCase("redoubt_tenant_memory_bytes", "redoubt_tenant_memory_limit_bytes", T.limitRatio + 0.05),
        quiet: { ...ratioCase("redoubt_tenant_memory_bytes", "redoubt_tenant_memory_limit_bytes", T.limitRatio - 0.05), labels: undefined },
    },
    RedoubtPidsNearLimit: {
        fires: ratioCase("redoubt_tenant_pids", "redoubt_tenant_pids_limit", T.limitRatio + 0.05),
        quiet: { ...ratioCase("redoubt_tenant_pids", "redoubt_tenant_pids_limit", T.limitRatio - 0.05), labels: undefined },
    },
    RedoubtVolumeClosed: {
        fires: { interval: "1m", series: [{ series: sel("redoubt_volume_open", acme), values: flat(0) }], at: "10m", labels: acme },
        quiet: { interval: "1m", series: [{ series: sel("redoubt_volume_open", acme), values: flat(1) }], at: "10m" },
    },
    RedoubtVolumeFilling: {
        // avail / size: 1 - avail is the fill ratio.
        fires: { ...ratioCase("redoubt_volume_avail_bytes", "redoubt_volume_size_bytes", 1 - T.volumeFillRatio - 0.05), labels: acme },
        quiet: { ...ratioCase("redoubt_volume_avail_bytes", "redoubt_volume_size_bytes", 1 - T.volumeFillRatio + 0.05), labels: undefined },
    },
    RedoubtHostFilesystemFilling: {
        fires: {
            interval: "1m",
            series: [
                { series: sel("node_filesystem_avail_bytes", root), values: flat(50) },
                { series: sel("node_filesystem_size_bytes", root), values: flat(1000) },
            ],
            at: "20m",
            labels: root,
        },
        // A roomy root, and a full tmpfs (memory, not disk: not ours to alert on).
        quiet: {
            interval: "1m",
            series: [
                { series: sel("node_filesystem_avail_bytes", root), values: flat(500) },
                { series: sel("node_filesystem_size_bytes", root), values: flat(1000) },
                { series: sel("node_filesystem_avail_bytes", { ...root, fstype: "tmpfs", mountpoint: "/run" }), values: flat(0) },
                { series: sel("node_filesystem_size_bytes", { ...root, fstype: "tmpfs", mountpoint: "/run" }), values: flat(1000) },
            ],
            at: "20m",
        },
    },
    // Samples every 5 minutes: Prometheus looks back 5 minutes for an instant value, so the series never goes stale.
    RedoubtBackupStale: {
        // One success at the epoch: stale once the threshold has passed, not before.
        fires: {
            interval: "5m",
            series: [{ series: sel("redoubt_backup_last_success_timestamp_seconds", site), values: flat(0, 400) }],
            at: `${T.backupMaxAgeHours + 1}h`,
            labels: site,
        },
        quiet: { interval: "5m", series: [{ series: sel("redoubt_backup_last_success_timestamp_seconds", site), values: flat(0, 400) }], at: `${T.backupMaxAgeHours - 1}h` },
    },
    RedoubtBackupNeverSucceeded: {
        fires: { interval: "5m", series: [{ series: sel("redoubt_volume_open", acme), values: flat(1, 400) }], at: `${T.backupMaxAgeHours + 1}h`, labels: acme },
        quiet: {
            interval: "5m",
            series: [
                { series: sel("redoubt_volume_open", acme), values: flat(1, 400) },
                { series: sel("redoubt_backup_last_success_timestamp_seconds", site), values: "0+300x400" },
            ],
            at: `${T.backupMaxAgeHours + 1}h`,
        },
    },
    RedoubtCertificateExpiring: {
        fires: {
            interval: "1m",
            series: [{ series: sel("redoubt_certificate_expiry_timestamp_seconds", { ...acme, kind: "proxy" }), values: flat((T.certificateDays - 1) * 86400) }],
            at: "5m",
            labels: { ...acme, kind: "proxy" },
        },
        quiet: {
            interval: "1m",
            series: [{ series: sel("redoubt_certificate_expiry_timestamp_seconds", { ...acme, kind: "proxy" }), values: flat((T.certificateDays + 1) * 86400) }],
            at: "5m",
        },
    },
    RedoubtTenantCaExpiring: {
        fires: {
            interval: "1m",
            series: [{ series: sel("redoubt_certificate_expiry_timestamp_seconds", { ...acme, kind: "tenant-ca" }), values: flat((T.tenantCaDays - 1) * 86400) }],
            at: "5m",
            labels: { ...acme, kind: "tenant-ca" },
        },
        quiet: {
            interval: "1m",
            series: [
                { series: sel("redoubt_certificate_expiry_timestamp_seconds", { ...acme, kind: "tenant-ca" }), values: flat((T.tenantCaDays + 1) * 86400) },
                // A proxy certificate a few weeks from expiry is normal (ACME renews it): not this rule's business.
                { series: sel("redoubt_certificate_expiry_timestamp_seconds", { ...acme, kind: "proxy" }), values: flat((T.certificateDays + 1) * 86400) },
            ],
            at: "5m",
        },
    },
    RedoubtRestoreDrillFailed: {
        fires: { interval: "1m", series: [{ series: sel(RESTORE_DRILL_METRICS.success, site), values: flat(0) }], at: "5m", labels: site },
        quiet: { interval: "1m", series: [{ series: sel(RESTORE_DRILL_METRICS.success, site), values: flat(1) }], at: "5m" },
    },
    RedoubtRestoreDrillStale: {
        // The last drill dated back from the evaluation time (promtool's clock starts at 0): just past the
        // threshold fires, just within it does not. Evaluating over real days would take promtool minutes.
        fires: {
            interval: "1m",
            series: [{ series: sel(RESTORE_DRILL_METRICS.finished, site), values: flat(300 - (T.restoreDrillMaxAgeDays + 1) * 86400) }],
            at: "5m",
            labels: site,
        },
        quiet: { interval: "1m", series: [{ series: sel(RESTORE_DRILL_METRICS.finished, site), values: flat(300 - (T.restoreDrillMaxAgeDays - 1) * 86400) }], at: "5m" },
    },
    RedoubtJournalTooLarge: {
        fires: { interval: "1m", series: [{ series: "redoubt_journal_disk_usage_bytes", values: flat(T.journalMaxBytes * 1.5, 60) }], at: "40m", labels: {} },
        quiet: { interval: "1m", series: [{ series: "redoubt_journal_disk_usage_bytes", values: flat(T.journalMaxBytes / 2, 60) }], at: "40m" },
    },
};

/** promtool's unit test file: one test per case. */
function promtoolTests(rulesFile: string, cases: typeof CASES): string {
    const tests = Object.entries(cases).flatMap(([alert, { fires, quiet }]) => {
        const rule = ALERT_RULES.find((r) => r.alert === alert);
        if (!rule) throw new Error(`a case for ${alert}, which no rule has`);
        return [fires, quiet].map((c) => ({
            interval: c.interval,
            input_series: c.series,
            alert_rule_test: [
                {
                    eval_time: c.at,
                    alertname: alert,
                    exp_alerts: c.labels ? [{ exp_labels: { ...c.labels, severity: rule.severity, ...ALERT_ROUTE }, exp_annotations: { summary: rule.summary } }] : [],
                },
            ],
        }));
    });
    return stringify({ rule_files: [rulesFile], tests });
}

describe("alert rules (promtool)", () => {
    let promtool: string;
    let dir: string;
    let rulesFile: string;
    beforeAll(() => {
        promtool = requireProgram("promtool", "prometheus");
        dir = makeTempDir("monitoring");
        rulesFile = join(dir, "redoubt-alerts.rules.yml");
        writeFileSync(rulesFile, renderAlertRules());
    });
    afterAll(() => removeDir(dir));

    test("promtool check rules accepts the rendered rules, one per alert", () => {
        const r = runOk(promtool, ["check", "rules", rulesFile]);
        expect(r.stdout).toContain(`SUCCESS: ${ALERT_RULES.length} rules found`);
    });

    test("promtool check rules refuses a broken expression (the check can fail)", () => {
        const broken = join(dir, "broken.rules.yml");
        writeFileSync(broken, renderAlertRules([{ ...ALERT_RULES[0], expr: "up{job=" }]));
        expect(run(promtool, ["check", "rules", broken]).code).not.toBe(0);
    });

    // The dashboard's queries as recording rules, the way Grafana sends them with every tenant selected.
    const dashboardRules = (panels: readonly DashboardPanel[]) =>
        stringify({ groups: [{ name: "dashboard", rules: panels.map((p, i) => ({ record: `redoubt:dashboard_panel_${i + 1}`, expr: p.expr.replaceAll("$tenant", ".*") })) }] });

    test("promtool check rules accepts every dashboard panel's query", () => {
        const file = join(dir, "dashboard.rules.yml");
        writeFileSync(file, dashboardRules(DASHBOARD_PANELS));
        expect(runOk(promtool, ["check", "rules", file]).stdout).toContain(`SUCCESS: ${DASHBOARD_PANELS.length} rules found`);
        const broken = join(dir, "dashboard-broken.rules.yml");
        writeFileSync(broken, dashboardRules([{ ...DASHBOARD_PANELS[0], expr: `${DASHBOARD_PANELS[0].expr} /` }]));
        expect(run(promtool, ["check", "rules", broken]).code).not.toBe(0);
    });

    test("every alert has a case that fires and one that does not", () => {
        expect(Object.keys(CASES).sort()).toEqual(ALERT_RULES.map((r) => r.alert).sort());
        for (const [alert, { fires, quiet }] of Object.entries(CASES)) {
            expect([alert, fires.labels !== undefined, quiet.labels === undefined]).toEqual([alert, true, true]);
        }
    });

    test("promtool test rules: each rule fires on its firing series and stays quiet on the others", () => {
        const tests = join(dir, "tests.yml");
        writeFileSync(tests, promtoolTests(rulesFile, CASES));
        const r = run(promtool, ["test", "rules", tests]);
        expect({ code: r.code, output: r.stdout + r.stderr }).toEqual({ code: 0, output: expect.stringContaining("SUCCESS") });
    });

    test.each(Object.keys(CASES))("promtool test rules fails when %s's quiet series are expected to fire (the test can fail)", (alert) => {
        const swapped = { [alert]: { fires: { ...CASES[alert].quiet, labels: CASES[alert].fires.labels }, quiet: CASES[alert].quiet } };
        const tests = join(dir, `swapped-${alert}.yml`);
        writeFileSync(tests, promtoolTests(rulesFile, swapped));
        expect(run(promtool, ["test", "rules", tests]).code).not.toBe(0);
    });
});

/** Parses Prometheus text format samples: name, labels, value. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
    return text
        .split("\n")
        .filter((l) => l !== "" && !l.startsWith("#"))
        .map((line) => {
            const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
            if (!m) throw new Error(`not a sample line: ${line}`);
            const labels = Object.fromEntries([...(m[2] ?? "").matchAll(/([a-zA-Z_]\w*)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
            return { name: m[1], labels, value: Number(m[3]) };
        });
}

describe("the collector", () => {
    let dir: string;
    let bin: string;
    let tenants: string;
    let backups: string;
    let journal: string;
    const script = renderCollectorScript();
    const exe = (path: string, content: string) => {
        writeFileSync(path, content);
        chmodSync(path, 0o755);
    };

    beforeAll(() => {
        dir = makeTempDir("collector");
        bin = join(dir, "bin");
        tenants = join(dir, "tenants");
        backups = join(dir, "backups");
        journal = join(dir, "journal");
        for (const d of [bin, join(tenants, "acme/data/config/proxy"), join(tenants, "beta/data"), join(backups, "acme"), journal]) mkdirSync(d, { recursive: true });
        writeFileSync(join(tenants, "acme/volume.luks"), "");
        writeFileSync(join(tenants, "beta/volume.luks"), "");
        writeFileSync(join(backups, "acme/helsinki"), "1700000000\n");
        writeFileSync(join(journal, "system.journal"), Buffer.alloc(8192));
        // A real certificate, valid for 30 days, where the proxy's lies.
        selfSignedCert(requireProgram("openssl", "openssl"), {
            name: "acme.example",
            days: 30,
            keyFile: join(dir, "key.pem"),
            certFile: join(tenants, "acme/data/config/proxy/tls.crt"),
        });
        // And a tenant CA, valid for 300 days, where the proxy's carrier writes it for tor and vpn tenants.
        selfSignedCert(requireProgram("openssl", "openssl"), {
            name: "acme CA",
            days: 300,
            keyFile: join(dir, "ca-key.pem"),
            certFile: join(tenants, `acme/data/config/proxy/${basename(CADDY_TENANT_CA_PATH)}`),
        });
        // Stubs: the answers of docker inspect, systemctl show, mountpoint and df (formats from their man pages:
        // docker-inspect(1) --format Go templates, systemctl(1) show -p: Key=value lines, df(1) --output).
        exe(
            join(bin, "docker"),
            `#!/bin/sh
case "$1" in
    ps) printf 'c1\\nc2\\nc3\\nc4\\nc5\\nc6\\n' ;;
    # The last id names a container removed since ps: inspect reports the others and fails.
    inspect) printf '%s\\n' 'acme homeserver true healthy 2' 'acme proxy false none 7' 'acme backup-agent false none 0' 'acme config false none 0' '- edge true unhealthy 0'; echo "Error: No such object: c6" >&2; exit 1 ;;
    *) exit 1 ;;
esac
`,
        );
        exe(
            join(bin, "systemctl"),
            `#!/bin/sh
[ "$1" = show ] || exit 1
case "$*" in
    *redoubt-acme.slice*) printf 'MemoryCurrent=524288000\\nMemoryMax=1073741824\\nTasksCurrent=40\\nTasksMax=256\\nCPUUsageNSec=12000000000\\n' ;;
    *) printf 'MemoryCurrent=[not set]\\nMemoryMax=infinity\\nTasksCurrent=0\\nTasksMax=infinity\\nCPUUsageNSec=[not set]\\n' ;;
esac
`,
        );
        exe(join(bin, "mountpoint"), `#!/bin/sh\ncase "$2" in */acme/data) exit 0 ;; *) exit 1 ;; esac\n`);
        exe(join(bin, "df"), `#!/bin/sh\nprintf '%s\\n' '       1B-blocks           Avail' ' 10737418240  2147483648'\n`);
    });
    afterAll(() => removeDir(dir));

    const collect = () => {
        const out = join(dir, "out", "redoubt.prom");
        mkdirSync(join(dir, "out"), { recursive: true });
        runOk(requireProgram("bash", "bash"), ["-c", `${script.replace(/^#!.*\n/, "")}`, "collector", out], {
            env: { PATH: `${bin}:${process.env.PATH}`, REDOUBT_TENANTS_ROOT: tenants, REDOUBT_BACKUP_SUCCESS_DIR: backups, REDOUBT_JOURNAL_DIR: journal },
        });
        return readFileSync(out, "utf8");
    };

    test("shellcheck finds nothing in the collector", () => {
        const file = join(dir, "collector.sh");
        writeFileSync(file, script);
        const r = run(requireProgram("shellcheck", "shellcheck"), [file]);
        expect({ code: r.code, output: r.stdout }).toEqual({ code: 0, output: "" });
    });

    test("its output passes promtool check metrics and carries only redoubt_ metrics with allowed labels", () => {
        const text = collect();
        const r = run(requireProgram("promtool", "prometheus"), ["check", "metrics"], { input: text });
        expect({ code: r.code, output: r.stdout + r.stderr }).toEqual({ code: 0, output: "" });
        const got = samples(text);
        expect(got.length).toBeGreaterThan(0);
        for (const s of got) {
            expect(Object.keys(COLLECTOR_METRICS)).toContain(s.name);
            for (const label of Object.keys(s.labels)) expect(MONITORING_LABELS).toContain(label);
            // Each metric carries the labels it declares, and no others.
            expect(Object.keys(s.labels).sort()).toEqual([...COLLECTOR_METRICS[s.name as keyof typeof COLLECTOR_METRICS].labels].filter((l) => l in s.labels).sort());
        }
        // No trace of a path or an address: the temp directory's path never reaches a label.
        expect(text).not.toContain(dir);
    });

    test("it reports what the stubs and files say", () => {
        const got = samples(collect());
        const value = (name: string, labels: Record<string, string>) =>
            got.filter((s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels)).map((s) => s.value);
        expect(value("redoubt_container_up", { tenant: "acme", role: "homeserver" })).toEqual([1]);
        expect(value("redoubt_container_up", { tenant: "acme", role: "proxy" })).toEqual([0]);
        expect(value("redoubt_container_up", { role: "edge" })).toEqual([1]);
        expect(value("redoubt_container_healthy", { role: "edge" })).toEqual([0]);
        expect(value("redoubt_container_restarts_total", { tenant: "acme", role: "proxy" })).toEqual([7]);
        // The backup agent runs from its timer, config carriers never: neither is "down".
        expect(got.filter((s) => ["backup-agent", "config"].includes(s.labels.role ?? ""))).toEqual([]);
        expect(value("redoubt_volume_open", { tenant: "acme" })).toEqual([1]);
        expect(value("redoubt_volume_open", { tenant: "beta" })).toEqual([0]);
        expect(value("redoubt_volume_avail_bytes", { tenant: "acme" })).toEqual([2147483648]);
        expect(value("redoubt_volume_size_bytes", { tenant: "beta" })).toEqual([]);
        expect(value("redoubt_tenant_memory_limit_bytes", { tenant: "acme" })).toEqual([1073741824]);
        expect(value("redoubt_tenant_pids_limit", { tenant: "acme" })).toEqual([256]);
        expect(value("redoubt_tenant_pids_limit", { tenant: "beta" })).toEqual([]);
        expect(value("redoubt_backup_last_success_timestamp_seconds", { tenant: "acme", site: "helsinki" })).toEqual([1700000000]);
        const expiry = value("redoubt_certificate_expiry_timestamp_seconds", { tenant: "acme", kind: "proxy" });
        expect(expiry).toHaveLength(1);
        expect(Math.abs(expiry[0] - (Date.now() / 1000 + 30 * 86400))).toBeLessThan(86400 + 600);
        const caExpiry = value("redoubt_certificate_expiry_timestamp_seconds", { tenant: "acme", kind: "tenant-ca" });
        expect(caExpiry).toHaveLength(1);
        expect(Math.abs(caExpiry[0] - (Date.now() / 1000 + 300 * 86400))).toBeLessThan(86400 + 600);
        expect(value("redoubt_journal_disk_usage_bytes", {})[0]).toBeGreaterThanOrEqual(8192);
        expect(Math.abs(value("redoubt_collector_last_run_timestamp_seconds", {})[0] - Date.now() / 1000)).toBeLessThan(120);
    });

    test("Debian's node exporter with our arguments runs only our collectors and serves the collector's file", async () => {
        requireProgram(NODE_EXPORTER_PACKAGE, NODE_EXPORTER_PACKAGE);
        collect();
        const port = await freePort();
        // The drop-in's command line (systemd splits it on spaces: it has no quotes), with the textfile directory
        // moved to the test's (the host's needs root).
        const execStart = /^ExecStart=(\S.*)$/m.exec(renderNodeExporterDropIn({ listenAddress: `${LOOPBACK}:${port}` }))?.[1] ?? "";
        const [exporter, ...args] = execStart
            .split(" ")
            .map((a) => (a.startsWith("--collector.textfile.directory=") ? a.replace(NODE_EXPORTER_TEXTFILE_DIR, join(dir, "out")) : a));
        expect(exporter).toBe(findProgram(NODE_EXPORTER_PACKAGE));
        const started = start(exporter, args);
        try {
            await waitForPort(port, 15_000, started);
            const text = await (await fetch(`http://${LOOPBACK}:${port}/metrics`)).text();
            // node_scrape_collector_success names every collector that ran: exactly ours.
            const ran = [...text.matchAll(/^node_scrape_collector_success\{collector="([^"]+)"\}/gm)].map((m) => m[1]);
            expect(ran.sort()).toEqual([...NODE_EXPORTER_COLLECTORS].sort());
            expect(text).toMatch(/^redoubt_volume_open\{tenant="acme"\} 1$/m);
            expect(text).not.toMatch(/^node_textfile_scrape_error 1$/m);
        } finally {
            await stop(started);
        }
    });
});

describe("host setup", () => {
    let dir: string;
    beforeAll(() => {
        dir = makeTempDir("monitoring-units");
    });
    afterAll(() => removeDir(dir));

    test("shellcheck finds nothing in the node exporter check, which refuses a host without the exporter", () => {
        const file = join(dir, "check.sh");
        writeFileSync(file, renderNodeExporterCheck());
        const r = run(requireProgram("shellcheck", "shellcheck"), [file]);
        expect({ code: r.code, output: r.stdout }).toEqual({ code: 0, output: "" });
        // The check looks at a fixed path; on this machine the package is installed, so a renamed binary stands in for a host without it.
        const missing = run("/bin/sh", [
            "-c",
            renderNodeExporterCheck().replaceAll(NODE_EXPORTER_BINARY, join(dir, "absent")).replaceAll(NODE_EXPORTER_TEXTFILE_DIR, join(dir, "textfile")),
        ]);
        expect(missing.code).toBe(1);
        expect(missing.stderr).toMatch(new RegExp(`install it \\(apt-get install ${NODE_EXPORTER_PACKAGE}\\)`));
    });

    test("systemd-analyze verify accepts the collector's units and the exporter's drop-in on Debian's unit", () => {
        const analyze = requireProgram("systemd-analyze", "systemd");
        const root = join(dir, "root");
        mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
        cpSync("/usr/lib/systemd/system", join(root, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
        const install = (path: string, content: string, mode = 0o644) => {
            mkdirSync(dirname(join(root, path)), { recursive: true });
            writeFileSync(join(root, path), content, { mode });
        };
        const units = renderCollectorUnits();
        install(`/etc/systemd/system/${COLLECTOR_UNIT}.service`, units.service);
        install(`/etc/systemd/system/${COLLECTOR_UNIT}.timer`, units.timer);
        install(COLLECTOR_SCRIPT, renderCollectorScript(), 0o755);
        install(NODE_EXPORTER_DROP_IN, renderNodeExporterDropIn());
        // Programs the units run must exist below the root: stand-ins (Debian's unit reloads with /bin/kill).
        for (const program of [NODE_EXPORTER_BINARY, "/bin/kill"]) install(program, "#!/bin/sh\n", 0o755);
        const r = run(analyze, ["verify", `--root=${root}`, `${COLLECTOR_UNIT}.service`, `${COLLECTOR_UNIT}.timer`, NODE_EXPORTER_SERVICE]);
        expect({ code: r.code, output: r.stdout + r.stderr }).toEqual({ code: 0, output: "" });
        // systemd reads our command line, not Debian's $ARGS.
        const cat = runOk(analyze, ["cat-config", `--root=${root}`, `systemd/system/${NODE_EXPORTER_SERVICE}`]);
        expect(cat.stdout).toContain(NODE_EXPORTER_DROP_IN);
    });
});

describe("the backup trigger records each site's success time", () => {
    let dir: string;
    beforeAll(() => {
        dir = makeTempDir("trigger");
        mkdirSync(join(dir, "bin"));
    });
    afterAll(() => removeDir(dir));

    test.each([
        [0, ["helsinki", "falkenstein"]],
        [1, ["helsinki"]],
    ])("agent exit %i: the sites it reports done get a time, and the trigger exits as the agent did", (code, done) => {
        const success = join(dir, `success-${code}`);
        writeFileSync(
            join(dir, "bin", "docker"),
            `#!/bin/sh
case "$1" in
    inspect) echo false ;;
    start) ${done.map((s) => `echo "backup: ${s} done"`).join("; ")}; ${code ? 'echo "backup: backup to falkenstein failed" >&2; ' : ""}exit ${code} ;;
esac
`,
        );
        chmodSync(join(dir, "bin", "docker"), 0o755);
        const trigger = renderBackupTrigger({ tenant: "acme", homeserverContainer: "hs", backupContainer: "agent", onCalendar: "daily", stoppedFlag: join(dir, "stopped") });
        const shellcheck = run(requireProgram("shellcheck", "shellcheck"), ["-"], { input: trigger });
        expect(shellcheck.stdout).toBe("");
        const r = run("/bin/sh", ["-c", trigger.replace(/^#!.*\n/, "")], { env: { PATH: `${join(dir, "bin")}:${process.env.PATH}`, REDOUBT_BACKUP_SUCCESS_DIR: success } });
        expect(r.code).toBe(code);
        expect(r.stdout).toContain(`backup: ${done[0]} done`);
        for (const site of ["helsinki", "falkenstein"]) {
            const file = join(success, "acme", site);
            expect([site, existsSync(file)]).toEqual([site, done.includes(site)]);
            if (existsSync(file)) expect(Math.abs(Number(readFileSync(file, "utf8")) - Date.now() / 1000)).toBeLessThan(60);
        }
    });
});
