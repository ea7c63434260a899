// Sign-up terms: the stack's documents become Tuwunel's registration_terms on
// every tenant whose registration is open, in the tables Tuwunel 1.9 documents,
// and the policy pack agrees with what the renderer writes.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { parse as parseToml } from "smol-toml";
import { renderTuwunelConfig } from "../../components/render/tuwunel";
import { registrationTermsProblems } from "../../policies/registration";
import { RegistrationTermsSchema, TERMS_LANGUAGE, type RegistrationTerms } from "../../stacks/config";
import { PLANS } from "../../tenants/schema";
import { REGISTRATION_TERMS } from "../policy/fixtures";

const render = (registration: "token" | "closed", registrationTerms: RegistrationTerms = REGISTRATION_TERMS) =>
    (
        parseToml(
            renderTuwunelConfig({ serverName: "chat.example.org", logLevel: "warn", registration, mediaRetentionDays: PLANS.small.mediaRetentionDays, registrationTerms }),
        ) as {
            global: Record<string, unknown>;
        }
    ).global;

/** The documents as Tuwunel reads them back: id → {version, name, url}. */
const documentsOf = (global: Record<string, unknown>) =>
    Object.fromEntries(
        Object.entries((global.registration_terms ?? {}) as Record<string, { version: string; translations: Record<string, { name: string; url: string }> }>).map(([id, d]) => [
            id,
            { version: d.version, languages: Object.keys(d.translations), ...d.translations[TERMS_LANGUAGE] },
        ]),
    );

describe("registration terms in the homeserver config", () => {
    it("the shipped stack lists the privacy policy", () => {
        expect(Object.keys(REGISTRATION_TERMS)).toContain("privacy_policy");
    });

    it("open registration lists every document of the stack, versioned, with its name and link", () => {
        const global = render("token");
        expect(global.allow_registration).toBe(true);
        expect(documentsOf(global)).toEqual(
            Object.fromEntries(Object.entries(REGISTRATION_TERMS).map(([id, d]) => [id, { version: d.version, languages: [TERMS_LANGUAGE], name: d.name, url: d.url }])),
        );
        expect(registrationTermsProblems(global)).toEqual([]);
    });

    it("closed registration has no sign-up to show them on, and lists none", () => {
        const global = render("closed");
        expect(global.allow_registration).toBe(false);
        expect(global.registration_terms).toBeUndefined();
        expect(registrationTermsProblems(global)).toEqual([]);
    });

    it("uses only the tables and keys Tuwunel 1.9 documents (unknown keys are fatal)", () => {
        // The example config documents each table as a commented header followed by its commented keys.
        const example = readFileSync(join(__dirname, "../../../shared/reference/tuwunel-example.toml"), "utf8").split("\n");
        const keysOf = (header: string) => {
            const start = example.indexOf(`#[${header}]`);
            expect(start).toBeGreaterThanOrEqual(0);
            const end = example.findIndex((line, i) => i > start && /^#?\[/.test(line));
            return example
                .slice(start + 1, end)
                .flatMap((line) => /^#([a-z_]+) =/.exec(line)?.[1] ?? [])
                .sort();
        };
        const [id, document] = Object.entries(render("token").registration_terms as Record<string, Record<string, unknown>>)[0];
        expect(id).toMatch(/^[a-z_]+$/);
        expect(Object.keys(document).filter((k) => k !== "translations")).toEqual(keysOf("global.registration_terms.<ID>"));
        const translation = (document.translations as Record<string, Record<string, unknown>>)[TERMS_LANGUAGE];
        expect(Object.keys(translation).sort()).toEqual(keysOf("global.registration_terms.<ID>.translations.<LANG>"));
    });

    it("any documents the stack config accepts render back unchanged and pass the policy (property)", () => {
        const document = fc.record({
            name: fc.string({ minLength: 1, maxLength: 80 }),
            version: fc.stringMatching(/^[A-Za-z0-9._-]{1,32}$/),
            url: fc.webUrl({ validSchemes: ["https"] }),
        });
        const terms = fc.dictionary(fc.stringMatching(/^[a-z][a-z0-9_]{0,31}$/), document, { minKeys: 1, maxKeys: 4 }).filter((t) => RegistrationTermsSchema.safeParse(t).success);
        fc.assert(
            fc.property(terms, (t) => {
                const global = render("token", t);
                expect(documentsOf(global)).toEqual(
                    Object.fromEntries(Object.entries(t).map(([id, d]) => [id, { version: d.version, languages: [TERMS_LANGUAGE], name: d.name, url: d.url }])),
                );
                expect(registrationTermsProblems(global)).toEqual([]);
            }),
            { numRuns: 200 },
        );
    });
});
