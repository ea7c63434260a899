// Several Docker hosts as several primary stacks. Each tenant file names its host (a primary
// stack) and the ledger records it, so a tenant never moves; each primary serves the tenants on its
// host. The per-tenant commands act on the tenant's own host, never simply the first primary.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { runStacks } from "../../lib/mock-run";
import { tenantsOf, validateInputs } from "../../lib/plan";
import { primaryOf, StackSetError } from "../../lib/stack-set";
import { planTenantOperation, reportTenant, runRestore, TenantOpError, unlockStack } from "../../lib/tenant-ops";
import type { StackConfig } from "../../stacks/config";
import { hostOf, primaryStacksIn } from "../../stacks/placement";
import { checkLedgerHistory, TenantSetError } from "../../tenants/loader";

jest.setTimeout(120_000);

const REPO = path.join(__dirname, "..", "..");
const SECOND_HOST = "ssh://root@docker2.is.redoubt.example";
const PLACED = { acme: "iceland", harbor: "iceland", nightowl: "iceland-2" } as const;

type Yaml = Record<string, unknown>;
const readYaml = (file: string) => parse(fs.readFileSync(file, "utf8")) as Yaml;

/** Sets a tenant's `host` in its file (undefined removes it). */
function placeInFile(dir: string, tenant: string, host: string | undefined): void {
    const file = path.join(dir, "tenants", `${tenant}.yaml`);
    const { host: _old, ...rest } = readYaml(file);
    fs.writeFileSync(file, stringify(host === undefined ? rest : { ...rest, host }));
}

/** Sets a tenant's `host` in the ledger (undefined removes it). */
function placeInLedger(dir: string, tenant: string, host: string | undefined): void {
    const file = path.join(dir, "tenants", "ledger.yaml");
    const ledger = readYaml(file) as { tenants: Yaml[] };
    ledger.tenants = ledger.tenants.map(({ host: old, ...entry }) => {
        const placed = entry.name === tenant ? host : old;
        return placed === undefined ? entry : { ...entry, host: placed };
    });
    fs.writeFileSync(file, stringify(ledger));
}

/**
 * The repository's stacks and tenants with a second primary stack (a second Docker host),
 * iceland-2, and every tenant placed by its file and ledger entry: nightowl on iceland-2.
 */
function twoHostProject(): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-two-hosts-"));
    fs.cpSync(path.join(REPO, "stacks"), path.join(dir, "stacks"), { recursive: true });
    fs.cpSync(path.join(REPO, "tenants"), path.join(dir, "tenants"), { recursive: true });
    fs.copyFileSync(path.join(REPO, "images.yaml"), path.join(dir, "images.yaml"));
    const file = (stack: string) => path.join(dir, "stacks", `Pulumi.${stack}.yaml`);
    const first = readYaml(file("iceland")) as { config: Yaml };
    const second = {
        config: {
            ...first.config,
            "redoubt:site": "iceland2",
            "redoubt:dockerHost": SECOND_HOST,
            "redoubt:publicAddress": "203.0.113.20",
            "redoubt:maxTenants": 1,
        },
    };
    first.config["redoubt:maxTenants"] = 2; // each host full to its limit, which is allowed
    fs.writeFileSync(file("iceland"), stringify(first));
    fs.writeFileSync(file("iceland-2"), stringify(second));
    for (const [tenant, host] of Object.entries(PLACED)) {
        placeInFile(dir, tenant, host);
        placeInLedger(dir, tenant, host);
    }
    return dir;
}

/** A copy of `dir` changed by `change`, validated: the problems it is refused with. */
function refusedWith(dir: string, change: (copy: string) => void): { file: string; field: string; message: string }[] {
    const copy = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-two-hosts-"));
    fs.cpSync(dir, copy, { recursive: true });
    try {
        change(copy);
        validateInputs({ projectDir: copy });
    } catch (error) {
        if (error instanceof TenantSetError || error instanceof StackSetError) return error.problems;
        throw error;
    } finally {
        fs.rmSync(copy, { recursive: true, force: true });
    }
    throw new Error("the changed project was accepted");
}

