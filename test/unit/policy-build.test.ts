// The policy pack runs compiled (lib/policy-build.ts): built when missing or older
// than a source, left alone when fresh, and a pack that does not compile is refused
// with tsc's own report.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { ensurePackBuilt, packBuild, packBuildStale, PolicyBuildError } from "../../lib/policy-build";

function writePack(dir: string, source: string): void {
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "pack", main: "bin/index.js" }));
    fs.writeFileSync(
        path.join(dir, "tsconfig.json"),
        JSON.stringify({ compilerOptions: { strict: true, module: "commonjs", target: "ES2022", outDir: "bin", rootDir: ".", types: [] }, include: ["*.ts"] }),
    );
    fs.writeFileSync(path.join(dir, "index.ts"), source);
}

/** Sets a file's modification time `seconds` from now, so ordering never rests on the clock's resolution. */
function age(file: string, seconds: number): void {
    const at = new Date(Date.now() + seconds * 1000);
    fs.utimesSync(file, at, at);
}

describe("the compiled policy pack", () => {
    let dir: string;
    beforeEach(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-pack-"))));
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("is built when missing, left alone when fresh, and rebuilt when a source is newer", () => {
        writePack(dir, "export const answer: number = 42;\n");
        const build = packBuild(dir);
        expect(build?.main).toBe(path.join(dir, "bin", "index.js"));
        expect(ensurePackBuilt(dir)).toBe(true);
        expect(fs.readFileSync(path.join(dir, "bin", "index.js"), "utf8")).toContain("42");
        expect(ensurePackBuilt(dir)).toBe(false);

        fs.writeFileSync(path.join(dir, "index.ts"), "export const answer: number = 43;\n");
        age(path.join(dir, "index.ts"), 60);
        expect(packBuildStale(packBuild(dir)!)).toBe(true);
        expect(ensurePackBuilt(dir)).toBe(true);
        expect(fs.readFileSync(path.join(dir, "bin", "index.js"), "utf8")).toContain("43");
    });

    it("refuses a pack that does not compile, with tsc's report and the command to run", () => {
        writePack(dir, "export const answer: number = 'forty-two';\n");
        expect(() => ensurePackBuilt(dir)).toThrow(PolicyBuildError);
        expect(() => ensurePackBuilt(dir)).toThrow(/does not compile \(tsc -p .*npm run build:policies.*\n.*index\.ts.*TS2322/s);
    });

    it("has no build for a pack whose main is TypeScript (ts-node runs it)", () => {
        writePack(dir, "export {};\n");
        fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "pack", main: "index.ts" }));
        expect(packBuild(dir)).toBeUndefined();
        expect(ensurePackBuilt(dir)).toBe(false);
    });

    it("is how this repository's pack ships: main is the build of policies/*.ts", () => {
        const build = packBuild(path.join(__dirname, "..", "..", "policies"));
        expect(build?.main).toMatch(/policies\/bin\/index\.js$/);
        expect(build?.sources).toContain(path.join(__dirname, "..", "..", "policies", "index.ts"));
    });
});
