// Media retention: every plan's days become Tuwunel admin commands that run on
// the nightly backup signal, before the database backup. Checked on the
// renderer for every plan, and on the stacks' own output (a mocked run) for
// every example tenant: its homeserver config and its backup timer.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { DEFAULT_HOMESERVER } from "../../components/homeservers";
import { backupUnitName } from "../../components/names";
import { renderTuwunelConfig, TUWUNEL_BACKUP_COMMAND, TUWUNEL_CONFIG_PATH, tuwunelMediaRetentionCommands } from "../../components/render/tuwunel";
import { backupTime, onCalendar } from "../../components/schedule";
import { runStacks, type StackRun } from "../../lib/mock-run";
import { mediaRetentionProblems } from "../../policies/retention";
import { loadTenants } from "../../tenants/loader";
import { PLANS, type PlanName } from "../../tenants/schema";
import { CONTAINER, labelsOf, ofType, pinnedAsOf, plain, uploadContent } from "../e2e/stack-helpers";
import { EXAMPLE_TENANTS_DIR } from "./tenant-fixtures";
import { REGISTRATION_TERMS } from "../policy/fixtures";

const DAY_SECONDS = 86_400;
const PLAN_NAMES = Object.keys(PLANS) as PlanName[];

/**
 * A Tuwunel `media delete-range` command read the way its parser reads it
 * (src/admin/media/mod.rs, MediaCommand::DeleteRange; clap derives kebab-case
 * names): the positional duration in seconds (cyborgtime units; only the ones
 * a retention in days could use) and the set flags. Undefined: another command.
 */
function readDeleteRange(command: string): { seconds: number; flags: Set<string> } | undefined {
    const [group, sub, ...rest] = command.trim().split(/\s+/);
    if (group !== "media" || sub !== "delete-range") return undefined;
    const positional = rest.filter((t) => !t.startsWith("-"));
    expect(positional).toHaveLength(1);
    const match = /^(\d+)(s|m|h|d|w)$/.exec(positional[0]);
    if (!match) throw new Error(`${command}: duration ${positional[0]} is not one cyborgtime reads as a number of days`);
    const unit = { s: 1, m: 60, h: 3600, d: DAY_SECONDS, w: 7 * DAY_SECONDS }[match[2] as "s" | "m" | "h" | "d" | "w"];
    return { seconds: Number(match[1]) * unit, flags: new Set(rest.filter((t) => t.startsWith("-"))) };
}

/** admin_signal_execute of a rendered tuwunel.toml, parsed as TOML. */
function signalCommands(toml: string): string[] {
    const global = (parseToml(toml) as { global: { admin_signal_execute?: unknown } }).global;
    const commands = global.admin_signal_execute;
    expect(Array.isArray(commands) && commands.every((c) => typeof c === "string")).toBe(true);
    return commands as string[];
}

/** What the nightly signal does to media, read from the commands: the retention in days, and whether it runs before the backup. */
function retentionOf(commands: string[]): { days: number; localMedia: boolean; beforeBackup: boolean } {
    const deletions = commands.map((c, i) => ({ read: readDeleteRange(c), i })).filter((d) => d.read !== undefined);
    expect(deletions).toHaveLength(1);
    const [{ read, i }] = deletions;
    expect(read!.flags.has("--older-than") && !read!.flags.has("--newer-than")).toBe(true);
    const backup = commands.indexOf(TUWUNEL_BACKUP_COMMAND);
    expect(backup).toBeGreaterThanOrEqual(0);
    return { days: read!.seconds / DAY_SECONDS, localMedia: read!.flags.has("--yes-i-want-to-delete-local-media"), beforeBackup: i < backup };
}

const render = (mediaRetentionDays: number) =>
    renderTuwunelConfig({ serverName: "chat.example.org", logLevel: "warn", registration: "token", mediaRetentionDays, registrationTerms: REGISTRATION_TERMS });

