// npm run plan -- [--stack NAME]... [--tenants DIR] [--json] [--diff REF] [--as-of YYYY-MM-DD]
//                 [--policy-config FILE] [--accept-data-loss TENANT]... [--progress]
//
// The offline preview: every stack program under mocks, every stack's
// resources through the real policy pack, a per-tenant summary. No Pulumi
// CLI, no credentials, no network.
//
// Exit status: 0 valid and no mandatory policy diagnostic; 1 invalid input
// (tenant or stack file, the set as a whole, arguments, policy config: each
// problem on stderr); 2 a mandatory policy diagnostic; 4 `--diff` found data
// loss not acknowledged with --accept-data-loss; 3 anything unexpected.
import { isoDate } from "../tenants/schema";
import * as fs from "node:fs";
import { runAsOf } from "../stacks/config";
import { parseCommandLine, UsageError } from "../lib/cli-args";
import { exitAfterOutput, reportCommandError } from "../lib/cli-report";
import { PROJECT_DIR } from "../lib/mock-run";
import { buildPlan, PolicyConfigError, planExitCode, renderPlan, type PlanOptions } from "../lib/plan";
import { diffPlans, renderDiff, type PlanDiff } from "../lib/plan-diff";
import { planAtRevision, RevisionNotFoundError, RevisionPlanError } from "../lib/plan-git";
import type { PolicyConfig } from "../lib/policy-harness";

const USAGE = `usage: npm run plan -- [options]
  --stack NAME          plan only this stack (repeatable; default: every stacks/Pulumi.<stack>.yaml, backup stacks first)
  --tenants DIR         read tenant files from DIR instead of the stack config's tenantsDir
  --json                print one JSON document (secrets replaced by "[secret]") instead of the summary
  --diff REF            compare with the plan at git revision REF (e.g. origin/main)
  --as-of YYYY-MM-DD    evaluate tenant lifecycles on this day, for this run (default: REDOUBT_AS_OF, else today)
  --policy-config FILE  per-policy config (JSON, as pulumi preview --policy-pack-config takes it);
                        promise policies can be neither disabled nor loosened
  --accept-data-loss T  with --diff: accept that tenant T's data resources are deleted or replaced (repeatable)
  --first-preview       plan as each stack's first real preview: every generated value and secret unknown
  --no-policy           skip the policy pack (resources only)
  --progress            report progress on stderr even when it is not a terminal`;

interface Args {
    stacks: string[];
    tenantsDir?: string;
    json: boolean;
    diff?: string;
    asOf?: string;
    policyConfig?: string;
    policy: boolean;
    progress: boolean;
    acceptDataLoss: string[];
    firstPreview: boolean;
    help: boolean;
}

const OPTIONS = {
    stack: { type: "string", multiple: true },
    tenants: { type: "string" },
    json: { type: "boolean" },
    diff: { type: "string" },
    "as-of": { type: "string" },
    "policy-config": { type: "string" },
    "accept-data-loss": { type: "string", multiple: true },
    "no-policy": { type: "boolean" },
    progress: { type: "boolean" },
    "first-preview": { type: "boolean" },
    help: { type: "boolean", short: "h" },
} as const;

export function parseArgs(argv: string[]): Args {
    const { values } = parseCommandLine(argv, OPTIONS);
    const args: Args = {
        stacks: values.stack ?? [],
        tenantsDir: values.tenants,
        json: values.json ?? false,
        diff: values.diff,
        asOf: values["as-of"],
        policyConfig: values["policy-config"],
        policy: !values["no-policy"],
        progress: values.progress ?? false,
        acceptDataLoss: values["accept-data-loss"] ?? [],
        firstPreview: values["first-preview"] ?? false,
        help: values.help ?? false,
    };
    if (args.asOf !== undefined && !isoDate.safeParse(args.asOf).success) throw new UsageError(`--as-of must be a real calendar date written YYYY-MM-DD, not '${args.asOf}'`);
    if (args.acceptDataLoss.length > 0 && !args.diff) throw new UsageError("--accept-data-loss only applies with --diff (it acknowledges data loss the diff shows)");
    // The base revision is planned with its own code, which may not know --first-preview: every value would differ.
    if (args.firstPreview && args.diff) throw new UsageError("--first-preview cannot be combined with --diff; run them separately");
    args.asOf ??= runAsOf();
    return args;
}

