// Per-tenant operations (`npm run tenant -- <preview|up|refresh> <tenant>`):
// one command that brings one tenant up across all its stacks, backup stacks
// first (the primary reads their storage boxes by StackReference), through the
// real Pulumi CLI via the Automation API, with `--target` set to every URN of
// the tenant in that stack (computed from a mock run of the same program, so
// they match what the program declares) plus `--target-dependents`, and the
// policy pack on preview and up.
import * as fs from "node:fs";
import * as path from "node:path";
import { automation } from "@pulumi/pulumi";
import { asOfDate, parseStackConfig, runAsOf, type PrimaryStackConfig, type StackConfig } from "../stacks/config";
import { lifecycleOf, todayUtc } from "../components/lifecycle";
import { PROJECT_DIR, readStackConfigFile, runStacks, type CapturedResource } from "./mock-run";
import { SshConnection } from "./live/ssh";
import { tenantInventory, type TenantInventory } from "./inventory";
import { projectStacks, tenantsOf, validateInputs } from "./plan";
import { unlock, unlockPlan, type StateResourceLike, type UnlockPlan } from "./unlock";
import { storageBoxOf } from "../components/render/backup";
import { renderRestoreScript } from "../components/render/restore";
import type { Tenant } from "../tenants/schema";

export type TenantOperation = "preview" | "up" | "refresh";
export const OPERATIONS: readonly TenantOperation[] = ["preview", "up", "refresh"];

/** A refusal before Pulumi starts: bad arguments, unknown tenant, missing CLI. Exit 1. */
export class TenantOpError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "TenantOpError";
    }
}

export interface TenantStep {
    stack: string;
    role: "primary" | "backup";
    /** Every URN of the tenant in this stack, as the program declares it. */
    urns: string[];
}

export interface TenantOpPlan {
    tenant: string;
    phase: string;
    steps: TenantStep[];
}

export interface TenantOpOptions {
    tenant: string;
    /** Restrict to these stacks (default: all stacks the tenant is in). */
    stacks?: readonly string[];
    projectDir?: string;
    /** Called after the tenant set and tenant are validated, before the (seconds long) mock run. */
    afterValidation?: () => void;
}

/** Validates the tenant set and the tenant, then computes each stack's targets under mocks. No Pulumi CLI involved. */
export async function planTenantOperation(options: TenantOpOptions): Promise<TenantOpPlan> {
    const projectDir = options.projectDir ?? PROJECT_DIR;
    const stacks = options.stacks && options.stacks.length > 0 ? [...options.stacks] : projectStacks(projectDir);
    // The plan's whole validation: every stack file, every tenant directory, the set as a whole
    // (StackConfigError / TenantSetError / StackSetError): nothing runs from a set with any error.
    const explicitAsOf = runAsOf();
    const validated = validateInputs({ stacks, projectDir, asOf: explicitAsOf });
    const configs = new Map<string, StackConfig>([...validated.configs].map(([stack, { config }]) => [stack, config]));
    const dirs = [...validated.tenants.keys()];
    const loaded = [...validated.tenants.values()].flat();
    const tenant = loaded.find((l) => l.tenant.name === options.tenant)?.tenant;
    if (!tenant) {
        const known = [...new Set(loaded.map((l) => l.tenant.name))].sort();
        throw new TenantOpError(
            `unknown tenant '${options.tenant}': no tenant file names it in ${dirs.map((d) => path.relative(process.cwd(), d) || ".").join(", ")} (known: ${known.join(", ") || "none"})`,
        );
    }
    const primary = [...configs.values()].find((c) => c.role === "primary");
    const asOf = primary ? asOfDate(primary, explicitAsOf) : (explicitAsOf ?? todayUtc());
    const phase = lifecycleOf(tenant, asOf, primary?.deletionGraceDays).phase;
    options.afterValidation?.();

    const runs = await runStacks({ stacks, projectDir, configOverrides: explicitAsOf ? Object.fromEntries(stacks.map((s) => [s, { "redoubt:asOf": explicitAsOf }])) : undefined });
    const steps: TenantStep[] = [];
    for (const run of runs) {
        const config = configs.get(run.stack)!;
        const own = tenantUrns(run.resources, tenant.name);
        if (own.length === 0) continue; // the tenant has nothing in this stack (e.g. a backup site it does not use)
        // The shared resources (images, journald retention, the edge's routes) follow from the tenant set too.
        steps.push({ stack: run.stack, role: config.role, urns: [...own, ...sharedUrns(run.resources)] });
    }
    // Backup stacks before the primary: the primary's StackReferences read them.
    steps.sort((a, b) => Number(a.role === "primary") - Number(b.role === "primary"));
    if (steps.length === 0) {
        throw new TenantOpError(
            `tenant '${tenant.name}' declares no resources in ${stacks.join(", ")} as of ${asOf} (lifecycle: ${phase}); ` +
                (phase === "deleted"
                    ? "its deletion deadline has passed: a `pulumi up` of each whole stack removes what is left."
                    : "check the stacks' redoubt:tenants selection."),
        );
    }
    return { tenant: tenant.name, phase, steps };
}

