// npm run tenant -- <preview|up|refresh> <tenant> [--stack NAME]...
// npm run tenant -- unlock <tenant...|--all> [--stack NAME]
// npm run tenant -- report <tenant> [--json]
// npm run tenant -- restore <tenant> --from <site> [--snapshot ID] [--as <tenant>] [--force] [--dry-run]
//
// Brings one tenant up (or previews / refreshes it) across all its stacks,
// backup stacks first, through the real Pulumi CLI (Automation API), targeting
// exactly the tenant's resources; preview and up run the policy pack in
// policies/. An up whose preview shows a shared resource changing (edge,
// images, host baseline) stops before changing anything unless --shared.
// Refuses unknown tenants, invalid tenant sets and a missing CLI before
// anything starts (exit 1). Pulumi failures: exit 2.
import { parseCommandLine, UsageError } from "../lib/cli-args";
import { exitAfterOutput, formatInputReport, inputReport } from "../lib/cli-report";
import { formatInventory } from "../lib/inventory";
import { formatSharedChange, OPERATIONS, reportTenant, runRestore, runTenantOperation, runUnlock, TenantOpError, type TenantOperation } from "../lib/tenant-ops";
import { UnlockError } from "../lib/unlock";

const USAGE = `usage: npm run tenant -- <preview|up|refresh> <tenant> [--stack NAME]... [--shared]
       npm run tenant -- unlock <tenant...|--all> [--stack NAME]
       npm run tenant -- report <tenant> [--json]
       npm run tenant -- restore <tenant> --from <site> [--snapshot ID] [--as <tenant>] [--force] [--dry-run]
  preview   pulumi preview of the tenant's resources and the shared ones they use, with the policy pack;
            lists the shared resources that would change
  up        the same preview, then pulumi up of the tenant's resources only, with the policy pack (backup
            stacks first); stops before changing anything if a shared resource would change, unless --shared
  refresh   pulumi refresh of the tenant's resources
  unlock    after a host reboot: open the tenants' encrypted volumes with their keys from the
            primary stack's state and start their containers and the edge
  report    what we hold for the tenant and where: data and backup copies by country, retention,
            generated secrets and the state holding each, resources (offline; no credentials)
  restore   restore the tenant's homeserver data (database backup and media) from a backup site onto its
            volume, the homeserver stopped and started again; refuses data newer than the snapshot
  --from SITE   restore: the backup site (one of the tenant's backups.sites)
  --snapshot ID restore: a restic snapshot ID (default: the newest)
  --as TENANT   restore: onto this other, fresh tenant instead (a restore drill)
  --force       restore: also over data newer than the snapshot (or a drill tenant's data)
  --dry-run     restore: print the script that would run on the host, run nothing
  --stack NAME  only this stack (repeatable); for unlock, the primary stack (default: the project's)
  --shared      up: also change the shared resources the preview shows changing (they serve every tenant)
  --all     unlock: every tenant with a volume in the state
  --json    report: one JSON document instead of the text`;

