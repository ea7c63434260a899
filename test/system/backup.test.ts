// The rendered backup script, run by sh against two local restic
// repositories standing in for the two backup sites.
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderBackupScript, type BackupScriptInput } from "../../components/render/backup";
import { fileTree as tree, makeTempDir, removeDir, run, runOk } from "./helpers";
import { requireProgram } from "./programs";

// Real programs, some started and waited for: more than jest's default 5 s.
jest.setTimeout(120_000);

describe("backup script (restic)", () => {
    let restic: string;
    let sh: string;
    let dir: string;
    let data: string;
    let marker: string;
    let script: string;
    const tag = randomBytes(3).toString("hex");
    const sites = [`helsinki-${tag}`, `falkenstein-${tag}`];
    const repo = (site: string) => join(dir, "repos", site);
    const passwordFile = (site: string) => join(dir, "secrets", `${site}.pw`);

    function env(): NodeJS.ProcessEnv {
        return { PATH: process.env.PATH, HOME: join(dir, "home"), XDG_CACHE_HOME: join(dir, "cache"), TMPDIR: join(dir, "tmp") };
    }
    const resticIn = (site: string, args: string[]) =>
        runOk(restic, ["--no-cache", ...args], { env: { ...env(), RESTIC_REPOSITORY: repo(site), RESTIC_PASSWORD_FILE: passwordFile(site) } });
    const runScript = () => run(sh, [script], { env: env(), timeout: 180_000 });
    const snapshots = (site: string) =>
        JSON.parse(resticIn(site, ["snapshots", "--json"]).stdout) as { id: string; hostname: string; tags?: string[]; paths: string[]; time: string }[];

    /** The rendered script for the two local repositories, written into the test directory. */
    const writeScript = (name: string, extra: Partial<BackupScriptInput> = {}): string => {
        const file = join(dir, name);
        const input: BackupScriptInput = {
            repositories: sites.map((site) => ({ site, repository: repo(site), passwordFile: passwordFile(site) })),
            paths: [data],
            keep: { daily: 7, weekly: 4, monthly: 6 },
            freshnessMarker: marker,
            maxAgeMinutes: 60,
            ...extra,
        };
        writeFileSync(file, renderBackupScript(input), { mode: 0o755 });
        return file;
    };

    beforeAll(() => {
        restic = requireProgram("restic", "restic");
        sh = requireProgram("sh", "dash");
        dir = makeTempDir("backup");
        for (const d of ["repos", "secrets", "home", "cache", "tmp"]) mkdirSync(join(dir, d), { recursive: true });
        for (const site of sites) writeFileSync(passwordFile(site), `${randomBytes(24).toString("base64")}\n`, { mode: 0o600 });
        data = join(dir, "data");
        mkdirSync(join(data, "backups"), { recursive: true });
        mkdirSync(join(data, "media", "ab"), { recursive: true });
        writeFileSync(join(data, "backups", "db.bin"), randomBytes(3 * 1024 * 1024));
        writeFileSync(join(data, "media", "ab", "photo.jpg"), randomBytes(200 * 1024));
        writeFileSync(join(data, "media", "empty"), "");
        marker = join(data, "backups", "meta");
        writeFileSync(marker, "backup 1\n");
        script = writeScript("backup.sh");
    });
    afterAll(() => {
        removeDir(dir);
        // The script keeps restic's stderr in /tmp/restic-<site>.err.
        for (const site of sites) rmSync(`/tmp/restic-${site}.err`, { force: true });
    });

    test("first run: creates both repositories, backs up, checks", () => {
        const r = runScript();
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
        expect(r.stdout).toBe(sites.map((s) => `backup: ${s} done\n`).join(""));
        for (const site of sites) {
            const snaps = snapshots(site);
            expect(snaps).toHaveLength(1);
            // A neutral host name, never the machine's.
            expect(snaps[0]).toMatchObject({ hostname: "redoubt", tags: ["redoubt"], paths: [data] });
        }
    });

    test("second run: retention keeps one snapshot per day (the newest), and the repositories check clean", () => {
        writeFileSync(join(data, "media", "ab", "second.bin"), randomBytes(64 * 1024));
        writeFileSync(marker, "backup 2\n");
        const before = Object.fromEntries(sites.map((s) => [s, snapshots(s)[0].id]));
        const r = runScript();
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
        for (const site of sites) {
            const snaps = snapshots(site);
            expect(snaps).toHaveLength(1);
            expect(snaps[0].id).not.toBe(before[site]);
            expect(resticIn(site, ["check", "--read-data"]).code).toBe(0);
        }
    });

    test.each([0, 1])("restoring from site %i gives back identical bytes", (i) => {
        const target = join(dir, `restore-${i}`);
        mkdirSync(target);
        resticIn(sites[i], ["restore", "latest", "--target", target]);
        expect(tree(join(target, data))).toEqual(tree(data));
        expect(Object.keys(tree(data))).toEqual(expect.arrayContaining(["backups/db.bin", "backups/meta", "media/ab/photo.jpg", "media/ab/second.bin", "media/empty"]));
    });

    test("a stale database backup stops the run with a clear message, backing up nothing", () => {
        runOk("touch", ["-d", "2 hours ago", marker]);
        const before = sites.map((s) => snapshots(s)[0].id);
        const r = runScript();
        expect(r.code).not.toBe(0);
        expect(r.stderr).toContain(`backup: the database backup at ${marker} is older than 60 minutes`);
        expect(r.stdout).toBe("");
        expect(sites.map((s) => snapshots(s)[0].id)).toEqual(before);
        runOk("touch", [marker]);
    });

    test("while the homeserver is stopped (suspended tenant), an old database backup is backed up all the same", () => {
        const flag = join(dir, "cache", "homeserver-stopped");
        const flagged = writeScript("backup-flagged.sh", { homeserverStoppedFlag: flag });
        runOk("touch", ["-d", "2 hours ago", marker]);
        try {
            const refused = run(sh, [flagged], { env: env(), timeout: 180_000 });
            expect(refused.stderr).toContain("is older than 60 minutes");
            writeFileSync(flag, "");
            const r = run(sh, [flagged], { env: env(), timeout: 180_000 });
            expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
        } finally {
            rmSync(flag, { force: true });
            runOk("touch", [marker]);
        }
    });

    test("a missing database backup stops the run with a clear message", () => {
        const saved = readFileSync(marker);
        rmSync(marker);
        try {
            const r = runScript();
            expect(r.code).not.toBe(0);
            expect(r.stderr).toContain(`backup: no database backup at ${marker}`);
        } finally {
            writeFileSync(marker, saved);
        }
    });

    test("a wrong password stops with a clear message instead of starting a new repository", () => {
        const good = readFileSync(passwordFile(sites[1]));
        writeFileSync(passwordFile(sites[1]), "not-the-password\n");
        try {
            const before = readdirSync(join(repo(sites[1]), "keys"));
            const r = runScript();
            expect(r.code).not.toBe(0);
            expect(r.stderr).toContain(`backup: the password for the ${sites[1]} repository does not open it`);
            // The first site still went through; the second was left as it was.
            expect(r.stdout).toBe(`backup: ${sites[0]} done\n`);
            expect(readdirSync(join(repo(sites[1]), "keys"))).toEqual(before);
        } finally {
            writeFileSync(passwordFile(sites[1]), good);
        }
        const again = runScript();
        expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 0, stderr: "" });
    });
});
