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
    it("waits for a requested export, but not past the end of the export wait", async () => {
        const awaiting = { "redoubt.status": "awaiting-export", "redoubt.delete-by": "2025-07-01" };
        expect(await runStack(deletionDeadline, [volume("beta", awaiting), storageBox("beta", "FI", "helsinki", {}, awaiting)], { asOf: "2025-06-10" })).toEqual([]);
        expect(await runStack(deletionDeadline, [volume("beta", awaiting)], { asOf: "2025-07-02" })).toEqual([expect.stringMatching(/had to be deleted by 2025-07-01/)]);
        expect(await runStack(deletionDeadline, [volume("beta", { "redoubt.status": "awaiting-export" })], { asOf: "2025-06-10" })).toEqual([
            expect.stringMatching(/is awaiting-export but its .* has no valid redoubt.delete-by date/),
        ]);
    });
    it("refuses an unknown status", async () => {
        expect(await runStack(deletionDeadline, [volume("beta", { "redoubt.status": "paused" })], { asOf: "2025-06-10" })).toEqual([
            expect.stringMatching(/one of active, suspended, cancelled, awaiting-export/),
        ]);
    });
});

describe("the as-of date", () => {
    const NOW = new Date("2030-01-01T12:00:00Z");

    it("is the policy config's, else REDOUBT_AS_OF, else today; never the stack's redoubt:asOf", () => {
        expect(asOfDate("2025-06-10", NOW, { REDOUBT_AS_OF: "2024-01-01" })).toBe("2025-06-10");
        expect(asOfDate("", NOW, { REDOUBT_AS_OF: "2024-01-01" })).toBe("2024-01-01");
        expect(asOfDate("", NOW, { PULUMI_CONFIG: JSON.stringify({ "redoubt:asOf": "2024-01-01" }) })).toBe("2030-01-01");
        expect(asOfDate(undefined, NOW, {})).toBe("2030-01-01");
    });

    it("refuses a malformed explicit date rather than judging by today", () => {
        expect(() => asOfDate("2025-13-40", NOW, {})).toThrow(/asOf is '2025-13-40'; give a date written YYYY-MM-DD/);
        expect(() => asOfDate("", NOW, { REDOUBT_AS_OF: "yesterday" })).toThrow(/REDOUBT_AS_OF is 'yesterday'/);
    });

    it("a stack config pin does not stop the deadline check; an explicit run date does", async () => {
        const rs = [volume("beta", cancelled("2025-06-09"), false)];
        const saved = { config: process.env.PULUMI_CONFIG, asOf: process.env.REDOUBT_AS_OF };
        try {
            process.env.PULUMI_CONFIG = JSON.stringify({ "redoubt:asOf": "2025-06-02" });
            expect(await runStack(deletionDeadline, rs, { asOf: "" })).toHaveLength(1);
            process.env.REDOUBT_AS_OF = "2025-06-02";
            expect(await runStack(deletionDeadline, rs, { asOf: "" })).toEqual([]);
        } finally {
            for (const [key, value] of [
                ["PULUMI_CONFIG", saved.config],
                ["REDOUBT_AS_OF", saved.asOf],
            ] as const) {
                if (value === undefined) delete process.env[key];
                else process.env[key] = value;
            }
        }
    });
});
