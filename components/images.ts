// The image catalog (images.yaml at the repository root), validated.
import * as fs from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { z } from "zod";

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export const ImageEntrySchema = z.strictObject({
    repository: z.string().regex(/^([a-z0-9.-]+(:[0-9]+)?\/)?[a-z0-9._-]+(\/[a-z0-9._-]+)*$/, "must be [registry[:port]/]repository/path in lower case"),
    tag: z.string().regex(/^[A-Za-z0-9._-]+$/, "must be an image tag"),
    digest: z.string().regex(DIGEST, "must be sha256:<64 hex digits>"),
    verified: z.boolean(),
});
export const ImageCatalogSchema = z.strictObject({
    homeserver: ImageEntrySchema,
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
