// Refreshing the image catalog (images.yaml) as a reviewable change: the
// registry's digest for each entry's tag (or a new tag), a canary rollout when
// the homeserver changes, newer releases the registry lists, and the lines of
// each new release's notes that warn of breaking changes. What talks to a
// registry or a web site is passed in, so all of it runs in tests offline.
import * as fs from "node:fs";
import { parseDocument } from "yaml";
import { loadImageCatalog, pinnedReference, type ImageCatalog, type ImageRole, type Rollout } from "../components/images";
import { TENANT_NAME_PATTERN } from "../tenants/schema";
import { UsageError } from "./cli-args";

/** Days the canary runs a new homeserver release before every other tenant does, unless told otherwise. */
export const DEFAULT_SOAK_DAYS = 2;

export interface Registry {
    /** The digest the registry serves for repository:tag. */
    digestOf(repository: string, tag: string): string;
    /** Every tag of the repository. */
    tagsOf(repository: string): string[];
}

/** Release notes of a tag as text, or undefined when none can be had. */
export type NotesSource = (url: string) => Promise<string | undefined>;

export interface RefreshOptions {
    /** New tags by role (`--tag homeserver=v1.10.0`). */
    tags?: Partial<Record<ImageRole, string>>;
    /** The tenant that runs a new homeserver release first (required when the homeserver changes). */
    canary?: string;
    soakDays?: number;
    /** The day the rollout starts (today, UTC). */
    today: string;
}

export interface EntryChange {
    role: ImageRole;
    from: string;
    to: string;
    /** Lines of the new release's notes that announce a breaking change (empty: none found or no notes). */
    breaking: string[];
    /** Where the notes were read, when the entry names them. */
    notes?: string;
}

export interface RefreshProposal {
    changes: EntryChange[];
    /** Tags newer than the pinned one, by role, as the registry lists them. */
    newer: Partial<Record<ImageRole, string[]>>;
    rollout?: Rollout;
}

const BREAKING = /breaking|incompatib|migrat|deprecat|removed|no longer|must now|⚠|\bwarning\b/i;

/** The lines of release notes that warn of a breaking change: what a reviewer must read before merging. */
export function breakingMarkers(notes: string): string[] {
    return notes
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l.length > 0 && BREAKING.test(l));
}

/** Numeric parts of a version-like tag (v1.10.0 → [1, 10, 0]), or undefined for tags like `latest`. */
function versionOf(tag: string): number[] | undefined {
    const m = /^v?(\d+(?:\.\d+)*)(-[A-Za-z0-9.]+)?$/.exec(tag);
    return m ? m[1].split(".").map(Number) : undefined;
}

function compareVersions(a: number[], b: number[]): number {
    for (let i = 0; i < Math.max(a.length, b.length); i++) {
        const d = (a[i] ?? 0) - (b[i] ?? 0);
        if (d !== 0) return d;
    }
    return 0;
}

/**
 * Tags newer than `current` with the same shape (same suffix, e.g. `-alpine`,
 * and no pre-release), highest first. None for a tag that is not a version.
 */
export function newerTags(current: string, tags: readonly string[]): string[] {
    const mine = versionOf(current);
    if (mine === undefined) return [];
    const suffix = /(-[A-Za-z0-9.]+)$/.exec(current)?.[1] ?? "";
    return tags
        .filter((t) => (/(-[A-Za-z0-9.]+)$/.exec(t)?.[1] ?? "") === suffix && /^v?\d/.test(t) === /^v?\d/.test(current) && t.startsWith("v") === current.startsWith("v"))
        .map((t) => ({ t, v: versionOf(t) }))
        .filter((x): x is { t: string; v: number[] } => x.v !== undefined && compareVersions(x.v, mine) > 0)
        .sort((a, b) => compareVersions(b.v, a.v))
        .map((x) => x.t);
}

/** Reads release notes: a GitHub releases API answer gives its `body`, anything else is taken as text. */
export async function fetchNotes(url: string): Promise<string | undefined> {
    try {
        const response = await fetch(url, { headers: { accept: "application/vnd.github+json, text/plain;q=0.9" } });
        if (!response.ok) return undefined;
        const text = await response.text();
        try {
            const json = JSON.parse(text) as { body?: unknown };
            return typeof json.body === "string" ? json.body : text;
        } catch {
            return text;
        }
    } catch {
        return undefined;
    }
}

/**
 * Writes the registry's digests (for new tags where given) into the catalog,
 * marks every entry verified, starts a canary rollout when the homeserver
 * changes, and returns what changed for the pull request. Refuses (UsageError)
 * a homeserver change without a canary and one while another rollout is under
 * way; the file is then left as it was.
 */
