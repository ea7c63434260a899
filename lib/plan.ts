// The offline plan: run the stack programs under mocks, send every stack's
// resources through the real policy pack (over its gRPC analyzer interface,
// as the CLI does), and summarise per tenant. No Pulumi CLI, no credentials,
// no network. `npm run plan` (cli/plan.ts) prints it; `--json` prints the
// PlanDocument below with every secret replaced by "[secret]".
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { RESOURCE_SIGNATURE, SECRET_SIGNATURE_KEY } from "./sdk-wire";
import { BACKUP_BUCKET_TYPE } from "../components/backupBucket";
import { ROLE_LABEL, TENANT_LABEL } from "../components/labels";
import { TENANT_CELL_TYPE } from "../components/tenantCell";
import { parseStackConfig, StackConfigError, type StackConfig } from "../stacks/config";
import { lifecycleOf, todayUtc } from "../components/lifecycle";
import { checkLedgerHistory, LEDGER_FILE, loadTenants, readLedger, type LoadedTenant, type TenantFileProblem, TenantSetError } from "../tenants/loader";
import { stackOfFile } from "../stacks/placement";
import { ledgerAtRevision, RevisionNotFoundError } from "./plan-git";
import { PLANS } from "../tenants/schema";
import { checkStackSet, StackSetError, type StackEntry } from "./stack-set";
import { DEFAULT_STACKS, isSecretValue, PROJECT_DIR, readStackConfigFile, runStacks, type CapturedResource, type StackRun } from "./mock-run";
import { startPolicyPack, type PolicyConfig, type PolicyDiagnostic, type PolicyInfo, type PolicyPackSession } from "./policy-harness";

export const PLAN_FORMAT = "redoubt-plan/1";
export const SECRET_PLACEHOLDER = "[secret]";
export const UNKNOWN_PLACEHOLDER = "[unknown]";
const RESOURCE_SIG = RESOURCE_SIGNATURE;
const SPECIAL_SIG = SECRET_SIGNATURE_KEY;

export const TENANT_COMPONENT_TYPES = [TENANT_CELL_TYPE, BACKUP_BUCKET_TYPE];

/** One resource of the plan, as printed by `--json`. */
export interface PlannedResource {
    type: string;
    name: string;
    urn: string;
    parent?: string;
    protect: boolean;
    custom: boolean;
    /** Owning tenant (the `redoubt.tenant` label, or the enclosing TenantCell/BackupBucket); absent for shared resources. */
    tenant?: string;
    /** Inputs with every secret replaced by "[secret]" and unknowns by "[unknown]". */
    inputs: Record<string, unknown>;
    /**
     * For each input path holding a secret: a truncated SHA-256 of the secret value, so a
     * diff can tell that a secret changed without showing it. Under mocks every secret is a
     * deterministic stand-in (no real key material is ever read offline).
     */
    secretDigests?: Record<string, string>;
}

export type DiagnosticLevel = PolicyDiagnostic["enforcementLevel"];

export interface PlanDiagnostic {
    policy: string;
    policyPack: string;
    level: DiagnosticLevel;
    urn?: string;
    tenant?: string;
    message: string;
}

export interface TenantSummary {
    name: string;
    /** Lifecycle phase at the plan's as-of date (active, suspended, cancelled, awaiting-export). */
    status?: string;
    plan?: string;
    endpoint?: string;
    limits?: { memoryMiB?: number; cpus?: number; pids?: number };
    backupSites: string[];
    /** Resource type → count. */
    resources: Record<string, number>;
    diagnostics: { mandatory: number; advisory: number };
}

export interface StackPlan {
    stack: string;
    role: "primary" | "backup";
    site: string;
    country: string;
    /** The day the lifecycle was evaluated for (the stack's redoubt:asOf, or today). */
    asOf: string;
    tenants: TenantSummary[];
    resources: PlannedResource[];
    diagnostics: PlanDiagnostic[];
}

export interface PlanDocument {
    format: typeof PLAN_FORMAT;
    policyPack?: { name: string; version: string } | null;
    stacks: StackPlan[];
}

