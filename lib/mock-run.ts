// Runs the stack program in-process under the SDK's mocks and captures every
// resource it registers: type, name, URN with the full parent chain, parent,
// protect, and inputs as the engine would receive them (secrets still
// marked). The offline plan, the end-to-end tests and the policy harness all
// start here. No Pulumi CLI, no provider plugin, no network.
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { SECRET_SIGNATURE, SECRET_SIGNATURE_KEY } from "./sdk-wire";
import { parseDocument } from "yaml";
import { SECRET_KEYS, StackConfigError } from "../stacks/config";
import { digestReference } from "../components/images";
import { defineStack } from "../stacks/program";
// The SDK's runtime settings hold the (mock) monitor this run registered with.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const runtimeSettings = require("@pulumi/pulumi/runtime/settings") as { getMonitor(): unknown };
import type { CapturedResource as AnalyzedResource } from "./policy-harness";

export const PROJECT = "redoubt";
export const PROJECT_DIR = path.join(__dirname, "..");
/** The SDK's marker for a secret value in serialized properties. */
export { SECRET_SIGNATURE, SECRET_SIGNATURE_KEY };

/** One resource as the program registered it: what the policy harness analyzes, with its dependencies always known. */
export interface CapturedResource extends AnalyzedResource {
    /** URNs of explicit dependsOn resources. */
    dependencies: string[];
}

/** A stack output leaf that is secret, as captured. */
export interface SecretValue {
    [SECRET_SIGNATURE_KEY]: typeof SECRET_SIGNATURE;
    value: unknown;
}

export interface StackRun {
    stack: string;
    resources: CapturedResource[];
    /** Stack outputs, resolved; secret leaves as SecretValue. */
    outputs: Record<string, unknown>;
}

/** Outputs of another stack, as a StackReference sees them. */
export type StackReferences = Record<string, Record<string, unknown>>;

export interface MockRunOptions {
    stack: string;
    /** Full `namespace:key` → value, as stored in Pulumi.<stack>.yaml (structured values as JSON text). */
    config: Record<string, string>;
    /** Tenant directory; default the stack config's tenantsDir. */
    tenantsDir?: string;
    projectDir?: string;
    /** Outputs of the stacks this one references, by stack name. */
    stackReferences?: StackReferences;
    /** Report each registered resource (progress for long runs). */
    onResource?: (count: number) => void;
    /** This run's explicit lifecycle date (as REDOUBT_AS_OF gives it to a CLI run). */
    asOf?: string;
    /**
     * Answer as a stack's first preview: nothing exists yet, so every value a provider computes
     * (ids, generated passwords and keys, certificates, box hosts) is unknown.
     * @default false (the mocks' deterministic stand-ins)
     */
    firstPreview?: boolean;
}

export function isSecretValue(value: unknown): value is SecretValue {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIGNATURE_KEY] === SECRET_SIGNATURE;
}

/** Reads stacks/Pulumi.<stack>.yaml into the flat key → string form Pulumi hands a program. */
export function readStackConfigFile(stack: string, projectDir: string = PROJECT_DIR): Record<string, string> {
    const shown = `stacks/Pulumi.${stack}.yaml`;
    const file = path.join(projectDir, "stacks", `Pulumi.${stack}.yaml`);
    const fail = (field: string, message: string): never => {
        throw new StackConfigError(shown, [{ field, message }]);
    };
    let text: string;
    try {
        if (!fs.statSync(file).isFile()) fail("(file)", "is not a regular file");
        text = fs.readFileSync(file, "utf8");
    } catch (e) {
        if (e instanceof StackConfigError) throw e;
        return fail("(file)", `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): there is no stack named ${stack}`);
    }
    const doc = parseDocument(text, { uniqueKeys: true });
    if (doc.errors.length > 0) fail("(file)", `is not valid YAML: ${doc.errors[0].message.split("\n")[0]}`);
    let data: unknown;
    try {
        data = doc.toJS({ maxAliasCount: 50 });
    } catch (e) {
        return fail("(file)", `is not valid YAML: ${(e as Error).message}`);
    }
    if (data === null || data === undefined) return {};
    if (typeof data !== "object" || Array.isArray(data)) fail("(file)", "must be a YAML mapping with a config: section");
    const section = (data as Record<string, unknown>)["config"];
    if (section === undefined || section === null) return {};
    if (typeof section !== "object" || Array.isArray(section)) fail("config", "must be a mapping of namespace:key to values");
    const config: Record<string, string> = {};
    for (const [key, value] of Object.entries(section as Record<string, unknown>)) {
        const secure = typeof value === "object" && value !== null && "secure" in value;
        const name = key.startsWith("redoubt:") ? key.slice("redoubt:".length) : undefined;
        // A secret setting written in plain text is a secret committed to the repository.
        if (name !== undefined && (SECRET_KEYS as readonly string[]).includes(name) && !secure) {
            fail(key, `is written in plain text; it is a secret: remove it from the file and set it with pulumi config set --secret ${key} (and rotate it: it was committed)`);
        }
        if (!secure && typeof value === "string" && /-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(value)) {
            fail(key, "holds a private key in plain text; set it with pulumi config set --secret instead (and rotate the key: it was committed)");
        }
        if (secure) continue; // ciphertext: not readable offline
        config[key] = typeof value === "string" ? value : JSON.stringify(value);
    }
    return config;
}

