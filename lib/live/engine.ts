// The live engine: runs a stack program with the Pulumi SDK's mock monitor
// replaced by one that answers every resource registration with a real
// action, because the Pulumi CLI and its provider plugins cannot run here.
// It follows the engine's `pulumi up` semantics (pkg/resource/deploy in
// pulumi/pulumi), reduced to what our stacks use:
//   - a registration with no state is a create; with state, the provider's
//     diff decides same / update in place / replace;
//   - a replacement deletes the old resource first when the program asks
//     for deleteBeforeReplace, else creates the new one and deletes the old
//     one after every other step (the engine's "pending delete");
//   - a protected resource is never deleted or replaced: the run fails;
//   - resources in state that the program no longer registers are deleted
//     after all creates and updates, dependents before their dependencies;
//   - outputs are the provider's, secret where the input of the same name was
//     secret, where the provider's schema says so, or where the program asked
//     for additionalSecretOutputs; a component's outputs are what it passed
//     to registerOutputs (that is all AnalyzeStack sees of it);
//   - after a failed step no further deletes run and the state keeps what
//     was done.
import * as pulumi from "@pulumi/pulumi";
import { PartialCreateError, type LiveProvider, type Properties } from "./provider";
import { isSecret, reveal, secret, writeState, type LiveState, type StateResource } from "./state";

/* eslint-disable @typescript-eslint/no-require-imports */
// The SDK's mock monitor plumbing (not re-exported from its index): we replace its monitor with ours.
const settings = require("@pulumi/pulumi/runtime/settings") as { setMockOptions(monitor: unknown, project: string, stack: string, preview: boolean): void };
const stackModule = require("@pulumi/pulumi/runtime/stack") as { runInPulumiStack(init: () => Promise<unknown>): Promise<unknown> };
const rpc = require("@pulumi/pulumi/runtime/rpc") as { deserializeProperties(struct: unknown, keepUnknowns?: boolean): Record<string, unknown> };
const structpb = require("google-protobuf/google/protobuf/struct_pb") as { Struct: { fromJavaScript(v: unknown): unknown } };
const resproto = require("@pulumi/pulumi/proto/resource_pb") as Record<string, new () => Record<string, (v?: unknown) => unknown>>;
const provproto = require("@pulumi/pulumi/proto/provider_pb") as Record<string, new () => Record<string, (v?: unknown) => unknown>>;
/* eslint-enable @typescript-eslint/no-require-imports */

export const ROOT_STACK_TYPE = "pulumi:pulumi:Stack";

export type StepOp = "create" | "update" | "replace" | "delete" | "same" | "read";

export interface Step {
    op: StepOp;
    urn: string;
    type: string;
    /** Input keys that changed (update, replace). */
    changed?: string[];
    ms: number;
}

/** Output names a provider's schema marks secret (Sensitive in Terraform, `secret` in native providers). */
export type SecretOutputs = Record<string, readonly string[]>;

export interface LiveEngineOptions {
    project: string;
    stack: string;
    /** The stack's current state (read with readState); updated in place and written to `statePath` as steps finish. */
    state: LiveState;
    statePath: string;
    /** Stand-in providers, by the resource types they serve. */
    providers: LiveProvider[];
    /** Output names each type's real provider marks secret. */
    secretOutputs?: SecretOutputs;
    /** Outputs of the stacks this one reads through StackReference, by stack name (secret markers kept). */
    stackReferences?: Record<string, Properties>;
    /** How many provider operations run at once (the CLI's --parallel). Default 4. */
    parallel?: number;
    log?: (line: string) => void;
}

export interface LiveRunResult {
    steps: Step[];
    outputs: Properties;
    state: LiveState;
}

export class LiveRunError extends Error {
    constructor(
        message: string,
        readonly steps: Step[],
        readonly failures: string[],
    ) {
        super(message);
        this.name = "LiveRunError";
    }
}

type Callback = (err: Error | null, response?: unknown) => void;

interface Registered {
    resource: StateResource;
}

class Semaphore {
    private waiting: (() => void)[] = [];
    private active = 0;
    constructor(private readonly limit: number) {}
    async run<T>(fn: () => Promise<T>): Promise<T> {
        if (this.active >= this.limit) await new Promise<void>((resolve) => this.waiting.push(resolve));
        this.active++;
        try {
            return await fn();
        } finally {
            this.active--;
            this.waiting.shift()?.();
        }
    }
}