/**
 * What we hold for one tenant and where (`npm run tenant -- report <tenant>`): validated like every
 * operation, then built from a mock run of every stack. No Pulumi CLI, no credentials.
 */
export async function reportTenant(options: { tenant: string; projectDir?: string }): Promise<TenantInventory> {
    const projectDir = options.projectDir ?? PROJECT_DIR;
    const explicitAsOf = runAsOf();
    const validated = validateInputs({ projectDir, asOf: explicitAsOf });
    const configs = new Map<string, StackConfig>([...validated.configs].map(([stack, { config }]) => [stack, config]));
    const tenant = [...validated.tenants.values()].flat().find((l) => l.tenant.name === options.tenant)?.tenant;
    if (!tenant) {
        const known = [...new Set([...validated.tenants.values()].flat().map((l) => l.tenant.name))].sort();
        throw new TenantOpError(`unknown tenant '${options.tenant}' (known: ${known.join(", ") || "none"})`);
    }
    const primary = [...configs.values()].find((c) => c.role === "primary");
    const asOf = primary ? asOfDate(primary, explicitAsOf) : (explicitAsOf ?? todayUtc());
    const stacks = [...configs.keys()];
    const runs = await runStacks({ stacks, projectDir, configOverrides: explicitAsOf ? Object.fromEntries(stacks.map((s) => [s, { "redoubt:asOf": explicitAsOf }])) : undefined });
    return tenantInventory(tenant, configs, runs, asOf);
}

/** URNs of the resources no tenant owns (host baseline, images, edge): a tenant's change can change them. */
export function sharedUrns(resources: CapturedResource[]): string[] {
    const owners = tenantsOf(resources);
    return resources.filter((r) => owners.get(r.urn) === undefined).map((r) => r.urn);
}

/** The tenant's URNs in one stack's captured resources. */
export function tenantUrns(resources: CapturedResource[], tenant: string): string[] {
    const owners = tenantsOf(resources);
    return resources.filter((r) => owners.get(r.urn) === tenant).map((r) => r.urn);
}

/**
 * URNs in a stack's state (`pulumi stack export`) that belong to the tenant:
 * resources the program no longer declares (a suspended tenant's containers)
 * are only deleted by a targeted update if they are targeted.
 */
