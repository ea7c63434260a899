// npm run images -- check
//   asks the registry (skopeo) for each catalog tag's current digest and reports drift; changes nothing
// npm run images -- refresh [--tag ROLE=TAG]... [--canary TENANT] [--soak-days N] [--summary FILE]
//   writes the registry's digests (of new tags where given) into images.yaml, marks them verified, starts a
//   canary rollout when the homeserver changes, and writes the pull request's description (lib/image-refresh.ts)
// Needs skopeo (Debian package `skopeo`) and registry access, which CI here does not have.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { DEFAULT_CATALOG_FILE, loadImageCatalog, type ImageRole } from "../components/images";
import { todayUtc } from "../components/lifecycle";
import { parseCommandLine, UsageError } from "../lib/cli-args";
import { exitAfterOutput, reportCommandError } from "../lib/cli-report";
import { fetchNotes, refreshCatalogFile, renderProposal, type Registry } from "../lib/image-refresh";

export interface DigestReport {
    role: ImageRole;
    reference: string;
    pinned: string;
    current: string;
}

/** The registry's digest of repository:tag, as skopeo reports it (the manifest list for multi-arch images). */
export function registryDigest(repository: string, tag: string): string {
    const out = execFileSync("skopeo", ["inspect", "--raw", "--no-tags", `docker://${repository}:${tag}`], { encoding: "buffer", stdio: ["ignore", "pipe", "pipe"] });
    // The digest of the raw manifest bytes is what `image@sha256:` pins.
    return `sha256:${createHash("sha256").update(out).digest("hex")}`;
}

export function checkCatalog(file: string = DEFAULT_CATALOG_FILE, digestOf = registryDigest): DigestReport[] {
    const catalog = loadImageCatalog(file);
    return (Object.keys(catalog) as ImageRole[]).map((role) => {
        const entry = catalog[role];
        return { role, reference: `${entry.repository}:${entry.tag}`, pinned: entry.digest, current: digestOf(entry.repository, entry.tag) };
    });
}

/** Every tag of a repository, as skopeo lists them. */
export function registryTags(repository: string): string[] {
    const out = execFileSync("skopeo", ["list-tags", `docker://${repository}`], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    return (JSON.parse(out) as { Tags?: string[] }).Tags ?? [];
}

const SKOPEO: Registry = { digestOf: registryDigest, tagsOf: registryTags };

const USAGE = "usage: npm run images -- check\n       npm run images -- refresh [--tag ROLE=TAG]... [--canary TENANT] [--soak-days N] [--summary FILE]";

/** `--tag homeserver=v1.10.0` (repeatable) as role → tag. */
export function parseTags(values: readonly string[]): Partial<Record<ImageRole, string>> {
    const tags: Partial<Record<ImageRole, string>> = {};
    for (const value of values) {
        const m = /^([A-Za-z]+)=([A-Za-z0-9._-]+)$/.exec(value);
        if (!m) throw new UsageError(`--tag ${value}: must be ROLE=TAG, e.g. homeserver=v1.10.0`);
        tags[m[1] as ImageRole] = m[2];
    }
    return tags;
}

async function main(argv: string[]): Promise<number> {
    const parsed = parseCommandLine(
        argv,
        {
            tag: { type: "string", multiple: true },
            canary: { type: "string" },
            "soak-days": { type: "string" },
            summary: { type: "string" },
            help: { type: "boolean", short: "h" },
        },
        true,
    );
    const command = parsed.positionals[0];
    if (parsed.values.help) {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    if (parsed.positionals.length !== 1 || (command !== "check" && command !== "refresh")) throw new UsageError("name one command: check or refresh");
    if (command === "check" && Object.keys(parsed.values).length > 0) throw new UsageError("check takes no options");
    const soak = parsed.values["soak-days"];
    if (soak !== undefined && !/^[1-9][0-9]*$/.test(soak)) throw new UsageError(`--soak-days ${soak}: must be a whole number of days, at least 1`);
    const tags = parseTags(parsed.values.tag ?? []);
    try {
        execFileSync("skopeo", ["--version"], { stdio: "ignore" });
    } catch {
        process.stderr.write("images: skopeo is not installed: apt-get install skopeo (it asks the registry for each tag's digest)\n");
        return 1;
    }
    if (command === "check") {
        let drift = 0;
        for (const r of checkCatalog()) {
            const same = r.pinned === r.current;
            if (!same) drift++;
            process.stdout.write(`${same ? "ok     " : "DRIFT  "} ${r.role.padEnd(12)} ${r.reference}  ${same ? r.pinned : `${r.pinned} -> ${r.current}`}\n`);
        }
        return drift > 0 ? 2 : 0;
    }
    const proposal = await refreshCatalogFile(DEFAULT_CATALOG_FILE, SKOPEO, fetchNotes, {
        tags,
        canary: parsed.values.canary,
        soakDays: soak === undefined ? undefined : Number(soak),
        today: todayUtc(),
    });
    const summary = renderProposal(proposal);
    if (parsed.values.summary) fs.writeFileSync(parsed.values.summary, summary);
    process.stdout.write(summary);
    return 0;
}

if (require.main === module) {
    main(process.argv.slice(2))
        .then((code) => exitAfterOutput(code))
        .catch((e) => exitAfterOutput(reportCommandError(e, { command: "images", usage: USAGE, notDone: "changed" })));
}
