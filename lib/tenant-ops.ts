// Per-tenant operations (`npm run tenant -- <preview|up|refresh> <tenant>`):
// one command that brings one tenant up across all its stacks, backup stacks
// first (the primary reads their storage boxes by StackReference), through the
// real Pulumi CLI via the Automation API, with `--target` set to every URN of
// the tenant in that stack. The targets come from a mock run of the same
// program with only that tenant selected, so working them out costs the same
// at 10 tenants as at 1,000. No `--target-dependents`: the shared resources
// (Docker provider, images, edge, host baseline) serve every tenant, and
// changing one of them is a change to every tenant's service. An `up` first
// previews the tenant with the shared resources and stops, before anything
// changes, when a shared resource would change, unless asked (`--shared`).
import * as fs from "node:fs";
import * as path from "node:path";
import { automation } from "@pulumi/pulumi";
import type { EngineEvent } from "@pulumi/pulumi/automation";
import { asOfDate, parseStackConfig, runAsOf, type PrimaryStackConfig, type StackConfig } from "../stacks/config";
import { lifecycleOf, todayUtc } from "../components/lifecycle";
import { PROJECT_DIR, readStackConfigFile, runStacks, type CapturedResource } from "./mock-run";
import { SshConnection } from "./live/ssh";
import { tenantInventory, type TenantInventory } from "./inventory";
import { projectStacks, stackConfigsOf, tenantsOf, validateInputs } from "./plan";
import { primaryOf } from "./stack-set";
import { loadTenants } from "../tenants/loader";
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
    /** The stack's shared resources that the tenant's program run declares (Docker provider, images, edge, host baseline). */
    shared: string[];
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
    /** Override every stack's tenant directory (the bench's synthetic tenants). */
    tenantsDir?: string;
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
    const validated = validateInputs({ stacks, projectDir, asOf: explicitAsOf, tenantsDir: options.tenantsDir });
    const configs = stackConfigsOf(validated);
    const dirs = [...validated.tenants.keys()];
    const loaded = [...validated.tenants.values()].flat();
    const tenant = loaded.find((l) => l.tenant.name === options.tenant)?.tenant;
    if (!tenant) {
        const known = [...new Set(loaded.map((l) => l.tenant.name))].sort();
        throw new TenantOpError(
            `unknown tenant '${options.tenant}': no tenant file names it in ${dirs.map((d) => path.relative(process.cwd(), d) || ".").join(", ")} (known: ${known.join(", ") || "none"})`,
        );
    }
    const primary = primaryOf(tenant, configs)?.config;
    const asOf = primary ? asOfDate(primary, explicitAsOf) : (explicitAsOf ?? todayUtc());
    const phase = lifecycleOf(tenant, asOf, primary?.deletionGraceDays).phase;
    options.afterValidation?.();

    // The program runs with this tenant alone selected (each stack's own selection still applies):
    // its URNs and the shared resources it needs are named as in the full program, and the cost
    // does not grow with the fleet. Every other tenant is validated above, not run.
    const only = (stack: string) => {
        const selection = (configs.get(stack) ?? parseStackConfig(readStackConfigFile(stack, projectDir), `stacks/Pulumi.${stack}.yaml`)).tenants;
        return JSON.stringify(selection === undefined || selection.includes(tenant.name) ? [tenant.name] : []);
    };
    const everyStack = [...new Set([...stacks, ...projectStacks(projectDir)])];
    const configOverrides = Object.fromEntries(everyStack.map((s) => [s, { "redoubt:tenants": only(s), ...(explicitAsOf ? { "redoubt:asOf": explicitAsOf } : {}) }]));
    const runs = await runStacks({ stacks, projectDir, tenantsDir: options.tenantsDir, configOverrides });
    const steps: TenantStep[] = [];
    for (const run of runs) {
        const config = configs.get(run.stack)!;
        const own = tenantUrns(run.resources, tenant.name);
        if (own.length === 0) continue; // the tenant has nothing in this stack (e.g. a backup site it does not use)
        steps.push({ stack: run.stack, role: config.role, urns: own, shared: sharedUrns(run.resources) });
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
    const configs = stackConfigsOf(validated);
    const tenant = [...validated.tenants.values()].flat().find((l) => l.tenant.name === options.tenant)?.tenant;
    if (!tenant) {
        const known = [...new Set([...validated.tenants.values()].flat().map((l) => l.tenant.name))].sort();
        throw new TenantOpError(`unknown tenant '${options.tenant}' (known: ${known.join(", ") || "none"})`);
    }
    const primary = primaryOf(tenant, configs)?.config;
    const asOf = primary ? asOfDate(primary, explicitAsOf) : (explicitAsOf ?? todayUtc());
    const stacks = [...configs.keys()];
    const overrides = explicitAsOf ? Object.fromEntries(stacks.map((s) => [s, { "redoubt:asOf": explicitAsOf }])) : undefined;
    const runs = await runStacks({ stacks, projectDir, configOverrides: overrides });
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
    /**
     * Let an `up` also change the shared resources its preview shows changing (the edge's routes
     * for a new public tenant, a new image, the host baseline).
     * @default false: such an `up` stops after the previews, before anything changes
     */
    shared?: boolean;
    /** Absolute path of the policy pack; default <projectDir>/policies. */
    policyPack?: string;
    onOutput?: (text: string) => void;
    /** Told before each Pulumi operation on a stack starts. */
    onStep?: (step: TenantStep, operation: TenantOperation, targets: number, index: number, total: number) => void;
}

