// README.md is the front door: the commands it shows must exist.
import * as fs from "node:fs";
import * as path from "node:path";

const ROOT = path.join(__dirname, "..", "..");
const readme = fs.readFileSync(path.join(ROOT, "README.md"), "utf8");
const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;

describe("README.md", () => {
    it("shows the two commands of the quick start", () => {
        expect(readme).toContain("npm ci && npm run plan");
        expect(readme).toMatch(/^npm test\b/m);
    });

    it("names only npm scripts that exist", () => {
        const named = [...readme.matchAll(/npm run ([a-z][a-z:-]*)/g)].map((m) => m[1]);
        expect(named.length).toBeGreaterThan(5);
        expect([...new Set(named)].filter((name) => !(name in scripts))).toEqual([]);
    });

    it("names only repository files that exist", () => {
        const paths = [...readme.matchAll(/`((?:tenants|components|stacks|policies|lib|cli|test|docs|\.ci|\.github)\/[A-Za-z0-9_./-]+\.(?:ts|yaml|yml|json|md|sh))`/g)].map(
            (m) => m[1],
        );
        expect(paths.length).toBeGreaterThan(10);
        expect(paths.filter((p) => !fs.existsSync(path.join(ROOT, p)))).toEqual([]);
    });
});
