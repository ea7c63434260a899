// The tenant file format. This module is the single source of truth: the
// TypeScript types, the loader's validation and tenants/tenant.schema.json
// (for editors) all come from these zod schemas.
import { z } from "zod";

/**
 * A strict object whose "unknown field" error lists what is allowed, so a typo
 * in a tenant file is caught and the operator sees the right spelling.
 */
function strictObject<T extends z.ZodRawShape>(shape: T, description?: string) {
    const allowed = Object.keys(shape).join(", ");
    const schema = z.strictObject(shape, {
        error: (issue) => (issue.code === "unrecognized_keys" ? `is not a known field (check the spelling); allowed here: ${allowed}` : undefined),
    });
    return description ? schema.describe(description) : schema;
}

/** A DNS label: lower case letters, digits and inner hyphens, 3 to 32 characters. */
export const TENANT_NAME_PATTERN = /^[a-z][a-z0-9-]{1,30}[a-z0-9]$/;
/** A fully qualified DNS name with at least two labels, lower case, no trailing dot. */
export const DNS_NAME_PATTERN = /^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])$/;
/** An OCI image reference pinned by an immutable sha256 digest. */
export const PINNED_IMAGE_PATTERN = /^[a-z0-9][a-z0-9._-]*(:[0-9]+)?(\/[a-z0-9._-]+)*(:[A-Za-z0-9._-]+)?@sha256:[0-9a-f]{64}$/;
/** A WireGuard public key: 32 bytes, base64. */
export const WIREGUARD_KEY_PATTERN = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw480]=$/;
/** An age X25519 recipient (public key). */
export const AGE_RECIPIENT_PATTERN = /^age1[ac-hj-np-z02-9]{58}$/;
const ISO_DATE_PATTERN = /^\d{4}-\d{2}-\d{2}$/;

/** The highest tenant id: ids index the 10.128.0.0/9 address pool in /26 blocks. */
export const MAX_TENANT_ID = 131071;
/** vpn tenants listen on UDP 51820 + id, which must stay below 65536. */
export const MAX_VPN_TENANT_ID = 65535 - 51820;
/** The longest log retention the privacy page allows. */
export const MAX_LOG_RETENTION_DAYS = 30;

/**
 * Resource sizes a plan stands for; every tenant container is limited by them.
 * `mediaRetentionDays`: uploaded files (images, attachments, avatars) older than
 * this are deleted at each nightly backup (components/render/tuwunel.ts); the
 * plan, not the tenant file, sets it, so the promise is one number per plan.
 */
export const PLANS = {
    small: { memoryMiB: 1024, cpus: 1, pids: 256, storageGiB: 20, storageBoxType: "bx11", mediaRetentionDays: 30 },
    medium: { memoryMiB: 4096, cpus: 2, pids: 512, storageGiB: 100, storageBoxType: "bx21", mediaRetentionDays: 90 },
    large: { memoryMiB: 8192, cpus: 4, pids: 1024, storageGiB: 500, storageBoxType: "bx31", mediaRetentionDays: 365 },
} as const;
export type PlanName = keyof typeof PLANS;
export type PlanSize = (typeof PLANS)[PlanName];

/**
 * A site's name (`redoubt:site` of a stack, a key of the primary's
 * `redoubt:backupSites`, an entry of a tenant's `backups.sites`): a DNS-label-like
 * word, 2 to 32 lower-case letters, digits or inner hyphens, starting with a
 * letter. Which backup sites exist is not a list in code: it is the set of
 * backup stacks (`stacks/Pulumi.<stack>.yaml` with `redoubt:role: backup`),
 * checked across files by lib/stack-set.ts.
 */
export const SITE_NAME_PATTERN = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;
export const siteName = z
    .string({ error: "must be a site name (text), e.g. helsinki" })
    .regex(SITE_NAME_PATTERN, "must be a lower-case site name: 2 to 32 letters, digits or inner hyphens, starting with a letter, e.g. helsinki");
export type SiteName = z.infer<typeof siteName>;

/**
 * A Docker host: the name of its primary stack (stacks/Pulumi.<host>.yaml with redoubt:role
 * primary), one stack per host (README, Stacks). Stack names follow the site-name pattern.
 */
export const hostName = z
    .string()
    .regex(SITE_NAME_PATTERN, "must be the name of a primary stack (a Docker host): 2 to 32 lower-case letters, digits or inner hyphens, e.g. iceland");
