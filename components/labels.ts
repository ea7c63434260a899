// Labels every Docker resource carries. They are how the policy pack (and a
// person with `docker ps --filter label=...`) tells whose a resource is and
// what it is for, so they are part of the contract with policies/.
import type * as pulumi from "@pulumi/pulumi";

/** Tenant that owns the resource; absent on shared, tenant-less resources (the edge). */
export const TENANT_LABEL = "redoubt.tenant";
/** What a container does; one of CONTAINER_ROLES. */
export const ROLE_LABEL = "redoubt.role";
/** What a network is for; one of NETWORK_PURPOSES. */
export const NETWORK_LABEL = "redoubt.network";
/** Days the container's logs are kept at most (the host's journald retention for this tenant). */
export const LOG_RETENTION_LABEL = "redoubt.log-retention-days";
/** "true" on resources that hold tenant data (volumes, storage boxes). */
export const DATA_LABEL = "redoubt.data";
/** The tenant's lifecycle phase at the plan's as-of date: active, suspended, cancelled or awaiting-export (see components/lifecycle.ts). */
export const STATUS_LABEL = "redoubt.status";
/** ISO date after which a cancelled tenant's data must be gone. */
export const DELETE_BY_LABEL = "redoubt.delete-by";
/** Country code (ISO 3166-1 alpha-2) of the site a resource lives in. */
export const COUNTRY_LABEL = "redoubt.country";
/** Backup site name of a storage box, or the comma-separated sites a backup agent writes to. */
export const BACKUP_SITES_LABEL = "redoubt.backup-sites";
/** Comma-separated countries matching BACKUP_SITES_LABEL. */
export const BACKUP_COUNTRIES_LABEL = "redoubt.backup-countries";

/** On a config carrier (role "config"): the role whose configuration files it writes. */
export const CONFIGURES_LABEL = "redoubt.configures";
/**
 * On a service container: the id of the config carrier that last wrote its files. A new
 * carrier (new configuration) is a new id, which replaces the container, so it restarts
 * with the new files.
 */
export const CONFIG_REVISION_LABEL = "redoubt.config-revision";

export const CONTAINER_ROLES = ["homeserver", "proxy", "backup-agent", "tor", "wireguard", "push-proxy", "edge", "config"] as const;
export type ContainerRole = (typeof CONTAINER_ROLES)[number];

/** Roles that need traffic out of the host, and so may join the tenant's egress network. */
export const EGRESS_ROLES: readonly ContainerRole[] = ["backup-agent", "tor", "push-proxy", "wireguard"];

export const NETWORK_PURPOSES = ["services", "ingress", "egress", "edge-public"] as const;
export type NetworkPurpose = (typeof NETWORK_PURPOSES)[number];

/** Docker's label list shape, sorted so inputs never change by key order. */
export function dockerLabels(labels: Record<string, pulumi.Input<string> | undefined>): { label: string; value: pulumi.Input<string> }[] {
    return Object.entries(labels)
        .filter((entry): entry is [string, pulumi.Input<string>] => entry[1] !== undefined)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([label, value]) => ({ label, value }));
}
