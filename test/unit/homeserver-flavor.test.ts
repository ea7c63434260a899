// The homeserver seam: every fact the stack uses about the server comes from
// its flavor, so a second server changes what is rendered and nothing else has
// to know. Checked with a made-up flavor whose every fact differs from Tuwunel's.
import { DEFAULT_HOMESERVER, HOMESERVER_FLAVORS, type HomeserverFlavor } from "../../components/homeservers";
import { DATA_SUBDIRS, homeserverDataDir, renderBackupTrigger, renderExportScript } from "../../components/render/host";
import { TUWUNEL_BACKUP_PATH, TUWUNEL_CONFIG_PATH, TUWUNEL_DATA_PATH, TUWUNEL_PORT } from "../../components/render/tuwunel";
import { REGISTRATION_TERMS } from "../policy/fixtures";

const OTHER: HomeserverFlavor = {
    name: "other",
    port: 6167,
    data: { subdir: "other-db", mountPath: "/srv/other", backups: "dumps", backupMarker: "dumps/DONE", media: "files" },
    backupSignal: "HUP",
    mediaRetentionCommands: (days) => [`expire-files ${days}`],
    configDir: "/etc/other",
    configFiles: () => [{ path: "/etc/other/other.conf", content: "x", permissions: "0444" }],
    container: { envs: ["OTHER_CONFIG=/etc/other/other.conf"], healthcheck: ["CMD", "other", "--check"] },
};

const trigger = (flavor?: HomeserverFlavor) =>
    renderBackupTrigger({ tenant: "acme", homeserverContainer: "hs", backupContainer: "agent", onCalendar: "*-*-* 02:00:00", stoppedFlag: "/f", flavor });

describe("homeserver flavors", () => {
    it("Tuwunel is the default, with the paths, port and signal its renderer and reference state", () => {
        expect(DEFAULT_HOMESERVER).toBe(HOMESERVER_FLAVORS.tuwunel);
        expect(DEFAULT_HOMESERVER.port).toBe(TUWUNEL_PORT);
        expect(DEFAULT_HOMESERVER.data.mountPath).toBe(TUWUNEL_DATA_PATH);
        expect(`${DEFAULT_HOMESERVER.data.mountPath}/${DEFAULT_HOMESERVER.data.backups}`).toBe(TUWUNEL_BACKUP_PATH);
        expect(
            DEFAULT_HOMESERVER.configFiles(
                { serverName: "a.example", logLevel: "warn", registration: "closed", mediaRetentionDays: 30, registrationTerms: REGISTRATION_TERMS },
                { owner: "1" },
            ).map((f) => f.path),
        ).toEqual([TUWUNEL_CONFIG_PATH]);
        // Tuwunel runs admin_signal_execute on SIGUSR2 (../shared/reference/TUWUNEL.md).
        expect(DEFAULT_HOMESERVER.backupSignal).toBe("USR2");
    });

    it("the nightly trigger asks the flavor's server for its backup with its signal and waits for its marker", () => {
        const other = trigger(OTHER);
        expect(other).toContain(`marker=${homeserverDataDir("acme", OTHER)}/dumps/DONE`);
        expect(other).toContain("docker kill --signal=HUP hs");
        expect(other).not.toMatch(/tuwunel|USR2/);
        expect(trigger()).toContain(`marker=${homeserverDataDir("acme")}/backups/meta`);
    });

    it("the export archives the flavor's backup and media directories", () => {
        const script = renderExportScript({ tenant: "acme", recipient: "age1x", label: "2026-01-01", flavor: OTHER });
        expect(script).toContain(`data=\${1:-${homeserverDataDir("acme", OTHER)}}`);
        expect(script).toContain('tar -C "$data" -cf - dumps $media');
        expect(script).toContain('[ -d "$data/files" ] && media=files');
    });

    it("every flavor's data directory is made on the tenant's volume", () => {
        for (const flavor of Object.values(HOMESERVER_FLAVORS)) expect(DATA_SUBDIRS).toContain(flavor.data.subdir);
    });
});