export interface PlanOptions {
    stacks?: readonly string[];
    tenantsDir?: string;
    projectDir?: string;
    /** The policy pack directory; default <projectDir>/policies. */
    packDir?: string;
    /**
     * The git revision the ledger must only extend (entries never removed or changed).
     * @default "HEAD" (skipped outside a git work tree, or in a repository with no commit)
     */
    ledgerBase?: string;
    /**
     * Plan as every stack's first real preview: generated values and secrets unknown.
     * @default false
     */
    firstPreview?: boolean;
    /** Pin every stack's redoubt:asOf. */
    asOf?: string;
    /** Per stack, config keys to override or add (full `redoubt:key` names). */
    configOverrides?: Record<string, Record<string, string>>;
    /** Per-policy config, as `pulumi preview --policy-pack-config` takes it; merged over the plan's own (asOf). */
    policyConfig?: PolicyConfig;
    /** false: skip the policy pack (diagnostics empty, policyPack null). */
    policy?: boolean;
    progress?: (message: string) => void;
    /** Called with the captured runs before summarising (tests use it to alter resources). */
    transformRuns?: (runs: StackRun[]) => StackRun[];
}

/** Every stack file of the project: stacks/Pulumi.<stack>.yaml → stack name. */
export function stackNames(projectDir: string): string[] {
    return fs
        .readdirSync(path.join(projectDir, "stacks"))
        .flatMap((f) => stackOfFile(f) ?? [])
        .sort();
}

/**
 * The stacks a plan covers when none are named: every stack file of the
 * project, backup stacks first (the primary reads their outputs), the shipped
 * ones in their usual order. A new backup site's stack file is planned, and
 * its boxes checked by the policy pack, without anyone listing it in code.
 */
export function projectStacks(projectDir: string = PROJECT_DIR): string[] {
    const known = stackNames(projectDir);
    const shipped: readonly string[] = DEFAULT_STACKS;
    const ordered = [...shipped.filter((s) => known.includes(s)), ...known.filter((s) => !shipped.includes(s))];
    const isBackup = (stack: string): boolean => {
        try {
            return readStackConfigFile(stack, projectDir)["redoubt:role"] === "backup";
        } catch {
            return stack.startsWith("backup-"); // validateInputs reports the broken file
        }
    };
    return [...ordered.filter(isBackup), ...ordered.filter((s) => !isBackup(s))];
}

/**
 * Validates every stack config, the tenant set, and the set as a whole
 * (stack-set checks: coverage, backup sites, dates, images) before anything
 * runs; throws StackConfigError / TenantSetError / StackSetError.
 */
export function validateInputs(options: PlanOptions): { configs: Map<string, { raw: Record<string, string>; config: StackConfig }>; tenants: Map<string, LoadedTenant[]> } {
    const configs = new Map<string, { raw: Record<string, string>; config: StackConfig }>();
    const tenants = new Map<string, LoadedTenant[]>();
    const projectDir = options.projectDir ?? PROJECT_DIR;
    const known = stackNames(projectDir);
    const planned = options.stacks ?? projectStacks(projectDir);
    for (const stack of planned) {
        if (!known.includes(stack)) {
            throw new StackConfigError(`stacks/Pulumi.${stack}.yaml`, [
                { field: "(file)", message: `does not exist: there is no stack named ${stack} (known: ${known.join(", ")})` },
            ]);
        }
    }
    // Every stack of the project is read, not only the planned ones: a stack that drops a tenant is seen either way.
    const entries: StackEntry[] = [];
    for (const stack of [...planned, ...known.filter((s) => !planned.includes(s))]) {
        const file = `stacks/Pulumi.${stack}.yaml`;
        const fromFile = readStackConfigFile(stack, projectDir);
        const raw = stackConfig(stack, fromFile, options);
        const config = parseStackConfig(raw, file);
        const dir = tenantsDirOf(config, options);
        if (!tenants.has(dir)) tenants.set(dir, loadTenants(dir));
        if (planned.includes(stack)) configs.set(stack, { raw, config });
        entries.push({ stack, file, config, filePin: fromFile["redoubt:asOf"], asOf: config.asOf ?? todayUtc(), tenants: tenants.get(dir)! });
    }
    const ledgerProblems = [...tenants.keys()].flatMap((dir) => ledgerHistoryProblems(dir, options.ledgerBase));
    if (ledgerProblems.length > 0) throw new TenantSetError(ledgerProblems);
    const problems = checkStackSet(entries, { today: todayUtc(), projectDir });
    if (problems.length > 0) throw new StackSetError(problems);
    return { configs, tenants };
}

