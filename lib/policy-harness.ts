// Runs a CrossGuard policy pack the way the Pulumi CLI does, without the CLI:
// start `node run-policy-pack <engine> .` in the pack directory, read the
// port it prints, then speak the pulumirpc.Analyzer gRPC protocol to it
// (GetAnalyzerInfo -> ConfigureStack -> Configure -> Analyze per resource ->
// AnalyzeStack) and always stop the process afterwards.
//
// Used by the policy tests and by the offline `npm run plan`.
import { spawn, type ChildProcess } from "node:child_process";
import { ensurePackBuilt } from "./policy-build";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { RESOURCE_SIGNATURE, SECRET_SIGNATURE, SECRET_SIGNATURE_KEY, UNKNOWN_VALUE } from "./sdk-wire";

/** A resource as a mocked Pulumi run registered it. */
export interface CapturedResource {
    type: string;
    name: string;
    urn: string;
    /** The parent's URN. */
    parent?: string;
    protect: boolean;
    /** Inputs as the mocks saw them: may hold secret markers, `pulumi.unknown`s and resource references. */
    inputs: Record<string, unknown>;
    custom: boolean;
    /**
     * The resource's outputs after the update, what the engine's AnalyzeStack sends (Analyze sends
     * inputs). Absent: a custom resource's outputs are taken to echo its inputs (the Docker,
     * command, random and tls providers return their inputs in their state); a component has none.
     */
    outputs?: Record<string, unknown>;
    /** URNs of explicit dependsOn resources, passed to AnalyzeStack. */
    dependencies?: string[];
}

export type EnforcementLevel = "advisory" | "mandatory" | "disabled" | "remediate";

export interface PolicyDiagnostic {
    policyName: string;
    policyPackName: string;
    message: string;
    enforcementLevel: EnforcementLevel;
    urn?: string;
}

export interface NotApplicable {
    policyName: string;
    reason: string;
}

export interface PolicyInfo {
    name: string;
    description: string;
    enforcementLevel: EnforcementLevel;
    kind: "resource" | "stack" | "unknown";
    /** The config schema's defaults, e.g. {maxLogRetentionDays: 30}. */
    configDefaults: Record<string, unknown>;
}

/** Per-policy config overrides, keyed by policy name (`all` applies to every policy), as in the CLI's policy config file. */
export type PolicyConfig = Record<string, Record<string, unknown>>;

export interface PolicyPackOptions {
    /** The pack directory (holds PulumiPolicy.yaml, package.json, index.ts). */
    packDir: string;
    config?: PolicyConfig;
    stack?: string;
    project?: string;
    organization?: string;
    /** Stack config as `project:key` -> string, passed as PULUMI_CONFIG and in ConfigureStack. */
    stackConfig?: Record<string, string>;
    stackTags?: Record<string, string>;
    /**
     * How long the pack may take to start and print its port (a TypeScript `main` is type-checked by
     * ts-node first; ours is compiled, see lib/policy-build.ts).
     * Every call after that has its own deadline (PACK_CALL_DEADLINES_MS), so a long run is not
     * cut short by one budget for everything.
     * @default 60000
     */
    timeoutMs?: number;
    dryRun?: boolean;
    /** Called with the pack's process id right after it is spawned (tests use it to check it is gone). */
    onSpawn?: (pid: number) => void;
}

export interface PolicyRunResult {
    policyPackName: string;
    policyPackVersion: string;
    policies: PolicyInfo[];
    diagnostics: PolicyDiagnostic[];
    notApplicable: NotApplicable[];
    /** The pack process id (already stopped when runPolicyPack returns). */
    pid: number;
    /** Milliseconds from spawn to the port on stdout. */
    startMs: number;
}

/** Mandatory diagnostics only: the ones that fail a CLI preview or update. */
export function mandatory(diags: PolicyDiagnostic[]): PolicyDiagnostic[] {
    return diags.filter((d) => d.enforcementLevel === "mandatory");
}

