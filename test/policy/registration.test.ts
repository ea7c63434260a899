import { homeserverRegistrationTerms, registrationTermsProblems } from "../../policies/registration";
import { TUWUNEL_TOML, carrier } from "./fixtures";
import { runResource } from "./helpers";

const hs = (toml: string) => carrier("acme", "homeserver", { uploads: [{ file: "/etc/tuwunel/tuwunel.toml", content: toml }] });
/** The rendered TOML (registration open) with its registration_terms tables cut off or replaced. */
const withTerms = (tables: string) => {
    const start = TUWUNEL_TOML.indexOf("[global.registration_terms.");
    expect(start).toBeGreaterThan(0);
    const rest = TUWUNEL_TOML.slice(start);
    const after = rest.search(/^\[global\.(?!registration_terms)/m);
    return TUWUNEL_TOML.slice(0, start) + tables + (after < 0 ? "" : rest.slice(after));
};

describe("homeserver-registration-terms", () => {
    it("accepts the rendered config (registration open, the shipped stack's documents)", async () => {
        expect(TUWUNEL_TOML).toMatch(/^allow_registration = true$/m);
        expect(await runResource(homeserverRegistrationTerms, hs(TUWUNEL_TOML))).toEqual([]);
    });

    it.each([
        ["no documents", "", /registration is open \(allow_registration = true\) but registration_terms lists no document; add \[global\.registration_terms\.<ID>\]/],
        [
            "a document without a version",
            '[global.registration_terms.privacy_policy.translations.en]\nname = "Privacy policy"\nurl = "https://x.example/p"\n',
            /registration_terms\.privacy_policy has no version/,
        ],
        [
            "a document without translations",
            '[global.registration_terms.privacy_policy]\nversion = "1.0"\n',
            /registration_terms\.privacy_policy has no translations; add translations\.en/,
        ],
        [
            "a link over plain http",
            '[global.registration_terms.privacy_policy]\nversion = "1.0"\n[global.registration_terms.privacy_policy.translations.en]\nname = "Privacy policy"\nurl = "http://x.example/p"\n',
            /translations\.en links to "http:\/\/x\.example\/p"; set url to the https address/,
        ],
        [
            "a translation without a name",
            '[global.registration_terms.privacy_policy]\nversion = "1.0"\n[global.registration_terms.privacy_policy.translations.en]\nurl = "https://x.example/p"\n',
            /translations\.en has no name/,
        ],
    ])("refuses %s where registration is open", async (_, tables, message) => {
        expect(await runResource(homeserverRegistrationTerms, hs(withTerms(tables)))).toEqual([expect.stringMatching(message)]);
    });

    it("leaves a closed server alone, terms or not", () => {
        expect(registrationTermsProblems({ allow_registration: false })).toEqual([]);
        expect(registrationTermsProblems({})).toEqual([]);
    });

    it("refuses a carrier without a readable tuwunel.toml, and leaves other roles alone", async () => {
        expect(await runResource(homeserverRegistrationTerms, carrier("acme", "homeserver", { uploads: [] }))).toEqual([expect.stringMatching(/upload the rendered tuwunel.toml/)]);
        expect(await runResource(homeserverRegistrationTerms, carrier("acme", "proxy", { uploads: [] }))).toEqual([]);
    });
});
