// Scripts and units installed on the Docker host: shellcheck for every shell
// script, the LUKS script against a real LUKS2 container file, systemd's own
// parser for the units and the journald drop-in.
import { randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderBackupScript, storageBoxSftpCommand } from "../../components/render/backup";
import {
    installFileCommand,
    renderBackupTrigger,
    renderBackupUnits,
    renderExportScript,
    renderJournaldRetention,
    renderLuksScript,
    renderSecurityUpdatesCheck,
    renderSecurityUpdatesConf,
    renderSlice,
    SCRIPTS_DIR,
    SYSTEMCTL_ATTEMPTS,
    systemctlCommand,
} from "../../components/render/host";
import { sliceName } from "../../components/names";
import { backupTime, defaultBackupTime, onCalendar } from "../../components/schedule";
import { containerName } from "../../components/names";
import { DEFAULT_HOMESERVER } from "../../components/homeservers";
import { loadTenants } from "../../tenants/loader";
import { EXAMPLE_TENANTS_DIR } from "../unit/tenant-fixtures";
import { makeTempDir, removeDir, run, runOk } from "./helpers";
import { requireProgram } from "./programs";

// Real programs, some started and waited for: more than jest's default 5 s.
jest.setTimeout(120_000);

const TENANT = `systest${randomBytes(3).toString("hex")}`;
const trigger = {
    tenant: TENANT,
    homeserverContainer: `redoubt-${TENANT}-tuwunel`,
    backupContainer: `redoubt-${TENANT}-restic`,
    onCalendar: onCalendar(defaultBackupTime(3)),
    stoppedFlag: `/srv/redoubt/tenants/${TENANT}/data/restic/homeserver-stopped`,
};