/** The validated stack configs by stack name, without their raw text. */
export function stackConfigsOf(validated: ReturnType<typeof validateInputs>): Map<string, StackConfig> {
    return new Map([...validated.configs].map(([stack, { config }]) => [stack, config]));
}

/**
 * The ledger is append-only across history: compared with the ledger at the
 * base revision (the --diff base, else HEAD), no entry is removed or changed.
 */
function ledgerHistoryProblems(dir: string, ref: string | undefined): TenantFileProblem[] {
    const ledgerFile = path.join(dir, LEDGER_FILE);
    let base;
    try {
        base = ledgerAtRevision(ref ?? "HEAD", ledgerFile);
    } catch (e) {
        // HEAD may not exist yet (a repository with no commit); a revision the operator named must.
        if (e instanceof RevisionNotFoundError && ref === undefined) return [];
        throw e;
    }
    if (!base?.found) return [];
    if (base.problems.length > 0) return base.problems;
    return checkLedgerHistory(base.ledger, readLedger(dir).ledger, ledgerFile, `${ref ?? "HEAD"} (${base.commit.slice(0, 12)})`);
}

/** A stack's config for this run: its file's values, the caller's overrides, the run's date. */
function stackConfig(stack: string, fromFile: Record<string, string>, options: PlanOptions): Record<string, string> {
    const raw = { ...fromFile, ...options.configOverrides?.[stack] };
    if (options.asOf) raw["redoubt:asOf"] = options.asOf;
    return raw;
}

function tenantsDirOf(config: StackConfig, options: PlanOptions): string {
    return options.tenantsDir ? path.resolve(options.tenantsDir) : path.resolve(options.projectDir ?? PROJECT_DIR, config.tenantsDir);
}

/** The config overrides runStacks needs to apply --as-of and the caller's overrides. */
function overridesFor(stacks: readonly string[], options: PlanOptions): Record<string, Record<string, string>> {
    const out: Record<string, Record<string, string>> = {};
    const all = new Set([...stacks, ...projectStacks(options.projectDir ?? PROJECT_DIR), ...Object.keys(options.configOverrides ?? {})]);
    for (const s of all) {
        out[s] = { ...options.configOverrides?.[s], ...(options.asOf ? { "redoubt:asOf": options.asOf } : {}) };
    }
    return out;
}

function digest(value: unknown): string {
    return `sha256:${createHash("sha256")
        .update(JSON.stringify(value) ?? "undefined")
        .digest("hex")
        .slice(0, 16)}`;
}

/**
 * Replaces every secret (marker object) by "[secret]", unknowns by "[unknown]",
 * resource references by their URN. Records a digest per secret path.
 */
export function redact(value: unknown, pathPrefix = "", digests: Record<string, string> = {}): unknown {
    if (value === undefined) return undefined;
    if (pulumi.isUnknown(value)) return UNKNOWN_PLACEHOLDER;
    if (isSecretValue(value)) {
        digests[pathPrefix] = digest(value.value);
        return SECRET_PLACEHOLDER;
    }
    if (Array.isArray(value)) return value.map((v, i) => redact(v, `${pathPrefix}[${i}]`, digests) ?? null);
    if (value && typeof value === "object") {
        const o = value as Record<string, unknown>;
        if (o[SPECIAL_SIG] === RESOURCE_SIG) return String(o["urn"] ?? o["id"] ?? "");
        const out: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(o)) {
            if (k.startsWith("__")) continue;
            const r = redact(v, pathPrefix ? `${pathPrefix}.${k}` : k, digests);
            if (r !== undefined) out[k] = r;
        }
        return out;
    }
    if (typeof value === "function") return undefined;
    return value;
}

