import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { checkCatalog, parseTags } from "../../cli/images";
import { runCli } from "../cli-run";
import { breakingMarkers, DEFAULT_SOAK_DAYS, newerTags, refreshCatalogFile, renderProposal, type NotesSource, type Registry } from "../../lib/image-refresh";
import { DEFAULT_CATALOG_FILE, loadImageCatalog, pinnedReference } from "../../components/images";

const NEW_DIGEST = `sha256:${"b".repeat(64)}`;

function copyOfCatalog(): string {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-images-")), "images.yaml");
    fs.copyFileSync(DEFAULT_CATALOG_FILE, file);
    return file;
}

describe("image catalog", () => {
    it("pins every image by digest", () => {
        const catalog = loadImageCatalog();
        for (const entry of Object.values(catalog)) expect(pinnedReference(entry)).toMatch(/^[a-z0-9./-]+:[\w.-]+@sha256:[0-9a-f]{64}$/);
    });

    it("refuses an entry without a valid digest, naming the file and field", () => {
        const file = copyOfCatalog();
        fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/digest: sha256:[0-9a-f]+/, "digest: latest"));
        expect(() => loadImageCatalog(file)).toThrow(/images\.yaml: homeserver\.digest: must be sha256/);
    });

    it("check reports drift without writing", () => {
        const file = copyOfCatalog();
        const before = fs.readFileSync(file, "utf8");
        const reports = checkCatalog(file, () => NEW_DIGEST);
        expect(reports.every((r) => r.current === NEW_DIGEST && r.pinned !== NEW_DIGEST)).toBe(true);
        expect(fs.readFileSync(file, "utf8")).toBe(before);
    });
});