/**
 * The sites a tenant backs up to when its file names none. A fixed list, not
 * "every backup stack": adding a backup stack must not give every existing
 * tenant a new Storage Box; tenants opt in by naming the new site.
 */
export const DEFAULT_BACKUP_SITES: readonly SiteName[] = ["helsinki", "falkenstein"];

/** A real calendar date written YYYY-MM-DD (shared by tenant files and stack config). */
export const isoDate = z
    .string()
    .regex(ISO_DATE_PATTERN, "must be a date written YYYY-MM-DD")
    .refine((s) => !Number.isNaN(Date.parse(`${s}T00:00:00Z`)) && new Date(`${s}T00:00:00Z`).toISOString().startsWith(s), "must be a real calendar date (YYYY-MM-DD)");

const dnsName = z.string().regex(DNS_NAME_PATTERN, "must be a lower-case DNS name such as chat.example.org (letters, digits, hyphens, at least two labels)");

const pinnedImage = z
    .string()
    .regex(PINNED_IMAGE_PATTERN, "must be pinned by digest, e.g. ghcr.io/matrix-construct/tuwunel:v1.9.0@sha256:<64 hex digits>; a tag alone can change under us");

export const AccessSchema = z.discriminatedUnion(
    "mode",
    [
        strictObject(
            {
                mode: z.literal("public"),
                domain: dnsName.describe("The public DNS name clients use; its A/AAAA records point at the Iceland edge."),
            },
            "Reachable from the internet over TLS at `domain`.",
        ),
        strictObject({ mode: z.literal("tor") }, "Reachable only as a Tor onion service; nothing is published on the internet."),
        strictObject(
            {
                mode: z.literal("vpn"),
                peers: z
                    .array(
                        strictObject({
                            name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, "must be a short lower-case name (letters, digits, hyphens)"),
                            publicKey: z.string().regex(WIREGUARD_KEY_PATTERN, "must be a WireGuard public key (44 characters of base64, as `wg pubkey` prints)"),
                        }),
                    )
                    .min(1, "a vpn tenant needs at least one WireGuard peer")
                    .max(29, "a vpn tenant has at most 29 peers (its VPN is a /27)")
                    .superRefine((peers, ctx) => {
                        // WireGuard routes by public key: two peers with one key are one peer with two names (and addresses that never answer).
                        const seen = new Map<string, number>();
                        peers.forEach((peer, i) => {
                            for (const field of ["name", "publicKey"] as const) {
                                const key = `${field}:${peer[field]}`;
                                const first = seen.get(key);
                                if (first !== undefined)
                                    ctx.addIssue({ code: "custom", path: [i, field], message: `is the same as peer ${first}'s; each peer needs its own ${field}` });
                                else seen.set(key, i);
                            }
                        });
                    })
                    .describe("The customer's WireGuard peers; only they can reach the homeserver."),
            },
            "Reachable only through the tenant's own WireGuard endpoint.",
        ),
    ],
    {
        error: (issue) => (issue.code === "invalid_union" || issue.code === "invalid_value" ? "mode must be one of: public (with domain), tor, vpn (with peers)" : undefined),
    },
);

export const HomeserverSchema = strictObject({
    serverName: dnsName.optional().describe("The Matrix server name (user ids end in :serverName). Can never change. Default: access.domain; required for tor and vpn tenants."),
    registration: z.enum(["token", "closed"]).default("token").describe("token: users register with the generated registration token; closed: nobody can register."),
    image: pinnedImage.optional().describe("Overrides the catalog's homeserver image; must be pinned by digest."),
    push: z
        .enum(["off", "proxy"])
        .default("off")
        .describe("off: no push notification leaves the server (it has no route out); proxy: only to pushGateways, through the tenant's own allow-listing proxy."),
    pushGateways: z
        .array(dnsName)
        .min(1, "list at least one push gateway host, e.g. matrix.org")
        .max(20)
        .optional()
        .describe("Push gateway hosts the push proxy lets through (HTTPS only); required with push: proxy."),
});

export const LoggingSchema = strictObject({
    level: z.enum(["error", "warn"]).default("warn").describe("Homeserver log level; never info or debug, which can log metadata."),
    retentionDays: z
        .number({ error: "must be a whole number of days" })
        .int("must be a whole number of days")
        .min(1, "must be at least 1 day")
        .max(MAX_LOG_RETENTION_DAYS, `must be at most ${MAX_LOG_RETENTION_DAYS} days (the privacy page promises no longer)`)
        .default(14)
        .describe("How many days container logs are kept at most."),
});