describe("placement on hosts (stacks/placement.ts)", () => {
    it("a tenant's file names its host; with one primary stack that is the default", () => {
        expect(hostOf({ name: "acme", host: "iceland-2" }, ["iceland", "iceland-2"])).toEqual({ host: "iceland-2" });
        expect(hostOf({ name: "acme" }, ["iceland"])).toEqual({ host: "iceland" });
        expect(hostOf({ name: "acme" }, ["iceland", "iceland-2"]).problem).toMatch(
            /^is required: this project has 2 Docker hosts \(primary stacks iceland, iceland-2\)\. Name the one that holds 'acme'/,
        );
        expect(hostOf({ name: "acme", host: "reykjavik" }, ["iceland", "iceland-2"]).problem).toMatch(
            /^is 'reykjavik', which is not a primary stack of this project .*allowed: iceland, iceland-2$/,
        );
        expect(hostOf({ name: "acme" }, []).problem).toMatch(/the project has no primary stack/);
    });

    it("the project's primary stacks are its stack files with redoubt:role: primary", () => {
        expect(primaryStacksIn(REPO)).toEqual(["iceland"]);
        expect(primaryStacksIn(path.join(os.tmpdir(), "no-such-project"))).toEqual([]);
    });
});

describe("several hosts (one primary stack per Docker host)", () => {
    let projectDir: string;
    let configs: Map<string, StackConfig>;
    let tenants: Map<string, { name: string; host?: string }>;
    beforeAll(() => {
        projectDir = twoHostProject();
        const validated = validateInputs({ projectDir });
        configs = new Map([...validated.configs].map(([stack, { config }]) => [stack, config]));
        tenants = new Map([...validated.tenants.values()].flat().map(({ tenant }) => [tenant.name, tenant]));
    });
    afterAll(() => fs.rmSync(projectDir, { recursive: true, force: true }));

    it("is a valid stack set, and each tenant has the primary stack of the host its file names", () => {
        expect([...configs.keys()].sort()).toEqual(["backup-falkenstein", "backup-helsinki", "iceland", "iceland-2"]);
        for (const [tenant, host] of Object.entries(PLACED)) expect(primaryOf(tenants.get(tenant)!, configs)?.stack).toBe(host);
        expect(primaryOf({ name: "nobody" }, configs)).toBeUndefined();
    });

    it("a tenant never moves host: its file may not name another host than its ledger entry", () => {
        expect(refusedWith(projectDir, (copy) => placeInFile(copy, "nightowl", "iceland"))).toEqual([
            {
                file: expect.stringMatching(/nightowl\.yaml$/),
                field: "host",
                message: expect.stringMatching(/^is 'iceland', but .*ledger\.yaml placed 'nightowl' on 'iceland-2'; a tenant never moves host .*: set host: iceland-2 again$/),
            },
        ]);
        expect(refusedWith(projectDir, (copy) => placeInFile(copy, "acme", undefined))).toEqual([
            {
                file: expect.stringMatching(/acme\.yaml$/),
                field: "host",
                message: expect.stringMatching(/^is missing, but .*ledger\.yaml placed 'acme' on 'iceland'; write host: iceland$/),
            },
        ]);
        // A host named in the file is recorded in the ledger, where the ledger's history keeps it.
        expect(refusedWith(projectDir, (copy) => placeInLedger(copy, "acme", undefined))).toEqual([
            {
                file: expect.stringMatching(/acme\.yaml$/),
                field: "host",
                message: expect.stringMatching(/^is 'iceland', but .*ledger\.yaml records no host for 'acme'; record it there/),
            },
        ]);
    });

    it("a recorded host never changes in the ledger's history", () => {
        const base = { tenants: [{ name: "nightowl", id: 2, host: "iceland-2" }] };
        expect(checkLedgerHistory(base, { tenants: [{ name: "nightowl", id: 2, host: "iceland" }] }, "tenants/ledger.yaml", "origin/main")).toEqual([
            {
                file: "tenants/ledger.yaml",
                field: "tenants.0.host",
                message:
                    "is 'iceland', but at origin/main 'nightowl' was placed on 'iceland-2'; a tenant never moves host and a recorded host never changes: restore host: iceland-2",
            },
        ]);
        expect(checkLedgerHistory(base, { tenants: [{ name: "nightowl", id: 2 }] }, "tenants/ledger.yaml", "origin/main")[0].message).toMatch(/^was removed, but at origin\/main/);
        // Recording the host of a tenant placed before hosts were named is allowed.
        expect(checkLedgerHistory({ tenants: [{ name: "nightowl", id: 2 }] }, base, "tenants/ledger.yaml", "origin/main")).toEqual([]);
    });

    it("with several hosts every tenant names one, and only a primary stack of the project", () => {
        const unplaced = refusedWith(projectDir, (copy) => {
            placeInFile(copy, "acme", undefined);
            placeInLedger(copy, "acme", undefined);
        });
        expect(unplaced).toEqual([
            {
                file: expect.stringMatching(/acme\.yaml$/),
                field: "host",
                message: expect.stringMatching(/^is required: this project has 2 Docker hosts \(primary stacks iceland, iceland-2\)\. Name the one that holds 'acme'/),
            },
        ]);
        const unknown = refusedWith(projectDir, (copy) => {
            placeInFile(copy, "acme", "reykjavik");
            placeInLedger(copy, "acme", "reykjavik");
        });
        expect(unknown).toEqual([
            {
                file: expect.stringMatching(/acme\.yaml$/),
                field: "host",
                message: expect.stringMatching(/^is 'reykjavik', which is not a primary stack of this project .*allowed: iceland, iceland-2$/),
            },
        ]);
    });

    it("a primary stack lists only tenants on its own host, and leaves none of them out", () => {
        const listed = (stack: string, names: string[]) => (copy: string) => {
            const file = path.join(copy, "stacks", `Pulumi.${stack}.yaml`);
            const doc = readYaml(file) as { config: Yaml };
            doc.config["redoubt:tenants"] = names;
            fs.writeFileSync(file, stringify(doc));
        };
        expect(refusedWith(projectDir, listed("iceland", ["acme", "harbor", "nightowl"]))).toEqual([
            {
                file: "stacks/Pulumi.iceland.yaml",
                field: "redoubt:tenants",
                message: "lists 'nightowl', which is placed on iceland-2 (host: in nightowl.yaml); a primary stack serves only the tenants on its own host: remove it here",
            },
        ]);
        expect(refusedWith(projectDir, listed("iceland", ["acme"]))).toEqual([
            {
                file: "stacks/Pulumi.iceland.yaml",
                field: "redoubt:tenants",
                message: expect.stringMatching(/^leaves out tenant 'harbor' \(harbor\.yaml\), which is placed on this host and no other stack may serve it/),
            },
        ]);
    });

    it("a full host refuses a new tenant placed on it, naming the newest", () => {
        const problems = refusedWith(projectDir, (copy) => {
            placeInFile(copy, "harbor", "iceland-2");
            placeInLedger(copy, "harbor", "iceland-2");
        });
        expect(problems).toEqual([
            {
                file: "stacks/Pulumi.iceland-2.yaml",
                field: "redoubt:maxTenants",
                message: expect.stringMatching(
                    /^this host is full: it would serve 2 tenants, more than its limit of 1\. Place 'harbor' on another host \(host: in its file and its ledger entry/,
                ),
            },
        ]);
    });

    it("the program alone (what `pulumi up` runs) declares its host's tenants only, and refuses a tenant it cannot place", async () => {
        const [second] = await runStacks({ stacks: ["iceland-2"], projectDir });
        expect([...new Set(tenantsOf(second.resources).values())].filter((t) => t !== undefined)).toEqual(["nightowl"]);
        const copy = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-two-hosts-"));
        fs.cpSync(projectDir, copy, { recursive: true });
        placeInFile(copy, "acme", undefined);
        placeInLedger(copy, "acme", undefined);
        const run = runStacks({ stacks: ["iceland-2"], projectDir: copy });
        await expect(run).rejects.toBeInstanceOf(TenantSetError);
        await expect(run).rejects.toMatchObject({ problems: [{ field: "host", message: expect.stringMatching(/^is required: this project has 2 Docker hosts/) }] });
        fs.rmSync(copy, { recursive: true, force: true });
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
