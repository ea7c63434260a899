// Every name a tenant's or the host's resources have on the Docker host
// (containers, networks, volumes, slices) and every host path, in one place.
// Components, host scripts, the unlock command and the tests import them;
// the policy pack reads typed inputs and labels instead of parsing names.
import type { ContainerRole, NetworkPurpose } from "./labels";

/** What every Redoubt name on a host starts with. */
export const NAME_PREFIX = "redoubt";

/** A tenant's container of a role, e.g. `redoubt-acme-homeserver`. The backup agent is `…-backup`. */
export function containerName(tenant: string, role: Exclude<ContainerRole, "edge" | "config">): string {
    return `${NAME_PREFIX}-${tenant}-${role === "backup-agent" ? "backup" : role}`;
}

/** The config carrier of a container: the container's name with `-config`. */
export function carrierName(serviceContainer: string): string {
    return `${serviceContainer}-config`;
}

/** A tenant's Docker network, e.g. `redoubt-acme-services`. */
export function networkName(tenant: string, purpose: Exclude<NetworkPurpose, "edge-public">): string {
    return `${NAME_PREFIX}-${tenant}-${purpose}`;
}

/** The Docker volume bound to a tenant's opened LUKS volume. */
export function dataVolumeName(tenant: string): string {
    return `${NAME_PREFIX}-${tenant}-data`;
}

/** The systemd slice whose TasksMax is a tenant's (or the edge's) process limit. */
export function sliceName(owner: string): string {
    return `${NAME_PREFIX}-${owner}.slice`;
}

/** The shared SNI edge's container, public network and config volume. */
export const EDGE_CONTAINER = `${NAME_PREFIX}-edge`;
export const EDGE_PUBLIC_NETWORK = `${NAME_PREFIX}-edge-public`;
export const EDGE_CONFIG_VOLUME = `${NAME_PREFIX}-edge-config`;
/** The edge's slice owner name ("edge" is reserved: no tenant may take it). */
export const EDGE_SLICE_OWNER = "edge";

/** The host timer and service that back a tenant up. */
export function backupUnitName(tenant: string): string {
    return `${NAME_PREFIX}-backup-${tenant}`;
}

/** The host timer and service of a tenant's monthly restore drill. */
export function restoreDrillUnitName(tenant: string): string {
    return `${NAME_PREFIX}-restore-drill-${tenant}`;
}
