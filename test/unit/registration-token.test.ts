// Registration tokens rotate each calendar quarter: the period is pure date
// math (checked as properties over every day), and the program ties each
// token to its period through the RandomPassword's keepers, which make
// @pulumi/random generate a new password when they change. Mocks cannot show
// that replacement (it is the provider's); they show what we declare.
import fc from "fast-check";
import { REGISTRATION_TOKEN_KEEPER } from "../../components/homeserver";
import { REGISTRATION_TOKEN_MONTHS, registrationTokenPeriod } from "../../components/schedule";
import { addDays } from "../../components/lifecycle";
import { runStacks, type StackRun } from "../../lib/mock-run";
import { loadTenants } from "../../tenants/loader";
import { AS_OF, pinnedAsOf, plain } from "../e2e/stack-helpers";
import { EXAMPLE_TENANTS_DIR } from "./tenant-fixtures";

const day = fc.date({ min: new Date("2000-01-01T00:00:00Z"), max: new Date("2199-12-31T00:00:00Z"), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));
const monthsBetween = (a: string, b: string) => (Number(b.slice(0, 4)) - Number(a.slice(0, 4))) * 12 + Number(b.slice(5, 7)) - Number(a.slice(5, 7));

describe("registration token period (pure)", () => {
    it("a day lies in its period, which starts on the first of a quarter and lasts the rotation's months", () => {
        fc.assert(
            fc.property(day, (d) => {
                const { since, rotatesOn } = registrationTokenPeriod(d);
                expect(since <= d && d < rotatesOn).toBe(true);
                expect(since).toMatch(/^\d{4}-(01|04|07|10)-01$/);
                expect(monthsBetween(since, rotatesOn)).toBe(REGISTRATION_TOKEN_MONTHS);
            }),
            { numRuns: 500 },
        );
    });

    it("every day of a period has the same token; the day it rotates starts the next period", () => {
        fc.assert(
            fc.property(day, (d) => {
                const period = registrationTokenPeriod(d);
                expect(registrationTokenPeriod(period.since)).toEqual(period);
                expect(registrationTokenPeriod(addDays(period.rotatesOn, -1))).toEqual(period);
                expect(registrationTokenPeriod(period.rotatesOn).since).toBe(period.rotatesOn);
            }),
            { numRuns: 500 },
        );
    });

    it("crosses the year", () => {
        expect(registrationTokenPeriod("2026-12-31")).toEqual({ since: "2026-10-01", rotatesOn: "2027-01-01" });
        expect(registrationTokenPeriod("2027-01-01")).toEqual({ since: "2027-01-01", rotatesOn: "2027-04-01" });
    });

    it.each(["2026-13-01", "2026-00-10", "26-11-25", "today", ""])("refuses %p, saying how a day is written", (bad) => {
        expect(() => registrationTokenPeriod(bad)).toThrow(/is not a day written YYYY-MM-DD/);
    });
});

describe("registration tokens of the example tenants (mocked run of the stacks)", () => {
    let iceland: StackRun;
    const tenants = loadTenants(EXAMPLE_TENANTS_DIR).map((l) => l.tenant);
    const period = registrationTokenPeriod(AS_OF);

    beforeAll(async () => {
        [, , iceland] = await runStacks({ configOverrides: pinnedAsOf() });
    }, 120_000);

    it("covers tenants with and without token registration", () => {
        expect(new Set(tenants.map((t) => t.homeserver.registration))).toEqual(new Set(["token", "closed"]));
    });

    it.each(tenants.map((t) => [t.name, t.homeserver.registration] as const))(
        "%s (%s): its token belongs to the plan day's period, and the stack says when it rotates",
        (name, registration) => {
            const tokens = iceland.resources.filter((r) => r.type === "random:index/randomPassword:RandomPassword" && r.urn.endsWith(`::${name}-homeserver-registration-token`));
            const output = (iceland.outputs.tenants as Record<string, Record<string, unknown>>)[name];
            if (registration === "closed") {
                expect(tokens).toEqual([]);
                expect(output.registrationTokenRotatesOn).toBeUndefined();
                return;
            }
            expect(tokens).toHaveLength(1);
            expect(plain(tokens[0].inputs.keepers)).toEqual({ [REGISTRATION_TOKEN_KEEPER]: period.since });
            expect(output.registrationTokenRotatesOn).toBe(period.rotatesOn);
        },
    );
});
