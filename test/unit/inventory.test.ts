// `npm run tenant -- report <tenant>`: what we hold for a customer and where,
// from the real program's resources; never a secret value.
import * as path from "node:path";
import { formatInventory, tenantInventory } from "../../lib/inventory";
import { runStacks, type StackRun } from "../../lib/mock-run";
import { validateInputs } from "../../lib/plan";
import type { StackConfig } from "../../stacks/config";
import type { Tenant } from "../../tenants/schema";
import { runCli } from "../cli-run";

const AS_OF = "2026-03-01";
let runs: StackRun[];
let configs: Map<string, StackConfig>;
let tenants: Map<string, Tenant>;

beforeAll(async () => {
    const validated = validateInputs({ asOf: AS_OF });
    configs = new Map([...validated.configs].map(([stack, { config }]) => [stack, config]));
    tenants = new Map([...validated.tenants.values()].flat().map((l) => [l.tenant.name, l.tenant]));
    runs = await runStacks({ configOverrides: Object.fromEntries([...configs.keys()].map((s) => [s, { "redoubt:asOf": AS_OF }])) });
}, 120_000);

/** Every secret value the mock run generated, as the stacks' state would hold it. */
function secretValues(): string[] {
    const values: string[] = [];
    const walk = (v: unknown) => {
        if (typeof v === "string" && (/^mock-password-/.test(v) || v.includes("PRIVATE KEY"))) values.push(v);
        else if (v && typeof v === "object") Object.values(v).forEach(walk);
    };
    for (const run of runs) for (const r of run.resources) walk(r.outputs);
    return values;
}

describe("tenantInventory", () => {
    it("places acme's data on the Iceland host's encrypted volume and in a Storage Box in Finland and in Germany", () => {
        const inv = tenantInventory(tenants.get("acme")!, configs, runs, AS_OF);
        expect(inv.data.map((d) => d.country)).toEqual(["IS", "FI", "DE"]);
        expect(inv.data[0].where).toMatch(/:\/srv\/redoubt\/tenants\/acme\/data \(site iceland, stack iceland\)$/);
        expect(inv.data.slice(1).map((d) => d.where)).toEqual([
            expect.stringMatching(/at hel1 \(site helsinki, stack backup-helsinki\)/),
            expect.stringMatching(/at fsn1 \(site falkenstein, stack backup-falkenstein\)/),
        ]);
        expect(inv).toMatchObject({ phase: "active", contact: tenants.get("acme")!.contact, logRetentionDays: tenants.get("acme")!.logging.retentionDays });
    });

    it("lists each generated secret with the stack whose state holds it, the volume key in the primary", () => {
        const inv = tenantInventory(tenants.get("acme")!, configs, runs, AS_OF);
        expect(inv.secrets).toEqual(expect.arrayContaining([{ stack: "iceland", resource: "acme-volume-key", kind: "generated password" }]));
        for (const stack of ["backup-helsinki", "backup-falkenstein"]) expect(inv.secrets.filter((s) => s.stack === stack).map((s) => s.kind)).toContain("private key");
        // Nothing of another tenant.
        expect(JSON.stringify(inv)).not.toMatch(/nightowl|harbor/);
    });

    it("never prints a secret value", () => {
        const values = secretValues();
        expect(values.length).toBeGreaterThan(0);
        for (const name of tenants.keys()) {
            const inv = tenantInventory(tenants.get(name)!, configs, runs, AS_OF);
            const text = formatInventory(inv) + JSON.stringify(inv);
            for (const value of values) expect(text).not.toContain(value);
        }
    });

    it("says when a cancelled tenant's data will be gone", () => {
        const cancelled = { ...tenants.get("acme")!, status: "cancelled" as const, cancelledOn: "2026-02-27" };
        const inv = tenantInventory(cancelled, configs, runs, AS_OF);
        expect(inv).toMatchObject({ phase: "cancelled", deleteBy: "2026-03-06" });
        expect(formatInventory(inv)).toMatch(/^tenant acme \(contact .*\): cancelled, all data deleted by 2026-03-06$/m);
    });
});

describe("npm run tenant -- report", () => {
    const cli = path.join(__dirname, "..", "..", "cli", "tenant.ts");

    it("prints the inventory, and JSON with --json", async () => {
        const text = await runCli(cli, ["report", "nightowl"], { env: { REDOUBT_AS_OF: AS_OF } });
        expect({ code: text.code, stderr: text.stderr }).toEqual({ code: 0, stderr: "" });
        expect(text.stdout).toMatch(/^tenant nightowl \(contact /);
        const json = await runCli(cli, ["report", "nightowl", "--json"], { env: { REDOUBT_AS_OF: AS_OF } });
        expect(JSON.parse(json.stdout)).toMatchObject({ tenant: "nightowl", data: expect.arrayContaining([expect.objectContaining({ country: "IS" })]) });
    }, 60_000);

    it("exits 1 on a report of two tenants or with --stack, saying what it takes", async () => {
        for (const args of [["report", "acme", "harbor"], ["report", "acme", "--stack", "iceland"], ["report"]]) {
            const run = await runCli(cli, args, { env: { REDOUBT_AS_OF: AS_OF } });
            expect({ args, code: run.code, stderr: run.stderr }).toEqual({ args, code: 1, stderr: expect.stringMatching(/^tenant: report takes one tenant name \(and --json\)/) });
        }
    }, 90_000);

    it("exits 1 on an unknown tenant, naming the known ones", async () => {
        const run = await runCli(cli, ["report", "nobody"], { env: { REDOUBT_AS_OF: AS_OF } });
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(/^tenant: unknown tenant 'nobody' \(known: acme, harbor, nightowl\)/);
    }, 60_000);
});
