// Promise: "Resource limits per instance": memory, CPU and process limits on
// every tenant container.
//
// The Docker provider has no PIDs limit: the process limit is the per-tenant
// systemd slice (`redoubt-<tenant>.slice` with TasksMax=) named by
// cgroupParent. The slice unit is written by the tenant's `<tenant>-slice` host
// command; this policy checks the name, not the unit's TasksMax.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { ROLE_LABEL, T, TENANT_LABEL, describe, labelsOf, type Props } from "./common";

export const tenantSlice = (tenant: string) => `redoubt-${tenant}.slice`;

export function resourceLimitProblems(name: string, props: Props): string[] {
    const out: string[] = [];
    const where = describe(T.container, name);
    const labels = labelsOf(props);
    const tenant = labels[TENANT_LABEL];
    const memory = Number(props["memory"]);
    if (!(memory > 0)) {
        out.push(`The ${where} has no memory limit; set memory (MB) from the tenant's plan.`);
    } else if (Number(props["memorySwap"]) !== memory) {
        out.push(
            `The ${where} has memorySwap ${JSON.stringify(props["memorySwap"] ?? null)} but memory ${memory}; set memorySwap equal to memory so it cannot swap past its limit.`,
        );
    }
    const cpus = Number(props["cpus"]);
    if (!(cpus > 0)) out.push(`The ${where} has no CPU limit; set cpus (e.g. "1") from the tenant's plan.`);
    if (tenant) {
        const slice = tenantSlice(tenant);
        if (props["cgroupParent"] !== slice) {
            out.push(
                `The ${where} has cgroupParent ${JSON.stringify(props["cgroupParent"] ?? null)}; set cgroupParent to "${slice}", the tenant's systemd slice whose TasksMax is its process limit.`,
            );
        }
    } else if (labels[ROLE_LABEL] === "edge" && typeof props["cgroupParent"] !== "string") {
        out.push(`The edge ${where} has no cgroupParent; set it to a slice with a TasksMax process limit (e.g. "redoubt-edge.slice").`);
    }
    return out;
}

export const containerResourceLimits: ResourceValidationPolicy = {
    name: "container-resource-limits",
    description: "Every container has a memory limit (no extra swap), a CPU limit and a process limit (cgroupParent = the tenant's systemd slice).",
    validateResource: (args, report) => {
        if (args.type !== T.container) return;
        for (const p of resourceLimitProblems(args.name, args.props)) report(p);
    },
};

export const resourceLimitPolicies = [containerResourceLimits];