/** A shared resource that a tenant's preview shows changing. */
export interface SharedChange {
    stack: string;
    urn: string;
    /** The engine's step (automation OpType): create, update, replace, delete... */
    op: string;
}

export interface TenantStepResult {
    stack: string;
    targets: string[];
    /** Shared resources the preview shows changing (preview and up; none for refresh). */
    sharedChanges: SharedChange[];
    summary?: unknown;
}

/** One line per change: `iceland: update edge-container (urn:...)`. */
export function formatSharedChange(change: SharedChange): string {
    return `${change.stack}: ${change.op} ${change.urn.split("::").pop()} (${change.urn})`;
}

/** An `up` that would change shared resources, refused before anything changed (exit 1). */
export class SharedChangeError extends TenantOpError {
    constructor(
        readonly tenant: string,
        readonly changes: readonly SharedChange[],
    ) {
        super(
            `up of ${tenant} stopped before changing anything: it would also change ${changes.length} shared resource${changes.length === 1 ? "" : "s"}, which serve${changes.length === 1 ? "s" : ""} every tenant of ${changes.length === 1 ? "its stack" : "their stacks"}:\n` +
                changes.map((c) => `  ${formatSharedChange(c)}`).join("\n") +
                `\nSee the whole change with \`npm run tenant -- preview ${tenant}\`. Apply it with \`npm run tenant -- up ${tenant} --shared\` (the shared resources and ${tenant} change; other tenants' resources keep their state), or roll it out with a whole-stack \`pulumi up\`.`,
        );
        this.name = "SharedChangeError";
    }
}

/** Engine steps that change nothing (automation OpType): same, and the reads of a refresh or a StackReference. */
const UNCHANGED_OPS: ReadonlySet<string> = new Set(["same", "read", "refresh"]);

/**
 * The shared resources that engine events show changing. The preview emits a ResourcePreEvent
 * for every step it plans, "same" included (automation events.d.ts StepEventMetadata).
 */