function digest(...parts: string[]): Buffer {
    return createHash("sha256").update(parts.join("\0")).digest();
}

/**
 * What the engine gives a program in the first preview of a resource: its inputs, and every
 * output the provider would compute unknown (the preview's Create is not run; the engine
 * reports unknowns for outputs not in the inputs). An empty id is an unknown id to the SDK.
 */
function firstPreviewState(inputs: Record<string, unknown>, computed: Record<string, unknown>): { id: string; state: Record<string, unknown> } {
    const state: Record<string, unknown> = { ...inputs };
    for (const key of Object.keys(computed)) if (!(key in inputs)) state[key] = pulumi.unknown;
    return { id: "", state };
}

/** Deterministic, recognisable stand-ins for what providers would compute. */
function mockState(stack: string, type: string, name: string, inputs: Record<string, unknown>): { id: string; state: Record<string, unknown> } {
    // Seeded by stack too: the same resource name in two stacks is two different real resources.
    const seed = digest(stack, type, name);
    const hex = seed.toString("hex");
    switch (type) {
        case "random:index/randomPassword:RandomPassword":
            // As the engine does (additionalSecretOutputs), the result is secret.
            return { id: "none", state: { ...inputs, result: pulumi.secret(`mock-password-${hex.slice(0, 24)}`), bcryptHash: pulumi.secret("mock-bcrypt") } };
        case "random:index/randomBytes:RandomBytes":
            return { id: "none", state: { ...inputs, base64: pulumi.secret(seed.toString("base64")), hex: pulumi.secret(hex) } };
        case "tls:index/privateKey:PrivateKey":
            return {
                id: hex.slice(0, 16),
                state: {
                    ...inputs,
                    privateKeyPem: pulumi.secret(`-----BEGIN PRIVATE KEY-----\nmock-${hex.slice(0, 32)}\n-----END PRIVATE KEY-----\n`),
                    privateKeyOpenssh: pulumi.secret(`-----BEGIN OPENSSH PRIVATE KEY-----\nmock-${hex.slice(0, 32)}\n-----END OPENSSH PRIVATE KEY-----\n`),
                    publicKeyPem: `-----BEGIN PUBLIC KEY-----\nmock-${hex.slice(32)}\n-----END PUBLIC KEY-----\n`,
                    publicKeyOpenssh: `ssh-ed25519 mock${hex.slice(32, 48)} ${name}\n`,
                },
            };
        case "tls:index/selfSignedCert:SelfSignedCert":
        case "tls:index/locallySignedCert:LocallySignedCert":
            return { id: hex.slice(0, 16), state: { ...inputs, certPem: `-----BEGIN CERTIFICATE-----\nmock-${name}\n-----END CERTIFICATE-----\n` } };
        case "tls:index/certRequest:CertRequest":
            return { id: hex.slice(0, 16), state: { ...inputs, certRequestPem: `-----BEGIN CERTIFICATE REQUEST-----\nmock-${name}\n-----END CERTIFICATE REQUEST-----\n` } };
        case "hcloud:index/storageBox:StorageBox": {
            // hcloud ids are numbers.
            const id = String(100000 + (seed.readUInt32BE(0) % 900000));
            return { id, state: { ...inputs, server: `u${id}.your-storagebox.de`, username: `u${id}`, system: "FSN1-BX000" } };
        }
        case "docker:index/network:Network":
        case "docker:index/volume:Volume":
            return { id: String(inputs.name ?? name), state: inputs };
        case "docker:index/remoteImage:RemoteImage":
            // repoDigest as the provider reports it: repository@digest, the tag dropped (test/system/docker-provider.test.ts).
            return { id: String(inputs.name), state: { ...inputs, repoDigest: digestReference(String(inputs.name)), imageId: `sha256:${hex}` } };
        case "command:remote:Command":
            return { id: hex.slice(0, 16), state: { ...inputs, stdout: "", stderr: "" } };
        default:
            return { id: `${name}-id`, state: inputs };
    }
}

