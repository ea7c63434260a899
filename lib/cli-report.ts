// One way for every command to report invalid input: which kind of input is
// wrong, then one line per problem naming the file, the line where known, and
// the field. Commands add their own name and what they did not do.
import * as path from "node:path";
import { StackConfigError } from "../stacks/config";
import { formatProblem, TenantSetError } from "../tenants/loader";
import { UsageError } from "./cli-args";
import { StackSetError } from "./stack-set";

export interface InputReport {
    /** What is wrong, e.g. "the tenant files are invalid". */
    what: string;
    /** One line per problem: `file[:line]: field: message`. */
    lines: string[];
}

/** A file as the operator typed it: relative to the working directory when it is below it. */
export function shownPath(file: string, cwd: string = process.cwd()): string {
    if (!path.isAbsolute(file)) return file;
    const rel = path.relative(cwd, file);
    return rel && !rel.startsWith("..") ? rel : file;
}

/** The report for an input error, or undefined when `e` is not one (a crash, a failure of a tool). */
export function inputReport(e: unknown): InputReport | undefined {
    if (e instanceof TenantSetError) return { what: "the tenant files are invalid", lines: e.problems.map((p) => formatProblem({ ...p, file: shownPath(p.file) })) };
    if (e instanceof StackConfigError) return { what: "the stack config is invalid", lines: e.problems.map((p) => `${shownPath(e.file)}: ${p.field}: ${p.message}`) };
    if (e instanceof StackSetError) return { what: "the stacks and tenants disagree", lines: e.problems.map((p) => formatProblem({ ...p, file: shownPath(p.file) })) };
    return undefined;
}

/** `<command>: <what>; nothing was <done>:` and the problem lines, indented, for stderr. */
export function formatInputReport(command: string, report: InputReport, notDone: string): string {
    return `${command}: ${report.what}; nothing was ${notDone}:\n${report.lines.map((l) => `  ${l}`).join("\n")}\n`;
}

/**
 * Exits with `code` once everything written to stdout and stderr has gone out.
 * `process.exit` right after a write drops what is still queued when the stream
 * is a pipe (Node writes to pipes asynchronously): a large `--json` document was
 * cut off mid-way.
 */
export function exitAfterOutput(code: number): void {
    process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}

export interface CommandErrorReport {
    /** The command's name, the first word of every message, e.g. "plan". */
    command: string;
    /** Printed after a usage error. */
    usage: string;
    /** What did not happen, e.g. "planned": "nothing was planned". */
    notDone: string;
    /** The command's own errors: writes its message and returns the exit status, or undefined for others. */
    own?: (e: unknown) => number | undefined;
}

/**
 * Writes a command's error to stderr and returns its exit status: 1 for bad input
 * (tenant files, stack config, usage) and whatever `own` says for the command's
 * own errors; anything else is unexpected, printed with its stack, exit 3.
 */
export function reportCommandError(e: unknown, report: CommandErrorReport): number {
    const input = inputReport(e);
    if (input) {
        process.stderr.write(formatInputReport(report.command, input, report.notDone));
        return 1;
    }
    if (e instanceof UsageError) {
        process.stderr.write(`${report.command}: ${e.message}\n${report.usage}\n`);
        return 1;
    }
    const own = report.own?.(e);
    if (own !== undefined) return own;
    process.stderr.write(`${report.command}: unexpected error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    return 3;
}