export function tenantUrnsInState(deployment: unknown, tenant: string): string[] {
    const resources = (deployment as { deployment?: { resources?: unknown[] } })?.deployment?.resources;
    if (!Array.isArray(resources)) return [];
    const captured = resources
        .filter((r): r is Record<string, unknown> => !!r && typeof r === "object" && typeof (r as Record<string, unknown>).urn === "string")
        .map((r) => ({
            urn: String(r.urn),
            type: String(r.type ?? ""),
            name: String(r.urn).split("::").pop() ?? "",
            parent: typeof r.parent === "string" ? r.parent : undefined,
            inputs: (r.inputs ?? {}) as Record<string, unknown>,
        }));
    const owners = tenantsOf(captured);
    return captured.filter((r) => owners.get(r.urn) === tenant).map((r) => r.urn);
}

/** Where `pulumi` is on PATH, or undefined. */
export function findOnPath(command: string, envPath: string = process.env.PATH ?? ""): string | undefined {
    for (const dir of envPath.split(path.delimiter)) {
        if (!dir) continue;
        const candidate = path.join(dir, command);
        try {
            fs.accessSync(candidate, fs.constants.X_OK);
            if (fs.statSync(candidate).isFile()) return candidate;
        } catch {
            /* not here */
        }
    }
    return undefined;
}

export const PULUMI_INSTALL_HINT =
    "the Pulumi CLI is not installed (no `pulumi` on PATH). Install it (https://www.pulumi.com/docs/install/, e.g. `curl -fsSL https://get.pulumi.com | sh`), log in to the state backend (`pulumi login`), then run this again. `npm run plan` works without it.";

export interface RunTenantOptions extends TenantOpOptions {
    operation: TenantOperation;
    /** Absolute path of the policy pack; default <projectDir>/policies. */
    policyPack?: string;
    onOutput?: (text: string) => void;
    /** Told before each stack starts. */
    onStep?: (step: TenantStep, index: number, total: number) => void;
}

export interface TenantStepResult {
    stack: string;
    targets: string[];
    summary?: unknown;
}

/** Runs the operation stack by stack (backups first) through the Automation API; stops at the first failure. */
export async function runTenantOperation(options: RunTenantOptions): Promise<TenantStepResult[]> {
    if (!OPERATIONS.includes(options.operation)) throw new TenantOpError(`unknown operation '${options.operation}'; use one of ${OPERATIONS.join(", ")}`);
    const projectDir = options.projectDir ?? PROJECT_DIR;
    const plan = await planTenantOperation({
        ...options,
        afterValidation: () => {
            if (!findOnPath("pulumi")) throw new TenantOpError(PULUMI_INSTALL_HINT);
        },
    });
    const policyPack = path.resolve(options.policyPack ?? path.join(projectDir, "policies"));
    const { LocalWorkspace } = automation;
    const results: TenantStepResult[] = [];
    for (const [i, step] of plan.steps.entries()) {
        options.onStep?.(step, i, plan.steps.length);
        const stack = await LocalWorkspace.createOrSelectStack({ stackName: step.stack, workDir: projectDir });
        // Also target what the state still holds of the tenant but the program no longer declares.
        let inState: string[];
        try {
            inState = tenantUrnsInState(await stack.exportStack(), plan.tenant);
        } catch {
            inState = [];
        }
        const targets = [...new Set([...step.urns, ...inState])];
        const common = { target: targets, targetDependents: true, onOutput: options.onOutput };
        let summary: unknown;
        if (options.operation === "preview") summary = (await stack.preview({ ...common, policyPacks: [policyPack] })).changeSummary;
        else if (options.operation === "up") summary = (await stack.up({ ...common, policyPacks: [policyPack] })).summary;
        else summary = (await stack.refresh(common)).summary;
        results.push({ stack: step.stack, targets, summary });
    }
    return results;
}

/** SSH to the primary stack's Docker host as its Docker provider reaches it: the stack's key (else the agent), the pinned host key. */
async function hostConnection(stack: automation.Stack, config: PrimaryStackConfig): Promise<SshConnection> {
    const url = new URL(config.dockerHost);
    let privateKey: string | undefined;
    try {
        privateKey = (await stack.getConfig("redoubt:sshPrivateKey")).value;
    } catch {
        privateKey = undefined; // not set: the SSH agent, as for the Docker provider
    }
    return new SshConnection({ host: url.hostname, port: url.port ? Number(url.port) : 22, user: url.username, privateKey, hostKey: config.sshHostKey });
}

