import { asOfDate } from "../../policies/common";
import { deletionDeadline } from "../../policies/deletion-deadline";
import { encryptedVolume, luks, storageBox, tenantStack, volume } from "./fixtures";
import { runStack } from "./helpers";

const cancelled = (deleteBy: string) => ({ "redoubt.status": "cancelled", "redoubt.delete-by": deleteBy });

describe("deletion-deadline", () => {
    it("accepts active tenants and cancelled tenants within their deadline", async () => {
        expect(await runStack(deletionDeadline, tenantStack("acme"), { asOf: "2025-06-10" })).toEqual([]);
        expect(await runStack(deletionDeadline, [volume("beta", cancelled("2025-06-10"), false)], { asOf: "2025-06-10" })).toEqual([]);
    });
    it("refuses data of a cancelled tenant past its date", async () => {
        const rs = [
            volume("beta", cancelled("2025-06-02"), false),
            encryptedVolume("beta"),
            luks("beta", false),
            storageBox("beta", "FI", "helsinki", {}, cancelled("2025-06-02"), false),
        ];
        const msgs = await runStack(deletionDeadline, rs, { asOf: "2025-06-10" });
        expect(msgs).toHaveLength(3);
        for (const m of msgs)
            expect(m).toMatch(/^Tenant beta was cancelled and its data had to be deleted by 2025-06-02 \(8 days ago as of 2025-06-10; .*remove the tenant .* run pulumi up/);
        expect(msgs[1]).toMatch(/command "beta-volume-luks"/);
    });
    it("uses today (UTC) when asOf is empty", async () => {
        expect(await runStack(deletionDeadline, [volume("beta", cancelled("2000-01-01"), false)])).toHaveLength(1);
        expect(await runStack(deletionDeadline, [volume("beta", cancelled("2999-01-01"), false)], { asOf: "" })).toEqual([]);
    });
    it("refuses a cancelled tenant's data without a delete-by date", async () => {
        expect(await runStack(deletionDeadline, [volume("beta", { "redoubt.status": "cancelled" }, false)], { asOf: "2025-06-10" })).toEqual([
            expect.stringMatching(/no valid redoubt.delete-by date/),
        ]);
    });
    it("waits for a requested export: data awaiting export has no deadline yet", async () => {
        const awaiting = { "redoubt.status": "awaiting-export" };
        expect(await runStack(deletionDeadline, [volume("beta", awaiting), storageBox("beta", "FI", "helsinki", {}, awaiting)], { asOf: "2025-06-10" })).toEqual([]);
    });
    it("refuses an unknown status", async () => {
        expect(await runStack(deletionDeadline, [volume("beta", { "redoubt.status": "paused" })], { asOf: "2025-06-10" })).toEqual([
            expect.stringMatching(/one of active, suspended, cancelled, awaiting-export/),
        ]);
    });
});

describe("the as-of date", () => {
    const NOW = new Date("2030-01-01T12:00:00Z");

    it("is the policy config's, else the stack's redoubt:asOf (PULUMI_CONFIG), else today", () => {
        expect(asOfDate("2025-06-10", NOW, JSON.stringify({ "redoubt:asOf": "2024-01-01" }))).toBe("2025-06-10");
        expect(asOfDate("", NOW, JSON.stringify({ "redoubt:asOf": "2024-01-01" }))).toBe("2024-01-01");
        expect(asOfDate("", NOW, JSON.stringify({ "redoubt:role": "primary" }))).toBe("2030-01-01");
        expect(asOfDate("", NOW, "not json")).toBe("2030-01-01");
        expect(asOfDate(undefined, NOW, undefined)).toBe("2030-01-01");
    });

    it("a re-run pinned to the cancellation day passes the deadline check", async () => {
        const previous = process.env.PULUMI_CONFIG;
        process.env.PULUMI_CONFIG = JSON.stringify({ "redoubt:asOf": "2025-06-02" });
        try {
            const rs = [volume("beta", cancelled("2025-06-09"), false)];
            expect(await runStack(deletionDeadline, rs, { asOf: "" })).toEqual([]);
        } finally {
            if (previous === undefined) delete process.env.PULUMI_CONFIG;
            else process.env.PULUMI_CONFIG = previous;
        }
    });
});
