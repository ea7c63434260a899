// The upgrade gate (components/render/upgrade.ts) under shellcheck, then run by
// /bin/sh with stub `docker` and `systemctl` on PATH that act out the host:
// which image the homeserver runs, and what the backup service does when started
// (writes each site's success time as renderBackupTrigger does, fails, or is
// skipped because the volume is closed).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderUpgradeGate } from "../../components/render/upgrade";
import { backupUnitName, containerName } from "../../components/names";
import { makeTempDir, removeDir, run, runOk } from "./helpers";
import { requireProgram } from "./programs";

const TENANT = "gatetest";
const SITES = ["helsinki", "falkenstein"];
const OLD = "ghcr.io/matrix-construct/tuwunel@sha256:" + "a".repeat(64);
const NEW = "ghcr.io/matrix-construct/tuwunel@sha256:" + "b".repeat(64);

type Backup = "succeeds" | "fails" | "skipped" | "reaches one site";

describe("upgrade gate", () => {
    let dir: string;
    const script = renderUpgradeGate({ tenant: TENANT, homeserverContainer: containerName(TENANT, "homeserver"), sites: SITES });

    beforeAll(() => requireProgram("shellcheck", "shellcheck"));
    beforeEach(() => (dir = makeTempDir("upgrade-gate")));
    afterEach(() => removeDir(dir));

    /** Runs the gate for NEW against a host whose homeserver runs `current` (none: no container) and whose backup behaves as told. */
    function gate(current: string | undefined, backup: Backup) {
        const bin = join(dir, "bin");
        const successDir = join(dir, "success");
        const calls = join(dir, "calls");
        mkdirSync(bin, { recursive: true });
        writeFileSync(calls, "");
        const inspect = current === undefined ? "echo 'Error: No such container' >&2; exit 1" : `echo '${current}'`;
        writeFileSync(join(bin, "docker"), `#!/bin/sh\necho "docker $*" >> '${calls}'\n${inspect}\n`, { mode: 0o755 });
        const sitesReached = backup === "reaches one site" ? SITES.slice(0, 1) : backup === "succeeds" ? SITES : [];
        const onStart = [
            `mkdir -p '${successDir}/${TENANT}'`,
            ...sitesReached.map((site) => `date +%s > '${successDir}/${TENANT}/${site}'`),
            backup === "fails" ? "exit 1" : "exit 0",
        ].join("\n    ");
        writeFileSync(
            join(bin, "systemctl"),
            `#!/bin/sh\necho "systemctl $*" >> '${calls}'\ncase "$1" in\nstart)\n    ${onStart}\n    ;;\nshow)\n    echo ${backup === "skipped" ? "no" : "yes"}\n    ;;\nesac\n`,
            { mode: 0o755 },
        );
        // A success time from yesterday: older than the change, so it must not count.
        mkdirSync(join(successDir, TENANT), { recursive: true });
        for (const site of SITES) writeFileSync(join(successDir, TENANT, site), `${Math.floor(Date.now() / 1000) - 86_400}\n`);
        const path = join(dir, "gate.sh");
        writeFileSync(path, script, { mode: 0o755 });
        const result = run("/bin/sh", [path, NEW], { env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, REDOUBT_BACKUP_SUCCESS_DIR: successDir } });
        return { ...result, calls: readFileSync(calls, "utf8") };
    }

    it("passes shellcheck", () => {
        const path = join(dir, "gate.sh");
        writeFileSync(path, script);
        runOk("shellcheck", ["--shell=sh", path]);
    });

    it("lets a first deploy through without a backup: there is no container and no data yet", () => {
        const r = gate(undefined, "fails");
        expect(r.code).toBe(0);
        expect(r.calls).not.toContain("systemctl");
    });

    it("lets a deploy through that keeps the image, without a backup", () => {
        const r = gate(NEW, "fails");
        expect(r.code).toBe(0);
        expect(r.calls).not.toContain("systemctl");
    });

    it("backs up before a new image and lets it through once every site has the backup", () => {
        const r = gate(OLD, "succeeds");
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.calls).toContain(`systemctl start ${backupUnitName(TENANT)}.service`);
    });

    it.each<[Backup, RegExp]>([
        ["fails", /the backup \(redoubt-backup-gatetest\.service\) failed; see journalctl/],
        ["skipped", /did not run: the tenant's data volume is not mounted \(npm run tenant -- unlock gatetest\)/],
        ["reaches one site", /no backup reached falkenstein since the gate started/],
    ])("refuses the new image when the backup %s", (backup, message) => {
        const r = gate(OLD, backup);
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(message);
        expect(r.stderr).toMatch(/the homeserver keeps its current image/);
    });
});
