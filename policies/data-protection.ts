// Promise: "Encrypted at rest" (per-tenant LUKS2 under every data volume) and
// the other half of "delete at any time": data resources cannot be deleted by
// accident while the tenant is active or suspended (protect), and are
// unprotected once it is cancelled (deletion-deadline checks the date).
//
// Not visible in resources: that the LUKS key is held only as a Pulumi secret
// (the analyzer hands policies plaintext, secret or not); that the volume
// really lives on the opened LUKS mapping (the command's script does that, and
// is tested on a real host).
import type { StackValidationPolicy } from "@pulumi/policy";
import { DATA_LABEL, STATUS_LABEL, T, TENANT_LABEL, describe, labelsOf, luksTenant, tenantStatuses } from "./common";

export const dataResourcesProtected: StackValidationPolicy = {
    name: "data-resources-protected",
    description: "Tenant data volumes and LUKS containers have the protect option while the tenant is active or suspended.",
    validateStack: (args, report) => {
        const statuses = tenantStatuses(args.resources);
        for (const r of args.resources) {
            let tenant: string | undefined;
            let status: string | undefined;
            if (r.type === T.volume && labelsOf(r.props)[DATA_LABEL] === "true") {
                tenant = labelsOf(r.props)[TENANT_LABEL];
                status = labelsOf(r.props)[STATUS_LABEL] ?? (tenant ? statuses.get(tenant)?.status : undefined);
            } else if ((tenant = luksTenant(r)) !== undefined) {
                status = statuses.get(tenant)?.status;
            } else {
                continue;
            }
            status ??= "active";
            if (status !== "cancelled" && r.opts.protect !== true) {
                report(
                    `The ${describe(r.type, r.name)} holds data of ${status} tenant ${tenant ?? "(unlabelled)"} but is not protected; set the protect resource option (the component default) until the tenant is cancelled.`,
                    r.urn,
                );
            }
        }
    },
};

export const encryptedAtRest: StackValidationPolicy = {
    name: "encrypted-at-rest",
    description: "Every tenant that has a data volume also has its LUKS2 container (the command of its EncryptedVolume component) in the same stack.",
    validateStack: (args, report) => {
        const luks = new Set<string>();
        for (const r of args.resources) {
            const t = luksTenant(r);
            if (t) luks.add(t);
        }
        for (const r of args.resources) {
            if (r.type !== T.volume) continue;
            const labels = labelsOf(r.props);
            if (labels[DATA_LABEL] !== "true") continue;
            const tenant = labels[TENANT_LABEL];
            if (!tenant || !luks.has(tenant)) {
                report(
                    `The data ${describe(r.type, r.name)} of tenant ${tenant ?? "(unlabelled)"} has no LUKS2 container; create it through the EncryptedVolume component (its LUKS command) so the tenant's data is encrypted at rest.`,
                    r.urn,
                );
            }
        }
    },
};

export const dataProtectionPolicies = [dataResourcesProtected, encryptedAtRest];
