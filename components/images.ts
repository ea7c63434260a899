// The image catalog (images.yaml at the repository root), validated.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { addDays } from "./lifecycle";
import { isoDate, TENANT_NAME_PATTERN } from "../tenants/schema";

const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** The longest a canary rollout may hold the other tenants on the previous release. */
export const MAX_SOAK_DAYS = 14;

export const ImageEntrySchema = z.strictObject({
    repository: z.string().regex(/^([a-z0-9.-]+(:[0-9]+)?\/)?[a-z0-9._-]+(\/[a-z0-9._-]+)*$/, "must be [registry[:port]/]repository/path in lower case"),
    tag: z.string().regex(/^[A-Za-z0-9._-]+$/, "must be an image tag"),
    digest: z.string().regex(DIGEST, "must be sha256:<64 hex digits>"),
    verified: z.boolean(),
    releaseNotes: z
        .string()
        .regex(/^https:\/\/[^\s]*\{tag\}[^\s]*$/, "must be an https URL with {tag} where the release's tag goes")
        .optional()
        .describe("Where a release's notes are (a GitHub releases API URL gives its body); `npm run images -- refresh` reads them for breaking-change markers."),
});
/**
 * A homeserver release rolled out canary first: the canary tenants run the
 * entry's digest from `since`; every other tenant keeps `previous` until the
 * canaries have run it for `soakDays` (ops watch them meanwhile: a failing
 * canary means removing the tenant from `canary` and its digest from the entry,
 * not waiting). Remove `rollout` once every tenant runs the new digest.
 */
export const RolloutSchema = z.strictObject({
    canary: z
        .array(z.string().regex(TENANT_NAME_PATTERN, "must be a tenant name"))
        .min(1, "must name at least one tenant: the canary that runs the new release first")
        .describe("Tenants that run the new release from `since`."),
    since: isoDate.describe("The day the canaries got the new release."),
    soakDays: z
        .number()
        .int("must be a whole number of days")
        .min(1, "must be at least 1 day")
        .max(MAX_SOAK_DAYS, `must be at most ${MAX_SOAK_DAYS} days: a release is not held back longer`)
        .describe("Days the canaries run it before every other tenant does."),
    previous: z.strictObject({ tag: ImageEntrySchema.shape.tag, digest: ImageEntrySchema.shape.digest }).describe("The release every other tenant keeps meanwhile."),
});
export type Rollout = z.infer<typeof RolloutSchema>;

export const ImageCatalogSchema = z.strictObject({
    homeserver: ImageEntrySchema.extend({ rollout: RolloutSchema.optional() }),
    proxy: ImageEntrySchema,
    backupAgent: ImageEntrySchema,
    edge: ImageEntrySchema,
    tor: ImageEntrySchema,
    wireguard: ImageEntrySchema,
    pushProxy: ImageEntrySchema,
});
export type ImageEntry = z.infer<typeof ImageEntrySchema>;
export type ImageCatalog = z.infer<typeof ImageCatalogSchema>;
export type ImageRole = keyof ImageCatalog;

export const DEFAULT_CATALOG_FILE = path.join(__dirname, "..", "images.yaml");

/** `repository:tag@digest`: what Docker pulls, immutable. */
export function pinnedReference(entry: ImageEntry): string {
    return `${entry.repository}:${entry.tag}@${entry.digest}`;
}

/**
 * `repository@digest` of a pinned reference (its tag dropped): the reference
 * the Docker provider reports as a pulled image's repoDigest
 * (test/system/docker-provider.test.ts shows it), worked out without pulling.
 * An unpinned reference is returned unchanged.
 */
export function digestReference(pinned: string): string {
    const at = pinned.indexOf("@");
    // Not pinned: passed on as it is, for images-pinned-by-digest to refuse with a message.
    if (at < 0) return pinned;
    const name = pinned.slice(0, at);
    const colon = name.lastIndexOf(":");
    const repository = colon > name.lastIndexOf("/") ? name.slice(0, colon) : name;
    return `${repository}${pinned.slice(at)}`;
}

export function loadImageCatalog(file: string = DEFAULT_CATALOG_FILE): ImageCatalog {
    const parsed = ImageCatalogSchema.safeParse(parse(fs.readFileSync(file, "utf8")));
    if (!parsed.success) {
        const lines = parsed.error.issues.map((i) => `  ${file}: ${i.path.join(".")}: ${i.message}`);
        throw new Error(`The image catalog is invalid:\n${lines.join("\n")}`);
    }
    return parsed.data;
}

/** The registry an image reference is pulled from, as Docker reads it: a first path part with a dot, a port or `localhost` is a host, otherwise Docker Hub. */
export function registryOf(reference: string): string {
    const first = reference.split("/")[0];
    return reference.includes("/") && (first.includes(".") || first.includes(":") || first === "localhost") ? first : "docker.io";
}

/** The registries a catalog pulls from: the only ones a tenant's image override may name. */
export function catalogRegistries(catalog: ImageCatalog): string[] {
    return [...new Set(Object.values(catalog).map((entry) => registryOf(entry.repository)))].sort();
}

/** The homeserver release a tenant runs under the catalog's rollout, as of a day. */
export interface HomeserverRelease {
    /** The pinned reference (repository:tag@digest). */
    pinned: string;
    /** Why: the catalog's current release, the canary's, or the previous one while the canaries soak. */
    reason: "current" | "canary" | "previous";
}

/**
 * The catalog's homeserver release for one tenant on `asOf`: a canary runs the
 * new release, every other tenant the previous one until `since + soakDays`.
 * (A tenant's own `homeserver.image` overrides the catalog and is not rolled out.)
 */
export function homeserverReleaseFor(catalog: ImageCatalog, tenant: string, asOf: string): HomeserverRelease {
    const entry = catalog.homeserver;
    const current = pinnedReference(entry);
    const rollout = entry.rollout;
    if (rollout === undefined) return { pinned: current, reason: "current" };
    if (rollout.canary.includes(tenant)) return { pinned: current, reason: "canary" };
    if (asOf >= addDays(rollout.since, rollout.soakDays)) return { pinned: current, reason: "current" };
    return { pinned: pinnedReference({ ...entry, ...rollout.previous }), reason: "previous" };
}
