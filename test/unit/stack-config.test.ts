import { parseStackConfig, StackConfigError } from "../../stacks/config";
import { readStackConfigFile } from "../../lib/mock-run";

const FILE = "stacks/Pulumi.iceland.yaml";
const primary = () => readStackConfigFile("iceland");
const DOC = { name: "Privacy policy", version: "1.0", url: "https://redoubt.example/privacy" };
const terms = (documents: Record<string, unknown>) => JSON.stringify(documents);

function problemsOf(raw: Record<string, string>): { field: string; message: string }[] {
    try {
        parseStackConfig(raw, FILE);
    } catch (error) {
        expect(error).toBeInstanceOf(StackConfigError);
        expect((error as Error).message).toContain(FILE);
        return (error as StackConfigError).problems;
    }
    throw new Error("expected the stack config to be refused");
}

describe("stack config", () => {
    it("the three shipped stack files are valid", () => {
        expect(parseStackConfig(primary(), FILE)).toMatchObject({ role: "primary", country: "IS", deletionGraceDays: 7, tenantsDir: "tenants" });
        expect(parseStackConfig(readStackConfigFile("backup-helsinki"), "x")).toMatchObject({ role: "backup", site: "helsinki", location: "hel1", country: "FI" });
        expect(parseStackConfig(readStackConfigFile("backup-falkenstein"), "x")).toMatchObject({ role: "backup", site: "falkenstein", location: "fsn1", country: "DE" });
    });

    it.each<[string, Record<string, string | undefined>, string, RegExp]>([
        ["an unknown setting", { "redoubt:dockerHots": "x" }, "redoubt:dockerHots", /not a known setting/],
        ["a Docker host that is not ssh://", { "redoubt:dockerHost": "tcp://10.0.0.1:2375" }, "redoubt:dockerHost", /ssh:\/\/user@host/],
        ["a missing ACME email", { "redoubt:acmeEmail": undefined }, "redoubt:acmeEmail", /required/],
        ["a host key that is not an SSH public key", { "redoubt:sshHostKey": "SHA256:abc" }, "redoubt:sshHostKey", /host key/],
        ["a missing host key", { "redoubt:sshHostKey": undefined }, "redoubt:sshHostKey", /required/],
        ["a grace period beyond the promise", { "redoubt:deletionGraceDays": "8" }, "redoubt:deletionGraceDays", /at most 7/],
        ["an as-of date that is not a date", { "redoubt:asOf": "tomorrow" }, "redoubt:asOf", /YYYY-MM-DD/],
        [
            "a backup site in the primary's country",
            { "redoubt:backupSites": JSON.stringify({ helsinki: { stack: "backup-helsinki", country: "IS" }, falkenstein: { stack: "backup-falkenstein", country: "DE" } }) },
            "redoubt:backupSites.helsinki.country",
            /primary site's own country/,
        ],
        [
            "a backup site name with capitals",
            { "redoubt:backupSites": JSON.stringify({ Reykjavik: { stack: "backup-reykjavik", country: "SE" } }) },
            "redoubt:backupSites.Reykjavik",
            /is not a site name: 2 to 32 lower-case letters, digits or inner hyphens/,
        ],
        [
            "a backup site name of 33 characters",
            { "redoubt:backupSites": JSON.stringify({ [`s${"x".repeat(32)}`]: { stack: "backup-x", country: "SE" } }) },
            `redoubt:backupSites.s${"x".repeat(32)}`,
            /is not a site name/,
        ],
        ["backup sites that are a list", { "redoubt:backupSites": JSON.stringify(["helsinki"]) }, "redoubt:backupSites", /mapping of backup site name/],
        [
            "an unknown field in a backup site entry (named without the redoubt: prefix of settings)",
            {
                "redoubt:backupSites": JSON.stringify({
                    helsinki: { stack: "backup-helsinki", country: "FI", region: "x" },
                    falkenstein: { stack: "backup-falkenstein", country: "DE" },
                }),
            },
            "redoubt:backupSites.helsinki.region",
            /^is not a known field; allowed: stack, country$/,
        ],
        ["missing sign-up terms", { "redoubt:registrationTerms": undefined }, "redoubt:registrationTerms", /required/],
        ["sign-up terms that list no document", { "redoubt:registrationTerms": "{}" }, "redoubt:registrationTerms", /at least one document/],
        ["sign-up terms that are a list", { "redoubt:registrationTerms": JSON.stringify(["https://x.example/privacy"]) }, "redoubt:registrationTerms", /mapping of document id/],
        [
            "a terms document id with a hyphen",
            { "redoubt:registrationTerms": terms({ "privacy-policy": DOC }) },
            "redoubt:registrationTerms.privacy-policy",
            /is not a document id/,
        ],
        [
            "a terms document over plain http",
            { "redoubt:registrationTerms": terms({ privacy_policy: { ...DOC, url: "http://x.example/p" } }) },
            "redoubt:registrationTerms.privacy_policy.url",
            /https URL/,
        ],
        [
            "a terms document without a version",
            { "redoubt:registrationTerms": terms({ privacy_policy: { name: DOC.name, url: DOC.url } }) },
            "redoubt:registrationTerms.privacy_policy.version",
            /required/,
        ],
        [
            "a terms version with a space",
            { "redoubt:registrationTerms": terms({ privacy_policy: { ...DOC, version: "1 0" } }) },
            "redoubt:registrationTerms.privacy_policy.version",
            /document's version/,
        ],
        [
            "a terms name with a control character",
            { "redoubt:registrationTerms": terms({ privacy_policy: { ...DOC, name: "Privacy\u007f" } }) },
            "redoubt:registrationTerms.privacy_policy.name",
            /printable/,
        ],
        [
            "an unknown field in a terms document",
            { "redoubt:registrationTerms": terms({ privacy_policy: { ...DOC, lang: "is" } }) },
            "redoubt:registrationTerms.privacy_policy.lang",
            /^is not a known field; allowed: name, version, url$/,
        ],
        ["a site name with an underscore", { "redoubt:site": "ice_land" }, "redoubt:site", /lower-case site name/],
        ["an unknown role", { "redoubt:role": "tertiary" }, "redoubt:role", /primary or backup/],
    ])("refuses %s, naming the file and setting", (_title, change, field, message) => {
        const raw: Record<string, string> = { ...primary() };
        for (const [key, value] of Object.entries(change)) {
            if (value === undefined) delete raw[key];
            else raw[key] = value;
        }
        const problems = problemsOf(raw);
        expect(problems).toEqual(expect.arrayContaining([expect.objectContaining({ field, message: expect.stringMatching(message) })]));
    });

    it("takes any well-formed site name: which sites exist is the set of backup stacks, checked across files (lib/stack-set.ts)", () => {
        const sites = {
            helsinki: { stack: "backup-helsinki", country: "FI" },
            nuremberg: { stack: "backup-nuremberg", country: "DE" },
            "falkenstein-2": { stack: "o/p/s", country: "DE" },
        };
        expect(parseStackConfig({ ...primary(), "redoubt:backupSites": JSON.stringify(sites) }, FILE)).toMatchObject({ backupSites: sites });
        const backup = { ...readStackConfigFile("backup-falkenstein"), "redoubt:site": "nuremberg", "redoubt:location": "nbg1" };
        expect(parseStackConfig(backup, "x")).toMatchObject({ role: "backup", site: "nuremberg", location: "nbg1", country: "DE" });
    });

    it("ignores other namespaces (providers' own settings) and never validates secrets into plain values", () => {
        expect(() => parseStackConfig({ ...primary(), "hcloud:token": "x", "redoubt:sshPrivateKey": "-----BEGIN" }, FILE)).not.toThrow();
    });
});