export interface UnlockOptions {
    /** Tenants to unlock; undefined: every tenant with a volume in the stack. */
    tenants?: string[];
    /** The primary stack to read; default the one primary among the project's stacks. */
    stack?: string;
    projectDir?: string;
    log?: (line: string) => void;
}

/**
 * `npm run tenant -- unlock <tenant...|--all>`: after a host reboot, opens the
 * tenants' LUKS volumes with their keys from the stack's state (`pulumi stack
 * export --show-secrets` through the Automation API) and starts their
 * containers and the edge, over SSH to the Docker host with its pinned key.
 */
export async function runUnlock(options: UnlockOptions): Promise<UnlockPlan> {
    const projectDir = options.projectDir ?? PROJECT_DIR;
    const primaries = (options.stack ? [options.stack] : projectStacks(projectDir)).map((stack) => ({
        stack,
        config: parseStackConfig(readStackConfigFile(stack, projectDir), `stacks/Pulumi.${stack}.yaml`),
    }));
    const primary = primaries.find((p) => p.config.role === "primary");
    if (!primary || primary.config.role !== "primary") throw new TenantOpError(`${options.stack ?? "no stack"} is not a primary stack; unlock reads the primary stack's state`);
    if (!findOnPath("pulumi")) throw new TenantOpError(PULUMI_INSTALL_HINT);
    const stack = await automation.LocalWorkspace.selectStack({ stackName: primary.stack, workDir: projectDir });
    const deployment = (await stack.exportStack()) as { deployment?: { resources?: StateResourceLike[] } };
    const plan = unlockPlan(deployment.deployment?.resources ?? [], options.tenants);
    const ssh = await hostConnection(stack, primary.config);
    try {
        await unlock(plan, (command, stdin) => ssh.run(command, { stdin }), options.log);
    } finally {
        ssh.close();
    }
    return plan;
}

/** `npm run tenant -- restore` as typed: what the command line gave. */
export interface RestoreArgs {
    tenant: string;
    /** --from: the backup site to restore from. */
    from?: string;
    /** --snapshot: a restic snapshot ID; default the newest. */
    snapshot?: string;
    /** --as: restore onto this other tenant instead (a drill). */
    as?: string;
    /** --force: restore over data newer than the snapshot (or a drill tenant's data). */
    force: boolean;
}

/** A restore the tenant files allow. */
export interface RestoreRequest {
    tenant: string;
    target: string;
    site: string;
    snapshot?: string;
    force: boolean;
}

/** restic snapshot IDs as `restic snapshots` prints them: 8 hex digits (short) up to the full 64. */
const SNAPSHOT_ID = /^[0-9a-f]{8,64}$/;

