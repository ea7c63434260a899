// Promise: "Encrypted backups in geographically separate locations": every
// active tenant backs up to at least two sites, each in a different country
// from the primary site (Iceland). The Storage Boxes that hold them are
// reachable only over SSH/SFTP and cannot be deleted by accident.
//
// Not visible in resources: that restic actually encrypts (it always does) and
// that the per-tenant restic password differs between tenants; that the
// backups run and succeed (the host timer only starts them). A backup
// stack (FI or DE) holds the boxes but not the agent; the primary stack holds
// the agent but not the boxes, so each side is checked where it is.
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
    BACKUP_COUNTRIES_LABEL,
    BACKUP_SITES_LABEL,
    COUNTRY_LABEL,
    DELETE_BY_LABEL,
    ROLE_LABEL,
    STATUS_LABEL,
    STORAGE_BOX_LOCATIONS,
    T,
    TENANT_LABEL,
    configOf,
    describe,
    isRecord,
    labelsOf,
} from "./common";

const BACKUP_DEFAULTS = { primaryCountry: "IS", minBackupSites: 2 };

function splitList(s: string | undefined): string[] {
    return (s ?? "")
        .split(",")
        .map((x) => x.trim())
        .filter((x) => x.length > 0);
}

export const backupSites: StackValidationPolicy = {
    name: "backup-sites",
    description: "Every active tenant has a backup agent writing to at least minBackupSites sites in distinct countries, none of them the primary site's country.",
    configSchema: {
        properties: {
            primaryCountry: { type: "string", default: "IS" },
            minBackupSites: { type: "integer", minimum: 1, default: 2 },
        },
    },
    validateStack: (args, report) => {
        const { primaryCountry, minBackupSites } = configOf(args, BACKUP_DEFAULTS);
        const homeservers = new Map<string, { urn: string; status: string }>();
        const agents = new Map<string, { urn: string; name: string; labels: Record<string, string> }[]>();
        for (const r of args.resources) {
            if (r.type !== T.container) continue;
            const labels = labelsOf(r.props);
            const tenant = labels[TENANT_LABEL];
            if (!tenant) continue;
            if (labels[ROLE_LABEL] === "homeserver") homeservers.set(tenant, { urn: r.urn, status: labels[STATUS_LABEL] ?? "active" });
            if (labels[ROLE_LABEL] === "backup-agent") agents.set(tenant, [...(agents.get(tenant) ?? []), { urn: r.urn, name: r.name, labels }]);
        }
        for (const [tenant, hs] of homeservers) {
            // Suspended and cancelled tenants keep whatever agent they have; the promise is for active tenants.
            if (hs.status !== "active") continue;
            const list = agents.get(tenant) ?? [];
            if (list.length === 0) {
                report(
                    `Active tenant ${tenant} has no backup agent; add a backup-agent container for it writing to at least ${minBackupSites} sites outside ${primaryCountry}.`,
                    hs.urn,
                );
                continue;
            }
            for (const agent of list) {
                const where = describe(T.container, agent.name);
                const countries = splitList(agent.labels[BACKUP_COUNTRIES_LABEL]);
                const sites = splitList(agent.labels[BACKUP_SITES_LABEL]);
                if (countries.length < minBackupSites) {
                    report(
                        `The backup agent ${where} of tenant ${tenant} writes to ${countries.length} countr${countries.length === 1 ? "y" : "ies"} (${BACKUP_COUNTRIES_LABEL}="${countries.join(",")}"); give the tenant at least ${minBackupSites} backup sites in different countries.`,
                        agent.urn,
                    );
                }
                if (new Set(countries).size !== countries.length) {
                    report(`The backup agent ${where} of tenant ${tenant} names a country twice (${countries.join(",")}); choose backup sites in distinct countries.`, agent.urn);
                }
                if (countries.includes(primaryCountry)) {
                    report(
                        `The backup agent ${where} of tenant ${tenant} writes a backup to ${primaryCountry}, the primary site's country; move that backup site to another country.`,
                        agent.urn,
                    );
                }
                if (sites.length !== countries.length) {
                    report(
                        `The backup agent ${where} of tenant ${tenant} lists ${sites.length} sites but ${countries.length} countries; set ${BACKUP_SITES_LABEL} and ${BACKUP_COUNTRIES_LABEL} to matching lists.`,
                        agent.urn,
                    );
                }
            }
        }
    },
};