function readPolicyConfig(file: string): PolicyConfig {
    let parsed: unknown;
    try {
        parsed = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (e) {
        throw new UsageError(`--policy-config ${file}: ${(e as Error).message}`);
    }
    if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new UsageError(`--policy-config ${file}: must be a JSON object of policy name → settings`);
    const out: PolicyConfig = {};
    for (const [name, v] of Object.entries(parsed as Record<string, unknown>)) {
        // The CLI accepts a bare enforcement level as a policy's value.
        out[name] = typeof v === "string" ? { enforcementLevel: v } : (v as Record<string, unknown>);
    }
    return out;
}

async function main(): Promise<number> {
    const args = parseArgs(process.argv.slice(2));
    if (args.help) {
        process.stdout.write(`${USAGE}\n`);
        return 0;
    }
    const showProgress = args.progress || Boolean(process.stderr.isTTY);
    const progress = showProgress
        ? (message: string) => {
              if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${message}`);
              else process.stderr.write(`${message}\n`);
          }
        : undefined;
    const options: PlanOptions = {
        ledgerBase: args.diff,
        firstPreview: args.firstPreview,
        stacks: args.stacks.length > 0 ? args.stacks : undefined,
        tenantsDir: args.tenantsDir,
        asOf: args.asOf,
        policy: args.policy,
        policyConfig: args.policyConfig ? readPolicyConfig(args.policyConfig) : undefined,
        progress,
    };
    const started = Date.now();
    const revision = args.diff
        ? planAtRevision({
              ref: args.diff,
              projectDir: PROJECT_DIR,
              args: [...args.stacks.flatMap((s) => ["--stack", s]), ...(args.asOf ? ["--as-of", args.asOf] : []), ...(args.policy ? [] : ["--no-policy"])],
          })
        : undefined;
    revision?.catch(() => undefined); // awaited below; avoid an unhandled rejection while the plan runs
    const doc = await buildPlan(options);
    if (progress) {
        const count = doc.stacks.reduce((n, s) => n + s.resources.length, 0);
        progress(`planned ${count} resources in ${((Date.now() - started) / 1000).toFixed(1)} s${revision ? `; waiting for the plan at ${args.diff}...` : ""}`);
        if (process.stderr.isTTY) process.stderr.write("\n");
    }
    const code = planExitCode(doc);
    if (args.json && !revision) {
        process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
        return code;
    }
    if (revision) {
        const before = await revision;
        if (!before.document) {
            process.stdout.write(`NOTE: ${before.missing}. Showing this revision's plan alone.\n\n${renderPlan(doc)}\n`);
            return code;
        }
        const diff = diffPlans(before.document, doc);
        const loss = unacknowledgedDataLoss(diff, args.acceptDataLoss);
        if (args.json) {
            process.stdout.write(`${JSON.stringify({ base: { ref: args.diff, commit: before.commit }, diff, plan: doc }, null, 2)}\n`);
        } else {
            process.stdout.write(`${renderDiff(diff, { before: `${args.diff} (${before.commit.slice(0, 12)})`, after: "this tree" })}\n\n${renderPlan(doc)}\n`);
        }
        if (loss.length > 0) {
            const tenants = [...new Set(loss.map((c) => c.tenant ?? "(shared)"))];
            process.stderr.write(
                `plan: REFUSED: this change deletes or replaces data of ${tenants.join(", ")} (see DATA LOSS above). If that is intended, run again with ${tenants
                    .filter((t) => t !== "(shared)")
                    .map((t) => `--accept-data-loss ${t}`)
                    .join(" ")}${tenants.includes("(shared)") ? "; shared data resources cannot be accepted this way: change the code so they are kept" : ""}\n`,
            );
            return Math.max(code, DATA_LOSS_EXIT);
        }
        return code;
    }
    process.stdout.write(`${renderPlan(doc)}\n`);
    return code;
}

/** Exit status of a --diff with data loss nobody acknowledged. */
export const DATA_LOSS_EXIT = 4;

/** Data loss in a diff that the operator has not accepted by naming the tenant. Shared data is never accepted this way. */
export function unacknowledgedDataLoss(diff: PlanDiff, accepted: readonly string[]): PlanDiff["dataLoss"] {
    return diff.dataLoss.filter((c) => c.tenant === undefined || !accepted.includes(c.tenant));
}

function reportError(e: unknown): number {
    return reportCommandError(e, { command: "plan", usage: USAGE, notDone: "planned", own: reportPlanError });
}

/** The plan's own errors: a refused --policy-config, a --diff revision that is missing or cannot be planned. */
function reportPlanError(e: unknown): number | undefined {
    if (e instanceof PolicyConfigError) {
        process.stderr.write(`plan: --policy-config is refused; nothing was planned:\n${e.problems.map((p) => `  ${p}`).join("\n")}\n`);
        return 1;
    }
    if (e instanceof RevisionNotFoundError) {
        process.stderr.write(`plan: --diff: ${e.message} (fetch it first, e.g. git fetch origin); nothing was planned\n`);
        return 1;
    }
    if (e instanceof RevisionPlanError) {
        process.stderr.write(`plan: ${e.message}\n`);
        return 3;
    }
    return undefined;
}

if (require.main === module) {
    process.on("unhandledRejection", (e) => exitAfterOutput(reportError(e)));
    main()
        .then((code) => exitAfterOutput(code))
        .catch((e) => exitAfterOutput(reportError(e)));
}