/** The URN the engine gives a resource: its parent's type chain (except the root stack's), its type, its name. */
export function urnOf(stack: string, project: string, parentUrn: string | undefined, type: string, name: string): string {
    let chain = type;
    if (parentUrn) {
        const parentChain = parentUrn.split("::")[2];
        if (parentChain !== ROOT_STACK_TYPE) chain = `${parentChain}$${type}`;
    }
    return `urn:pulumi:${stack}::${project}::${chain}::${name}`;
}

function packageOf(type: string): string {
    return type.startsWith("pulumi:providers:") ? type.slice("pulumi:providers:".length) : type.split(":")[0];
}

/**
 * Marks outputs secret as the engine would: where the input of the same name
 * was secret, where the provider's schema says so, and additionalSecretOutputs.
 */
function markSecrets(outputs: Properties, inputs: Properties, schemaSecrets: readonly string[], additional: readonly string[]): Properties {
    const out: Properties = {};
    for (const [key, value] of Object.entries(outputs)) {
        if (value === undefined) continue;
        const plain = reveal(value);
        out[key] = isSecret(inputs[key]) || schemaSecrets.includes(key) || additional.includes(key) || isSecret(value) ? secret(plain) : plain;
    }
    return out;
}

function toStruct(value: Properties): unknown {
    // Secret markers are the wire form the SDK deserialises into secret Outputs.
    return structpb.Struct.fromJavaScript(JSON.parse(JSON.stringify(value)));
}

class LiveMonitor {
    readonly steps: Step[] = [];
    readonly failures: string[] = [];
    private readonly registered = new Map<string, Registered>();
    /** Old resources replaced create-before-delete: deleted after every other step. */
    private readonly pendingDeletes: StateResource[] = [];
    private readonly old: Map<string, StateResource>;
    private readonly sem: Semaphore;
    private readonly providerInputs = new Map<string, Properties>();

    constructor(private readonly options: LiveEngineOptions) {
        this.old = new Map(options.state.resources.map((r) => [r.urn, r]));
        this.sem = new Semaphore(options.parallel ?? 4);
        for (const r of options.state.resources) if (r.type.startsWith("pulumi:providers:")) this.providerInputs.set(`${r.urn}::${r.id}`, reveal(r.inputs));
    }

    private log(line: string): void {
        this.options.log?.(line);
    }

    private providerFor(type: string): LiveProvider {
        const provider = this.options.providers.find((p) => p.types.includes(type));
        if (!provider) throw new Error(`no live provider serves ${type}: the live run cannot realize it`);
        return provider;
    }

    /** Provider inputs (e.g. the Docker host) for a resource: its explicit provider's, else the default provider's (none). */
    private providerProperties(providerRef: string | undefined): Properties {
        return providerRef ? (this.providerInputs.get(providerRef) ?? {}) : {};
    }

    private record(resource: StateResource): void {
        this.registered.set(resource.urn, { resource });
        this.save();
    }

    private save(): void {
        const done = new Set(this.registered.keys());
        const kept = this.options.state.resources.filter((r) => !done.has(r.urn));
        // Registered resources in completion order (dependencies complete first), then what awaits deletion.
        this.options.state.resources = [...[...this.registered.values()].map((r) => r.resource), ...kept.filter((r) => !this.registered.has(r.urn))];
        writeState(this.options.statePath, this.options.state);
    }

    private async step<T>(op: StepOp, urn: string, type: string, fn: () => Promise<T>, changed?: string[]): Promise<T> {
        const started = Date.now();
        const result = await fn();
        const ms = Date.now() - started;
        this.steps.push({ op, urn, type, changed, ms });
        if (op !== "same") this.log(`${op.padEnd(7)} ${type} ${urn.split("::").pop()}${changed?.length ? ` (${changed.join(", ")})` : ""} ${(ms / 1000).toFixed(1)}s`);
        return result;
    }

    // --- the gRPC surface the SDK calls -------------------------------------------------

    supportsFeature(req: { getId(): string }, callback: Callback): void {
        // As the mock monitor: everything but outputValues (Outputs would reach us unresolved).
        callback(null, { getHassupport: () => req.getId() !== "outputValues" });
    }

    registerPackage(_req: unknown, callback: Callback): void {
        const resp = new resproto.RegisterPackageResponse();
        resp.setRef("live");
        callback(null, resp);
    }

