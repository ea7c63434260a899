import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { checkCatalog, refreshCatalog } from "../../cli/images";
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

    it("check reports drift without writing; refresh writes digests, marks them verified and keeps comments", () => {
        const file = copyOfCatalog();
        const before = fs.readFileSync(file, "utf8");
        const reports = checkCatalog(file, () => NEW_DIGEST);
        expect(reports.every((r) => r.current === NEW_DIGEST && r.pinned !== NEW_DIGEST)).toBe(true);
        expect(fs.readFileSync(file, "utf8")).toBe(before);
        refreshCatalog(file, (repository, tag) => (repository.includes("caddy") && tag.length > 0 ? NEW_DIGEST : loadImageCatalog(DEFAULT_CATALOG_FILE).homeserver.digest));
        const after = loadImageCatalog(file);
        expect(after.proxy).toMatchObject({ digest: NEW_DIGEST, verified: true });
        expect(after.homeserver.verified).toBe(true);
        expect(fs.readFileSync(file, "utf8")).toContain("# The image catalog");
    });
});