function labelsOf(inputs: Record<string, unknown>): Record<string, string> {
    const raw = inputs["labels"];
    const out: Record<string, string> = {};
    if (Array.isArray(raw)) {
        for (const e of raw)
            if (e && typeof e === "object" && typeof (e as Record<string, unknown>).label === "string")
                out[(e as { label: string }).label] = String((e as { value?: unknown }).value ?? "");
    } else if (raw && typeof raw === "object" && !isSecretValue(raw)) {
        for (const [k, v] of Object.entries(raw)) if (typeof v === "string") out[k] = v;
    }
    return out;
}

/** Which tenant a resource belongs to: its redoubt.tenant label, else its nearest TenantCell/BackupBucket ancestor (or itself). */
export function tenantsOf(resources: Pick<CapturedResource, "type" | "name" | "urn" | "parent" | "inputs">[]): Map<string, string | undefined> {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const memo = new Map<string, string | undefined>();
    const resolve = (urn: string, depth = 0): string | undefined => {
        if (memo.has(urn)) return memo.get(urn);
        const r = byUrn.get(urn);
        if (!r || depth > 100) return undefined;
        let tenant: string | undefined = labelsOf(r.inputs)[TENANT_LABEL];
        if (!tenant && TENANT_COMPONENT_TYPES.includes(r.type)) tenant = r.name;
        if (!tenant && r.parent) tenant = resolve(r.parent, depth + 1);
        memo.set(urn, tenant);
        return tenant;
    };
    for (const r of resources) resolve(r.urn);
    return memo;
}

/** Diagnostics from per-resource policies carry no URN over the wire; attribute them by the quoted resource name in the message. */
function attributeUrn(d: PolicyDiagnostic, resources: CapturedResource[]): string | undefined {
    if (d.urn) return d.urn;
    let best: CapturedResource | undefined;
    for (const r of resources) {
        if (d.message.includes(`"${r.name}"`) && (!best || r.name.length > best.name.length)) best = r;
    }
    return best?.urn;
}

function homeserverLimits(resources: PlannedResource[]): { memoryMiB?: number; cpus?: number } | undefined {
    const hs = resources.find((r) => r.type === "docker:index/container:Container" && labelsOf(r.inputs)[ROLE_LABEL] === "homeserver");
    if (!hs) return undefined;
    const memory = Number(hs.inputs["memory"]);
    const cpus = Number(hs.inputs["cpus"]);
    return { memoryMiB: Number.isFinite(memory) ? memory : undefined, cpus: Number.isFinite(cpus) ? cpus : undefined };
}

function summarise(run: StackRun, config: StackConfig, asOf: string, tenants: LoadedTenant[], resources: PlannedResource[], diagnostics: PlanDiagnostic[]): TenantSummary[] {
    const order: string[] = [];
    const byTenant = new Map<string, PlannedResource[]>();
    for (const r of resources) {
        if (!r.tenant) continue;
        if (!byTenant.has(r.tenant)) {
            byTenant.set(r.tenant, []);
            order.push(r.tenant);
        }
        byTenant.get(r.tenant)!.push(r);
    }
    const outputs = (run.outputs["tenants"] ?? {}) as Record<string, Record<string, unknown>>;
    return order.map((name) => {
        const rs = byTenant.get(name)!;
        const counts: Record<string, number> = {};
        for (const r of rs) if (r.custom) counts[r.type] = (counts[r.type] ?? 0) + 1;
        const tenant = tenants.find((t) => t.tenant.name === name)?.tenant;
        const out = outputs[name] ?? {};
        const endpoint = out["endpoint"];
        const limits = config.role === "primary" ? homeserverLimits(rs) : undefined;
        const plan = tenant ? PLANS[tenant.plan] : undefined;
        const ds = diagnostics.filter((d) => d.tenant === name);
        return {
            name,
            status: tenant ? lifecycleOf(tenant, asOf, config.deletionGraceDays).phase : undefined,
            plan: tenant?.plan,
            endpoint: endpoint === undefined ? undefined : isSecretValue(endpoint) ? SECRET_PLACEHOLDER : String(endpoint),
            limits: config.role === "primary" ? { ...limits, pids: plan?.pids } : undefined,
            backupSites: config.role === "primary" ? (Array.isArray(out["backups"]) ? (out["backups"] as string[]) : (tenant?.backups.sites ?? [])) : [config.site],
            resources: counts,
            diagnostics: { mandatory: ds.filter((d) => d.level === "mandatory").length, advisory: ds.filter((d) => d.level === "advisory").length },
        };
    });
}