function typeChainOf(resource: pulumi.Resource | undefined, chains: WeakMap<pulumi.Resource, string>): string | undefined {
    return resource ? chains.get(resource) : undefined;
}

async function resolveOutputs(value: unknown): Promise<unknown> {
    if (pulumi.Output.isInstance(value)) {
        const output = value;
        // In a preview an output can be unknown; its apply callbacks never run (output.js applyHelperAsync),
        // so waiting on one would never end. Its known-ness is the Output's own isKnown promise.
        if (!(await (output as unknown as { isKnown: Promise<boolean> }).isKnown)) return pulumi.unknown;
        const [inner, secret] = await Promise.all([new Promise<unknown>((resolve) => output.apply(resolve)), pulumi.isSecret(output)]);
        const resolved = await resolveOutputs(inner);
        return secret ? { [SECRET_SIGNATURE_KEY]: SECRET_SIGNATURE, value: resolved } : resolved;
    }
    if (value instanceof Promise) return resolveOutputs(await value);
    if (Array.isArray(value)) return Promise.all(value.map(resolveOutputs));
    if (value && typeof value === "object") {
        const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolveOutputs(v)] as const));
        return Object.fromEntries(entries.filter(([, v]) => v !== undefined));
    }
    return value;
}

/** The same value with every SecretValue replaced by its content. */
export function revealSecrets<T>(value: T): T {
    if (isSecretValue(value)) return revealSecrets(value.value) as T;
    if (Array.isArray(value)) return value.map(revealSecrets) as T;
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revealSecrets(v)])) as T;
    return value;
}

let running = false;

/**
 * Runs `work` (a run under mocks: runStackUnderMocks, runBareUnderMocks) without the cost of stack
 * traces, unless REDOUBT_PLAN_STACK_TRACES is set.
 * The SDK records `new Error().stack` for every promise it makes (leak diagnostics), and every
 * resource's constructor takes a whole stack trace for its source position (@pulumi/pulumi
 * resource.js, Resource.callsites, which lifts Error.stackTraceLimit to Infinity itself). Under
 * ts-node each trace goes through source-map-support's prepareStackTrace, which took most of a
 * large plan's time. Traces are off (limit 0) and formatted by V8 itself (no source-map lookup)
 * while `work` runs; the mock engine ignores source positions.
 */
async function withoutStackTraces<T>(work: () => Promise<T>): Promise<T> {
    if (process.env.REDOUBT_PLAN_STACK_TRACES) return work();
    // Error.prepareStackTrace is typed as always set; undefined is V8's own formatting.
    const errors = Error as { stackTraceLimit: number; prepareStackTrace?: unknown };
    const { stackTraceLimit, prepareStackTrace } = errors;
    errors.stackTraceLimit = 0;
    errors.prepareStackTrace = undefined;
    try {
        return await work();
    } finally {
        errors.stackTraceLimit = stackTraceLimit;
        errors.prepareStackTrace = prepareStackTrace;
    }
}

/**
 * Runs the stack program once under mocks. Runs share the SDK's global
 * state, so they are serialised: one at a time.
 */
