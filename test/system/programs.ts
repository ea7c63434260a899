// The real programs the system tests run. A missing program is a failure that
// names the Debian package to install (see .ci/install-system-deps.sh), never
// a silent skip.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

const EXTRA_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** Absolute path of `name`, searched in PATH and the sbin directories; throws naming the package if absent. */
export function findProgram(name: string): string | undefined {
    const dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), ...EXTRA_DIRS];
    for (const dir of dirs) {
        const candidate = join(dir, name);
        try {
            accessSync(candidate, constants.X_OK);
            return candidate;
        } catch {
            // not here
        }
    }
    return undefined;
}

export function requireProgram(name: string, debianPackage: string): string {
    const found = findProgram(name);
    if (!found) {
        throw new Error(
            `system test needs \`${name}\`, which is not installed: install the Debian package "${debianPackage}" ` +
                `(apt-get install ${debianPackage}, or run .ci/install-system-deps.sh)`,
        );
    }
    return found;
}
