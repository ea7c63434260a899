// Several Docker hosts as several primary stacks, each serving the tenants its
// redoubt:tenants lists (the stack set allows each tenant exactly one). The
// per-tenant commands act on the tenant's own host, never simply the first
// primary they find.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { validateInputs } from "../../lib/plan";
import { primaryOf } from "../../lib/stack-set";
import { planTenantOperation, reportTenant, runRestore, TenantOpError, unlockStack } from "../../lib/tenant-ops";
import type { StackConfig } from "../../stacks/config";

jest.setTimeout(120_000);

const REPO = path.join(__dirname, "..", "..");
const SECOND_HOST = "ssh://root@docker2.is.redoubt.example";

/** The repository's stacks and tenants, with nightowl moved to a second primary stack (a second host). */
function twoHostProject(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-two-hosts-"));
    fs.cpSync(path.join(REPO, "stacks"), path.join(dir, "stacks"), { recursive: true });
    fs.cpSync(path.join(REPO, "tenants"), path.join(dir, "tenants"), { recursive: true });
    fs.copyFileSync(path.join(REPO, "images.yaml"), path.join(dir, "images.yaml"));
    const file = (stack: string) => path.join(dir, "stacks", `Pulumi.${stack}.yaml`);
    const first = parse(fs.readFileSync(file("iceland"), "utf8")) as { config: Record<string, unknown> };
    const second = {
        config: {
            ...first.config,
            "redoubt:site": "iceland2",
            "redoubt:dockerHost": SECOND_HOST,
            "redoubt:publicAddress": "203.0.113.20",
            "redoubt:tenants": ["nightowl"],
            "redoubt:maxTenants": 1,
        },
    };
    first.config["redoubt:tenants"] = ["acme", "harbor"];
    first.config["redoubt:maxTenants"] = 2; // each host full to its limit, which is allowed
    fs.writeFileSync(file("iceland"), stringify(first));
    fs.writeFileSync(file("iceland-2"), stringify(second));
    return dir;
}

describe("several hosts (one primary stack per Docker host)", () => {
    let projectDir: string;
    let configs: Map<string, StackConfig>;
    beforeAll(() => {
        projectDir = twoHostProject();
        configs = new Map([...validateInputs({ projectDir }).configs].map(([stack, { config }]) => [stack, config]));
    });
    afterAll(() => fs.rmSync(projectDir, { recursive: true, force: true }));

    it("is a valid stack set, and each tenant has the primary stack that lists it", () => {
        expect([...configs.keys()].sort()).toEqual(["backup-falkenstein", "backup-helsinki", "iceland", "iceland-2"]);
        expect(primaryOf("acme", configs)?.stack).toBe("iceland");
        expect(primaryOf("harbor", configs)?.stack).toBe("iceland");
        expect(primaryOf("nightowl", configs)?.stack).toBe("iceland-2");
        expect(primaryOf("nobody", configs)).toBeUndefined();
    });

    it("npm run tenant targets the tenant's own host stack and its backup stacks, not the other host", async () => {
        const plan = await planTenantOperation({ tenant: "nightowl", projectDir });
        expect(plan.steps.map((s) => s.stack)).toEqual(["backup-helsinki", "backup-falkenstein", "iceland-2"]);
        const acme = await planTenantOperation({ tenant: "acme", projectDir });
        expect(acme.steps.map((s) => s.stack)).toEqual(["backup-helsinki", "backup-falkenstein", "iceland"]);
    });

    it("report places the tenant's data on its own host", async () => {
        const inventory = await reportTenant({ tenant: "nightowl", projectDir });
        const primaryCopy = inventory.data.find((d) => d.where.includes("stack iceland"));
        expect(primaryCopy?.where).toContain(`${new URL(SECOND_HOST).hostname}:`);
        expect(primaryCopy?.where).toContain("(site iceland2, stack iceland-2)");
    });

    it("unlock reads the named tenants' host, and refuses to guess between hosts", () => {
        expect(unlockStack({ tenants: ["nightowl"] }, projectDir).stack).toBe("iceland-2");
        expect(unlockStack({ tenants: ["acme", "harbor"] }, projectDir).stack).toBe("iceland");
        expect(unlockStack({ stack: "iceland-2" }, projectDir).stack).toBe("iceland-2");
        expect(() => unlockStack({ tenants: ["acme", "nightowl"] }, projectDir)).toThrow(
            /not on one primary stack \(acme: iceland, nightowl: iceland-2\); unlock one host at a time with --stack NAME \(one of iceland, iceland-2\)/,
        );
        expect(() => unlockStack({}, projectDir)).toThrow(/--all: the project has several primary stacks \(iceland, iceland-2\), one per Docker host/);
        expect(() => unlockStack({ stack: "backup-helsinki" }, projectDir)).toThrow(/backup-helsinki is not a primary stack/);
    });

    it("a restore drill onto a tenant on another host is refused before Pulumi or SSH", async () => {
        const drill = runRestore({ tenant: "acme", from: "helsinki", as: "nightowl", force: false, dryRun: true, projectDir });
        await expect(drill).rejects.toThrow(TenantOpError);
        await expect(drill).rejects.toThrow(/nightowl is on stack iceland-2's host and acme on iceland's; a drill restores onto a tenant on the same host/);
    });
});