export async function runStackUnderMocks(options: MockRunOptions): Promise<StackRun> {
    if (running) throw new Error("runStackUnderMocks: another run is in progress; runs must be sequential");
    running = true;
    try {
        return await withoutStackTraces(() => runOnce(options));
    } finally {
        running = false;
    }
}

async function runOnce(options: MockRunOptions): Promise<StackRun> {
    const { stack } = options;
    const stackUrn = `urn:pulumi:${stack}::${PROJECT}::pulumi:pulumi:Stack::${PROJECT}-${stack}`;
    const captured = new Map<string, CapturedResource>();
    const mockInputs = new Map<string, { inputs: Record<string, unknown>; custom: boolean }>();
    const chains = new WeakMap<pulumi.Resource, string>();
    const urns = new WeakMap<pulumi.Resource, string>();
    const protects = new WeakMap<pulumi.Resource, boolean>();
    const registered: pulumi.Resource[] = [];
    const key = (type: string, name: string) => `${type}::${name}`;

    await pulumi.runtime.setMocks(
        {
            newResource(args: pulumi.runtime.MockResourceArgs) {
                mockInputs.set(key(args.type, args.name), { inputs: args.inputs as Record<string, unknown>, custom: Boolean(args.custom) });
                if (args.type === "pulumi:pulumi:StackReference") {
                    const referenced = String((args.inputs as { name: string }).name);
                    const outputs = options.stackReferences?.[referenced];
                    if (!outputs) throw new Error(`stack ${stack} references stack ${referenced}, which was not run first`);
                    // Every output is handed over as secret: the credentials in them are.
                    return { id: referenced, state: { name: referenced, outputs: revealSecrets(outputs), secretOutputNames: Object.keys(outputs) } };
                }
                const state = mockState(stack, args.type, args.name, args.inputs as Record<string, unknown>);
                return options.firstPreview ? firstPreviewState(args.inputs as Record<string, unknown>, state.state) : state;
            },
            call(args: pulumi.runtime.MockCallArgs) {
                throw new Error(`unexpected invoke ${args.token} under mocks: the program must not call providers at plan time`);
            },
        },
        PROJECT,
        stack,
        // The plan is a preview (setMocks's last argument is the SDK's dryRun): the program sees
        // pulumi.runtime.isDryRun() as under `pulumi preview`, and refuses only what `up` must refuse.
        true,
    );
    pulumi.runtime.setAllConfig(options.config, []);

    const capture: pulumi.ResourceTransformation = (args) => {
        const parent = args.opts.parent;
        const parentChain = typeChainOf(parent, chains);
        const chain = parentChain ? `${parentChain}$${args.type}` : args.type;
        const urn = `urn:pulumi:${stack}::${PROJECT}::${chain}::${args.name}`;
        const protect = args.opts.protect ?? (parent ? (protects.get(parent) ?? false) : false);
        chains.set(args.resource, chain);
        urns.set(args.resource, urn);
        protects.set(args.resource, protect);
        registered.push(args.resource);
        options.onResource?.(registered.length);
        const dependsOn = args.opts.dependsOn;
        const dependencies = (Array.isArray(dependsOn) ? dependsOn : dependsOn ? [dependsOn] : [])
            .map((d) => (d instanceof pulumi.Resource ? urns.get(d) : undefined))
            .filter((u): u is string => u !== undefined);
        captured.set(key(args.type, args.name), {
            type: args.type,
            name: args.name,
            urn,
            parent: parent ? urns.get(parent) : stackUrn,
            protect,
            inputs: {},
            custom: args.resource instanceof pulumi.CustomResource,
            dependencies,
        });
        return undefined;
    };

    const outputs = defineStack({ projectDir: options.projectDir, tenantsDir: options.tenantsDir, transformations: [capture], asOf: options.asOf });

    // Wait until every registered resource is registered with the (mock) engine, including any created while waiting.
    let settled = 0;
    while (settled < registered.length) {
        const batch = registered.slice(settled);
        settled = registered.length;
        await Promise.all(batch.map((r) => new Promise<void>((resolve) => r.urn.apply(() => resolve()))));
    }
    const resolvedOutputs = (await resolveOutputs(outputs)) as Record<string, unknown>;
    // Drain outstanding calls (component outputs) before the next run replaces the mock monitor.
    await pulumi.runtime.disconnect();

    const outputsByKey = registeredOutputs();
    const resources = [...captured.entries()].map(([k, resource]) => {
        const mock = mockInputs.get(k);
        const custom = mock?.custom ?? resource.custom;
        // A custom resource's outputs are left to echo its inputs (see CapturedResource.outputs), so a
        // test that alters a resource's inputs alters what AnalyzeStack sees, as a changed program would.
        return { ...resource, inputs: mock?.inputs ?? {}, outputs: custom ? undefined : (outputsByKey.get(k) ?? {}), custom };
    });
    return { stack, resources, outputs: resolvedOutputs };
}