export function sharedChangesOf(stack: string, shared: ReadonlySet<string>, events: readonly EngineEvent[]): SharedChange[] {
    const changes: SharedChange[] = [];
    // The engine numbers every event once. The Automation API reads them by tailing the event log
    // file (@pulumi/pulumi automation/stack.js readLines: @logdna/tail-file, polled every 200 ms),
    // and under load one event was seen to arrive twice (a CI run listed one edge update twice).
    // A repeated sequence number is the same event, not a second change.
    const seen = new Set<number>();
    for (const event of events) {
        if (seen.has(event.sequence)) continue;
        seen.add(event.sequence);
        const step = event.resourcePreEvent?.metadata;
        if (step && shared.has(step.urn) && !UNCHANGED_OPS.has(step.op)) changes.push({ stack, urn: step.urn, op: step.op });
    }
    return changes;
}

/**
 * Runs the operation stack by stack (backups first) through the Automation API; stops at the
 * first failure. Never `--target-dependents`: with targets, the engine leaves every untargeted
 * resource at its old state ("same" steps with the old inputs), refuses to create an untargeted
 * dependency ("untargeted create") and to delete an untargeted resource (pulumi/pulumi
 * pkg/resource/deploy/step_generator.go). So the tenant's `up` cannot touch another tenant, and a
 * shared resource changes only when this command targets it, which it does only with `shared`.
 */