// ---------------------------------------------------------------------------
// gRPC stubs: the copies @pulumi/pulumi resolves (instanceof checks in the
// generated code need the same google-protobuf / grpc-js instances).

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-require-imports -- untyped generated stubs, resolved from @pulumi/pulumi's own dependencies */
const pulumiDir = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
const grpc: any = require(require.resolve("@grpc/grpc-js", { paths: [pulumiDir] }));
const structpb: any = require(require.resolve("google-protobuf/google/protobuf/struct_pb", { paths: [pulumiDir] }));
const emptypb: any = require(require.resolve("google-protobuf/google/protobuf/empty_pb", { paths: [pulumiDir] }));
const analyzerpb: any = require("@pulumi/pulumi/proto/analyzer_pb");
const analyzergrpc: any = require("@pulumi/pulumi/proto/analyzer_grpc_pb");

const SPECIAL_SIG = SECRET_SIGNATURE_KEY;
const SECRET_SIG = SECRET_SIGNATURE;
const RESOURCE_SIG = RESOURCE_SIGNATURE;
const UNKNOWN = UNKNOWN_VALUE;

const LEVELS: EnforcementLevel[] = ["advisory", "mandatory", "disabled", "remediate"];
const levelName = (n: number): EnforcementLevel => LEVELS[n] ?? "advisory";
const levelNumber = (l: string): number => Math.max(0, LEVELS.indexOf(l as EnforcementLevel));

/**
 * Encodes mock inputs the way the engine hands them to an analyzer: secret
 * markers kept (the pack unwraps them), unknowns as the sentinel string,
 * resource references flattened to their id (or URN), `__` keys and undefined
 * values dropped.
 */
export function encodeProperty(v: unknown): unknown {
    if (v === undefined || typeof v === "function") return undefined;
    if (pulumi.isUnknown(v)) return UNKNOWN;
    if (v === null || typeof v === "string" || typeof v === "boolean") return v;
    if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
    if (typeof v === "bigint") return Number(v);
    if (Array.isArray(v)) return v.map((e) => encodeProperty(e) ?? null);
    if (v instanceof Date) return v.toISOString();
    if (Buffer.isBuffer(v)) return v.toString("base64");
    if (typeof v === "object") {
        const o = v as Record<string, unknown>;
        if (o[SPECIAL_SIG] === SECRET_SIG) return { [SPECIAL_SIG]: SECRET_SIG, value: encodeProperty(o["value"]) ?? null };
        if (o[SPECIAL_SIG] === RESOURCE_SIG) {
            const id = o["id"];
            return typeof id === "string" && id !== "" ? id : String(o["urn"] ?? "");
        }
        const out: Record<string, unknown> = {};
        for (const [k, e] of Object.entries(o)) {
            if (k.startsWith("__")) continue;
            const enc = encodeProperty(e);
            if (enc !== undefined) out[k] = enc;
        }
        return out;
    }
    return String(v);
}

function toStruct(props: Record<string, unknown>): any {
    return structpb.Struct.fromJavaScript(encodeProperty(props) ?? {});
}

function resourceOptions(r: CapturedResource): any {
    const opts = new analyzerpb.AnalyzerResourceOptions();
    opts.setProtect(r.protect);
    opts.setIgnorechangesList([]);
    opts.setDeletebeforereplace(false);
    opts.setDeletebeforereplacedefined(false);
    opts.setAdditionalsecretoutputsList([]);
    opts.setAliasesList([]);
    opts.setCustomtimeouts(new analyzerpb.AnalyzerResourceOptions.CustomTimeouts());
    if (r.parent) opts.setParent(r.parent);
    return opts;
}

/** Each call's own deadline, in ms: one resource's Analyze, the whole stack's AnalyzeStack, and the set-up calls. */
export const PACK_CALL_DEADLINES_MS = {
    getAnalyzerInfo: 30_000,
    configureStack: 30_000,
    configure: 30_000,
    analyze: 30_000,
    analyzeStack: 300_000,
} as const;
export type PackCall = keyof typeof PACK_CALL_DEADLINES_MS;

/** grpc's status code for a call whose deadline passed (@grpc/grpc-js status.DEADLINE_EXCEEDED). */
const DEADLINE_EXCEEDED = 4;

/** A failed call to the pack as an error that says which call, for what, and (on a deadline) how long it had. */
export function packCallError(err: Error & { code?: number }, method: PackCall, subject?: string): Error {
    const what = `policy pack call ${method}${subject ? ` for ${subject}` : ""}`;
    if (err.code === DEADLINE_EXCEEDED) return new Error(`${what} got no answer within its ${PACK_CALL_DEADLINES_MS[method]} ms deadline`, { cause: err });
    return new Error(`${what} failed: ${err.message}`, { cause: err });
}