/** Thrown when --policy-config would disable or loosen a promise policy. */
export class PolicyConfigError extends Error {
    constructor(readonly problems: string[]) {
        super(`the policy config is refused:\n${problems.map((p) => `  ${p}`).join("\n")}`);
        this.name = "PolicyConfigError";
    }
}

/** What a run may set on a mandatory (promise) policy: the day it judges by. Its level and thresholds are the pack's. */
export const RUN_POLICY_SETTINGS: readonly string[] = ["asOf"];

/**
 * Thresholds a run may make stricter than the pack's default, and which way is
 * stricter. Every other setting of a promise policy must keep its default.
 */
export const TIGHTENABLE_POLICY_SETTINGS: Readonly<Record<string, "lower" | "higher">> = {
    maxLogRetentionDays: "lower",
    maxCertValidityHours: "lower",
    deletionGraceDays: "lower",
    minBackupSites: "higher",
    minPasswordLength: "higher",
};

function tightens(key: string, value: unknown, fallback: unknown): boolean {
    const direction = TIGHTENABLE_POLICY_SETTINGS[key];
    if (direction === undefined || typeof value !== "number" || typeof fallback !== "number" || !Number.isFinite(value)) return false;
    return direction === "lower" ? value <= fallback : value >= fallback;
}

/**
 * Problems with a caller's policy config: a policy the pack does not have, a
 * mandatory policy made advisory or disabled, a mandatory policy's setting
 * changed other than a threshold made stricter. Advisory policies may be
 * configured freely.
 */
export function policyConfigProblems(policies: readonly PolicyInfo[], config: PolicyConfig): string[] {
    const problems: string[] = [];
    const byName = new Map(policies.map((p) => [p.name, p]));
    for (const [name, settings] of Object.entries(config)) {
        const policy = byName.get(name);
        if (!policy) {
            problems.push(`'${name}' is not a policy of the pack; known: ${[...byName.keys()].sort().join(", ")}.`);
            continue;
        }
        if (policy.enforcementLevel !== "mandatory") continue;
        for (const [key, value] of Object.entries(settings)) {
            if (key === "enforcementLevel") {
                if (value !== "mandatory")
                    problems.push(`'${name}' keeps a privacy promise; it cannot be set to ${JSON.stringify(value)}. Remove that setting: it stays mandatory.`);
            } else if (
                !RUN_POLICY_SETTINGS.includes(key) &&
                JSON.stringify(value) !== JSON.stringify(policy.configDefaults[key]) &&
                !tightens(key, value, policy.configDefaults[key])
            ) {
                const direction = TIGHTENABLE_POLICY_SETTINGS[key];
                problems.push(
                    `'${name}' keeps a privacy promise; its ${key} is ${JSON.stringify(policy.configDefaults[key] ?? null)} in the pack${direction ? ` and may only be made ${direction}` : ""}, not ${JSON.stringify(value)}. Change the pack in policies/ with a review, not per run.`,
                );
            }
        }
    }
    return problems;
}

/** Per-policy config for one stack: asOf for the policies that take it, then the caller's config. */
function policyConfigFor(session: PolicyPackSession, asOf: string, extra: PolicyConfig | undefined): PolicyConfig {
    const config: PolicyConfig = {};
    for (const p of session.policies) if ("asOf" in p.configDefaults) config[p.name] = { asOf };
    for (const [name, values] of Object.entries(extra ?? {})) config[name] = { ...config[name], ...values };
    return config;
}