/** Checks a restore against the tenant files; every refusal names the argument and what is allowed. Pure. */
export function restoreRequest(args: RestoreArgs, tenants: readonly Tenant[]): RestoreRequest {
    const names = tenants.map((t) => t.name).sort();
    const source = tenants.find((t) => t.name === args.tenant);
    if (!source) throw new TenantOpError(`restore: unknown tenant '${args.tenant}': no tenant file names it (known: ${names.join(", ") || "none"})`);
    const sites = source.backups.sites;
    if (!args.from) throw new TenantOpError(`restore: --from is required: the backup site to restore ${source.name} from (${source.name} backs up to ${sites.join(", ")})`);
    if (!sites.includes(args.from)) {
        throw new TenantOpError(`restore: --from ${args.from}: ${source.name} does not back up to ${args.from}; its backups.sites are ${sites.join(", ")}`);
    }
    if (args.snapshot !== undefined && !SNAPSHOT_ID.test(args.snapshot)) {
        throw new TenantOpError(
            `restore: --snapshot ${JSON.stringify(args.snapshot)} is not a restic snapshot ID; give 8 to 64 lower-case hex digits as \`restic snapshots\` lists them, or leave it out for the newest`,
        );
    }
    let target = source.name;
    if (args.as !== undefined) {
        const other = tenants.find((t) => t.name === args.as);
        if (args.as === source.name)
            throw new TenantOpError(`restore: --as ${args.as} names the tenant restored from; leave --as out to restore ${source.name} onto its own volume`);
        if (!other) {
            throw new TenantOpError(
                `restore: --as ${args.as}: no tenant file names it; a drill restores onto a fresh tenant that is deployed and has no data yet (known: ${names.filter((n) => n !== source.name).join(", ") || "none"})`,
            );
        }
        if (other.status !== "active") {
            throw new TenantOpError(`restore: --as ${args.as}: that tenant is ${other.status}; a drill needs a fresh, active tenant whose homeserver runs (status: active)`);
        }
        target = other.name;
    }
    return { tenant: source.name, target, site: args.from, snapshot: args.snapshot, force: args.force };
}

export interface RestoreOptions extends RestoreArgs {
    /** Print the script instead of running it (no SSH). */
    dryRun?: boolean;
    projectDir?: string;
    log?: (line: string) => void;
}

/** How long a restore may run on the host: restic fetches the whole snapshot from the Storage Box. */
const RESTORE_TIMEOUT_MS = 6 * 60 * 60 * 1000;

/**
 * `npm run tenant -- restore <tenant> --from <site>`: validates against the tenant files, reads the
 * repository's address from the primary stack's outputs (no secrets: the password and ssh key stay on
 * the tenant's volume, where the backup agent has them), renders the restore script
 * (components/render/restore.ts) and runs it as root on the Docker host over SSH with its pinned key.
 * Returns the script (dry run) or its output.
 */
export async function runRestore(options: RestoreOptions): Promise<string> {
    const projectDir = options.projectDir ?? PROJECT_DIR;
    const validated = validateInputs({ projectDir, asOf: runAsOf() });
    const request = restoreRequest(
        options,
        [...validated.tenants.values()].flat().map((l) => l.tenant),
    );
    const primary = [...validated.configs].find(([, { config }]) => config.role === "primary");
    if (!primary || primary[1].config.role !== "primary") throw new TenantOpError("restore: the project has no primary stack; the restore runs on its Docker host");
    const [stackName, { config }] = primary;
    if (!findOnPath("pulumi")) throw new TenantOpError(PULUMI_INSTALL_HINT);
    const stack = await automation.LocalWorkspace.selectStack({ stackName, workDir: projectDir });
    const outputs = await stack.outputs();
    const tenantsOutput = outputs.tenants?.value as Record<string, { backups?: Record<string, string> }> | undefined;
    const repository = tenantsOutput?.[request.tenant]?.backups?.[request.site];
    if (typeof repository !== "string" || repository.length === 0) {
        throw new TenantOpError(
            `restore: stack ${stackName}'s outputs have no tenants.${request.tenant}.backups.${request.site}; bring the tenant up first (npm run tenant -- up ${request.tenant})`,
        );
    }
    const script = renderRestoreScript({
        tenant: request.tenant,
        target: request.target,
        site: request.site,
        repository,
        storageBox: storageBoxOf(repository),
        snapshot: request.snapshot,
        force: request.force,
        restic: "agent-image",
    });
    if (options.dryRun) return script;
    const ssh = await hostConnection(stack, config);
    options.log?.(
        `restore: ${request.target}${request.target === request.tenant ? "" : ` (from ${request.tenant})`} from ${request.site} on ${new URL(config.dockerHost).hostname}`,
    );
    try {
        return await ssh.run("sh -s", { stdin: script, timeoutMs: RESTORE_TIMEOUT_MS });
    } finally {
        ssh.close();
    }
}