    async invoke(req: { getTok(): string; getArgs(): unknown }, callback: Callback): Promise<void> {
        const tok = req.getTok();
        try {
            if (tok !== "pulumi:pulumi:getResource") throw new Error(`unexpected invoke ${tok}: the program must not call providers`);
            const { urn } = rpc.deserializeProperties(req.getArgs()) as { urn: string };
            const r = this.registered.get(urn)?.resource;
            if (!r) throw new Error(`unknown resource ${urn}`);
            const resp = new provproto.InvokeResponse();
            resp.setReturn(structpb.Struct.fromJavaScript({ urn, id: r.id ?? null, state: JSON.parse(JSON.stringify(r.outputs)) }));
            callback(null, resp);
        } catch (e) {
            callback(e as Error);
        }
    }

    async readResource(req: Record<string, () => unknown>, callback: Callback): Promise<void> {
        const type = String(req.getType());
        const name = String(req.getName());
        const parent = String(req.getParent() ?? "") || undefined;
        const urn = urnOf(this.options.stack, this.options.project, parent, type, name);
        try {
            if (type !== "pulumi:pulumi:StackReference") throw new Error(`the live engine reads only stack references, not ${type}`);
            const referenced = String(req.getId());
            const outputs = this.options.stackReferences?.[referenced];
            if (!outputs) throw new Error(`stack ${this.options.stack} reads stack ${referenced}, which has not been brought up in this live run`);
            // The engine hands over a referenced stack's secret outputs as secrets (secretOutputNames).
            const state: Properties = { name: referenced, outputs: secret(reveal(outputs)), secretOutputNames: Object.keys(outputs).filter((k) => isSecret(outputs[k])) };
            this.record({
                urn,
                type,
                custom: true,
                id: referenced,
                parent,
                protect: false,
                deleteBeforeReplace: false,
                dependencies: [],
                inputs: { name: referenced },
                outputs: state,
            });
            this.steps.push({ op: "read", urn, type, ms: 0 });
            const resp = new resproto.ReadResourceResponse();
            resp.setUrn(urn);
            resp.setProperties(toStruct(state));
            callback(null, resp);
        } catch (e) {
            this.failures.push(`${urn}: ${(e as Error).message}`);
            callback(e as Error);
        }
    }

    async registerResource(req: Record<string, () => unknown>, callback: Callback): Promise<void> {
        const type = String(req.getType());
        const name = String(req.getName());
        const parent = String(req.getParent() ?? "") || undefined;
        const custom = Boolean(req.getCustom());
        const urn = urnOf(this.options.stack, this.options.project, parent, type, name);
        try {
            const inputs = rpc.deserializeProperties(req.getObject()) as Properties;
            const propertyDependencies: string[] = [];
            (req.getPropertydependenciesMap() as { forEach(fn: (v: { getUrnsList(): string[] }) => void): void }).forEach((v) => propertyDependencies.push(...v.getUrnsList()));
            const providerRef = String(req.getProvider() ?? "") || undefined;
            const dependencies = [
                ...new Set([
                    ...(req.getDependenciesList() as string[]),
                    ...propertyDependencies,
                    ...(parent ? [parent] : []),
                    ...(providerRef ? [providerRef.split("::").slice(0, -1).join("::")] : []),
                ]),
            ];
            const desired: StateResource = {
                urn,
                type,
                custom,
                parent,
                provider: providerRef,
                protect: Boolean(req.getProtect()),
                deleteBeforeReplace: Boolean(req.getDeletebeforereplace()),
                dependencies,
                inputs,
                outputs: {},
            };
            const additional = (req.getAdditionalsecretoutputsList() as string[]) ?? [];
            const result = custom ? await this.sem.run(() => this.realize(desired, additional)) : this.component(desired);
            const resp = new resproto.RegisterResourceResponse();
            resp.setUrn(urn);
            resp.setId(result.id ?? "");
            resp.setObject(toStruct(result.outputs));
            callback(null, resp);
        } catch (e) {
            const message = e instanceof Error ? e.message : String(e);
            this.failures.push(`${urn}: ${message}`);
            this.log(`FAILED  ${type} ${name}: ${message.split("\n")[0]}`);
            callback(e as Error);
        }
    }

