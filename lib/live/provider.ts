// What the live engine (lib/live/engine.ts) asks of a stand-in provider: the
// same four questions the Pulumi engine asks a real provider plugin (Diff,
// Create, Update, Delete). Inputs and outputs are plain values with Pulumi's
// property names (camelCase, as the SDK sends them); secrets arrive already
// unwrapped, as a real provider receives them. Each implementation follows
// the real provider's documented and source-level behaviour and cites it.

/** Plain property values: what a provider receives after the engine unwraps secrets. */
export type Properties = Record<string, unknown>;

export interface DiffResult {
    /** Top-level input keys whose value changed. */
    changed: string[];
    /** The subset of `changed` that the provider cannot update in place (the engine then replaces). */
    replaceKeys: string[];
    /** The provider always deletes before it replaces (e.g. pulumi-docker sets DeleteBeforeReplace for containers). */
    deleteBeforeReplace?: boolean;
}

/**
 * A create that failed after the resource came to exist (the provider's
 * "partial failure"): the engine keeps the id in its state, tainted, so the
 * next run replaces it instead of colliding with it.
 */
export class PartialCreateError extends Error {
    constructor(
        message: string,
        readonly id: string,
    ) {
        super(message);
        this.name = "PartialCreateError";
    }
}

export interface CreateResult {
    id: string;
    outputs: Properties;
}

/** What the engine knows besides the inputs: the provider resource the resource names (`opts.provider`). */
export interface ProviderContext {
    /** The explicit provider resource's inputs, e.g. a `docker.Provider`'s `{host}`; empty for the default provider. */
    provider: Properties;
}

export interface LiveProvider {
    /** Resource type tokens this provider serves, e.g. `docker:index/container:Container`. */
    readonly types: readonly string[];
    diff(type: string, olds: Properties, news: Properties): DiffResult;
    create(type: string, name: string, inputs: Properties, context: ProviderContext): Promise<CreateResult>;
    /** Called only when diff found changes and none forces a replacement. Returns the new outputs. */
    update(type: string, id: string, olds: Properties, news: Properties, oldOutputs: Properties, context: ProviderContext): Promise<Properties>;
    delete(type: string, id: string, inputs: Properties, outputs: Properties, context: ProviderContext): Promise<void>;
}

/** Deep equality of plain values (JSON semantics; undefined object members are absent). */
export function sameValue(a: unknown, b: unknown): boolean {
    return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function canonical(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(canonical);
    if (value && typeof value === "object") {
        return Object.fromEntries(
            Object.entries(value as Record<string, unknown>)
                .filter(([, v]) => v !== undefined)
                .sort(([a], [b]) => a.localeCompare(b))
                .map(([k, v]) => [k, canonical(v)]),
        );
    }
    return value;
}

/** The top-level keys whose values differ between two input sets. */
export function changedKeys(olds: Properties, news: Properties): string[] {
    const keys = new Set([...Object.keys(olds), ...Object.keys(news)]);
    return [...keys].filter((k) => !sameValue(olds[k], news[k])).sort();
}