export async function runTenantOperation(options: RunTenantOptions): Promise<TenantStepResult[]> {
    if (!OPERATIONS.includes(options.operation)) throw new TenantOpError(`unknown operation '${options.operation}'; use one of ${OPERATIONS.join(", ")}`);
    if (options.shared && options.operation !== "up") throw new TenantOpError(`--shared is for up: ${options.operation} changes no shared resource`);
    const projectDir = options.projectDir ?? PROJECT_DIR;
    const plan = await planTenantOperation({
        ...options,
        afterValidation: () => {
            if (!findOnPath("pulumi")) throw new TenantOpError(PULUMI_INSTALL_HINT);
        },
    });
    const policyPack = path.resolve(options.policyPack ?? path.join(projectDir, "policies"));
    const total = plan.steps.length;
    const opened: { step: TenantStep; stack: automation.Stack; own: string[] }[] = [];
    for (const step of plan.steps) {
        const stack = await automation.LocalWorkspace.createOrSelectStack({ stackName: step.stack, workDir: projectDir });
        // Also target what the state still holds of the tenant but the program no longer declares.
        let inState: string[];
        try {
            inState = tenantUrnsInState(await stack.exportStack(), plan.tenant);
        } catch {
            inState = [];
        }
        opened.push({ step, stack, own: [...new Set([...step.urns, ...inState])] });
    }
    const onOutput = options.onOutput;
    if (options.operation === "refresh") {
        const results: TenantStepResult[] = [];
        for (const [i, { step, stack, own }] of opened.entries()) {
            options.onStep?.(step, "refresh", own.length, i, total);
            results.push({ stack: step.stack, targets: own, sharedChanges: [], summary: (await stack.refresh({ target: own, onOutput })).summary });
        }
        return results;
    }
    // The tenant previewed with the shared resources it needs: the tenant's whole change, and
    // whether any shared resource would change with it.
    const previews: TenantStepResult[] = [];
    for (const [i, { step, stack, own }] of opened.entries()) {
        const targets = [...own, ...step.shared];
        options.onStep?.(step, "preview", targets.length, i, total);
        const events: EngineEvent[] = [];
        const { changeSummary } = await stack.preview({ target: targets, policyPacks: [policyPack], onOutput, onEvent: (e) => events.push(e) });
        previews.push({ stack: step.stack, targets, sharedChanges: sharedChangesOf(step.stack, new Set(step.shared), events), summary: changeSummary });
    }
    if (options.operation === "preview") return previews;
    const pending = previews.flatMap((p) => p.sharedChanges);
    if (pending.length > 0 && !options.shared) throw new SharedChangeError(plan.tenant, pending);
    const results: TenantStepResult[] = [];
    for (const [i, { step, stack, own }] of opened.entries()) {
        const sharedChanges = previews[i].sharedChanges;
        // The shared resources are targeted only where the preview showed one changing (and --shared).
        const targets = sharedChanges.length > 0 ? [...own, ...step.shared] : own;
        options.onStep?.(step, "up", targets.length, i, total);
        results.push({ stack: step.stack, targets, sharedChanges, summary: (await stack.up({ target: targets, policyPacks: [policyPack], onOutput })).summary });
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
    /** The primary stack (Docker host) to read; default the one serving the named tenants, or the only primary. */
    stack?: string;
    projectDir?: string;
    log?: (line: string) => void;
}

/**
 * The primary stack (one Docker host) an unlock reads: --stack, else the one primary that serves
 * every named tenant, else the only primary. Refuses a choice it would have to guess.
 */
export function unlockStack(options: Pick<UnlockOptions, "stack" | "tenants">, projectDir: string): { stack: string; config: PrimaryStackConfig } {
    const configs = new Map<string, StackConfig>(
        (options.stack ? [options.stack] : projectStacks(projectDir)).map((stack) => [
            stack,
            parseStackConfig(readStackConfigFile(stack, projectDir), `stacks/Pulumi.${stack}.yaml`),
        ]),
    );
    const primaries = [...configs].flatMap(([stack, config]) => (config.role === "primary" ? [{ stack, config }] : []));
    if (options.stack && primaries.length === 0) throw new TenantOpError(`${options.stack} is not a primary stack; unlock reads the primary stack's state`);
    if (primaries.length === 0) throw new TenantOpError("the project has no primary stack; unlock reads the primary stack's state");
    if (primaries.length === 1) return primaries[0];
    const names = primaries.map((p) => p.stack).join(", ");
    if (!options.tenants) throw new TenantOpError(`--all: the project has several primary stacks (${names}), one per Docker host; unlock one host at a time with --stack NAME`);
    // Each tenant's host is its file's host: read the tenant files the primaries serve.
    const files = [...new Set(primaries.map((p) => path.resolve(projectDir, p.config.tenantsDir)))].flatMap((dir) => loadTenants(dir).map((l) => l.tenant));
    const serving = new Map(options.tenants.map((t) => [t, primaryOf(files.find((f) => f.name === t) ?? { name: t }, configs)?.stack]));
    const hosts = new Set(serving.values());
    if (hosts.size === 1 && !hosts.has(undefined)) return primaries.find((p) => p.stack === [...hosts][0])!;
    throw new TenantOpError(
        `the tenants are not on one primary stack (${[...serving].map(([t, s]) => `${t}: ${s ?? "none"}`).join(", ")}); unlock one host at a time with --stack NAME (one of ${names})`,
    );
}

/**
 * `npm run tenant -- unlock <tenant...|--all>`: after a host reboot, opens the
 * tenants' LUKS volumes with their keys from the stack's state (`pulumi stack
 * export --show-secrets` through the Automation API) and starts their
 * containers and the edge, over SSH to the Docker host with its pinned key.
 */
export async function runUnlock(options: UnlockOptions): Promise<UnlockPlan> {
    const projectDir = options.projectDir ?? PROJECT_DIR;
    const primary = unlockStack(options, projectDir);
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
    const all = [...validated.tenants.values()].flat().map((l) => l.tenant);
    const request = restoreRequest(options, all);
    const named = (name: string) => all.find((t) => t.name === name) ?? { name };
    // The restore runs on the target's host and reads the source's repository with the credentials on
    // the source's volume: both must be on one host (one primary stack).
    const configs = stackConfigsOf(validated);
    const host = primaryOf(named(request.target), configs);
    if (!host) throw new TenantOpError(`restore: no primary stack serves ${request.target}; the restore runs on its Docker host`);
    const sourceHost = primaryOf(named(request.tenant), configs);
    if (sourceHost?.stack !== host.stack) {
        throw new TenantOpError(
            `restore: --as ${request.target}: ${request.target} is on stack ${host.stack}'s host and ${request.tenant} on ${sourceHost?.stack ?? "no stack"}'s; a drill restores onto a tenant on the same host, where ${request.tenant}'s repository password is`,
        );
    }
    const { stack: stackName, config } = host;
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
