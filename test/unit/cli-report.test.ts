// Every command reports invalid input the same way: what is wrong, then a
// line per problem naming the file (relative to where ops stand), the line
// where known, and the field.
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { parseArgs as parsePlanArgs } from "../../cli/plan";
import { UsageError } from "../../lib/cli-args";
import { formatInputReport, inputReport, reportCommandError, shownPath } from "../../lib/cli-report";
import { StackSetError } from "../../lib/stack-set";
import { StackConfigError } from "../../stacks/config";
import { TenantSetError } from "../../tenants/loader";

describe("the commands' input error report", () => {
    it.each([
        [
            "a tenant file",
            new TenantSetError([{ file: path.join(process.cwd(), "tenants", "acme.yaml"), field: "id", line: 4, message: "must be at least 1" }]),
            "the tenant files are invalid",
            "tenants/acme.yaml:4: id: must be at least 1",
        ],
        [
            "a stack file",
            new StackConfigError("stacks/Pulumi.iceland.yaml", [{ field: "redoubt:asOf", message: "is 2020-01-01, before today" }]),
            "the stack config is invalid",
            "stacks/Pulumi.iceland.yaml: redoubt:asOf: is 2020-01-01, before today",
        ],
        [
            "the stack set",
            new StackSetError([{ file: "stacks/Pulumi.backup-helsinki.yaml", field: "redoubt:tenants", message: "leaves out tenant 'acme'" }]),
            "the stacks and tenants disagree",
            "stacks/Pulumi.backup-helsinki.yaml: redoubt:tenants: leaves out tenant 'acme'",
        ],
    ])("names the file and field of %s", (_what, error, what, line) => {
        const report = inputReport(error);
        expect(report).toEqual({ what, lines: [line] });
        expect(formatInputReport("tenant", report!, "started")).toBe(`tenant: ${what}; nothing was started:\n  ${line}\n`);
    });

    it("is no report for anything that is not bad input (those are crashes or tool failures)", () => {
        expect(inputReport(new Error("pulumi failed"))).toBeUndefined();
        expect(inputReport("a string")).toBeUndefined();
    });

    it("shows files below the working directory relative to it, others as given", () => {
        expect(shownPath("/work/x/tenants/a.yaml", "/work/x")).toBe("tenants/a.yaml");
        expect(shownPath("/etc/a.yaml", "/work/x")).toBe("/etc/a.yaml");
        expect(shownPath("stacks/Pulumi.iceland.yaml", "/work/x")).toBe("stacks/Pulumi.iceland.yaml");
    });
});

describe("the commands' argument parsing", () => {
    it.each([
        [["--frobnicate"], /^unknown argument --frobnicate$/],
        [["--as-of"], /^--as-of needs a value$/],
        [["--as-of", "--json"], /^--as-of needs a value$/],
        [["--as-of", "2026-02-30"], /^--as-of must be a real calendar date written YYYY-MM-DD, not '2026-02-30'$/],
        [["--accept-data-loss", "acme"], /only applies with --diff/],
        [["extra"], /^unexpected argument extra; this command takes only options$/],
        [["--first-preview", "--diff", "HEAD"], /^--first-preview cannot be combined with --diff/],
    ])("plan refuses %j naming the flag", (argv, message) => {
        expect(() => parsePlanArgs(argv)).toThrow(UsageError);
        expect(() => parsePlanArgs(argv)).toThrow(message);
    });

    it("plan reads repeated and inline flags", () => {
        const args = parsePlanArgs(["--stack", "iceland", "--stack=backup-helsinki", "--as-of=2026-03-01", "--no-policy", "--json"]);
        expect(args).toMatchObject({ stacks: ["iceland", "backup-helsinki"], asOf: "2026-03-01", policy: false, json: true });
    });
});

describe("reportCommandError", () => {
    class OwnError extends Error {}
    const report = { command: "demo", usage: "usage: demo <x>", notDone: "done", own: (e: unknown) => (e instanceof OwnError ? 7 : undefined) };
    let written: string[];
    beforeEach(() => {
        written = [];
        jest.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
            written.push(String(chunk));
            return true;
        });
    });
    afterEach(() => jest.restoreAllMocks());

    it("gives bad input exit 1 with the command's name and what was not done", () => {
        const code = reportCommandError(new StackConfigError("stacks/Pulumi.x.yaml", [{ field: "redoubt:site", message: "is required" }]), report);
        expect(code).toBe(1);
        expect(written.join("")).toBe("demo: the stack config is invalid; nothing was done:\n  stacks/Pulumi.x.yaml: redoubt:site: is required\n");
    });
    it("gives a usage error exit 1 followed by the usage", () => {
        expect(reportCommandError(new UsageError("--x is not an option"), report)).toBe(1);
        expect(written.join("")).toBe("demo: --x is not an option\nusage: demo <x>\n");
    });
    it("lets the command report its own errors with its own exit status", () => {
        expect(reportCommandError(new OwnError("mine"), report)).toBe(7);
        expect(written).toEqual([]);
    });
    it("calls anything else unexpected, exit 3, with its stack", () => {
        expect(reportCommandError(new Error("boom"), report)).toBe(3);
        expect(written.join("")).toMatch(/^demo: unexpected error: Error: boom\n\s+at /);
    });
});

describe("exitAfterOutput", () => {
    it("exits with the code only after a large write to a pipe has gone out", () => {
        const module = require.resolve("../../lib/cli-report");
        const script = `require("ts-node").register({ swc: true }); const big = "x".repeat(2 * 1024 * 1024); process.stdout.write(big); require(${JSON.stringify(module)}).exitAfterOutput(3);`;
        const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", maxBuffer: 8 * 1024 * 1024 });
        expect({ status: r.status, length: r.stdout.length }).toEqual({ status: 3, length: 2 * 1024 * 1024 });
    });
});