describe("media retention per plan", () => {
    it.each(PLAN_NAMES)("%s: the nightly signal deletes media older than the plan's days, local uploads included, before the database backup", (plan) => {
        const days = PLANS[plan].mediaRetentionDays;
        expect(Number.isInteger(days) && days >= 1).toBe(true);
        expect(retentionOf(signalCommands(render(days)))).toEqual({ days, localMedia: true, beforeBackup: true });
        // The flavor's table entry is what the config runs.
        expect(signalCommands(render(days))).toEqual(expect.arrayContaining(DEFAULT_HOMESERVER.mediaRetentionCommands(days)));
        // The policy pack agrees.
        expect(mediaRetentionProblems(parseToml(render(days)).global as Record<string, unknown>)).toEqual([]);
    });

    it("a plan with more storage keeps media at least as long", () => {
        const bySize = [...PLAN_NAMES].sort((a, b) => PLANS[a].storageGiB - PLANS[b].storageGiB);
        const days = bySize.map((p) => PLANS[p].mediaRetentionDays);
        expect(days).toEqual([...days].sort((a, b) => a - b));
    });

    it("the days are the argument, not a constant", () => {
        for (const days of [1, 7, 400]) expect(retentionOf(signalCommands(render(days))).days).toBe(days);
    });

    it.each([0, -1, 1.5, Number.NaN])("refuses %p days, naming the field and what is allowed", (days) => {
        expect(() => tuwunelMediaRetentionCommands(days)).toThrow(/mediaRetentionDays must be a whole number of days, at least 1/);
        expect(() => render(days)).toThrow(RangeError);
    });

    it("uses a key Tuwunel 1.9 knows (unknown keys are fatal) and adds none", () => {
        const example = readFileSync(join(__dirname, "../../../shared/reference/tuwunel-example.toml"), "utf8");
        expect(example).toMatch(/^#admin_signal_execute = \[\]$/m);
        const keys = (days: number) => Object.keys((parseToml(render(days)) as { global: Record<string, unknown> }).global);
        expect(keys(1)).toEqual(keys(365));
    });
});

describe("media retention of every example tenant (mocked run of the stacks)", () => {
    let iceland: StackRun;
    const tenants = loadTenants(EXAMPLE_TENANTS_DIR).map((l) => l.tenant);

    beforeAll(async () => {
        [, , iceland] = await runStacks({ configOverrides: pinnedAsOf() });
    }, 120_000);

    it("covers every example tenant", () => {
        expect(tenants.length).toBeGreaterThan(0);
    });

    it.each(tenants.map((t) => [t.name, t] as const))("%s: its homeserver deletes media past its plan's days on its daily backup timer", (name, tenant) => {
        const carrier = ofType(iceland, CONTAINER).find(
            (c) => labelsOf(c)["redoubt.tenant"] === name && labelsOf(c)["redoubt.role"] === "config" && labelsOf(c)["redoubt.configures"] === "homeserver",
        );
        if (!carrier) throw new Error(`no homeserver config carrier for ${name}`);
        const commands = signalCommands(uploadContent(carrier, TUWUNEL_CONFIG_PATH));
        expect(retentionOf(commands)).toEqual({ days: PLANS[tenant.plan].mediaRetentionDays, localMedia: true, beforeBackup: true });

        // The signal comes from the tenant's backup timer, once a day at the tenant's backup time.
        const timer = iceland.resources.find((r) => r.type === "command:remote:Command" && String(plain(r.inputs.create)).includes(`${backupUnitName(name)}.timer`));
        if (!timer) throw new Error(`no backup timer for ${name}`);
        const create = String(plain(timer.inputs.create));
        const calendars = [...create.matchAll(/^OnCalendar=(.*)$/gm)].map((m) => m[1]);
        expect(calendars).toEqual([onCalendar(backupTime(tenant.id, tenant.backups.schedule))]);
        expect(calendars[0]).toMatch(/^\*-\*-\* \d\d:\d\d:00 UTC$/);
        expect(create).toMatch(new RegExp(`docker kill --signal=${DEFAULT_HOMESERVER.backupSignal} redoubt-${name}-`));
    });
});
