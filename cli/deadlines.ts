// npm run deadlines [-- --json FILE] [--tenants DIR]
//
// Lists every tenant whose deletion or export deadline is within
// DEADLINE_NOTICE_DAYS days of the plan's date, or already passed, with what
// ops must do (lib/deadlines.ts). Reads the same validated inputs as the plan
// (an invalid tenant set or stack file: exit 1, nothing listed). Exit 0 when no
// deadline has passed, 5 when one has (a broken promise to act on now).
import * as fs from "node:fs";
import { parseCommandLine } from "../lib/cli-args";
import { exitAfterOutput, reportCommandError } from "../lib/cli-report";
import { deadlineNotices, formatNotices } from "../lib/deadlines";
import { stackConfigsOf, validateInputs } from "../lib/plan";
import { primaryOf } from "../lib/stack-set";
import { asOfDate, runAsOf } from "../stacks/config";
import { MAX_DELETION_GRACE_DAYS, todayUtc } from "../components/lifecycle";

/** Exit code when a deadline has passed. */
export const DEADLINE_PASSED_EXIT = 5;

const USAGE = `usage: npm run deadlines [-- --json FILE] [--tenants DIR]
  --json FILE   also write the notices as JSON (the daily workflow reads it)
  --tenants DIR read tenant files from DIR instead of the stack config's tenantsDir
  REDOUBT_AS_OF=YYYY-MM-DD  the day to judge (default: today, or the primary stack's pin)`;

function main(argv: string[]): number {
    const parsed = parseCommandLine(argv, { json: { type: "string" }, tenants: { type: "string" }, help: { type: "boolean", short: "h" } });
    if (parsed.values.help) {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    const explicitAsOf = runAsOf();
    const validated = validateInputs({ asOf: explicitAsOf, tenantsDir: parsed.values.tenants });
    const { tenants } = validated;
    const stackConfigs = stackConfigsOf(validated);
    const primary = [...stackConfigs.values()].find((c) => c.role === "primary");
    const asOf = primary ? asOfDate(primary, explicitAsOf) : (explicitAsOf ?? todayUtc());
    const all = [...new Map([...tenants.values()].flat().map((l) => [l.tenant.name, l.tenant])).values()];
    // Each tenant's grace is its own host's (primary stack's).
    const notices = deadlineNotices(all, asOf, (tenant) => primaryOf(tenant, stackConfigs)?.config.deletionGraceDays ?? MAX_DELETION_GRACE_DAYS);
    process.stdout.write(`deadlines as of ${asOf}:\n${formatNotices(notices, asOf)}\n`);
    if (parsed.values.json) fs.writeFileSync(parsed.values.json, `${JSON.stringify({ asOf, notices }, null, 2)}\n`);
    return notices.some((n) => n.state === "passed") ? DEADLINE_PASSED_EXIT : 0;
}

function reportError(e: unknown): number {
    return reportCommandError(e, { command: "deadlines", usage: USAGE, notDone: "listed" });
}

if (require.main === module) {
    let code: number;
    try {
        code = main(process.argv.slice(2));
    } catch (e) {
        code = reportError(e);
    }
    exitAfterOutput(code);
}