const SCHEDULE_PATTERN = /^([01]\d|2[0-3]):[0-5]\d$/;

export const BackupsSchema = strictObject({
    schedule: z
        .string()
        .regex(SCHEDULE_PATTERN, "must be a daily time in UTC written HH:MM, e.g. 03:30")
        .optional()
        .describe("Daily backup time in UTC. Default: a time between 01:00 and 04:59 derived from the tenant id, so tenants do not all back up at once."),
    keep: strictObject({
        daily: z.number().int().min(1).max(90).default(7),
        weekly: z.number().int().min(0).max(52).default(4),
        monthly: z.number().int().min(0).max(24).default(6),
    })
        .prefault({})
        .describe("How many daily, weekly and monthly snapshots restic keeps."),
    sites: z
        .array(siteName.describe("A backup site: the redoubt:site of one of the project's backup stacks (stacks/Pulumi.<stack>.yaml with redoubt:role: backup)."))
        .min(2, "at least two backup sites are required (the privacy page promises geographically separate backups)")
        .refine((sites) => new Set(sites).size === sites.length, "must not name a site twice")
        .default([...DEFAULT_BACKUP_SITES])
        .describe(
            "Backup sites, each in a country other than Iceland and other than each other's. The sites are the project's backup stacks (stacks/Pulumi.<stack>.yaml with redoubt:role: backup and that redoubt:site), listed in the primary's redoubt:backupSites; the plan refuses a site no backup stack serves. Default: helsinki, falkenstein (a site added later is used only by tenants that name it).",
        ),
});

export const ExportSchema = strictObject({
    requestedOn: isoDate.describe("The day the customer asked for an export."),
    recipient: z
        .string({ error: "an export needs the customer's age public key (age1...) to encrypt the archive to" })
        .regex(AGE_RECIPIENT_PATTERN, "must be the customer's age public key (age1 followed by 58 characters)")
        .describe("The customer's age public key; the archive is encrypted to it and to nothing else."),
    deliveredOn: isoDate.optional().describe("The day the archive was handed over; deletion of a cancelled tenant waits for it."),
});