const scripts: [string, string][] = [
    ["LUKS volume script", renderLuksScript({ tenant: TENANT, sizeGiB: 1, uid: 10042 })],
    ["backup trigger", renderBackupTrigger(trigger)],
    ["export script", renderExportScript({ tenant: TENANT, recipient: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p", label: "2025-01-31" })],
    [
        "export script with a fresh database backup",
        renderExportScript({
            tenant: TENANT,
            recipient: "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
            label: "2025-01-31",
            homeserverContainer: `redoubt-${TENANT}-homeserver`,
        }),
    ],
    [
        "backup script (Storage Boxes, freshness marker)",
        renderBackupScript({
            repositories: ["helsinki", "falkenstein"].map((site) => ({
                site,
                repository: `sftp:u1@u1.your-storagebox.de:/redoubt-${site}`,
                passwordFile: `/run/secrets/restic-${site}`,
                sftpCommand: storageBoxSftpCommand({ user: "u1", host: "u1.your-storagebox.de", keyFile: "/run/secrets/ssh-key", knownHostsFile: "/run/secrets/known_hosts" }),
            })),
            paths: ["/data/backups", "/data/media"],
            keep: { daily: 7, weekly: 4, monthly: 6 },
            freshnessMarker: "/data/backups/meta",
            maxAgeMinutes: 90,
        }),
    ],
    [
        "backup script (local repository, no marker)",
        renderBackupScript({ repositories: [{ site: "local", repository: "/repo", passwordFile: "/pw" }], paths: ["/data"], keep: { daily: 1, weekly: 1, monthly: 1 } }),
    ],
    ["security updates check", renderSecurityUpdatesCheck()],
    ["systemctl with retries", `${systemctlCommand("daemon-reload")} && ${systemctlCommand("enable --now x.timer")}; ${systemctlCommand("daemon-reload")}`],
    ["install command", installFileCommand("/etc/systemd/system/x.service", "[Unit]\nDescription=it's $HOME `x`\n", "0644")],
];

describe("host scripts and units", () => {
    let dir: string;
    beforeAll(() => {
        dir = makeTempDir("host");
    });
    afterAll(() => removeDir(dir));

    describe("shellcheck (POSIX sh)", () => {
        let shellcheck: string;
        beforeAll(() => {
            shellcheck = requireProgram("shellcheck", "shellcheck");
        });

        test.each(scripts)("%s passes shellcheck -s sh", (_name, text) => {
            const r = run(shellcheck, ["-s", "sh", "-S", "style", "-"], { input: text });
            expect({ code: r.code, findings: r.stdout + r.stderr }).toEqual({ code: 0, findings: "" });
        });

        test("shellcheck does report a broken script (the check can fail)", () => {
            const broken = scripts[0][1].replace('"$container"', "$container");
            expect(run(shellcheck, ["-s", "sh", "-"], { input: broken }).code).not.toBe(0);
        });
    });

    test("installFileCommand writes the exact content with the mode, whatever the content holds", () => {
        const sh = requireProgram("sh", "dash");
        const target = join(dir, "install", "sub", "unit.service");
        const content = "[Unit]\nDescription=it's $HOME `id` \\n $(echo no)\n";
        runOk(sh, ["-c", installFileCommand(target, content, "0640")]);
        expect(readFileSync(target, "utf8")).toBe(content);
        expect(statSync(target).mode & 0o777).toBe(0o640);
    });

    describe("systemctl calls retry a busy systemd (stub systemctl and sleep on PATH)", () => {
        // The stub fails (as systemctl does when PID 1 does not answer within 25 s) until the
        // given call, and records each call's arguments.
        const stubbed = (failCalls: number) => {
            const bin = join(dir, `stub-${failCalls}`);
            mkdirSync(bin, { recursive: true });
            const calls = join(bin, "calls");
            writeFileSync(calls, "");
            const stub = `#!/bin/sh\necho "$*" >> '${calls}'\nn=$(wc -l < '${calls}')\nif [ "$n" -le ${failCalls} ]; then echo 'Failed to reload daemon: Connection timed out' >&2; exit 1; fi\n`;
            writeFileSync(join(bin, "systemctl"), stub, { mode: 0o755 });
            writeFileSync(join(bin, "sleep"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
            const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` };
            return { env, calls: () => readFileSync(calls, "utf8").trim().split("\n").filter(Boolean) };
        };

        test("a call that times out is tried again, and the chain goes on once it succeeds", () => {
            const sh = requireProgram("sh", "dash");
            const { env, calls } = stubbed(SYSTEMCTL_ATTEMPTS - 1);
            const r = run(sh, ["-c", `${systemctlCommand("enable --now x.timer")} && echo chained`], { env });
            expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 0, stdout: "chained\n" });
            expect(calls()).toEqual(Array(SYSTEMCTL_ATTEMPTS).fill("enable --now x.timer"));
        });

        test("a call that keeps failing fails the command after the last attempt, and ends only its own subshell", () => {
            const sh = requireProgram("sh", "dash");
            const { env, calls } = stubbed(1000);
            const failed = run(sh, ["-c", `${systemctlCommand("daemon-reload")} && echo chained`], { env });
            expect({ code: failed.code, stdout: failed.stdout }).toEqual({ code: 1, stdout: "" });
            expect(calls()).toHaveLength(SYSTEMCTL_ATTEMPTS);
            const listed = run(sh, ["-c", `${systemctlCommand("daemon-reload")}; echo after`], { env });
            expect(listed.stdout).toBe("after\n");
        });

        // A stub that takes its time and records when each call starts and ends.
        const slowStub = (name: string) => {
            const bin = join(dir, `slow-${name}`);
            mkdirSync(bin, { recursive: true });
            const calls = join(bin, "calls");
            writeFileSync(calls, "");
            writeFileSync(join(bin, "systemctl"), `#!/bin/sh\necho "start $*" >> '${calls}'\n/bin/sleep 0.4\necho "end $*" >> '${calls}'\n`, { mode: 0o755 });
            const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}` };
            return { env, calls: () => readFileSync(calls, "utf8").trim().split("\n") };
        };

        test("calls started at once reach systemd one at a time (the host-wide lock), so a reload never queues behind another", () => {
            const sh = requireProgram("sh", "dash");
            requireProgram("flock", "util-linux");
            const { env, calls } = slowStub("locked");
            const r = run(sh, ["-c", `${systemctlCommand("daemon-reload")} & ${systemctlCommand("enable --now x.timer")} & ${systemctlCommand("daemon-reload")} & wait`], { env });
            expect(r.code).toBe(0);
            const log = calls();
            expect(log).toHaveLength(6);
            // Every start is followed by its own end before the next call starts.
            for (let i = 0; i < log.length; i += 2) expect({ i, pair: [log[i].split(" ")[0], log[i + 1]] }).toEqual({ i, pair: ["start", log[i].replace("start", "end")] });
        });

        test("without the lock the same calls overlap (the check above can fail)", () => {
            const sh = requireProgram("sh", "dash");
            const { env, calls } = slowStub("unlocked");
            run(sh, ["-c", "systemctl daemon-reload & systemctl enable --now x.timer & systemctl daemon-reload & wait"], { env });
            expect(
                calls()
                    .slice(0, 2)
                    .map((l) => l.split(" ")[0]),
            ).toEqual(["start", "start"]);
        });
    });

    describe("security updates: our apt drop-in read by the real apt-config, and the host check", () => {
        // A private apt configuration tree (APT_CONFIG → Dir::Etc::Parts), so the machine's own apt is left alone.
        // 50unattended-upgrades carries the two Debian-Security patterns Debian's unattended-upgrades ships.
        const DEBIAN_ORIGINS = [
            "Unattended-Upgrade::Origins-Pattern {",
            '        "origin=Debian,codename=${distro_codename},label=Debian";',
            '        "origin=Debian,codename=${distro_codename},label=Debian-Security";',
            '        "origin=Debian,codename=${distro_codename}-security,label=Debian-Security";',
            "};",
            "",
        ].join("\n");
        const hostWith = (name: string, files: Record<string, string>, withUnattendedUpgrades = true, timerState = "enabled") => {
            const root = join(dir, `apt-${name}`);
            const parts = join(root, "apt.conf.d");
            const bin = join(root, "bin");
            mkdirSync(parts, { recursive: true });
            mkdirSync(bin, { recursive: true });
            writeFileSync(join(root, "apt.conf"), `Dir::Etc::Parts "${parts}";\n`);
            for (const [file, content] of Object.entries(files)) writeFileSync(join(parts, file), content);
            // Only the programs the check calls: a host without unattended-upgrades really has none on PATH.
            for (const program of ["apt-config", "grep"]) symlinkSync(requireProgram(program, program === "grep" ? "grep" : "apt"), join(bin, program));
            if (withUnattendedUpgrades) writeFileSync(join(bin, "unattended-upgrade"), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
            // `systemctl is-enabled <timer>` as systemd answers it (no systemd in this container).
            writeFileSync(join(bin, "systemctl"), `#!/bin/sh\n[ "$1" = is-enabled ] || exit 2\necho ${timerState}\n`, { mode: 0o755 });
            return { ...process.env, PATH: bin, APT_CONFIG: join(root, "apt.conf") };
        };
        const check = (env: NodeJS.ProcessEnv) => run(requireProgram("sh", "dash"), ["-c", renderSecurityUpdatesCheck()], { env });
        const ours = { "52redoubt-security-updates": renderSecurityUpdatesConf(), "50unattended-upgrades": DEBIAN_ORIGINS };

        test("a Debian host with unattended-upgrades and our drop-in passes", () => {
            const r = check(hostWith("ok", ours));
            expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
        });

        test("a host without unattended-upgrades is refused, saying what to install", () => {
            const r = check(hostWith("missing", ours, false));
            expect(r.code).toBe(1);
            expect(r.stderr).toMatch(/has no unattended-upgrades; install it \(apt-get install unattended-upgrades\)/);
        });

        test("a later drop-in that turns automatic reboots on is refused, naming the setting", () => {
            const r = check(hostWith("reboot", { ...ours, "60local": 'Unattended-Upgrade::Automatic-Reboot "true";\n' }));
            expect(r.code).toBe(1);
            expect(r.stderr).toMatch(/does not end up with Unattended-Upgrade::Automatic-Reboot "false";.*overrides \/etc\/apt\/apt.conf.d\/52redoubt-security-updates/);
        });

        test("a host whose apt timers are masked is refused, saying what to unmask", () => {
            const r = check(hostWith("masked", ours, true, "masked"));
            expect(r.code).toBe(1);
            expect(r.stderr).toMatch(/apt-daily\.timer is masked on the Docker host.*systemctl unmask apt-daily\.timer/);
        });

        test("a host whose unattended-upgrades does not take Debian-Security is refused", () => {
            const r = check(
                hostWith("origins", { ...ours, "50unattended-upgrades": 'Unattended-Upgrade::Origins-Pattern { "origin=Debian,codename=${distro_codename},label=Debian"; };\n' }),
            );
            expect(r.code).toBe(1);
            expect(r.stderr).toMatch(/does not take Debian's security updates/);
        });
    });

    describe("LUKS2 volume script (cryptsetup on a container file)", () => {
        let cryptsetup: string;
        let sh: string;
        let luksDir: string;
        let script: string;
        let container: string;
        const key = randomBytes(32).toString("base64");
        const fastEnv = () => ({ ...process.env, REDOUBT_LUKS_PBKDF_OPTIONS: "--pbkdf pbkdf2 --pbkdf-force-iterations 1000" });
        const opens = (file: string, k: string) => run(cryptsetup, ["open", "--test-passphrase", "--key-file=-", file], { input: k }).code === 0;
        const keyslots = (file: string) => {
            const dump = runOk(cryptsetup, ["luksDump", file]).stdout;
            const section = dump.split(/^Keyslots:\s*$/m)[1]?.split(/^Tokens:\s*$/m)[0] ?? "";
            return { version: /^Version:\s*(\d+)/m.exec(dump)?.[1], slots: (section.match(/^\s+\d+: luks2/gm) ?? []).length };
        };

        beforeAll(() => {
            cryptsetup = requireProgram("cryptsetup", "cryptsetup-bin");
            sh = requireProgram("sh", "dash");
            requireProgram("truncate", "coreutils");
            requireProgram("mountpoint", "util-linux");
            luksDir = join(dir, "luks");
            mkdirSync(luksDir);
            script = join(luksDir, "luks.sh");
            writeFileSync(script, scripts[0][1], { mode: 0o700 });
            container = join(luksDir, "tenant", "volume.luks");
        });

        test("format without a key on stdin refuses", () => {
            const r = run(sh, [script, "format", container], { input: "", env: fastEnv() });
            expect(r.code).toBe(2);
            expect(r.stderr).toContain("expected the volume key on stdin");
            expect(existsSync(container)).toBe(false);
        });

        test("format makes a LUKS2 container of the requested size that the key (and only the key) opens", () => {
            const r = run(sh, [script, "format", container], { input: `${key}\n`, env: fastEnv(), timeout: 60_000 });
            expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
            expect(statSync(container).size).toBe(1024 ** 3);
            expect(statSync(join(luksDir, "tenant")).mode & 0o777).toBe(0o700);
            expect(keyslots(container)).toEqual({ version: "2", slots: 1 });
            // The newline that ends the line on stdin is not part of the key.
            expect(opens(container, key)).toBe(true);
            expect(opens(container, `${key}\n`)).toBe(false);
            expect(opens(container, "wrong key")).toBe(false);
        });

        test("format again leaves an existing container alone", () => {
            const uuid = runOk(cryptsetup, ["luksUUID", container]).stdout.trim();
            const r = run(sh, [script, "format", container], { input: "another key\n", env: fastEnv() });
            expect(r.code).toBe(0);
            expect(runOk(cryptsetup, ["luksUUID", container]).stdout.trim()).toBe(uuid);
            expect(opens(container, key)).toBe(true);
        });

        test("erase destroys every key slot before removing the file (crypto-erase, not just rm)", () => {
            // Evidence: an `rm` ahead in PATH keeps a copy of whatever the script removes,
            // so we can look at the container as it was at the moment of removal.
            const shim = join(luksDir, "shim");
            const evidence = join(luksDir, "evidence");
            mkdirSync(shim);
            mkdirSync(evidence);
            const realRm = requireProgram("rm", "coreutils");
            writeFileSync(
                join(shim, "rm"),
                `#!/bin/sh\nfor a in "$@"; do case "$a" in -*) ;; *) [ -f "$a" ] && cp --sparse=always "$a" "${evidence}/$(basename "$a")" ;; esac; done\nexec ${realRm} "$@"\n`,
                { mode: 0o755 },
            );
            const before = join(luksDir, "before-erase.luks");
            runOk("cp", ["--sparse=always", container, before]);
            expect(opens(before, key)).toBe(true);

            const r = run(sh, [script, "erase", container], { env: { ...process.env, PATH: `${shim}:${process.env.PATH}` }, timeout: 60_000 });
            expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
            expect(existsSync(container)).toBe(false);
            const removed = join(evidence, "volume.luks");
            expect(existsSync(removed)).toBe(true);
            // What was removed no longer opens with the key: every key slot is gone.
            expect(keyslots(removed)).toEqual({ version: "2", slots: 0 });
            expect(opens(removed, key)).toBe(false);
            // As SECURITY.md says: a header backup from before would bring access back, so none may exist.
            expect(opens(before, key)).toBe(true);
        });

        test("erase of a tenant with no container is a no-op that succeeds", () => {
            const r = run(sh, [script, "erase", join(luksDir, "nothing-here.luks")]);
            expect(r.code).toBe(0);
        });
    });

    describe("systemd units and drop-ins (systemd-analyze)", () => {
        let analyze: string;
        let root: string;

        beforeAll(() => {
            analyze = requireProgram("systemd-analyze", "systemd");
            root = join(dir, "root");
            // systemd-analyze --root needs the distribution's units (sysinit.target and friends) below the root.
            mkdirSync(join(root, "usr/lib/systemd"), { recursive: true });
            cpSync("/usr/lib/systemd/system", join(root, "usr/lib/systemd/system"), { recursive: true, verbatimSymlinks: true });
            mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
            mkdirSync(join(root, "etc/systemd/journald.conf.d"), { recursive: true });
            mkdirSync(join(root, SCRIPTS_DIR), { recursive: true });
        });

        test("the tenant slice and the backup service and timer verify clean", () => {
            const unitName = `redoubt-backup-${TENANT}`;
            const units = renderBackupUnits(trigger);
            // Installed where the components install them.
            writeFileSync(join(root, "etc/systemd/system", sliceName(TENANT)), renderSlice({ tenant: TENANT, tasksMax: 256, memoryMiB: 1536, cpus: 1.5 }));
            writeFileSync(join(root, "etc/systemd/system", `${unitName}.service`), units.service);
            writeFileSync(join(root, "etc/systemd/system", `${unitName}.timer`), units.timer);
            writeFileSync(join(root, SCRIPTS_DIR, `${TENANT}-backup.sh`), renderBackupTrigger(trigger), { mode: 0o700 });
            const r = run(analyze, ["verify", `--root=${root}`, sliceName(TENANT), `${unitName}.service`, `${unitName}.timer`]);
            expect({ code: r.code, output: r.stdout + r.stderr }).toEqual({ code: 0, output: "" });
            // systemd reads the values as we meant them.
            const cal = runOk(analyze, ["calendar", trigger.onCalendar]).stdout;
            expect(cal).toMatch(/Normalized form: \*-\*-\* \d\d:\d\d:00 UTC/);
        });

        test("systemd-analyze verify reports a broken unit (the check can fail)", () => {
            writeFileSync(
                join(root, "etc/systemd/system", "broken.slice"),
                renderSlice({ tenant: "x", tasksMax: 1, memoryMiB: 1, cpus: 1 }).replace("TasksMax=1", "TasksMax=many"),
            );
            const r = run(analyze, ["verify", `--root=${root}`, "broken.slice"]);
            expect(r.stdout + r.stderr).not.toBe("");
        });

        test.each([1, 7, 30])("journald drop-in for %i day(s): systemd reads it, and rotation plus retention stay within the days", (days) => {
            writeFileSync(join(root, "etc/systemd/journald.conf.d", "redoubt.conf"), renderJournaldRetention(days));
            const r = runOk(analyze, ["cat-config", `--root=${root}`, "systemd/journald.conf"]);
            expect(r.stdout).toContain(join(root, "etc/systemd/journald.conf.d/redoubt.conf"));
            const values = Object.fromEntries([...r.stdout.matchAll(/^(MaxFileSec|MaxRetentionSec|Storage)=(.*)$/gm)].map((m) => [m[1], m[2]]));
            expect(Object.keys(values).sort()).toEqual(["MaxFileSec", "MaxRetentionSec", "Storage"]);
            // systemd's own time span parser, in microseconds.
            const micros = (span: string) => Number(/μs: (\d+)/.exec(runOk(analyze, ["timespan", span]).stdout)?.[1]);
            const file = micros(values.MaxFileSec);
            const retention = micros(values.MaxRetentionSec);
            // 0 turns the limit off in journald: both must be set for entries to expire at all.
            expect(file).toBeGreaterThan(0);
            expect(retention).toBeGreaterThan(0);
            const total = file + retention;
            expect(total).toBeLessThanOrEqual(days * 24 * 3600 * 1e6);
        });
    });
});

// Media retention runs inside the homeserver on the backup signal (components/render/tuwunel.ts,
// admin_signal_execute); what the host adds is the schedule and the signal: each example tenant's
// backup trigger and timer, rendered as the stack renders them, through shellcheck and systemd.
describe("media retention schedule of every example tenant", () => {
    const tenants = loadTenants(EXAMPLE_TENANTS_DIR).map((l) => l.tenant);
    const triggerOf = (tenant: (typeof tenants)[number]) => ({
        tenant: tenant.name,
        homeserverContainer: containerName(tenant.name, "homeserver"),
        backupContainer: containerName(tenant.name, "backup-agent"),
        onCalendar: onCalendar(backupTime(tenant.id, tenant.backups.schedule)),
        stoppedFlag: `/srv/redoubt/tenants/${tenant.name}/data/restic/homeserver-stopped`,
    });

    test.each(tenants.map((t) => [t.name, t] as const))("%s: the trigger that sends the signal passes shellcheck, and its timer fires every 24 hours", (_name, tenant) => {
        const input = triggerOf(tenant);
        const script = renderBackupTrigger(input);
        expect(script).toContain(`docker kill --signal=${DEFAULT_HOMESERVER.backupSignal} ${input.homeserverContainer}`);
        const shellcheck = requireProgram("shellcheck", "shellcheck");
        const r = run(shellcheck, ["-s", "sh", "-S", "style", "-"], { input: script });
        expect({ code: r.code, output: r.stdout }).toEqual({ code: 0, output: "" });

        const analyze = requireProgram("systemd-analyze", "systemd");
        const timer = renderBackupUnits(input).timer;
        const calendar = /^OnCalendar=(.*)$/m.exec(timer)?.[1] ?? "";
        const out = runOk(analyze, ["calendar", "--iterations=3", calendar]).stdout;
        const elapses = [...out.matchAll(/(?:Next elapse|Iter\. #\d+): \w+ (\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d) UTC/g)].map((m) => Date.parse(`${m[1]}T${m[2]}Z`) / 1000);
        expect(elapses).toHaveLength(3);
        expect([elapses[1] - elapses[0], elapses[2] - elapses[1]]).toEqual([86_400, 86_400]);
        // So a file is deleted at most a day (plus the timer's randomized delay) after it passes the plan's days.
        const delay = Number(/^RandomizedDelaySec=(\d+)$/m.exec(timer)?.[1]);
        expect(delay).toBeLessThan(3600);
    });
});