/** Runs the whole offline plan. Throws StackConfigError / TenantSetError before starting anything when inputs are invalid. */
export async function buildPlan(options: PlanOptions = {}): Promise<PlanDocument> {
    const projectDir = options.projectDir ?? PROJECT_DIR;
    const stacks = options.stacks ?? projectStacks(projectDir);
    const { configs, tenants } = validateInputs(options);
    const progress = options.progress;
    // Start the pack first: it type-checks itself (seconds) in its own process while the mocks run here.
    const sessionPromise =
        options.policy === false
            ? undefined
            : startPolicyPack({ packDir: options.packDir ?? path.join(projectDir, "policies"), project: "redoubt", stack: stacks.join(","), timeoutMs: 180_000 });
    sessionPromise?.catch(() => undefined); // observed below
    let session: PolicyPackSession | undefined;
    try {
        let lastReport = 0;
        let runs = await runStacks({
            stacks,
            tenantsDir: options.tenantsDir ? path.resolve(options.tenantsDir) : undefined,
            projectDir,
            configOverrides: overridesFor(stacks, options),
            firstPreview: options.firstPreview,
            onResource: progress
                ? (stack, count) => {
                      const now = Date.now();
                      if (now - lastReport > 250) {
                          lastReport = now;
                          progress(`planning ${stack}: ${count} resources...`);
                      }
                  }
                : undefined,
        });
        if (options.transformRuns) runs = options.transformRuns(runs);
        if (sessionPromise) {
            progress?.("waiting for the policy pack to start...");
            session = await sessionPromise;
            const refused = policyConfigProblems(session.policies, options.policyConfig ?? {});
            if (refused.length > 0) throw new PolicyConfigError(refused);
        }
        const result: StackPlan[] = [];
        for (const run of runs) {
            const { config } = configs.get(run.stack)!;
            const asOf = config.asOf ?? todayUtc();
            const owners = tenantsOf(run.resources);
            const resources: PlannedResource[] = run.resources.map((r) => {
                const digests: Record<string, string> = {};
                const inputs = redact(r.inputs, "", digests) as Record<string, unknown>;
                const planned: PlannedResource = {
                    type: r.type,
                    name: r.name,
                    urn: r.urn,
                    parent: r.parent,
                    protect: r.protect,
                    custom: r.custom,
                    tenant: owners.get(r.urn),
                    inputs,
                };
                if (Object.keys(digests).length > 0) planned.secretDigests = digests;
                return planned;
            });
            let diagnostics: PlanDiagnostic[] = [];
            if (session) {
                progress?.(`checking ${run.stack}: ${run.resources.length} resources against policy pack ${session.policyPackName}...`);
                const analysed = await session.analyze(run.resources, policyConfigFor(session, asOf, options.policyConfig));
                diagnostics = analysed.diagnostics.map((d) => {
                    const urn = attributeUrn(d, run.resources);
                    return { policy: d.policyName, policyPack: d.policyPackName, level: d.enforcementLevel, urn, tenant: urn ? owners.get(urn) : undefined, message: d.message };
                });
            }
            const loaded = tenants.get(tenantsDirOf(config, options)) ?? [];
            result.push({
                stack: run.stack,
                role: config.role,
                site: config.site,
                country: config.country,
                asOf,
                tenants: summarise(run, config, asOf, loaded, resources, diagnostics),
                resources,
                diagnostics,
            });
        }
        return {
            format: PLAN_FORMAT,
            policyPack: session ? { name: session.policyPackName, version: session.policyPackVersion } : null,
            stacks: result,
        };
    } finally {
        const s = session ?? (await sessionPromise?.catch(() => undefined));
        await s?.close();
    }
}

/** 2 when any mandatory diagnostic, else 0. */
export function planExitCode(doc: PlanDocument): 0 | 2 {
    return doc.stacks.some((s) => s.diagnostics.some((d) => d.level === "mandatory")) ? 2 : 0;
}