/** A resource for the bare program: what the plan recorded of it. */
export type BareResource = Pick<CapturedResource, "type" | "name" | "urn" | "parent" | "custom" | "inputs">;

const PROVIDER_TYPE_PREFIX = "pulumi:providers:";

// Concrete classes for the bare program (the SDK's resource classes are abstract in its typings).
class BareCustom extends pulumi.CustomResource {
    constructor(type: string, name: string, inputs: pulumi.Inputs, opts: pulumi.CustomResourceOptions) {
        super(type, name, inputs, opts);
    }
}
class BareProvider extends pulumi.ProviderResource {
    constructor(pkg: string, name: string, inputs: pulumi.Inputs, opts: pulumi.ResourceOptions) {
        super(pkg, name, inputs, opts);
    }
}
class BareComponent extends pulumi.ComponentResource {
    constructor(type: string, name: string, opts: pulumi.ComponentResourceOptions) {
        super(type, name, {}, opts);
        this.registerOutputs({});
    }
}

/**
 * The bench's baseline (issue 13): the same resources registered under the same mocks by a bare
 * program, one resource constructor per recorded resource with its recorded inputs and parent, and
 * nothing else: no component logic, no applies, no transformations. It is what the SDK and the
 * mock engine cost for these resources; the stack program's own cost is the difference.
 * `resources` are in registration order (a parent before its children), as runOnce captures them.
 * Returns the URNs the mock engine registered.
 */
export async function runBareUnderMocks(stack: string, resources: readonly BareResource[]): Promise<string[]> {
    if (running) throw new Error("runBareUnderMocks: another run is in progress; runs must be sequential");
    running = true;
    try {
        return await withoutStackTraces(() => bareRun(stack, resources));
    } finally {
        running = false;
    }
}

async function bareRun(stack: string, resources: readonly BareResource[]): Promise<string[]> {
    await pulumi.runtime.setMocks(
        {
            newResource: (args: pulumi.runtime.MockResourceArgs) => mockState(stack, args.type, args.name, args.inputs as Record<string, unknown>),
            call: (args: pulumi.runtime.MockCallArgs) => {
                throw new Error(`unexpected invoke ${args.token} in the bare program`);
            },
        },
        PROJECT,
        stack,
        true,
    );
    const byUrn = new Map<string, pulumi.Resource>();
    for (const r of resources) {
        const parent = r.parent === undefined ? undefined : byUrn.get(r.parent);
        const opts = parent ? { parent } : {};
        const resource = r.type.startsWith(PROVIDER_TYPE_PREFIX)
            ? new BareProvider(r.type.slice(PROVIDER_TYPE_PREFIX.length), r.name, r.inputs, opts)
            : r.custom
              ? new BareCustom(r.type, r.name, r.inputs, opts)
              : new BareComponent(r.type, r.name, opts);
        byUrn.set(r.urn, resource);
    }
    await Promise.all([...byUrn.values()].map((r) => new Promise<void>((resolve) => r.urn.apply(() => resolve()))));
    await pulumi.runtime.disconnect();
    const monitor = runtimeSettings.getMonitor() as { getRegisteredResources?: () => Map<string, unknown> } | undefined;
    return [...(monitor?.getRegisteredResources?.().keys() ?? [])];
}