    registerResourceOutputs(req: { getUrn(): string; getOutputs(): unknown }, callback: Callback): void {
        const urn = req.getUrn();
        const entry = this.registered.get(urn);
        if (!entry) return callback(new Error(`unknown resource ${urn}`));
        entry.resource.outputs = rpc.deserializeProperties(req.getOutputs());
        this.save();
        callback(null, {});
    }

    // --- steps ----------------------------------------------------------------------------

    private component(desired: StateResource): StateResource {
        // Components have no provider: the engine records them (and later what registerOutputs says).
        const old = this.old.get(desired.urn);
        desired.outputs = old?.outputs ?? {};
        this.record(desired);
        this.steps.push({ op: old ? "same" : "create", urn: desired.urn, type: desired.type, ms: 0 });
        return desired;
    }

    private async realize(desired: StateResource, additionalSecrets: string[]): Promise<StateResource> {
        const { type, urn } = desired;
        const old = this.old.get(urn);
        if (type.startsWith("pulumi:providers:")) {
            // A provider resource: its inputs configure the resources that name it. Same id while its inputs stand.
            const id = old && JSON.stringify(reveal(old.inputs)) === JSON.stringify(reveal(desired.inputs)) && old.id ? old.id : `live-${Date.now().toString(36)}`;
            const done = { ...desired, id, outputs: desired.inputs };
            this.providerInputs.set(`${urn}::${id}`, reveal(desired.inputs));
            this.record(done);
            this.steps.push({ op: old ? (old.id === id ? "same" : "update") : "create", urn, type, ms: 0 });
            return done;
        }
        const provider = this.providerFor(type);
        const schemaSecrets = this.options.secretOutputs?.[type] ?? [];
        const providerProps = this.providerProperties(desired.provider);
        const plainInputs = reveal(desired.inputs);
        const context = { provider: providerProps };
        const finish = (id: string, outputs: Properties): StateResource => {
            const done = { ...desired, id, outputs: markSecrets(outputs, desired.inputs, schemaSecrets, additionalSecrets) };
            this.record(done);
            return done;
        };
        const create = async (): Promise<StateResource> => {
            try {
                const created = await provider.create(type, nameOf(urn), plainInputs, context);
                return finish(created.id, created.outputs);
            } catch (e) {
                // The engine keeps a partially created resource (with its id) so the next run can replace it.
                if (e instanceof PartialCreateError) this.record({ ...desired, id: e.id, outputs: {}, tainted: true });
                throw e;
            }
        };
        if (!old) return this.step("create", urn, type, create);
        const diff = old.tainted
            ? { changed: ["(tainted)"], replaceKeys: ["(tainted)"], deleteBeforeReplace: true }
            : provider.diff(type, reveal(old.inputs), reveal(desired.inputs));
        if (diff.changed.length === 0) {
            // Same: the state keeps its outputs; the program's new options (protect) take effect.
            this.steps.push({ op: "same", urn, type, ms: 0 });
            return finish(old.id ?? "", reveal(old.outputs));
        }
        if (diff.replaceKeys.length === 0) {
            const outputs = await this.step(
                "update",
                urn,
                type,
                () => provider.update(type, old.id ?? "", reveal(old.inputs), plainInputs, reveal(old.outputs), context),
                diff.changed,
            );
            return finish(old.id ?? "", outputs);
        }
        if (old.protect) {
            throw new Error(`resource ${urn} is protected and would be replaced (changed: ${diff.replaceKeys.join(", ")}); unprotect it first`);
        }
        return this.step(
            "replace",
            urn,
            type,
            async () => {
                if (desired.deleteBeforeReplace || diff.deleteBeforeReplace) {
                    await provider.delete(type, old.id ?? "", reveal(old.inputs), reveal(old.outputs), { provider: this.providerProperties(old.provider) });
                    return create();
                }
                const replacement = await create();
                this.pendingDeletes.push(old);
                return replacement;
            },
            diff.replaceKeys,
        );
    }

    /** Deletes replaced resources and everything the program no longer declares, dependents first. */
    async deleteRemaining(): Promise<void> {
        for (const old of this.pendingDeletes) {
            await this.step("delete", old.urn, old.type, () => this.deleteOne(old));
        }
        const gone = this.options.state.resources.filter((r) => !this.registered.has(r.urn));
        const protectedOnes = gone.filter((r) => r.protect);
        if (protectedOnes.length > 0) {
            throw new Error(
                `${protectedOnes.length} protected resource(s) are no longer declared and cannot be deleted: ${protectedOnes.map((r) => r.urn).join(", ")}. Unprotect them first (as the engine refuses to delete a protected resource).`,
            );
        }
        for (const r of deletionOrder(gone)) {
            await this.step("delete", r.urn, r.type, () => this.deleteOne(r));
            this.options.state.resources = this.options.state.resources.filter((x) => x.urn !== r.urn);
            writeState(this.options.statePath, this.options.state);
        }
    }