export async function refreshCatalogFile(file: string, registry: Registry, notesOf: NotesSource, options: RefreshOptions): Promise<RefreshProposal> {
    const catalog = loadImageCatalog(file);
    const roles = Object.keys(catalog) as ImageRole[];
    for (const role of Object.keys(options.tags ?? {})) {
        if (!roles.includes(role as ImageRole)) throw new UsageError(`--tag ${role}=…: ${role} is not an image of the catalog (${roles.join(", ")})`);
    }
    const next = Object.fromEntries(
        roles.map((role) => {
            const tag = options.tags?.[role] ?? catalog[role].tag;
            return [role, { ...catalog[role], tag, digest: registry.digestOf(catalog[role].repository, tag) }];
        }),
    ) as ImageCatalog;
    const changed = roles.filter((role) => pinnedReference(catalog[role]) !== pinnedReference(next[role]));
    const rollout = changed.includes("homeserver") ? startRollout(catalog, options) : undefined;
    const changes: EntryChange[] = [];
    for (const role of changed) {
        const url = catalog[role].releaseNotes?.replace("{tag}", next[role].tag);
        const notes = url !== undefined && next[role].tag !== catalog[role].tag ? await notesOf(url) : undefined;
        changes.push({ role, from: pinnedReference(catalog[role]), to: pinnedReference(next[role]), breaking: notes ? breakingMarkers(notes) : [], notes: url });
    }
    const newer: RefreshProposal["newer"] = {};
    for (const role of roles) {
        const tags = newerTags(next[role].tag, registry.tagsOf(catalog[role].repository));
        if (tags.length > 0) newer[role] = tags;
    }

    const doc = parseDocument(fs.readFileSync(file, "utf8"));
    for (const role of roles) {
        doc.setIn([role, "tag"], next[role].tag);
        doc.setIn([role, "digest"], next[role].digest);
        doc.setIn([role, "verified"], true);
    }
    if (rollout) doc.setIn(["homeserver", "rollout"], rollout);
    fs.writeFileSync(file, doc.toString());
    loadImageCatalog(file);
    return { changes, newer, rollout };
}

function startRollout(catalog: ImageCatalog, options: RefreshOptions): Rollout {
    const under = catalog.homeserver.rollout;
    if (under !== undefined) {
        throw new UsageError(
            `the homeserver would change while the rollout of ${catalog.homeserver.tag} (canary ${under.canary.join(", ")} since ${under.since}) is still under way; finish it first: remove homeserver.rollout from images.yaml once every tenant runs it`,
        );
    }
    if (options.canary === undefined) {
        throw new UsageError("the homeserver changes: name the tenant that runs the new release first with --canary <tenant> (images.yaml homeserver.rollout)");
    }
    if (!TENANT_NAME_PATTERN.test(options.canary)) throw new UsageError(`--canary ${options.canary}: must be a tenant name`);
    return {
        canary: [options.canary],
        since: options.today,
        soakDays: options.soakDays ?? DEFAULT_SOAK_DAYS,
        previous: { tag: catalog.homeserver.tag, digest: catalog.homeserver.digest },
    };
}

/** The pull request's description: what changes, the rollout, what the release notes warn of, newer releases. */
export function renderProposal(proposal: RefreshProposal): string {
    const lines = ["## Image catalog refresh", ""];
    if (proposal.changes.length === 0) lines.push("No image changes.", "");
    for (const change of proposal.changes) {
        lines.push(`### ${change.role}`, "", `- from \`${change.from}\``, `- to \`${change.to}\``);
        if (change.notes !== undefined) lines.push(`- release notes: ${change.notes}`);
        if (change.breaking.length > 0) lines.push("", "**Breaking-change markers in the release notes (read before merging):**", "", ...change.breaking.map((l) => `> ${l}`));
        lines.push("");
    }
    if (proposal.rollout) {
        const r = proposal.rollout;
        lines.push(
            "### Rollout",
            "",
            `Canary ${r.canary.join(", ")} runs the new homeserver from ${r.since}; every other tenant keeps ${r.previous.tag} for ${r.soakDays} days. Each homeserver takes a fresh backup to every site before it changes image (the upgrade gate).`,
            "",
        );
    }
    const newer = Object.entries(proposal.newer);
    if (newer.length > 0) {
        lines.push(
            "### Newer releases in the registries",
            "",
            ...newer.map(([role, tags]) => `- ${role}: ${tags.join(", ")} (move with \`npm run images -- refresh --tag ${role}=<tag>\`)`),
            "",
        );
    }
    return `${lines.join("\n")}\n`;
}