export const backupAgentSettings: ResourceValidationPolicy = {
    name: "backup-agent-settings",
    description: "The backup agent container is not left running: it is started by the host's timer (start: false) and not restarted by Docker on its own.",
    validateResource: (args, report) => {
        if (args.type !== T.container || labelsOf(args.props)[ROLE_LABEL] !== "backup-agent") return;
        const where = describe(args.type, args.name);
        if (args.props["start"] !== false) report(`The backup agent ${where} would be started by Pulumi; set start: false (the host's backup timer starts it).`);
        const restart = args.props["restart"];
        // on-failure (with a retry count) retries a failed run; always / unless-stopped would start it with the daemon and keep it running.
        if (restart === "always" || restart === "unless-stopped") {
            report(`The backup agent ${where} has restart "${restart}", which keeps it running outside the backup window; set restart to "on-failure" or "no".`);
        }
    },
};

export const storageBoxSettings: ResourceValidationPolicy = {
    name: "storage-box-settings",
    description:
        "Backup Storage Boxes are labelled, outside the primary country, reachable by SSH only, have no snapshot plan, and are delete-protected and protected while their tenant is active or suspended.",
    configSchema: {
        properties: {
            primaryCountry: { type: "string", default: "IS" },
        },
    },
    validateResource: (args, report) => {
        if (args.type !== T.storageBox) return;
        const { primaryCountry } = configOf(args, { primaryCountry: BACKUP_DEFAULTS.primaryCountry });
        const where = describe(args.type, args.name);
        const labels = labelsOf(args.props);
        for (const key of [TENANT_LABEL, COUNTRY_LABEL, BACKUP_SITES_LABEL, STATUS_LABEL]) {
            if (!labels[key]) report(`The ${where} has no "${key}" label; add it (tenant, country, site and status are how policies and ops tell whose box it is).`);
        }
        // Where the box is decides the country, not its label: the location is what Hetzner acts on.
        const location = typeof args.props["location"] === "string" ? args.props["location"] : undefined;
        const country = location === undefined ? undefined : STORAGE_BOX_LOCATIONS[location];
        if (country === undefined) {
            report(
                `The ${where} has location ${JSON.stringify(location ?? null)}, which is not a known Storage Box location; use one of ${Object.entries(STORAGE_BOX_LOCATIONS)
                    .map(([l, c]) => `${l} (${c})`)
                    .join(", ")}.`,
            );
        } else {
            if (country === primaryCountry) {
                report(
                    `The ${where} is in ${primaryCountry} (location ${location}), the primary site's country; put backups in another country (a backup stack whose redoubt:location is outside ${primaryCountry}).`,
                );
            }
            if (labels[COUNTRY_LABEL] !== undefined && labels[COUNTRY_LABEL] !== country) {
                report(
                    `The ${where} is labelled ${COUNTRY_LABEL}="${labels[COUNTRY_LABEL]}" but its location ${location} is in ${country}; set the stack's redoubt:country to ${country} or move the box.`,
                );
            }
        }
        const status = labels[STATUS_LABEL] ?? "active";
        if (status !== "cancelled") {
            if (args.props["deleteProtection"] !== true)
                report(`The ${where} of ${status} tenant ${labels[TENANT_LABEL] ?? "?"} can be deleted; set deleteProtection: true until the tenant is cancelled.`);
            if (args.opts.protect !== true)
                report(`The ${where} of ${status} tenant ${labels[TENANT_LABEL] ?? "?"} is not protected; set the protect resource option until the tenant is cancelled.`);
        } else if (!labels[DELETE_BY_LABEL]) {
            report(`The ${where} belongs to a cancelled tenant but has no "${DELETE_BY_LABEL}" label; add the deletion deadline.`);
        }
        const access = isRecord(args.props["accessSettings"]) ? args.props["accessSettings"] : {};
        if (access["reachableExternally"] !== true)
            report(`The ${where} is not reachable from outside Hetzner; set accessSettings.reachableExternally: true so the Iceland backup agent can reach it.`);
        if (access["sshEnabled"] !== true) report(`The ${where} has SSH off; set accessSettings.sshEnabled: true (restic uses SFTP on port 23).`);
        for (const key of ["sambaEnabled", "webdavEnabled", "zfsEnabled"]) {
            if (access[key] === true) report(`The ${where} has accessSettings.${key} on; set it to false: only SFTP is used.`);
        }
        if (args.props["snapshotPlan"] !== undefined && args.props["snapshotPlan"] !== null) {
            report(`The ${where} has a snapshotPlan; remove it: snapshots outlive deleted files and would break the promise to delete a cancelled tenant's data within days.`);
        }
    },
};

export const backupPolicies = [backupSites, backupAgentSettings, storageBoxSettings];
