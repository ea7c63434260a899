// npm run images -- <check|refresh>
//   check:   ask the registry (skopeo) for each catalog tag's current digest and report drift; changes nothing
//   refresh: write the registry's digests into images.yaml and mark them verified
// Needs skopeo (Debian package `skopeo`) and registry access, which CI here does not have.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { parseDocument } from "yaml";
import { DEFAULT_CATALOG_FILE, loadImageCatalog, type ImageRole } from "../components/images";

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

/** Writes current digests into the catalog, keeping its comments, and marks every entry verified. */
export function refreshCatalog(file: string = DEFAULT_CATALOG_FILE, digestOf = registryDigest): DigestReport[] {
    const reports = checkCatalog(file, digestOf);
    const doc = parseDocument(fs.readFileSync(file, "utf8"));
    for (const report of reports) {
        doc.setIn([report.role, "digest"], report.current);
        doc.setIn([report.role, "verified"], true);
    }
    fs.writeFileSync(file, doc.toString());
    loadImageCatalog(file);
    return reports;
}

function main(argv: string[]): number {
    const command = argv[0];
    if (command !== "check" && command !== "refresh") {
        process.stderr.write("usage: npm run images -- <check|refresh>\n");
        return 1;
    }
    try {
        execFileSync("skopeo", ["--version"], { stdio: "ignore" });
    } catch {
        process.stderr.write("skopeo is not installed: apt-get install skopeo (it asks the registry for each tag's digest)\n");
        return 1;
    }
    const reports = command === "check" ? checkCatalog() : refreshCatalog();
    let drift = 0;
    for (const r of reports) {
        const same = r.pinned === r.current;
        if (!same) drift++;
        process.stdout.write(
            `${same ? "ok     " : command === "check" ? "DRIFT  " : "updated"} ${r.role.padEnd(12)} ${r.reference}  ${same ? r.pinned : `${r.pinned} -> ${r.current}`}\n`,
        );
    }
    return command === "check" && drift > 0 ? 2 : 0;
}

if (require.main === module) process.exitCode = main(process.argv.slice(2));
