// Hand-built policy arguments for rule-by-rule tests (no gRPC server).
import type { PolicyResource, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy } from "@pulumi/policy";

export type Res = { type: string; name: string; props: Record<string, unknown>; protect?: boolean; parent?: string };

export const labels = (m: Record<string, string | undefined>) =>
    Object.entries(m)
        .filter((e): e is [string, string] => e[1] !== undefined)
        .map(([label, value]) => ({ label, value }));

const urnOf = (r: Res) => `urn:pulumi:test::redoubt::${r.type}::${r.name}`;

function opts(r: Res) {
    return {
        protect: r.protect ?? false,
        ignoreChanges: [],
        aliases: [],
        additionalSecretOutputs: [],
        customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
        parent: r.parent,
    };
}

const notApplicable = (reason?: string): never => {
    throw new Error(`notApplicable: ${reason}`);
};

export function resourceArgs(r: Res, config: Record<string, unknown> = {}): ResourceValidationArgs {
    return {
        type: r.type,
        props: r.props,
        urn: urnOf(r),
        name: r.name,
        opts: opts(r),
        stackTags: new Map<string, string>(),
        isType: () => false,
        asType: () => undefined,
        getConfig: <T extends object>() => config as T,
        notApplicable,
    };
}

/** Messages a resource policy reports for one resource. */
export async function runResource(policy: ResourceValidationPolicy, r: Res, config: Record<string, unknown> = {}): Promise<string[]> {
    const out: string[] = [];
    const fns = Array.isArray(policy.validateResource) ? policy.validateResource : [policy.validateResource];
    for (const fn of fns) await fn!(resourceArgs(r, config), (m: string) => out.push(m));
    return out;
}

/** Messages a stack policy reports for a set of resources. */
export async function runStack(policy: StackValidationPolicy, rs: Res[], config: Record<string, unknown> = {}): Promise<string[]> {
    const resources: PolicyResource[] = rs.map((r) => ({
        type: r.type,
        props: r.props,
        urn: urnOf(r),
        name: r.name,
        opts: opts(r),
        dependencies: [],
        propertyDependencies: {},
        isType: () => false,
        asType: () => undefined,
    }));
    // As the analyzer does for AnalyzeStack: each resource's parent is the resource object with that URN.
    const byUrn = new Map(resources.map((r) => [r.urn, r]));
    rs.forEach((r, i) => {
        if (r.parent && byUrn.has(r.parent)) (resources[i] as { parent?: PolicyResource }).parent = byUrn.get(r.parent);
    });
    const args = {
        resources,
        stackTags: new Map<string, string>(),
        getConfig: <T extends object>() => config as T,
        notApplicable,
    } as unknown as StackValidationArgs;
    const out: string[] = [];
    await policy.validateStack(args, (m: string) => out.push(m));
    return out;
}