function unary<Req>(client: any, method: PackCall, req: Req, subject?: string): Promise<any> {
    return new Promise((resolve, reject) => {
        client[method](req, { deadline: new Date(Date.now() + PACK_CALL_DEADLINES_MS[method]) }, (err: (Error & { code?: number }) | null, res: any) =>
            err ? reject(packCallError(err, method, subject)) : resolve(res),
        );
    });
}

/** `resourceUrn`: a resource policy's diagnostics concern the analyzed resource; the CLI attributes them to it likewise. */
function readDiagnostics(res: any, out: PolicyDiagnostic[], na: NotApplicable[], resourceUrn?: string): void {
    for (const d of res.getDiagnosticsList()) {
        const diag: PolicyDiagnostic = {
            policyName: d.getPolicyname(),
            policyPackName: d.getPolicypackname(),
            message: d.getMessage(),
            enforcementLevel: levelName(d.getEnforcementlevel()),
        };
        const urn = d.getUrn() || resourceUrn;
        if (urn) diag.urn = urn;
        out.push(diag);
    }
    for (const n of res.getNotApplicableList?.() ?? []) na.push({ policyName: n.getPolicyName(), reason: n.getReason() });
}

// Every pack process this module started and has not seen exit; killed if the
// test runner (or plan CLI) exits first.
const live = new Set<ChildProcess>();
process.once("exit", () => {
    for (const c of live) c.kill("SIGKILL");
});

/** A started policy pack. Call close() when done (runPolicyPack does it for you). */
export interface PolicyPackSession {
    pid: number;
    startMs: number;
    policyPackName: string;
    policyPackVersion: string;
    policies: PolicyInfo[];
    /** Configure the pack and analyze one set of resources (may be called several times). */
    analyze(resources: CapturedResource[], config?: PolicyConfig): Promise<{ diagnostics: PolicyDiagnostic[]; notApplicable: NotApplicable[] }>;
    /** Stops the process and waits for it to exit. Safe to call twice. */
    close(): Promise<void>;
}

/** A spawned pack process: stop it with close(); stderr() is what it printed so far. */
interface PackProcess {
    child: ChildProcess;
    close: () => Promise<void>;
    stderr: () => string;
    isClosed: () => boolean;
    /** The gRPC client, once connected; closed with the process. */
    client?: any;
}

/** Spawns the pack as the CLI does: `run-policy-pack <engine address> .` in the pack's directory, stack facts in its environment. */
function spawnPack(opts: PolicyPackOptions, packDir: string, names: { project: string; stack: string; organization: string }): PackProcess {
    const runner = require.resolve("@pulumi/pulumi/cmd/run-policy-pack");
    // The CLI passes its engine's address; the policy pack never calls it, so
    // an address nothing listens on is enough.
    const engineAddr = "127.0.0.1:1";
    const child = spawn(process.execPath, [runner, engineAddr, "."], {
        cwd: packDir,
        env: {
            ...process.env,
            PULUMI_CONFIG: JSON.stringify(opts.stackConfig ?? {}),
            PULUMI_NODEJS_PROJECT: names.project,
            PULUMI_NODEJS_STACK: names.stack,
            PULUMI_NODEJS_ORGANIZATION: names.organization,
            PULUMI_NODEJS_DRY_RUN: String(opts.dryRun ?? true),
        },
        stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(child);
    if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    const exited = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        child.once("exit", () => {
            live.delete(child);
            resolve();
        });
    });
    let stderr = "";
    child.stderr?.on("data", (d) => (stderr += String(d)));
    let closed = false;
    const pack: PackProcess = {
        child,
        stderr: () => stderr,
        isClosed: () => closed,
        close: async () => {
            if (closed) return exited;
            closed = true;
            try {
                pack.client?.close();
            } catch {
                /* already closed */
            }
            if (child.exitCode === null && child.signalCode === null) {
                child.kill("SIGTERM");
                const forced = setTimeout(() => child.kill("SIGKILL"), 2_000);
                await exited;
                clearTimeout(forced);
            }
            await exited;
        },
    };
    return pack;
}

