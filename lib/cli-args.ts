// Command-line parsing for every command: node:util's parseArgs (strict), with
// its errors reworded to name the flag and what it needs.
import { parseArgs, type ParseArgsConfig } from "node:util";

/** A command line that cannot be used: the command prints it with its usage and exits 1. */
export class UsageError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "UsageError";
    }
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/** Parses argv strictly; an unknown option or a missing value is a UsageError naming the flag. */
export function parseCommandLine<O extends Options>(argv: string[], options: O, allowPositionals = false) {
    try {
        return parseArgs({ args: argv, options, allowPositionals, strict: true });
    } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const flag = /'(-[^' ]+)/.exec((e as Error).message)?.[1] ?? "";
        if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") throw new UsageError(`unknown argument ${flag}`);
        if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") throw new UsageError(`${flag} needs a value`);
        if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL")
            throw new UsageError(`unexpected argument ${/'([^']+)'/.exec((e as Error).message)?.[1] ?? ""}; this command takes only options`);
        throw e;
    }
}
