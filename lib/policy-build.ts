// The policy pack ships compiled. `run-policy-pack` (the program the Pulumi CLI
// starts for a Node.js pack) registers ts-node with `typeCheck: true`, hard
// coded (node_modules/@pulumi/pulumi/cmd/run-policy-pack/run.js), so a pack
// whose `main` is TypeScript is type-checked on every start: 4 to 6 s here, per
// plan and per test. A pack whose `main` is JavaScript loads in about 1 s, and
// ts-node never sees it. `npm ci` builds it (the `prepare` script); every start
// through the harness rebuilds it first when a source is newer than the build,
// so an edited policy is never run stale.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

/** The pack's build could not be made: tsc's own report, with the command to run by hand. */
export class PolicyBuildError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "PolicyBuildError";
    }
}

/** What a pack directory builds: its TypeScript sources and the `main` file its package.json names. */
export interface PackBuild {
    main: string;
    sources: string[];
}

/**
 * The pack's build, when it has one: a package.json `main` that is JavaScript
 * and a tsconfig.json beside it. A pack whose `main` is TypeScript (ts-node
 * runs it) has none.
 */
export function packBuild(packDir: string): PackBuild | undefined {
    const pkg = JSON.parse(fs.readFileSync(path.join(packDir, "package.json"), "utf8")) as { main?: unknown };
    const tsconfig = path.join(packDir, "tsconfig.json");
    if (typeof pkg.main !== "string" || !pkg.main.endsWith(".js") || !fs.existsSync(tsconfig)) return undefined;
    const sources = fs
        .readdirSync(packDir)
        .filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts"))
        .map((f) => path.join(packDir, f));
    return { main: path.join(packDir, pkg.main), sources: [...sources, tsconfig, path.join(packDir, "package.json")] };
}

/** Whether the build is missing or older than any of its sources. */
export function packBuildStale(build: PackBuild): boolean {
    if (!fs.existsSync(build.main)) return true;
    const built = fs.statSync(build.main).mtimeMs;
    return build.sources.some((source) => fs.statSync(source).mtimeMs > built);
}

/** Builds the pack (`tsc -p <packDir>`, type-checked) when its build is missing or stale. Returns whether it built. */
export function ensurePackBuilt(packDir: string): boolean {
    const build = packBuild(packDir);
    if (build === undefined || !packBuildStale(build)) return false;
    const tsc = require.resolve("typescript/bin/tsc");
    // --noEmitOnError: tsc otherwise writes JavaScript despite type errors, and that build would then look fresh.
    const result = spawnSync(process.execPath, [tsc, "-p", packDir, "--noEmitOnError"], { encoding: "utf8" });
    if (result.status !== 0) {
        const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
        throw new PolicyBuildError(`the policy pack in ${packDir} does not compile (tsc -p ${packDir}; npm run build:policies runs it):\n${output}`);
    }
    // tsc leaves a file as it is when its output is unchanged; the build is now as new as its sources.
    const now = new Date();
    fs.utimesSync(build.main, now, now);
    return true;
}