/** An https:// URL of a web page on a DNS name (no credentials, no spaces); what a client may open for the customer's users. */
function isHttpsPage(value: string): boolean {
    if (!/^https:\/\/[^\s/?#@]+(?:[/?#]\S*)?$/.test(value)) return false;
    try {
        const url = new URL(value);
        return url.protocol === "https:" && DNS_NAME_PATTERN.test(url.hostname);
    } catch {
        return false;
    }
}

/**
 * What /.well-known/matrix/support publishes (MSC1929). Opt in: nothing about a
 * tenant is published unless its file says so, and `contact` (the ops contact)
 * never is.
 */
export const SupportSchema = strictObject({
    email: z
        .email("must be an email address, e.g. support@example.org (it is published to anyone who asks the server)")
        .optional()
        .describe("The customer's support email address, published as an m.role.admin contact."),
    page: z
        .string()
        .max(2000, "must be at most 2000 characters")
        .refine(isHttpsPage, "must be an https:// URL of a web page on a DNS name, e.g. https://example.org/help (http:// is not allowed)")
        .optional()
        .describe("The customer's support web page (https:// only)."),
}).refine((support) => support.email !== undefined || support.page !== undefined, {
    message: "needs at least one of email (an email address) and page (an https:// URL); to publish nothing, leave support out",
});

export const TenantSchema = strictObject({
    name: z
        .string()
        .regex(TENANT_NAME_PATTERN, "must be a DNS label: 3 to 32 lower-case letters, digits or hyphens, starting with a letter")
        .describe("The tenant's name; names every resource. Immutable, and never reused."),
    id: z
        .number({ error: "must be a whole number" })
        .int("must be a whole number")
        .min(1, "must be at least 1")
        .max(MAX_TENANT_ID, `must be at most ${MAX_TENANT_ID}`)
        .describe("Unique numeric id; fixes the tenant's subnets. Immutable, and never reused."),
    host: hostName
        .optional()
        .describe(
            "The Docker host that holds the tenant: the name of a primary stack (stacks/Pulumi.<host>.yaml). Required once the project has more than one primary stack; with one, that is the default. Immutable: tenants/ledger.yaml records it.",
        ),
    contact: z.email("must be an email address").describe("Who ops contact about this tenant."),
    status: z.enum(["active", "suspended", "cancelled"]).default("active").describe("Lifecycle state; see README 'Tenant lifecycle'."),
    cancelledOn: isoDate.optional().describe("Required when status is cancelled: the day the customer cancelled."),
    plan: z
        .enum(Object.keys(PLANS) as [PlanName, ...PlanName[]])
        .default("small")
        .describe("Sets memory, CPU, process and storage limits."),
    homeserver: HomeserverSchema.prefault({}),
    access: AccessSchema,
    logging: LoggingSchema.prefault({}),
    backups: BackupsSchema.prefault({}),
    export: ExportSchema.optional().describe("A requested data export."),
    support: SupportSchema.optional().describe(
        "Published at /.well-known/matrix/support on the tenant's names, so clients can show users whom to ask for help. Opt in: without it that path answers 404; contact is never published.",
    ),
}).superRefine((tenant, ctx) => {
    if (tenant.status === "cancelled" && tenant.cancelledOn === undefined) {
        ctx.addIssue({ code: "custom", path: ["cancelledOn"], message: "is required when status is cancelled (the day the customer cancelled, YYYY-MM-DD)" });
    }
    if (tenant.status !== "cancelled" && tenant.cancelledOn !== undefined) {
        ctx.addIssue({ code: "custom", path: ["cancelledOn"], message: `is only allowed when status is cancelled (status is ${tenant.status})` });
    }
    if (tenant.access?.mode !== undefined && tenant.access.mode !== "public" && tenant.homeserver?.serverName === undefined) {
        ctx.addIssue({ code: "custom", path: ["homeserver", "serverName"], message: `is required for ${tenant.access.mode} tenants (it can never change, so it is not derived)` });
    }
    if (tenant.access?.mode === "vpn" && typeof tenant.id === "number" && tenant.id > MAX_VPN_TENANT_ID) {
        ctx.addIssue({ code: "custom", path: ["id"], message: `must be at most ${MAX_VPN_TENANT_ID} for a vpn tenant (its WireGuard port is 51820 + id)` });
    }
    if (tenant.homeserver?.push === "proxy" && tenant.homeserver.pushGateways === undefined) {
        ctx.addIssue({ code: "custom", path: ["homeserver", "pushGateways"], message: "is required with push: proxy (the hosts pushes may go to, e.g. [matrix.org])" });
    }
    if (tenant.homeserver?.push !== "proxy" && tenant.homeserver?.pushGateways !== undefined) {
        ctx.addIssue({ code: "custom", path: ["homeserver", "pushGateways"], message: "is only allowed with push: proxy" });
    }
    if (tenant.export?.deliveredOn !== undefined && tenant.export.requestedOn !== undefined && tenant.export.deliveredOn < tenant.export.requestedOn) {
        ctx.addIssue({ code: "custom", path: ["export", "deliveredOn"], message: "must not be before export.requestedOn" });
    }
});

/** tenants/ledger.yaml: every tenant name and id ever issued, so neither is ever reused or changed. */
export const LedgerSchema = strictObject({
    tenants: z.array(
        strictObject({
            name: z.string().regex(TENANT_NAME_PATTERN, "must be a tenant name"),
            id: z.number().int().min(1).max(MAX_TENANT_ID),
            host: hostName.optional().describe("The Docker host the tenant was placed on (its file's host); once recorded it never changes."),
            deletedOn: isoDate.optional().describe("Set once the tenant's data is gone and its file removed."),
        }),
    ),
});
export type Ledger = z.infer<typeof LedgerSchema>;

/** A tenant file as written (defaults not yet applied). */
export type TenantInput = z.input<typeof TenantSchema>;
/** A validated tenant with every default applied. */
export type Tenant = z.infer<typeof TenantSchema>;
export type Access = z.infer<typeof AccessSchema>;

/** The Matrix server name: the declared one, or the public domain. */
export function serverNameOf(tenant: Tenant): string {
    if (tenant.homeserver.serverName) return tenant.homeserver.serverName;
    if (tenant.access.mode === "public") return tenant.access.domain;
    // The schema refuses this combination; reaching it is a programming error.
    throw new Error(`tenant ${tenant.name}: no server name`);
}

/** The JSON Schema for editors, generated from TenantSchema. */
export function tenantJsonSchema(): Record<string, unknown> {
    return {
        ...z.toJSONSchema(TenantSchema, { io: "input", unrepresentable: "any" }),
        $id: "https://redoubt.invalid/tenant.schema.json",
        title: "Redoubt tenant",
    };
}