async function main(argv: string[]): Promise<number> {
    let parsed;
    try {
        parsed = parseCommandLine(
            argv,
            {
                stack: { type: "string", multiple: true },
                all: { type: "boolean" },
                json: { type: "boolean" },
                from: { type: "string" },
                snapshot: { type: "string" },
                as: { type: "string" },
                force: { type: "boolean" },
                "dry-run": { type: "boolean" },
                shared: { type: "boolean" },
                help: { type: "boolean", short: "h" },
            },
            true,
        );
    } catch (e) {
        throw e instanceof UsageError ? new TenantOpError(`${e.message}\n${USAGE}`) : e;
    }
    if (parsed.values.help) {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    const positional = parsed.positionals;
    const stacks = parsed.values.stack ?? [];
    const all = parsed.values.all ?? false;
    const { from, snapshot, as, force } = parsed.values;
    const restoreFlags = Object.entries({ "--from": from, "--snapshot": snapshot, "--as": as, "--force": force, "--dry-run": parsed.values["dry-run"] })
        .filter(([, v]) => v !== undefined)
        .map(([flag]) => flag);
    if (positional[0] === "restore") {
        const [, tenant, ...extra] = positional;
        if (!tenant || extra.length > 0) throw new TenantOpError(`restore takes one tenant name${extra.length > 0 ? `, not ${extra.join(" ")}` : ""}\n${USAGE}`);
        if (stacks.length > 0 || all || parsed.values.json) throw new TenantOpError(`restore takes no --stack, --all or --json: it runs on the primary stack's host\n${USAGE}`);
        const out = await runRestore({ tenant, from, snapshot, as, force: force ?? false, dryRun: parsed.values["dry-run"], log: (line) => process.stderr.write(`${line}\n`) });
        process.stdout.write(out);
        return 0;
    }
    if (restoreFlags.length > 0) throw new TenantOpError(`${restoreFlags.join(", ")}: only for restore\n${USAGE}`);
    const shared = parsed.values.shared ?? false;
    if (shared && positional[0] !== "up") throw new TenantOpError(`--shared: only for up\n${USAGE}`);
    if (positional[0] === "unlock") {
        const tenants = positional.slice(1);
        if (all === tenants.length > 0) throw new TenantOpError(`unlock takes tenant names or --all\n${USAGE}`);
        if (stacks.length > 1) throw new TenantOpError(`unlock reads one primary stack; give --stack once\n${USAGE}`);
        const plan = await runUnlock({ tenants: all ? undefined : tenants, stack: stacks[0], log: (line) => process.stderr.write(`${line}\n`) });
        process.stderr.write(`tenant: unlocked ${plan.tenants.map((t) => t.tenant).join(", ") || "(no tenant)"}\n`);
        return 0;
    }
    if (positional[0] === "report") {
        const [, tenant, ...extra] = positional;
        if (!tenant || extra.length > 0 || stacks.length > 0 || all) throw new TenantOpError(`report takes one tenant name (and --json)\n${USAGE}`);
        const inventory = await reportTenant({ tenant });
        process.stdout.write(parsed.values.json ? `${JSON.stringify(inventory, null, 2)}\n` : formatInventory(inventory));
        return 0;
    }
    const [operation, tenant, ...rest] = positional;
    if (!operation || !tenant || rest.length > 0) throw new TenantOpError(USAGE);
    if (!OPERATIONS.includes(operation as TenantOperation)) throw new TenantOpError(`unknown operation '${operation}'\n${USAGE}`);
    const results = await runTenantOperation({
        operation: operation as TenantOperation,
        tenant,
        stacks,
        shared,
        onOutput: (text) => process.stdout.write(text),
        onStep: (step, op, targets, i, total) =>
            process.stderr.write(`tenant ${tenant}: ${op} ${step.stack} (${i + 1}/${total}, ${step.role}): ${targets} target${targets === 1 ? "" : "s"}\n`),
    });
    const sharedChanges = results.flatMap((r) => r.sharedChanges);
    if (operation === "preview" && sharedChanges.length > 0) {
        process.stderr.write(
            `tenant ${tenant}: shared resources that would change (an up needs --shared):\n${sharedChanges.map((c) => `  ${formatSharedChange(c)}`).join("\n")}\n`,
        );
    }
    process.stderr.write(`tenant ${tenant}: ${operation} done in ${results.map((r) => r.stack).join(", ")}\n`);
    return 0;
}

function report(e: unknown): number {
    const input = inputReport(e);
    if (input) {
        process.stderr.write(formatInputReport("tenant", input, "started"));
        return 1;
    }
    if (e instanceof TenantOpError || e instanceof UnlockError) {
        process.stderr.write(`tenant: ${e.message}\n`);
        return 1;
    }
    process.stderr.write(`tenant: pulumi failed: ${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
}

if (require.main === module) {
    main(process.argv.slice(2))
        .then((code) => exitAfterOutput(code))
        .catch((e) => exitAfterOutput(report(e)));
}