    private async deleteOne(r: StateResource): Promise<void> {
        if (!r.custom || r.type.startsWith("pulumi:providers:") || r.type === "pulumi:pulumi:StackReference") return;
        await this.providerFor(r.type).delete(r.type, r.id ?? "", reveal(r.inputs), reveal(r.outputs), { provider: this.providerProperties(r.provider) });
    }

    stackOutputs(): Properties {
        const root = [...this.registered.values()].find((r) => r.resource.type === ROOT_STACK_TYPE);
        return root?.resource.outputs ?? {};
    }
}

function nameOf(urn: string): string {
    return urn.slice(urn.lastIndexOf("::") + 2);
}

/** Reverse dependency order: a resource is deleted only after every resource that depends on it. */
export function deletionOrder(resources: StateResource[]): StateResource[] {
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    const dependents = new Map<string, number>();
    for (const r of resources) dependents.set(r.urn, 0);
    for (const r of resources) for (const d of r.dependencies) if (byUrn.has(d)) dependents.set(d, (dependents.get(d) ?? 0) + 1);
    const ready = resources.filter((r) => dependents.get(r.urn) === 0);
    const order: StateResource[] = [];
    while (ready.length > 0) {
        const r = ready.shift()!;
        order.push(r);
        for (const d of r.dependencies) {
            if (!byUrn.has(d)) continue;
            const left = (dependents.get(d) ?? 0) - 1;
            dependents.set(d, left);
            if (left === 0) ready.push(byUrn.get(d)!);
        }
    }
    if (order.length !== resources.length) throw new Error("dependency cycle among resources to delete");
    return order;
}

let running = false;

/**
 * Runs `program` as `pulumi up` would against real infrastructure (through
 * the given stand-in providers) and returns the steps taken. Runs share the
 * SDK's global state: one at a time.
 */
export async function runLive(program: () => unknown, options: LiveEngineOptions, config: Record<string, string>, secretConfigKeys: string[] = []): Promise<LiveRunResult> {
    if (running) throw new Error("runLive: another live run is in progress");
    running = true;
    const monitor = new LiveMonitor(options);
    // A failed registration rejects every Output that depends on it; the SDK leaves those
    // rejections unhandled. They are the same failure the monitor recorded: keep them here.
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", onUnhandled);
    try {
        // setMocks sets the SDK's feature flags; then our monitor takes the mock monitor's place.
        await pulumi.runtime.setMocks({ newResource: () => ({ id: undefined, state: {} }), call: () => ({}) }, options.project, options.stack, false);
        settings.setMockOptions(monitor, options.project, options.stack, false);
        pulumi.runtime.setAllConfig(config, secretConfigKeys);
        let programError: unknown;
        try {
            await stackModule.runInPulumiStack(async () => program());
        } catch (e) {
            programError = e;
        }
        await pulumi.runtime.disconnect();
        await new Promise((resolve) => setImmediate(resolve));
        if (unhandled.length > 0 && monitor.failures.length === 0 && programError === undefined) programError = unhandled[0];
        if (programError !== undefined || monitor.failures.length > 0) {
            const failures = [
                ...monitor.failures,
                ...(programError !== undefined && monitor.failures.length === 0 ? [String((programError as Error)?.message ?? programError)] : []),
            ];
            throw new LiveRunError(`live run of ${options.stack} failed:\n  ${failures.join("\n  ")}`, monitor.steps, failures);
        }
        await monitor.deleteRemaining();
        options.state.outputs = monitor.stackOutputs();
        writeState(options.statePath, options.state);
        return { steps: monitor.steps, outputs: options.state.outputs, state: options.state };
    } finally {
        process.off("unhandledRejection", onUnhandled);
        running = false;
    }
}

/** Steps that changed something (not `same` or `read`). */
export function changes(steps: Step[]): Step[] {
    return steps.filter((s) => s.op !== "same" && s.op !== "read");
}

export { packageOf };