/** The port the pack prints on its first line of stdout, as the CLI reads it. */
function waitForPort(pack: PackProcess, packDir: string, timeoutMs: number): Promise<number> {
    const { child } = pack;
    return new Promise<number>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error(`policy pack in ${packDir} printed no port within ${timeoutMs} ms\n${pack.stderr()}`)), timeoutMs);
        child.stdout?.on("data", (d) => {
            out += String(d);
            const nl = out.indexOf("\n");
            if (nl >= 0) {
                clearTimeout(timer);
                const port = Number(out.slice(0, nl).trim());
                if (Number.isInteger(port) && port > 0) resolve(port);
                else reject(new Error(`policy pack printed ${JSON.stringify(out.slice(0, nl))} instead of a port\n${pack.stderr()}`));
            }
        });
        child.once("error", (e) => {
            clearTimeout(timer);
            reject(e);
        });
        child.once("exit", (code, signal) => {
            clearTimeout(timer);
            reject(new Error(`policy pack exited (${signal ?? code}) before printing its port:\n${pack.stderr()}`));
        });
    });
}

interface AnalyzerInfo {
    name: string;
    version: string;
    policies: PolicyInfo[];
    /** The pack's own initial config per policy (enforcement level and properties). */
    initial: Map<string, Record<string, unknown>>;
}

/** GetAnalyzerInfo: the pack's name, version, policies with their config defaults, and its initial config. */
async function readAnalyzerInfo(client: any): Promise<AnalyzerInfo> {
    const info = await unary(client, "getAnalyzerInfo", new emptypb.Empty());
    const initial = new Map<string, Record<string, unknown>>();
    info.getInitialconfigMap().forEach((v: any, k: string) => {
        initial.set(k, { ...(v.getProperties()?.toJavaScript() ?? {}), enforcementLevel: levelName(v.getEnforcementlevel()) });
    });
    const policies: PolicyInfo[] = info.getPoliciesList().map((p: any): PolicyInfo => {
        const schema = p.getConfigschema()?.getProperties()?.toJavaScript() ?? {};
        const configDefaults: Record<string, unknown> = {};
        for (const [k, s] of Object.entries(schema as Record<string, any>)) if (s && "default" in s) configDefaults[k] = s.default;
        const kind = p.getPolicyType?.() === 1 ? "resource" : p.getPolicyType?.() === 2 ? "stack" : "unknown";
        return { name: p.getName(), description: p.getDescription(), enforcementLevel: levelName(p.getEnforcementlevel()), kind, configDefaults };
    });
    return { name: info.getName(), version: info.getVersion(), policies, initial };
}

/** ConfigureStack (present in this proto): the CLI always sends it for a stack. */
async function configureStack(client: any, opts: PolicyPackOptions, names: { project: string; stack: string; organization: string }): Promise<void> {
    if (typeof client.configureStack !== "function") return;
    const req = new analyzerpb.AnalyzerStackConfigureRequest();
    req.setStack(names.stack);
    req.setProject(names.project);
    req.setOrganization(names.organization);
    req.setDryRun(opts.dryRun ?? true);
    for (const [k, v] of Object.entries(opts.stackConfig ?? {})) req.getConfigMap().set(k, v);
    for (const [k, v] of Object.entries(opts.stackTags ?? {})) req.getTagsMap().set(k, v);
    await unary(client, "configureStack", req);
}

/** Configure: every policy's level and properties, its defaults overlaid by the pack's initial config and the caller's. */
async function configurePolicies(client: any, info: AnalyzerInfo, config: PolicyConfig): Promise<void> {
    const req = new analyzerpb.ConfigureAnalyzerRequest();
    for (const p of info.policies) {
        const merged: Record<string, unknown> = { ...p.configDefaults, ...(info.initial.get(p.name) ?? {}), ...(config["all"] ?? {}), ...(config[p.name] ?? {}) };
        const level = String(merged["enforcementLevel"] ?? p.enforcementLevel);
        delete merged["enforcementLevel"];
        const pc = new analyzerpb.PolicyConfig();
        pc.setEnforcementlevel(levelNumber(level));
        pc.setProperties(structpb.Struct.fromJavaScript(merged));
        req.getPolicyconfigMap().set(p.name, pc);
    }
    await unary(client, "configure", req);
}

