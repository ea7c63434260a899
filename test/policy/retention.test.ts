import { TUWUNEL_BACKUP_COMMAND, renderTuwunelConfig } from "../../components/render/tuwunel";
import { BACKUP_COMMAND, MAX_MEDIA_RETENTION_DAYS, homeserverMediaRetention, mediaRetentionProblems } from "../../policies/retention";
import { PLANS } from "../../tenants/schema";
import { REGISTRATION_TERMS, TUWUNEL_TOML, carrier } from "./fixtures";
import { runResource } from "./helpers";

const hs = (toml: string) => carrier("acme", "homeserver", { uploads: [{ file: "/etc/tuwunel/tuwunel.toml", content: toml }] });
/** The rendered TOML with its admin_signal_execute line replaced (or removed, with `undefined`). */
const withCommands = (commands: string[] | undefined) => {
    const line = /^admin_signal_execute = .*\n/m;
    expect(TUWUNEL_TOML).toMatch(line);
    return TUWUNEL_TOML.replace(line, commands === undefined ? "" : `admin_signal_execute = ${JSON.stringify(commands)}\n`);
};
const DELETE_30 = "media delete-range 30d --older-than --yes-i-want-to-delete-local-media";

describe("homeserver-media-retention", () => {
    it("keeps its copies of the stack's facts", () => {
        expect(MAX_MEDIA_RETENTION_DAYS).toBe(Math.max(...Object.values(PLANS).map((p) => p.mediaRetentionDays)));
        expect(BACKUP_COMMAND).toBe(TUWUNEL_BACKUP_COMMAND);
    });

    it("accepts the config rendered for every plan", async () => {
        expect(await runResource(homeserverMediaRetention, carrier("acme", "homeserver"))).toEqual([]);
        for (const plan of Object.values(PLANS)) {
            const toml = renderTuwunelConfig({
                serverName: "chat.acme.example",
                logLevel: "warn",
                registration: "token",
                mediaRetentionDays: plan.mediaRetentionDays,
                registrationTerms: REGISTRATION_TERMS,
            });
            expect(await runResource(homeserverMediaRetention, hs(toml))).toEqual([]);
        }
    });

    it.each([
        ["no commands", undefined, /admin_signal_execute is unset; set it to \["media delete-range <days>d/],
        ["only the backup", [BACKUP_COMMAND], /has 0 media delete-range commands; it needs exactly one/],
        ["only remote media", ["media delete-range 30d --older-than", BACKUP_COMMAND], /missing --yes-i-want-to-delete-local-media/],
        ["newer instead of older", ["media delete-range 30d --newer-than --yes-i-want-to-delete-local-media", BACKUP_COMMAND], /missing --older-than, unexpected --newer-than/],
        ["both directions", [`${DELETE_30} --newer-than`, BACKUP_COMMAND], /unexpected --newer-than/],
        ["a duration in hours", ["media delete-range 720h --older-than --yes-i-want-to-delete-local-media", BACKUP_COMMAND], /"720h" is not a whole number of days/],
        ["no duration", ["media delete-range", BACKUP_COMMAND], /"" is not a whole number of days/],
        ["zero days", ["media delete-range 0d --older-than --yes-i-want-to-delete-local-media", BACKUP_COMMAND], /from 1 to/],
        [
            "longer than any plan",
            [`media delete-range ${MAX_MEDIA_RETENTION_DAYS + 1}d --older-than --yes-i-want-to-delete-local-media`, BACKUP_COMMAND],
            new RegExp(`from 1 to ${MAX_MEDIA_RETENTION_DAYS}`),
        ],
        ["two deletions", [DELETE_30, DELETE_30, BACKUP_COMMAND], /has 2 media delete-range commands/],
        ["no backup", [DELETE_30], /has no "server backup-database"/],
        ["deletion after the backup", [BACKUP_COMMAND, DELETE_30], /after "server backup-database"; put it first/],
    ])("refuses %s", async (_, commands, message) => {
        expect(await runResource(homeserverMediaRetention, hs(withCommands(commands)))).toEqual([expect.stringMatching(message)]);
    });

    it("accepts other admin commands beside them", () => {
        expect(mediaRetentionProblems({ admin_signal_execute: ["debug ping", DELETE_30, "server  backup-database"] })).toEqual([]);
    });

    it("refuses a carrier without a readable tuwunel.toml", async () => {
        expect(await runResource(homeserverMediaRetention, carrier("acme", "homeserver", { uploads: [] }))).toEqual([expect.stringMatching(/upload the rendered tuwunel.toml/)]);
        expect(await runResource(homeserverMediaRetention, hs("not = [toml"))).toEqual([expect.stringMatching(/cannot be read/)]);
    });

    it("leaves other roles alone", async () => {
        expect(await runResource(homeserverMediaRetention, carrier("acme", "proxy", { uploads: [] }))).toEqual([]);
    });
});