/**
 * Each resource's outputs as the engine would hold them after this run: for a
 * custom resource the state the (mock) provider returned, for a component what
 * it gave registerOutputs, nothing else. Read from the SDK's MockMonitor
 * (runtime/mocks.js: registerResource stores the serialized state per URN,
 * registerResourceOutputs replaces a component's with the outputs it was sent);
 * keyed type::name like the captured resources.
 */
function registeredOutputs(): Map<string, Record<string, unknown>> {
    const monitor = runtimeSettings.getMonitor() as { getRegisteredResources?: () => Map<string, { urn: string; state: unknown }> } | undefined;
    const out = new Map<string, Record<string, unknown>>();
    for (const [urn, { state }] of monitor?.getRegisteredResources?.() ?? []) {
        // urn:pulumi:<stack>::<project>::<parent types$...$type>::<name>
        const parts = urn.split("::");
        const type = parts[2]?.split("$").pop();
        const name = parts.slice(3).join("::");
        const value = state && typeof (state as { toJavaScript?: unknown }).toJavaScript === "function" ? (state as { toJavaScript(): unknown }).toJavaScript() : state;
        if (type) out.set(`${type}::${name}`, value && typeof value === "object" ? (value as Record<string, unknown>) : {});
    }
    return out;
}

/** The stacks in the order they must run: backup stacks first (the primary references them). */
export const DEFAULT_STACKS = ["backup-helsinki", "backup-falkenstein", "iceland"] as const;

export interface RunStacksOptions {
    stacks?: readonly string[];
    tenantsDir?: string;
    projectDir?: string;
    /** Override or add config keys per stack (tests pin asOf, bypass values). */
    configOverrides?: Record<string, Record<string, string>>;
    onResource?: (stack: string, count: number) => void;
    /** Run every stack as its first preview (see MockRunOptions.firstPreview). */
    firstPreview?: boolean;
}

/**
 * Runs several stacks in dependency order, handing each backup stack's
 * outputs to the stacks that reference it.
 */
export async function runStacks(options: RunStacksOptions = {}): Promise<StackRun[]> {
    const projectDir = options.projectDir ?? PROJECT_DIR;
    const requested = options.stacks ?? DEFAULT_STACKS;
    const ordered = [...requested].sort((a, b) => Number(!a.startsWith("backup-")) - Number(!b.startsWith("backup-")));
    const references: StackReferences = {};
    const runs: StackRun[] = [];
    // An asOf among the overrides is the run's explicit date (what REDOUBT_AS_OF is to a CLI run),
    // not a value written into the stack's config: the program refuses stale dates in config.
    const configOf = (name: string) => {
        const { "redoubt:asOf": asOf, ...overrides } = options.configOverrides?.[name] ?? {};
        return { config: { ...readStackConfigFile(name, projectDir), ...overrides }, asOf };
    };
    for (const stack of ordered) {
        const { config, asOf } = configOf(stack);
        // A primary planned alone still needs its backup stacks' outputs: run them first, unreported.
        for (const needed of referencedStacks(config)) {
            if (references[needed] === undefined) {
                const run = await runStackUnderMocks({
                    stack: needed,
                    firstPreview: options.firstPreview,
                    ...configOf(needed),
                    tenantsDir: options.tenantsDir,
                    projectDir,
                });
                references[needed] = run.outputs;
            }
        }
        const run = await runStackUnderMocks({
            stack,
            config,
            asOf,
            firstPreview: options.firstPreview,
            tenantsDir: options.tenantsDir,
            projectDir,
            stackReferences: references,
            onResource: options.onResource ? (count) => options.onResource?.(stack, count) : undefined,
        });
        references[stack] = run.outputs;
        runs.push(run);
    }
    const byRequest = new Map(runs.map((r) => [r.stack, r]));
    return requested.map((s) => byRequest.get(s) as StackRun);
}

function referencedStacks(config: Record<string, string>): string[] {
    const sites = config["redoubt:backupSites"];
    if (!sites) return [];
    try {
        return Object.values(JSON.parse(sites) as Record<string, { stack?: string }>)
            .map((s) => s.stack)
            .filter((s): s is string => typeof s === "string");
    } catch {
        return []; // the stack config check reports the malformed value
    }
}