describe("images refresh", () => {
    const original = loadImageCatalog(DEFAULT_CATALOG_FILE);
    const TODAY = "2026-11-25";
    /** A registry where only the given repositories have a new digest (or a given tag has one), with the given tags listed. */
    const registry = (changed: (repository: string, tag: string) => boolean, tags: Record<string, string[]> = {}): Registry => ({
        digestOf: (repository, tag) => (changed(repository, tag) ? NEW_DIGEST : Object.values(original).find((e) => e.repository === repository)!.digest),
        tagsOf: (repository) => tags[repository] ?? [],
    });
    const noNotes: NotesSource = async () => undefined;

    it("writes new digests, marks every entry verified and keeps the comments", async () => {
        const file = copyOfCatalog();
        const proposal = await refreshCatalogFile(
            file,
            registry((r) => r.includes("caddy")),
            noNotes,
            { today: TODAY },
        );
        const after = loadImageCatalog(file);
        expect(after.proxy).toMatchObject({ digest: NEW_DIGEST, verified: true });
        expect(after.homeserver).toMatchObject({ digest: original.homeserver.digest, verified: true });
        expect(after.homeserver.rollout).toBeUndefined();
        expect(proposal.changes.map((c) => c.role)).toEqual(["proxy"]);
        expect(fs.readFileSync(file, "utf8")).toContain("# The image catalog");
    });

    it("refuses a homeserver change without a canary, leaving the file as it was", async () => {
        const file = copyOfCatalog();
        const before = fs.readFileSync(file, "utf8");
        await expect(
            refreshCatalogFile(
                file,
                registry((r) => r === original.homeserver.repository),
                noNotes,
                { today: TODAY },
            ),
        ).rejects.toThrow(/the homeserver changes: name the tenant that runs the new release first with --canary <tenant>/);
        expect(fs.readFileSync(file, "utf8")).toBe(before);
    });

    it("starts a canary rollout when the homeserver moves to a new tag, and surfaces the release notes' breaking changes", async () => {
        const file = copyOfCatalog();
        const asked: string[] = [];
        const notes: NotesSource = async (url) => {
            asked.push(url);
            return "## v9.9.9\n- Faster sync\n- BREAKING: the `foo` setting was removed; use `bar`\n- Database migration on first start\n";
        };
        const proposal = await refreshCatalogFile(
            file,
            registry((_, tag) => tag === "v9.9.9"),
            notes,
            { today: TODAY, tags: { homeserver: "v9.9.9" }, canary: "acme" },
        );
        const after = loadImageCatalog(file);
        expect(after.homeserver).toMatchObject({ tag: "v9.9.9", digest: NEW_DIGEST });
        expect(after.homeserver.rollout).toEqual({
            canary: ["acme"],
            since: TODAY,
            soakDays: DEFAULT_SOAK_DAYS,
            previous: { tag: original.homeserver.tag, digest: original.homeserver.digest },
        });
        expect(asked).toEqual([original.homeserver.releaseNotes!.replace("{tag}", "v9.9.9")]);
        expect(proposal.changes[0].breaking).toEqual(["- BREAKING: the `foo` setting was removed; use `bar`", "- Database migration on first start"]);
        const text = renderProposal(proposal);
        expect(text).toContain("> - BREAKING: the `foo` setting was removed; use `bar`");
        expect(text).toMatch(/Canary acme runs the new homeserver from 2026-11-25; every other tenant keeps v1\.9\.0 for 2 days/);
    });

    it("refuses a second homeserver change while a rollout is under way", async () => {
        const file = copyOfCatalog();
        await refreshCatalogFile(
            file,
            registry((_, tag) => tag === "v9.9.9"),
            noNotes,
            { today: TODAY, tags: { homeserver: "v9.9.9" }, canary: "acme" },
        );
        await expect(
            refreshCatalogFile(
                file,
                registry((_, tag) => tag === "v9.9.9" || tag === "v10.0.0"),
                noNotes,
                { today: TODAY, tags: { homeserver: "v10.0.0" }, canary: "acme" },
            ),
        ).rejects.toThrow(/while the rollout of v9\.9\.9 \(canary acme since 2026-11-25\) is still under way; finish it first/);
    });

    it("refuses a --tag for an image the catalog does not have, and a canary that is not a tenant name", async () => {
        await expect(
            refreshCatalogFile(
                copyOfCatalog(),
                registry(() => false),
                noNotes,
                { today: TODAY, tags: { matrix: "v1" } as never },
            ),
        ).rejects.toThrow(/--tag matrix=…: matrix is not an image of the catalog \(homeserver, proxy/);
        await expect(
            refreshCatalogFile(
                copyOfCatalog(),
                registry((r) => r === original.homeserver.repository),
                noNotes,
                { today: TODAY, canary: "Acme Corp" },
            ),
        ).rejects.toThrow(/--canary Acme Corp: must be a tenant name/);
        expect(() => parseTags(["homeserver:v1"])).toThrow(/--tag homeserver:v1: must be ROLE=TAG/);
    });

    it("lists newer releases of the same shape, highest first", async () => {
        const proposal = await refreshCatalogFile(
            copyOfCatalog(),
            registry(() => false, { [original.homeserver.repository]: ["v1.8.0", "v1.9.0", "v1.10.0", "v1.9.1", "v2.0.0-rc1", "latest", "main"] }),
            noNotes,
            { today: TODAY },
        );
        expect(proposal.newer.homeserver).toEqual(["v1.10.0", "v1.9.1"]);
        expect(renderProposal(proposal)).toContain("- homeserver: v1.10.0, v1.9.1 (move with `npm run images -- refresh --tag homeserver=<tag>`)");
    });

    it.each<[string, string[], string[]]>([
        ["2.10.2-alpine", ["2.10.3-alpine", "2.11.0", "2.9.0-alpine", "2.10.2-alpine"], ["2.10.3-alpine"]],
        ["latest", ["1.0", "2.0"], []],
        ["0.17.3", ["0.18.0", "v0.19.0", "0.17.3"], ["0.18.0"]],
    ])("newerTags(%s) keeps the tag's shape", (current, tags, expected) => {
        expect(newerTags(current, tags)).toEqual(expected);
    });

    it("finds breaking-change lines and nothing in plain notes", () => {
        expect(breakingMarkers("- Fix a crash\n- Faster media\n")).toEqual([]);
        expect(breakingMarkers("Deprecated: old_key\n\n⚠ config changed\nall good")).toEqual(["Deprecated: old_key", "⚠ config changed"]);
    });
});

describe("the images command line and catalog fields", () => {
    const cli = path.join(__dirname, "..", "..", "cli", "images.ts");

    it.each([
        [["refresh", "--soak-days", "0"], /images: --soak-days 0: must be a whole number of days, at least 1/],
        [["refresh", "--tag", "homeserver:v1"], /images: --tag homeserver:v1: must be ROLE=TAG/],
        [["check", "--canary", "acme"], /images: check takes no options/],
        [["upgrade"], /images: name one command: check or refresh/],
    ])("refuses %j before asking any registry, exit 1 with the usage", async (args, message) => {
        const run = await runCli(cli, args);
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(message);
        expect(run.stderr).toContain("usage: npm run images -- check");
    });

    it("refuses a releaseNotes that is not an https URL with {tag}, naming the file and field", () => {
        const file = copyOfCatalog();
        fs.writeFileSync(
            file,
            fs
                .readFileSync(file, "utf8")
                .replace(/releaseNotes: https:\/\/api\.github\.com\/repos\/matrix-construct\/tuwunel\/releases\/tags\/\{tag\}/, "releaseNotes: http://example.org/notes"),
        );
        expect(() => loadImageCatalog(file)).toThrow(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: homeserver\\.releaseNotes: must be an https URL with \\{tag\\}`));
    });
});