/** AnalyzeRequest and AnalyzerResource share these fields. */
function describeResource<M extends { setType(v: string): void; setProperties(v: unknown): void; setUrn(v: string): void; setName(v: string): void; setOptions(v: unknown): void }>(
    message: M,
    r: CapturedResource,
    properties: Record<string, unknown>,
): M {
    message.setType(r.type);
    message.setProperties(toStruct(properties));
    message.setUrn(r.urn);
    message.setName(r.name);
    message.setOptions(resourceOptions(r));
    return message;
}

/** Analyze each resource (its inputs), then AnalyzeStack (every resource's outputs), as the engine calls them. */
async function analyzeResources(client: any, resources: CapturedResource[]): Promise<{ diagnostics: PolicyDiagnostic[]; notApplicable: NotApplicable[] }> {
    const diagnostics: PolicyDiagnostic[] = [];
    const notApplicable: NotApplicable[] = [];
    for (const r of resources) {
        // Analyze (per resource, before it is created or updated) sees the inputs.
        const req = describeResource(new analyzerpb.AnalyzeRequest(), r, r.inputs);
        readDiagnostics(await unary(client, "analyze", req, r.urn), diagnostics, notApplicable, r.urn);
    }
    const stackReq = new analyzerpb.AnalyzeStackRequest();
    stackReq.setResourcesList(
        resources.map((r) => {
            // AnalyzeStack (after the update) sees outputs, as the engine sends them
            // (pulumi pkg/resource/deploy/step_generator.go, AnalyzeResources: "Unlike Analyze, AnalyzeStack is
            // called on the final outputs of each resource"; Properties: v.Outputs).
            const ar = describeResource(new analyzerpb.AnalyzerResource(), r, r.outputs ?? (r.custom ? r.inputs : {}));
            if (r.parent) ar.setParent(r.parent);
            ar.setDependenciesList(r.dependencies ?? []);
            return ar;
        }),
    );
    readDiagnostics(await unary(client, "analyzeStack", stackReq, `${resources.length} resources`), diagnostics, notApplicable);
    return { diagnostics, notApplicable };
}

/** Starts the pack the way the CLI does and reads its analyzer info: spawn, port, connect, info, stack config. */
export async function startPolicyPack(opts: PolicyPackOptions): Promise<PolicyPackSession> {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const started = Date.now();
    const packDir = path.resolve(opts.packDir);
    const names = { project: opts.project ?? "redoubt", stack: opts.stack ?? "policy-test", organization: opts.organization ?? "organization" };
    ensurePackBuilt(packDir);
    const pack = spawnPack(opts, packDir, names);
    try {
        const port = await waitForPort(pack, packDir, timeoutMs);
        const startMs = Date.now() - started;
        const client = new analyzergrpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
        pack.client = client;
        const info = await readAnalyzerInfo(client);
        await configureStack(client, opts, names);
        const analyze = async (resources: CapturedResource[], config: PolicyConfig = opts.config ?? {}) => {
            if (pack.isClosed()) throw new Error("policy pack session is closed");
            await configurePolicies(client, info, config);
            return analyzeResources(client, resources);
        };
        return {
            pid: pack.child.pid!,
            startMs,
            policyPackName: info.name,
            policyPackVersion: info.version,
            policies: info.policies,
            // No budget for the whole analysis: every call has its own deadline, and a failed call stops the pack.
            analyze: (resources, config) =>
                analyze(resources, config).catch(async (e: unknown) => {
                    const stderr = pack.stderr();
                    await pack.close();
                    throw e instanceof Error && stderr ? new Error(`${e.message}\n${stderr}`, { cause: e }) : e;
                }),
            close: pack.close,
        };
    } catch (e) {
        await pack.close();
        throw e;
    }
}

/** Starts the pack, analyzes `resources` (each, then the stack), and always stops the pack. */
export async function runPolicyPack(resources: CapturedResource[], opts: PolicyPackOptions): Promise<PolicyRunResult> {
    const session = await startPolicyPack(opts);
    try {
        const { diagnostics, notApplicable } = await session.analyze(resources, opts.config ?? {});
        return {
            policyPackName: session.policyPackName,
            policyPackVersion: session.policyPackVersion,
            policies: session.policies,
            diagnostics,
            notApplicable,
            pid: session.pid,
            startMs: session.startMs,
        };
    } finally {
        await session.close();
    }
}
