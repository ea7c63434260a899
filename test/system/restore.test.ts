// The rendered restore script, run by sh with Debian's restic against a local
// repository filled by the real rendered backup script. Docker and
// mountpoint are stand-ins on PATH (the homeserver's one-off database restore
// needs its image; the live host test runs that part): the docker stand-in
// logs each call and answers `inspect` the way `docker inspect -f` prints
// those fields.
import { createHash, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { DEFAULT_HOMESERVER } from "../../components/homeservers";
import { backupUnitName, containerName, restoreDrillUnitName } from "../../components/names";
import { renderBackupScript } from "../../components/render/backup";
import {
    backupSiteHostPaths,
    renderRestoreDrillUnits,
    renderRestoreScript,
    RESTORE_WAIT_FOR_BACKUP_SECONDS,
    restoreDrillScriptPath,
    SNAPSHOT_TAG,
    type RestoreScriptInput,
} from "../../components/render/restore";
import { fileTree, makeTempDir, removeDir, run, runOk } from "./helpers";
import { findProgram, requireProgram } from "./programs";

jest.setTimeout(120_000);

/** Each file's SHA-256 by path: byte-for-byte comparison with short failure messages. */
const tree = (dir: string): Record<string, string> =>
    Object.fromEntries(Object.entries(fileTree(dir)).map(([p, b64]) => [p, createHash("sha256").update(Buffer.from(b64, "base64")).digest("hex")]));

describe("restore script (restic, local repository)", () => {
    const flavor = DEFAULT_HOMESERVER;
    const tenant = "acme";
    const site = `helsinki-${randomBytes(3).toString("hex")}`;
    let restic: string;
    let sh: string;
    let dir: string;
    let mount: string;
    let data: string;
    let bin: string;
    let dockerLog: string;
    let original: Record<string, string>;
    const repo = () => join(dir, "repo");

    function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
        return { PATH: `${bin}:${process.env.PATH}`, HOME: join(dir, "home"), TMPDIR: join(dir, "tmp"), DOCKER_LOG: dockerLog, ...extra };
    }
    const resticIn = (args: string[]) =>
        runOk(restic, ["--no-cache", ...args], { env: { ...env(), RESTIC_REPOSITORY: repo(), RESTIC_PASSWORD_FILE: backupSiteHostPaths(mount, site).passwordFile } });
    const snapshots = () => JSON.parse(resticIn(["snapshots", "--json"]).stdout) as { id: string; time: string }[];

    const restoreScript = (extra: Partial<RestoreScriptInput> = {}): string =>
        renderRestoreScript({
            tenant,
            site,
            repository: repo(),
            force: false,
            restic: "local",
            flavor,
            paths: { sourceMount: mount, targetMount: mount, snapshotRoot: data },
            ...extra,
        });
    const runRestore = (extra: Partial<RestoreScriptInput> = {}, envExtra: NodeJS.ProcessEnv = {}) => {
        writeFileSync(dockerLog, "");
        return run(sh, ["-c", restoreScript(extra)], { env: env(envExtra), timeout: 120_000 });
    };
    const dockerCalls = () =>
        readFileSync(dockerLog, "utf8")
            .split("\n")
            .filter((l) => l && !l.startsWith("inspect"));
    /** The data as a backup takes it: the database backup and media, not the live database. */
    const backedUp = () => Object.fromEntries(Object.entries(tree(data)).filter(([p]) => p.startsWith(`${flavor.data.backups}/`) || p.startsWith(`${flavor.data.media}/`)));

    function backup(): void {
        const script = join(dir, "backup.sh");
        writeFileSync(
            script,
            renderBackupScript({
                repositories: [{ site, repository: repo(), passwordFile: backupSiteHostPaths(mount, site).passwordFile }],
                paths: [join(data, flavor.data.backups), join(data, flavor.data.media)],
                keep: { daily: 7, weekly: 4, monthly: 6 },
                freshnessMarker: join(data, flavor.data.backupMarker),
            }),
        );
        const r = run(sh, [script], { env: env(), timeout: 120_000 });
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    }

    beforeAll(() => {
        restic = requireProgram("restic", "restic");
        sh = requireProgram("sh", "dash");
        dir = makeTempDir("restore");
        for (const d of ["home", "tmp", "bin"]) mkdirSync(join(dir, d), { recursive: true });
        mount = join(dir, "mount");
        data = join(mount, flavor.data.subdir);
        bin = join(dir, "bin");
        dockerLog = join(dir, "docker.log");
        const passwordFile = backupSiteHostPaths(mount, site).passwordFile;
        mkdirSync(join(passwordFile, ".."), { recursive: true });
        writeFileSync(passwordFile, `${randomBytes(24).toString("base64")}\n`, { mode: 0o600 });
        // The stand-ins: mountpoint says "mounted" unless MOUNTPOINT_CLOSED is set; docker logs its
        // arguments, answers inspect, and fails `run` (the database restore) when DOCKER_RUN_FAILS is set.
        writeFileSync(join(bin, "mountpoint"), '#!/bin/sh\n[ -z "${MOUNTPOINT_CLOSED:-}" ]\n', { mode: 0o755 });
        writeFileSync(
            join(bin, "docker"),
            [
                "#!/bin/sh",
                'echo "$*" >> "$DOCKER_LOG"',
                'case "$1 $3" in',
                '    "inspect {{.Config.User}}") echo "$(id -u):$(id -g)" ;;',
                '    "inspect {{.State.Running}}") echo true ;;',
                '    "inspect {{.Image}}") echo sha256:0123 ;;',
                '    "run "*) [ -z "${DOCKER_RUN_FAILS:-}" ] ;;',
                "esac",
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
        // systemctl: logs its arguments (to SYSTEMCTL_LOG, and to DOCKER_LOG too with EVENTS set, for the order of
        // both); timers are active with TIMERS_ACTIVE; the backup service reports "activating" (a oneshot running)
        // for its first BUSY_FOR `show` calls. sleep returns at once (the restore's wait loop).
        writeFileSync(
            join(bin, "systemctl"),
            [
                "#!/bin/sh",
                'echo "$*" >> "${SYSTEMCTL_LOG:-/dev/null}"',
                'if [ -n "${EVENTS:-}" ]; then echo "systemctl $*" >> "$DOCKER_LOG"; fi',
                'case "$1" in',
                '    is-active) [ -n "${TIMERS_ACTIVE:-}" ] ;;',
                "    show)",
                '        case "$*" in *redoubt-backup-*) ;; *) echo inactive; exit 0 ;; esac',
                '        n=$(cat "${BUSY_COUNT:-/dev/null}" 2>/dev/null || echo 0); n=$((n + 1))',
                '        if [ -n "${BUSY_COUNT:-}" ]; then echo "$n" > "$BUSY_COUNT"; fi',
                '        if [ "$n" -le "${BUSY_FOR:-0}" ]; then echo activating; else echo inactive; fi ;;',
                "esac",
                "",
            ].join("\n"),
            { mode: 0o755 },
        );
        writeFileSync(join(bin, "sleep"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
        mkdirSync(join(data, flavor.data.backups, "shared_checksum"), { recursive: true });
        mkdirSync(join(data, flavor.data.media), { recursive: true });
        writeFileSync(join(data, flavor.data.backups, "shared_checksum", "000012_s1.sst"), randomBytes(512 * 1024));
        writeFileSync(join(data, flavor.data.media, "abcdef"), randomBytes(100 * 1024));
        writeFileSync(join(data, flavor.data.media, "empty"), "");
        writeFileSync(join(data, flavor.data.backupMarker), "backup 1\n");
        // The live database: never in a backup.
        writeFileSync(join(data, "000010.sst"), randomBytes(1024));
        original = backedUp();
        backup();
    });
    afterAll(() => {
        removeDir(dir);
        rmSync(`/tmp/restic-${site}.err`, { force: true });
    });

    test("the rendered script passes shellcheck", () => {
        const shellcheck = requireProgram("shellcheck", "shellcheck");
        for (const script of [
            restoreScript(),
            restoreScript({ restic: "agent-image", storageBox: { user: "u1", host: "u1.example" } }),
            restoreScript({ target: "drill" }),
            restoreScript({ drillMetricsFile: "/m/drill.prom" }),
        ]) {
            const r = run(shellcheck, ["-s", "sh", "-S", "style", "-"], { input: script });
            expect({ code: r.code, findings: r.stdout + r.stderr }).toEqual({ code: 0, findings: "" });
        }
    });

    test("refuses while the volume is closed, touching nothing", () => {
        const before = tree(data);
        const r = runRestore({ force: true }, { MOUNTPOINT_CLOSED: "1" });
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("is not mounted");
        expect(dockerCalls()).toEqual([]);
        expect(tree(data)).toEqual(before);
    });

    test("refuses when the live data is newer than the snapshot, stopping nothing", () => {
        // Damage after the backup: a changed media file and a newer live database.
        writeFileSync(join(data, flavor.data.media, "abcdef"), randomBytes(100 * 1024));
        rmSync(join(data, flavor.data.backups, "shared_checksum", "000012_s1.sst"));
        writeFileSync(join(data, "000011.sst"), randomBytes(1024));
        // A minute after the snapshot: no race with its second.
        runOk("touch", ["-d", `@${Math.floor(Date.parse(snapshots()[0].time) / 1000) + 60}`, join(data, "000011.sst")]);
        const before = tree(data);
        const r = runRestore();
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/after the snapshot; restoring would lose it\. Give --force/);
        expect(dockerCalls()).toEqual([]);
        expect(tree(data)).toEqual(before);
        expect(readdirSync(mount).filter((e) => e.startsWith("."))).toEqual([]);
    });

    test("--force restores the snapshot byte for byte, with the homeserver stopped, restored and started in that order", () => {
        const damaged = tree(data);
        const r = runRestore({ force: true });
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
        // Exactly the backed-up tree: no live database file survives into the restored directory.
        expect(tree(data)).toEqual(original);
        const homeserver = containerName(tenant, "homeserver");
        const calls = dockerCalls();
        expect(calls.map((c) => c.split(" ")[0])).toEqual(["stop", "run", "start"]);
        expect(calls[0]).toBe(`stop ${homeserver}`);
        expect(calls[1]).toContain(`-v ${data}:${flavor.data.mountPath}`);
        expect(calls[1]).toContain("--network none");
        expect(calls[1]).toMatch(/--restore-backup/);
        expect(calls[2]).toBe(`start ${homeserver}`);
        // The data it replaced is kept beside it, untouched.
        const previous = readdirSync(mount).filter((e) => e.startsWith(`${flavor.data.subdir}.before-restore-`));
        expect(previous).toHaveLength(1);
        expect(tree(join(mount, previous[0]))).toEqual(damaged);
        expect(existsSync(join(mount, ".restore-staging"))).toBe(false);
        expect(r.stdout).toContain(`restored from snapshot ${snapshots()[0].id.slice(0, 8)}`);
        rmSync(join(mount, previous[0]), { recursive: true });
    });

    test("a given snapshot ID is the one restored", () => {
        const first = snapshots()[0].id;
        writeFileSync(join(data, flavor.data.media, "later"), randomBytes(1024));
        writeFileSync(join(data, flavor.data.backupMarker), "backup 2\n");
        // A second snapshot the way the backup script takes it (its retention would keep only one per day).
        resticIn(["backup", "--host", "redoubt", "--tag", SNAPSHOT_TAG, join(data, flavor.data.backups), join(data, flavor.data.media)]);
        expect(snapshots()).toHaveLength(2);
        const r = runRestore({ force: true, snapshot: first.slice(0, 8) });
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
        expect(tree(data)).toEqual(original);
        expect(r.stdout).toContain(`snapshot ${first.slice(0, 8)}`);
        for (const e of readdirSync(mount).filter((e) => e.includes(".before-restore-"))) rmSync(join(mount, e), { recursive: true });
    });

    test("when the homeserver cannot restore its database, the previous data goes back and the server is started again", () => {
        writeFileSync(join(data, "000020.sst"), randomBytes(1024));
        const before = tree(data);
        const r = runRestore({ force: true, snapshot: snapshots()[0].id }, { DOCKER_RUN_FAILS: "1" });
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("the previous data is back in place");
        expect(tree(data)).toEqual(before);
        expect(dockerCalls().map((c) => c.split(" ")[0])).toEqual(["stop", "run", "start"]);
        expect(tree(join(mount, `${flavor.data.subdir}.failed-restore`))).toEqual(original);
    });

    test("a lost data directory (a fresh volume) is restored without --force", () => {
        rmSync(data, { recursive: true });
        const r = runRestore({ snapshot: snapshots()[0].id });
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
        expect(tree(data)).toEqual(original);
    });

    test("a drill refuses a target tenant that is not fresh, unless forced", () => {
        const r = runRestore({ target: "drill" });
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("drill is not fresh");
        expect(dockerCalls()).toEqual([]);
    });

    describe("the scheduled drill", () => {
        const metrics = () => join(dir, "textfile", "restore-drill.prom");
        const value = (name: string) => Number(new RegExp(`^${name}\\{tenant="${tenant}",site="${site}"\\} (\\d+)$`, "m").exec(readFileSync(metrics(), "utf8"))?.[1]);

        test("restores the newest snapshot and rebuilds the database beside the live data, touching neither it nor the server; success as a metric", () => {
            const before = tree(data);
            const r = runRestore({ drillMetricsFile: metrics() });
            expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
            expect(tree(data)).toEqual(before);
            const calls = dockerCalls();
            expect(calls.map((c) => c.split(" ")[0])).toEqual(["run"]);
            expect(calls[0]).toContain(`-v ${join(mount, ".restore-drill")}${data}:${flavor.data.mountPath}`);
            expect(calls[0]).toMatch(/--restore-backup/);
            expect(existsSync(join(mount, ".restore-drill"))).toBe(false);
            expect(value("redoubt_restore_drill_success")).toBe(1);
            const newest = snapshots().at(-1)!;
            expect(value("redoubt_restore_drill_snapshot_timestamp_seconds")).toBe(Math.floor(Date.parse(newest.time) / 1000));
            expect(Math.abs(value("redoubt_restore_drill_timestamp_seconds") - Date.now() / 1000)).toBeLessThan(120);
            const promtool = findProgram("promtool");
            if (promtool) expect(run(promtool, ["check", "metrics"], { input: readFileSync(metrics()) }).code).toBe(0);
        });

        test("a drill whose database rebuild fails says so as a metric and in its exit status", () => {
            const r = runRestore({ drillMetricsFile: metrics() }, { DOCKER_RUN_FAILS: "1" });
            expect(r.code).not.toBe(0);
            expect(r.stderr).toContain("restore drill: tuwunel could not rebuild its database");
            expect(value("redoubt_restore_drill_success")).toBe(0);
            expect(existsSync(join(mount, ".restore-drill"))).toBe(false);
        });
    });

    test("the drill's service and timer verify clean with systemd, monthly, one run per site", () => {
        const analyze = requireProgram("systemd-analyze", "systemd");
        const root = join(dir, "root");
        mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
        // systemd-analyze --root needs the distribution's units (sysinit.target and friends) below the root.
        cpSync("/usr/lib/systemd/system", join(root, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
        mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
        const sites = ["helsinki", "falkenstein"];
        for (const s of sites) {
            mkdirSync(join(root, dirname(restoreDrillScriptPath(tenant, s))), { recursive: true });
            writeFileSync(join(root, restoreDrillScriptPath(tenant, s)), "#!/bin/sh\n", { mode: 0o700 });
        }
        const unit = restoreDrillUnitName(tenant);
        const units = renderRestoreDrillUnits(tenant, sites);
        writeFileSync(join(root, "etc/systemd/system", `${unit}.service`), units.service);
        writeFileSync(join(root, "etc/systemd/system", `${unit}.timer`), units.timer);
        const r = run(analyze, ["verify", `--root=${root}`, `${unit}.service`, `${unit}.timer`]);
        expect({ code: r.code, output: r.stdout + r.stderr }).toEqual({ code: 0, output: "" });
        expect(units.service.match(/^ExecStart=-/gm)).toHaveLength(sites.length);
        const calendar = /^OnCalendar=(.*)$/m.exec(units.timer)![1];
        const next = runOk(analyze, ["calendar", "--iterations=2", calendar]).stdout;
        // Once a month, on the 1st.
        expect([...next.matchAll(/Next elapse: \w+ \d{4}-(\d\d)-(\d\d)/g)].map((m) => m[2])).toEqual(["01"]);
        expect([...next.matchAll(/Iter\. #2: \w+ \d{4}-\d\d-(\d\d)/g)].map((m) => m[1])).toEqual(["01"]);
    });

    describe("the tenant's backup and drill wait for the restore", () => {
        const backupTimer = `${backupUnitName(tenant)}.timer`;
        const drillTimer = `${restoreDrillUnitName(tenant)}.timer`;
        const systemctlLog = () => join(dir, "systemctl.log");
        const systemctlCalls = () => readFileSync(systemctlLog(), "utf8").split("\n").filter(Boolean);
        const runPaused = (busyFor: number) => {
            writeFileSync(systemctlLog(), "");
            writeFileSync(join(dir, "busy"), "0");
            return runRestore(
                { force: true, snapshot: snapshots()[0].id },
                { SYSTEMCTL_LOG: systemctlLog(), EVENTS: "1", TIMERS_ACTIVE: "1", BUSY_COUNT: join(dir, "busy"), BUSY_FOR: String(busyFor) },
            );
        };

        test("their timers stop before the homeserver does, a running backup is waited for, and the timers start again after", () => {
            const r = runPaused(3);
            expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
            expect(tree(data)).toEqual(original);
            const events = readFileSync(dockerLog, "utf8")
                .split("\n")
                .filter((l) => /^(stop|start|run) |^systemctl (stop|start) /.test(l));
            const homeserver = containerName(tenant, "homeserver");
            expect(events.map((e) => e.replace(/^run .*/, "run"))).toEqual([
                `systemctl stop ${backupTimer}`,
                `systemctl stop ${drillTimer}`,
                `stop ${homeserver}`,
                "run",
                `start ${homeserver}`,
                `systemctl start ${backupTimer}`,
                `systemctl start ${drillTimer}`,
            ]);
            // The backup was "activating" three times: the restore asked until it ended.
            expect(systemctlCalls().filter((c) => c.startsWith(`show -p ActiveState --value ${backupUnitName(tenant)}.service`))).toHaveLength(4);
            for (const e of readdirSync(mount).filter((e) => e.includes(".before-restore-"))) rmSync(join(mount, e), { recursive: true });
        });

        test("a backup that does not end: the restore gives up before stopping the homeserver, and the timers run again", () => {
            writeFileSync(join(data, "000030.sst"), randomBytes(1024));
            const before = tree(data);
            const r = runPaused(100_000);
            expect(r.code).not.toBe(0);
            expect(r.stderr).toContain(`is still running after ${RESTORE_WAIT_FOR_BACKUP_SECONDS} s; nothing was changed`);
            expect(tree(data)).toEqual(before);
            expect(dockerCalls().filter((c) => !c.startsWith("systemctl"))).toEqual([]);
            expect(systemctlCalls().filter((c) => /^(stop|start) /.test(c))).toEqual([`stop ${backupTimer}`, `stop ${drillTimer}`, `start ${backupTimer}`, `start ${drillTimer}`]);
            expect(existsSync(join(mount, ".restore-staging"))).toBe(false);
        });

        test("timers that are not running (a suspended tenant's) are neither stopped nor started", () => {
            writeFileSync(systemctlLog(), "");
            const r = runRestore({ force: true, snapshot: snapshots()[0].id }, { SYSTEMCTL_LOG: systemctlLog() });
            expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
            expect(systemctlCalls().filter((c) => /^(stop|start) /.test(c))).toEqual([]);
            expect(systemctlCalls().filter((c) => c.startsWith("is-active"))).toEqual([`is-active --quiet ${backupTimer}`, `is-active --quiet ${drillTimer}`]);
            for (const e of readdirSync(mount).filter((e) => e.includes(".before-restore-"))) rmSync(join(mount, e), { recursive: true });
        });
    });

    test("no snapshot with the backup's tag: a clear refusal", () => {
        const r = run(sh, ["-c", restoreScript({ force: true }).replace(`--tag ${SNAPSHOT_TAG}`, "--tag no-such-tag")], { env: env(), timeout: 120_000 });
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain("restore: no snapshot");
    });
});
