// What we hold for one customer, and where (the privacy page: "access
// information about what data we store"): `npm run tenant -- report <tenant>`.
// Built from the tenant file, the stack configs and the resources the real
// program declares for the tenant (a mock run), so it lists what the stacks
// would actually hold, not what a document claims.
import { lifecycleOf, type LifecyclePhase } from "../components/lifecycle";
import { tenantDataMount } from "../components/render/host";
import type { StackConfig } from "../stacks/config";
import type { Tenant } from "../tenants/schema";
import type { CapturedResource, StackRun } from "./mock-run";
import { tenantsOf } from "./plan";
import { primaryOf } from "./stack-set";

/** Resource types that hold a generated secret in the stack's state. */
const SECRET_TYPES: Readonly<Record<string, string>> = {
    "random:index/randomPassword:RandomPassword": "generated password",
    "random:index/randomBytes:RandomBytes": "generated key material",
    "tls:index/privateKey:PrivateKey": "private key",
};
/** Resource types that hold the customer's data. */
const DATA_TYPES: Readonly<Record<string, string>> = {
    "docker:index/volume:Volume": "Docker volume on the encrypted LUKS2 file",
    "hcloud:index/storageBox:StorageBox": "Storage Box (restic repository, encrypted client-side)",
};

export interface InventoryPlace {
    /** What is held. */
    what: string;
    /** Where: host and path, or stack and site. */
    where: string;
    country: string;
}

export interface TenantInventory {
    tenant: string;
    contact: string;
    phase: LifecyclePhase;
    /** The day all data must be gone (cancelled tenants). */
    deleteBy?: string;
    export?: { requestedOn: string; deliveredOn?: string };
    /** Where the data lives: the primary's encrypted volume and each backup site. */
    data: InventoryPlace[];
    /** Backup retention (restic forget --keep-*), per site. */
    backupRetention: { daily: number; weekly: number; monthly: number };
    /** Days journald keeps the tenant's container logs on the host; no access log exists. */
    logRetentionDays: number;
    /** Generated secrets of the tenant, and the stack whose state holds each. */
    secrets: { stack: string; resource: string; kind: string }[];
    /** The tenant's resources per stack, by type. */
    resources: { stack: string; counts: Record<string, number> }[];
}

function ownResources(run: StackRun, tenant: string): CapturedResource[] {
    const owners = tenantsOf(run.resources);
    return run.resources.filter((r) => owners.get(r.urn) === tenant);
}

const shortType = (type: string) => type.split(":").slice(0, 1).concat(type.split(":").slice(-1)).join(":");

/** The tenant's inventory from its file, the stack configs (by stack name) and a run of each stack. */
export function tenantInventory(tenant: Tenant, configs: ReadonlyMap<string, StackConfig>, runs: readonly StackRun[], asOf: string): TenantInventory {
    const lifecycle = lifecycleOf(tenant, asOf, primaryOf(tenant, configs)?.config.deletionGraceDays);
    const data: InventoryPlace[] = [];
    const secrets: TenantInventory["secrets"] = [];
    const resources: TenantInventory["resources"] = [];
    for (const run of runs) {
        const config = configs.get(run.stack);
        if (!config) continue;
        const own = ownResources(run, tenant.name);
        if (own.length === 0) continue;
        const counts: Record<string, number> = {};
        for (const r of own) counts[shortType(r.type)] = (counts[shortType(r.type)] ?? 0) + 1;
        resources.push({ stack: run.stack, counts });
        for (const r of own) {
            if (SECRET_TYPES[r.type]) secrets.push({ stack: run.stack, resource: r.name, kind: SECRET_TYPES[r.type] });
            const held = DATA_TYPES[r.type];
            if (!held) continue;
            const where =
                config.role === "primary"
                    ? `${config.dockerHost.replace(/^ssh:\/\/[^@]+@/, "")}:${tenantDataMount(tenant.name)} (site ${config.site}, stack ${run.stack})`
                    : `Hetzner Storage Box at ${config.location} (site ${config.site}, stack ${run.stack})`;
            data.push({ what: held, where, country: config.country });
        }
    }
    // The primary site's copy first, then the backup sites.
    data.sort((a, b) => Number(b.where.includes(tenantDataMount(tenant.name))) - Number(a.where.includes(tenantDataMount(tenant.name))));
    return {
        tenant: tenant.name,
        contact: tenant.contact,
        phase: lifecycle.phase,
        deleteBy: lifecycle.deleteBy,
        export: tenant.export ? { requestedOn: tenant.export.requestedOn, deliveredOn: tenant.export.deliveredOn } : undefined,
        data,
        backupRetention: tenant.backups.keep,
        logRetentionDays: tenant.logging.retentionDays,
        secrets,
        resources,
    };
}

/** The inventory as text for the operator (and, edited, for the customer). No secret value appears: only where each kind is held. */
export function formatInventory(inv: TenantInventory): string {
    const lines = [
        `tenant ${inv.tenant} (contact ${inv.contact}): ${inv.phase}${inv.deleteBy ? `, all data deleted by ${inv.deleteBy}` : ""}`,
        ...(inv.export ? [`export requested ${inv.export.requestedOn}${inv.export.deliveredOn ? `, delivered ${inv.export.deliveredOn}` : ", not delivered"}`] : []),
        "data (the homeserver's database and media, its backups):",
        ...inv.data.map((d) => `  ${d.country}  ${d.what}: ${d.where}`),
        `backups keep ${inv.backupRetention.daily} daily, ${inv.backupRetention.weekly} weekly, ${inv.backupRetention.monthly} monthly snapshots per site`,
        `logs: container logs in the host's journal for at most ${inv.logRetentionDays} days; no access log, no client addresses`,
        "generated secrets (in each stack's Pulumi state and its history, encrypted by the stack's secrets provider; those a",
        "container needs are also written to the tenant's encrypted volume; the volume's own LUKS key never is):",
        ...inv.secrets.map((s) => `  ${s.stack}: ${s.resource} (${s.kind})`),
        "resources:",
        ...inv.resources.map(
            (r) =>
                `  ${r.stack}: ${Object.entries(r.counts)
                    .map(([type, n]) => `${n} ${type}`)
                    .join(", ")}`,
        ),
    ];
    return `${lines.join("\n")}\n`;
}
