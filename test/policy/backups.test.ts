import { backupAgentSettings, backupSites, storageBoxSettings } from "../../policies/backups";
import { container, storageBox, tenantStack } from "./fixtures";
import { runResource, runStack } from "./helpers";

describe("backup-sites", () => {
    it("accepts an active tenant backing up to FI and DE", async () => {
        expect(await runStack(backupSites, tenantStack("acme"))).toEqual([]);
    });
    it("refuses a backup country equal to the primary (IS)", async () => {
        const agent = container("acme", "backup-agent", {}, { "redoubt.backup-countries": "FI,IS", "redoubt.backup-sites": "helsinki,reykjavik" });
        const rs = [...tenantStack("acme").filter((r) => !r.name.endsWith("backup-agent")), agent];
        expect(await runStack(backupSites, rs)).toEqual([expect.stringMatching(/writes a backup to IS, the primary site's country; move that backup site/)]);
    });
    it("refuses one site, duplicate countries and a missing agent", async () => {
        const one = container("acme", "backup-agent", {}, { "redoubt.backup-countries": "FI", "redoubt.backup-sites": "helsinki" });
        const dup = container("beta", "backup-agent", {}, { "redoubt.backup-countries": "FI,FI", "redoubt.backup-sites": "helsinki,helsinki2" });
        const msgs = await runStack(backupSites, [container("acme", "homeserver"), one, container("beta", "homeserver"), dup, container("gamma", "homeserver")]);
        expect(msgs).toEqual([
            expect.stringMatching(/writes to 1 country .* at least 2 backup sites/),
            expect.stringMatching(/names a country twice/),
            expect.stringMatching(/Active tenant gamma has no backup agent; add/),
        ]);
    });
    it("does not require backups of a cancelled tenant, and honours minBackupSites", async () => {
        const hs = container("acme", "homeserver", {}, { "redoubt.status": "cancelled", "redoubt.delete-by": "2030-01-01" });
        expect(await runStack(backupSites, [hs])).toEqual([]);
        expect(await runStack(backupSites, tenantStack("acme"), { minBackupSites: 3 })).toEqual([expect.stringMatching(/at least 3/)]);
    });
});

describe("backup-agent-settings", () => {
    it("wants start: false", async () => {
        expect(await runResource(backupAgentSettings, container("acme", "backup-agent"))).toEqual([]);
        expect(await runResource(backupAgentSettings, container("acme", "backup-agent", { start: true }))).toEqual([expect.stringMatching(/set start: false/)]);
        expect(await runResource(backupAgentSettings, container("acme", "backup-agent", { restart: "on-failure" }))).toEqual([]);
        expect(await runResource(backupAgentSettings, container("acme", "backup-agent", { restart: "always" }))).toEqual([
            expect.stringMatching(/set restart to "on-failure" or "no"/),
        ]);
    });
});

describe("storage-box-settings", () => {
    it("accepts the compliant boxes", async () => {
        expect(await runResource(storageBoxSettings, storageBox("acme", "FI", "helsinki"))).toEqual([]);
        expect(await runResource(storageBoxSettings, storageBox("acme", "DE", "falkenstein"))).toEqual([]);
    });
    it("refuses an unprotected box of an active tenant", async () => {
        const msgs = await runResource(storageBoxSettings, storageBox("acme", "FI", "helsinki", { deleteProtection: false }, {}, false));
        expect(msgs).toEqual([expect.stringMatching(/set deleteProtection: true/), expect.stringMatching(/set the protect resource option/)]);
    });
    it("judges the country by the box's location, not by its label", async () => {
        // Labelled Finland, placed in Falkenstein: both copies would be in Germany.
        const box = storageBox("acme", "FI", "helsinki", { location: "fsn1" });
        expect(await runResource(storageBoxSettings, box)).toEqual([expect.stringMatching(/labelled redoubt.country="FI" but its location fsn1 is in DE/)]);
        const nowhere = storageBox("acme", "FI", "helsinki", { location: "ash" });
        expect(await runResource(storageBoxSettings, nowhere)).toEqual([
            expect.stringMatching(/location "ash", which is not a known Storage Box location; use one of fsn1 \(DE\)/),
        ]);
    });
    it("allows a cancelled tenant's box to be unprotected", async () => {
        const box = storageBox("acme", "FI", "helsinki", { deleteProtection: false }, { "redoubt.status": "cancelled", "redoubt.delete-by": "2030-01-01" }, false);
        expect(await runResource(storageBoxSettings, box)).toEqual([]);
    });
    it("refuses samba, a snapshot plan, no external SSH and a box in the primary's country", async () => {
        const box = storageBox("acme", "DE", "falkenstein", {
            accessSettings: { reachableExternally: false, sshEnabled: true, sambaEnabled: true },
            snapshotPlan: { maxSnapshots: 10, minute: 0, hour: 3 },
        });
        const msgs = (await runResource(storageBoxSettings, box, { primaryCountry: "DE" })).join("\n");
        expect(msgs).toMatch(/is in DE \(location fsn1\), the primary site's country; put backups in another country/);
        expect(msgs).toMatch(/reachableExternally: true/);
        expect(msgs).toMatch(/sambaEnabled on; set it to false/);
        expect(msgs).toMatch(/remove it: snapshots outlive/);
    });
});
