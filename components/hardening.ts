// The container settings every tenant container shares (CIS Docker §5):
// not root, read-only root fs, no capabilities, no privilege escalation,
// memory/CPU limits, the tenant's slice (process limit) and bounded logs.
import type * as docker from "@pulumi/docker";
import type * as pulumi from "@pulumi/pulumi";
import type { ConfigRole } from "./render/host";
import { dockerLabels, LOG_RETENTION_LABEL, ROLE_LABEL, STATUS_LABEL, TENANT_LABEL, type ContainerRole } from "./labels";

/**
 * Options for resources with a fixed Docker name (containers, networks): the
 * old one must be deleted before its replacement can take the name (and the
 * subnet or host port).
 */
export const FIXED_NAME = { deleteBeforeReplace: true } as const;

/** What every tenant container's component takes. */
export interface TenantContainerArgs {
    /** The tenant the container belongs to. */
    tenant: string;
    /** Image reference pinned by digest. */
    image: pulumi.Input<string>;
    /** The tenant's encrypted data volume: state and config live in its subdirectories. */
    dataVolume: pulumi.Input<string>;
    /** uid:gid to run as: the tenant's own, never root. */
    user: string;
    /** The tenant's systemd slice; its TasksMax is the process limit. */
    cgroupParent: string;
    /** Days the host keeps the container's logs. */
    logRetentionDays: number;
    /** Extra labels (lifecycle phase, deadline). */
    labels: Record<string, pulumi.Input<string> | undefined>;
}

/** Memory and CPU of one container. */
export interface ContainerLimits {
    memoryMiB: number;
    cpus: number;
}

/** Fixed sizes of the helper containers; the homeserver gets the plan's. */
export const HELPER_LIMITS: Record<Exclude<ContainerRole, "homeserver">, ContainerLimits> = {
    proxy: { memoryMiB: 128, cpus: 0.5 },
    "backup-agent": { memoryMiB: 512, cpus: 0.5 },
    tor: { memoryMiB: 256, cpus: 0.5 },
    wireguard: { memoryMiB: 128, cpus: 0.25 },
    "push-proxy": { memoryMiB: 64, cpus: 0.25 },
    edge: { memoryMiB: 256, cpus: 1 },
    // Never started: the limits only bound a mistaken `docker start`.
    config: { memoryMiB: 16, cpus: 0.1 },
};

export interface HardenedContainerInput {
    /**
     * Tenant name.
     * @default none (the shared edge)
     */
    tenant?: string;
    role: ContainerRole;
    /** Unix uid:gid the process runs as. */
    user: string;
    limits: ContainerLimits;
    /** systemd slice the container's cgroup lives in; its TasksMax is the process limit. */
    cgroupParent: string;
    /** Days the host keeps the container's logs (the tenant's logging.retentionDays, 1 to 30). */
    logRetentionDays: number;
    /**
     * Extra labels (status, delete-by, backup sites, config revision).
     * @default {}
     */
    labels?: Record<string, pulumi.Input<string> | undefined>;
    /**
     * Writable scratch directories, as tmpfs.
     * @default []
     */
    tmpfs?: string[];
}

export type HardenedContainerArgs = Pick<
    docker.ContainerArgs,
    | "user"
    | "readOnly"
    | "capabilities"
    | "securityOpts"
    | "memory"
    | "memorySwap"
    | "cpus"
    | "cgroupParent"
    | "logDriver"
    | "logOpts"
    | "labels"
    | "restart"
    | "maxRetryCount"
    | "tmpfs"
    | "privileged"
    | "init"
>;

export function hardenedContainerArgs(input: HardenedContainerInput): HardenedContainerArgs {
    const tag = input.tenant ? `redoubt/${input.tenant}/${input.role}` : `redoubt/${input.role}`;
    const tmpfs: Record<string, pulumi.Input<string>> = {};
    for (const dir of input.tmpfs ?? ["/tmp"]) tmpfs[dir] = "rw,noexec,nosuid,size=64m";
    return {
        user: input.user,
        readOnly: true,
        privileged: false,
        init: true,
        capabilities: { drops: ["ALL"] },
        securityOpts: ["no-new-privileges:true"],
        memory: input.limits.memoryMiB,
        // Equal to memory: no swap, so the limit is the limit.
        memorySwap: input.limits.memoryMiB,
        cpus: String(input.limits.cpus),
        cgroupParent: input.cgroupParent,
        // journald, whose retention the host bounds in days (see HostBaseline); json-file and local rotate by size only.
        logDriver: "journald",
        logOpts: { tag },
        labels: dockerLabels({
            [TENANT_LABEL]: input.tenant,
            [ROLE_LABEL]: input.role,
            [LOG_RETENTION_LABEL]: String(input.logRetentionDays),
            ...input.labels,
        }),
        restart: "on-failure",
        maxRetryCount: 5,
        tmpfs,
    };
}

/**
 * Where a container's configuration lives: `config/<role>` on the tenant's
 * encrypted volume (secrets there are encrypted at rest and crypto-erased with
 * the tenant). The service mounts it read-only; its ConfigCarrier writes it.
 */
export function configMount(dataVolume: pulumi.Input<string>, role: ConfigRole, target: string, readOnly = true): docker.types.input.ContainerMount {
    return dataMount(dataVolume, `config/${role}`, target, readOnly);
}

/**
 * A subdirectory of the tenant's encrypted volume mounted into a container.
 * `noCopy`: Docker otherwise copies the image's content at the target into an
 * empty volume directory on first mount, and with it the image directory's
 * owner and mode (seen on the live host: the homeserver's data directory
 * became root's 0755 and the homeserver could not write it).
 */
export function dataMount(dataVolume: pulumi.Input<string>, subpath: string, target: string, readOnly = false): docker.types.input.ContainerMount {
    return { type: "volume", source: dataVolume, target, readOnly, volumeOptions: { subpath, noCopy: true } };
}

export function tenantLabels(tenant: string, status: string, deleteBy?: string): Record<string, pulumi.Input<string> | undefined> {
    return { [TENANT_LABEL]: tenant, [STATUS_LABEL]: status, "redoubt.delete-by": deleteBy };
}
