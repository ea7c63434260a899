import { containerLogRetention, homeserverQuietLogs, hostJournalRetention, journalLifetimeHours, proxyNoAccessLog } from "../../policies/log-retention";
import { CADDY_JSON, TUWUNEL_TOML, carrier, container } from "./fixtures";
import { runResource, runStack } from "./helpers";

describe("container-log-retention", () => {
    it("accepts journald with 14 days and none", async () => {
        expect(await runResource(containerLogRetention, container("acme", "homeserver"))).toEqual([]);
        expect(await runResource(containerLogRetention, container("acme", "homeserver", { logDriver: "none" }, { "redoubt.log-retention-days": undefined }))).toEqual([]);
    });
    it("refuses 45 days", async () => {
        const msgs = await runResource(containerLogRetention, container("acme", "homeserver", {}, { "redoubt.log-retention-days": "45" }));
        expect(msgs).toEqual([expect.stringMatching(/keeps logs for 45 days .* set the tenant's logging.retentionDays to at most 30 days/)]);
    });
    it("refuses a size-rotating driver and a missing label", async () => {
        expect(await runResource(containerLogRetention, container("acme", "proxy", { logDriver: "json-file" }))).toEqual([expect.stringMatching(/set logDriver to "journald"/)]);
        expect(await runResource(containerLogRetention, container("acme", "proxy", { logDriver: undefined }))).toEqual([expect.stringMatching(/default json-file/)]);
        expect(await runResource(containerLogRetention, container("acme", "proxy", {}, { "redoubt.log-retention-days": undefined }))).toEqual([expect.stringMatching(/add it/)]);
    });
    it("takes maxLogRetentionDays from config", async () => {
        expect(await runResource(containerLogRetention, container("acme", "proxy"), { maxLogRetentionDays: 7 })).toEqual([expect.stringMatching(/at most 7 days/)]);
    });
});

describe("proxy-no-access-log", () => {
    it("accepts a config without logs and refuses a server with logs", async () => {
        expect(await runResource(proxyNoAccessLog, container("acme", "proxy"))).toEqual([]);
        const cfg = JSON.parse(CADDY_JSON);
        cfg.apps.http.servers.tenant.logs = {};
        const c = carrier("acme", "proxy", { uploads: [{ file: "/etc/caddy/caddy.json", content: JSON.stringify(cfg) }] });
        expect(await runResource(proxyNoAccessLog, c)).toEqual([expect.stringMatching(/remove "logs" from apps.http.servers.tenant/)]);
    });
});

describe("homeserver-quiet-logs", () => {
    const hs = (toml: string) => carrier("acme", "homeserver", { uploads: [{ file: "/etc/tuwunel/tuwunel.toml", content: toml }] });
    it("accepts warn + connect_info", async () => {
        expect(await runResource(homeserverQuietLogs, carrier("acme", "homeserver"))).toEqual([]);
    });
    it("refuses info and a trusted X-Forwarded-For", async () => {
        const toml = TUWUNEL_TOML.replace('log = "warn"', 'log = "info"').replace('ip_source = "connect_info"', 'ip_source = "rightmost_x_forwarded_for"');
        const msgs = await runResource(homeserverQuietLogs, hs(toml));
        expect(msgs).toEqual([expect.stringMatching(/set log = "warn"/), expect.stringMatching(/set ip_source = "connect_info"/)]);
    });
    it("refuses unreadable TOML", async () => {
        expect(await runResource(homeserverQuietLogs, hs("[global\nlog="))).toEqual([expect.stringMatching(/cannot be read/)]);
    });
});

describe("host-journal-retention", () => {
    const dropIn = (text: string) => ({
        type: "command:remote:Command",
        name: "host-journald",
        protect: false,
        props: { create: `mkdir -p /etc/systemd/journald.conf.d && cat > /etc/systemd/journald.conf.d/redoubt.conf <<'REDOUBT_EOF'\n[Journal]\n${text}\nREDOUBT_EOF` },
    });
    const journaldContainer = container("acme", "homeserver");

    it("accepts a drop-in whose file and retention windows add up to at most 30 days", async () => {
        expect(journalLifetimeHours("MaxFileSec=24h\nMaxRetentionSec=696h")).toBe(720);
        expect(await runStack(hostJournalRetention, [journaldContainer, dropIn("MaxFileSec=24h\nMaxRetentionSec=696h")])).toEqual([]);
    });

    it("refuses a drop-in that lets entries live longer than the promise", async () => {
        expect(await runStack(hostJournalRetention, [journaldContainer, dropIn("MaxFileSec=1d\nMaxRetentionSec=30d")])).toEqual([
            expect.stringMatching(/live 744 hours; make MaxFileSec \+ MaxRetentionSec at most 720 hours/),
        ]);
    });

    it("refuses a drop-in without a time limit", async () => {
        expect(await runStack(hostJournalRetention, [journaldContainer, dropIn("MaxRetentionSec=0")])).toEqual([expect.stringMatching(/unbounded/)]);
    });

    it("refuses journald containers on a host without a retention drop-in", async () => {
        expect(await runStack(hostJournalRetention, [journaldContainer])).toEqual([expect.stringMatching(/no host command writes a journald drop-in/)]);
    });
});
