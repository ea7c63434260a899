// Promise: "signing up means accepting our privacy policy". Checked on the
// homeserver's uploaded tuwunel.toml ([global] table): a server that lets
// anyone with a token sign up must list at least one document in
// registration_terms, each with a version and an https link in a translation.
// Tuwunel 1.9 then asks every registration for the m.login.terms stage
// (tuwunel-example.toml, [global.registration_terms.<ID>]).
//
// Not visible here: which documents the company publishes (the stack's
// redoubt:registrationTerms); stacks/config.ts checks their form, and
// test/unit/registration-terms.test.ts that every example tenant with open
// registration carries them.
import { homeserverConfigPolicy } from "./common";

const isTable = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** Why one registration_terms document would not be shown to a new user as a link, or undefined. */
function documentProblem(id: string, document: unknown): string | undefined {
    if (!isTable(document)) return `registration_terms.${id} is not a table; give it a version and a translations.<LANG> table with a name and an https url`;
    if (typeof document.version !== "string" || document.version === "")
        return `registration_terms.${id} has no version; set version (e.g. "1.0") and raise it when the text changes`;
    const translations = isTable(document.translations) ? Object.entries(document.translations) : [];
    if (translations.length === 0) return `registration_terms.${id} has no translations; add translations.en with the document's name and its https url`;
    for (const [language, translation] of translations) {
        const name = isTable(translation) ? translation.name : undefined;
        const url = isTable(translation) ? translation.url : undefined;
        if (typeof name !== "string" || name === "") return `registration_terms.${id}.translations.${language} has no name; set the name users see, e.g. "Privacy policy"`;
        if (typeof url !== "string" || !/^https:\/\/[^\s/]+/.test(url)) {
            return `registration_terms.${id}.translations.${language} links to ${JSON.stringify(url ?? null)}; set url to the https address of the document's text`;
        }
    }
    return undefined;
}

/** Problems with the sign-up terms of a tuwunel.toml [global] table, as sentences; none where registration is off. */
export function registrationTermsProblems(g: Record<string, unknown>): string[] {
    if (g["allow_registration"] !== true) return [];
    const terms = g["registration_terms"];
    if (!isTable(terms) || Object.keys(terms).length === 0) {
        return [
            "registration is open (allow_registration = true) but registration_terms lists no document; add [global.registration_terms.<ID>] for the privacy policy (from the stack's redoubt:registrationTerms) so sign-up asks users to accept it",
        ];
    }
    return Object.entries(terms).flatMap(([id, document]) => documentProblem(id, document) ?? []);
}

export const homeserverRegistrationTerms = homeserverConfigPolicy(
    "homeserver-registration-terms",
    "A homeserver that allows registration asks every new user to accept the listed documents (registration_terms, each versioned with an https link).",
    "so its sign-up terms can be checked",
    registrationTermsProblems,
);

export const registrationPolicies = [homeserverRegistrationTerms];