/** Short type name for display: `docker:index/container:Container` → `docker:Container`. */
export function shortType(type: string): string {
    const parts = type.split(":");
    return parts.length >= 3 ? `${parts[0]}:${parts[parts.length - 1]}` : type;
}

/** The plan's message without the policy's description line (the pack prefixes every message with it). */
export function diagnosticText(d: PlanDiagnostic): string {
    const nl = d.message.indexOf("\n");
    return nl >= 0 ? d.message.slice(nl + 1).trim() : d.message;
}

function formatDiagnostic(d: PlanDiagnostic, indent: string): string {
    const level = d.level === "mandatory" ? "MANDATORY" : d.level;
    return `${indent}[${level}] ${d.policy}: ${diagnosticText(d).replace(/\n/g, `\n${indent}    `)}`;
}

/** The human-readable plan. */
export function renderPlan(doc: PlanDocument): string {
    const lines: string[] = [];
    for (const s of doc.stacks) {
        const count = s.resources.filter((r) => r.custom).length;
        lines.push(`Stack ${s.stack} (${s.role}, ${s.site}, ${s.country}; as of ${s.asOf}): ${s.tenants.length} tenant${s.tenants.length === 1 ? "" : "s"}, ${count} resources`);
        for (const t of s.tenants) {
            lines.push(`  tenant ${t.name}${t.status ? ` [${t.status}]` : ""}${t.plan ? ` plan ${t.plan}` : ""}`);
            if (t.endpoint) lines.push(`    endpoint: ${t.endpoint}`);
            if (t.limits) {
                const l = t.limits;
                const hs =
                    l.memoryMiB === undefined && l.cpus === undefined
                        ? "no homeserver container (not served)"
                        : `homeserver memory ${l.memoryMiB ?? "?"} MiB, cpus ${l.cpus ?? "?"}`;
                lines.push(`    limits:   ${hs}; processes ${l.pids ?? "?"} (tenant slice)`);
            }
            lines.push(`    backups:  ${t.backupSites.join(", ") || "(none)"}`);
            const counts = Object.entries(t.resources).sort(([a], [b]) => a.localeCompare(b));
            lines.push(`    resources: ${counts.map(([type, n]) => `${n} ${shortType(type)}`).join(", ")}`);
            const ds = s.diagnostics.filter((d) => d.tenant === t.name);
            for (const d of ds) lines.push(formatDiagnostic(d, "    "));
        }
        const shared = s.resources.filter((r) => r.custom && !r.tenant);
        if (shared.length > 0) {
            const counts = new Map<string, number>();
            for (const r of shared) counts.set(r.type, (counts.get(r.type) ?? 0) + 1);
            lines.push(
                `  shared (no tenant): ${[...counts]
                    .sort(([a], [b]) => a.localeCompare(b))
                    .map(([type, n]) => `${n} ${shortType(type)}`)
                    .join(", ")}`,
            );
            for (const d of s.diagnostics.filter((d) => !d.tenant)) lines.push(formatDiagnostic(d, "    "));
        } else {
            for (const d of s.diagnostics.filter((d) => !d.tenant)) lines.push(formatDiagnostic(d, "  "));
        }
        const m = s.diagnostics.filter((d) => d.level === "mandatory").length;
        const a = s.diagnostics.filter((d) => d.level === "advisory").length;
        lines.push(`  policies: ${doc.policyPack ? `${doc.policyPack.name} ${doc.policyPack.version}: ` : "not run: "}${m} mandatory, ${a} advisory`);
        lines.push("");
    }
    const mandatory = doc.stacks.flatMap((s) => s.diagnostics.filter((d) => d.level === "mandatory"));
    lines.push(
        mandatory.length > 0
            ? `FAILED: ${mandatory.length} mandatory policy violation${mandatory.length === 1 ? "" : "s"} (${[...new Set(mandatory.map((d) => d.policy))].join(", ")}); pulumi preview/up would refuse this.`
            : "OK: no mandatory policy violation.",
    );
    return lines.join("\n");
}
