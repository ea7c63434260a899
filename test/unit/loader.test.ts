import * as path from "node:path";
import { loadTenants, type TenantFileProblem } from "../../tenants/loader";
import { EXAMPLE_TENANTS_DIR, problemsOf, publicTenant, tenantDir } from "./tenant-fixtures";

const DIGEST = "a".repeat(64);

function expectProblem(problems: TenantFileProblem[], file: string, field: string, message: RegExp): void {
    const match = problems.find((p) => path.basename(p.file) === file && p.field === field && message.test(p.message));
    // Printing the problems on failure shows what was reported instead.
    expect({ found: match !== undefined, problems }).toMatchObject({ found: true });
}

describe("loading the example tenants", () => {
    it("loads public, tor and vpn tenants sorted by id with defaults applied", () => {
        const tenants = loadTenants(EXAMPLE_TENANTS_DIR).map((l) => l.tenant);
        expect(tenants.map((t) => [t.name, t.access.mode])).toEqual([
            ["acme", "public"],
            ["nightowl", "tor"],
            ["harbor", "vpn"],
        ]);
        const nightowl = tenants[1];
        expect(nightowl.plan).toBe("small");
        expect(nightowl.backups.sites).toEqual(["helsinki", "falkenstein"]);
        expect(nightowl.backups.keep).toEqual({ daily: 7, weekly: 4, monthly: 6 });
        expect(nightowl.homeserver.push).toBe("off");
    });

    it("takes any well-formed backup site name: which sites exist is the project's backup stacks (lib/stack-set.ts refuses the rest)", () => {
        const dir = tenantDir({ "good.yaml": { ...publicTenant("good", 1), backups: { sites: ["helsinki", "nuremberg"] } } });
        expect(loadTenants(dir).map((l) => l.tenant.backups.sites)).toEqual([["helsinki", "nuremberg"]]);
    });
});

describe("refusing bad tenant files: every error names the file and field, and nothing is loaded", () => {
    const good = publicTenant("good", 1);

    it.each<[string, Record<string, unknown> | string, string, RegExp]>([
        ["unknown key", { ...publicTenant("bad", 2), acess: "x" }, "acess", /not a known field.*allowed here: .*access/],
        ["unknown nested key", { ...publicTenant("bad", 2), logging: { retentionDay: 3 } }, "logging.retentionDay", /not a known field.*retentionDays/],
        ["bad email", { ...publicTenant("bad", 2), contact: "not-an-email" }, "contact", /email/],
        ["domain that is not a DNS name", { ...publicTenant("bad", 2), access: { mode: "public", domain: "no_such domain" } }, "access.domain", /DNS name/],
        ["image not pinned by digest", { ...publicTenant("bad", 2), homeserver: { image: "ghcr.io/matrix-construct/tuwunel:v1.9.0" } }, "homeserver.image", /pinned by digest/],
        ["public without domain", { ...publicTenant("bad", 2), access: { mode: "public" } }, "access.domain", /required/],
        [
            "tor with a domain",
            { ...publicTenant("bad", 2), access: { mode: "tor", domain: "x.example" }, homeserver: { serverName: "bad.example" } },
            "access.domain",
            /not a known field.*allowed here: mode/,
        ],
        ["unknown access mode", { ...publicTenant("bad", 2), access: { mode: "carrier-pigeon" } }, "access.mode", /public.*tor.*vpn/],
        ["cancelled without a date", { ...publicTenant("bad", 2), status: "cancelled" }, "cancelledOn", /required when status is cancelled/],
        ["a cancellation date on an active tenant", { ...publicTenant("bad", 2), cancelledOn: "2026-01-01" }, "cancelledOn", /only allowed when status is cancelled/],
        ["an impossible date", { ...publicTenant("bad", 2), status: "cancelled", cancelledOn: "2026-02-30" }, "cancelledOn", /real calendar date/],
        ["retention days of zero", { ...publicTenant("bad", 2), logging: { retentionDays: 0 } }, "logging.retentionDays", /at least 1/],
        ["fractional retention days", { ...publicTenant("bad", 2), logging: { retentionDays: 1.5 } }, "logging.retentionDays", /whole number/],
        ["retention days as text", { ...publicTenant("bad", 2), logging: { retentionDays: "ten" } }, "logging.retentionDays", /whole number/],
        ["retention beyond the promise", { ...publicTenant("bad", 2), logging: { retentionDays: 45 } }, "logging.retentionDays", /at most 30/],
        ["a single backup site", { ...publicTenant("bad", 2), backups: { sites: ["helsinki"] } }, "backups.sites", /at least two/],
        ["a backup site twice", { ...publicTenant("bad", 2), backups: { sites: ["helsinki", "helsinki"] } }, "backups.sites", /twice/],
        ["a backup site name with capitals", { ...publicTenant("bad", 2), backups: { sites: ["helsinki", "Reykjavik"] } }, "backups.sites.1", /lower-case site name/],
        ["a backup site name that is a number", { ...publicTenant("bad", 2), backups: { sites: ["helsinki", 7] } }, "backups.sites.1", /must be a site name/],
        ["tor without server name", { ...publicTenant("bad", 2), access: { mode: "tor" } }, "homeserver.serverName", /required for tor/],
        ["vpn without peers", { ...publicTenant("bad", 2), access: { mode: "vpn", peers: [] }, homeserver: { serverName: "bad.example" } }, "access.peers", /at least one/],
        [
            "vpn peer key that is not a key",
            { ...publicTenant("bad", 2), access: { mode: "vpn", peers: [{ name: "a", publicKey: "nope" }] }, homeserver: { serverName: "bad.example" } },
            "access.peers.0.publicKey",
            /WireGuard public key/,
        ],
        ["a push proxy without gateways", { ...publicTenant("bad", 2), homeserver: { push: "proxy" } }, "homeserver.pushGateways", /required with push: proxy/],
        [
            "push gateways without the proxy",
            { ...publicTenant("bad", 2), homeserver: { pushGateways: ["matrix.org"] } },
            "homeserver.pushGateways",
            /only allowed with push: proxy/,
        ],
        [
            "a push gateway that is not a host name",
            { ...publicTenant("bad", 2), homeserver: { push: "proxy", pushGateways: ["https://matrix.org/_matrix/push"] } },
            "homeserver.pushGateways.0",
            /DNS name/,
        ],
        ["export without the customer's key", { ...publicTenant("bad", 2), export: { requestedOn: "2026-11-01" } }, "export.recipient", /age public key/],
        ["a support email that is not an email address", { ...publicTenant("bad", 2), support: { email: "help desk" } }, "support.email", /must be an email address/],
        [
            "a support page over http://",
            { ...publicTenant("bad", 2), support: { page: "http://bad.example/help" } },
            "support.page",
            /must be an https:\/\/ URL.*http:\/\/ is not allowed/,
        ],
        ["a support page that is not a URL", { ...publicTenant("bad", 2), support: { page: "bad.example/help" } }, "support.page", /must be an https:\/\/ URL/],
        ["an empty support", { ...publicTenant("bad", 2), support: {} }, "support", /needs at least one of email .* and page .*leave support out/],
        ["an unknown support field", { ...publicTenant("bad", 2), support: { phone: "+354 000 0000" } }, "support.phone", /not a known field.*allowed here: email, page/],
        ["id of zero", publicTenant("bad", 0), "id", /at least 1/],
        ["name that is not a DNS label", publicTenant("Bad_Name", 2), "name", /DNS label/],
        ["name that does not match the file", publicTenant("other", 2), "name", /must be named other.yaml/],
    ])("%s", (_title, content, field, message) => {
        const dir = tenantDir({ "good.yaml": good, "bad.yaml": content });
        expectProblem(problemsOf(dir), "bad.yaml", field, message);
    });

    it("support is opt in: absent unless the file gives it, and given as written", () => {
        const support = { email: "help@good.example", page: "https://good.example/support?lang=en" };
        const dir = tenantDir({
            "good.yaml": good,
            "other.yaml": publicTenant("other", 2, { support: { page: support.page } }),
            "third.yaml": publicTenant("third", 3, { support }),
        });
        const byName = Object.fromEntries(loadTenants(dir).map((l) => [l.tenant.name, l.tenant.support]));
        expect(byName).toEqual({ good: undefined, other: { page: support.page }, third: support });
    });

    it("a support error names the file, its line, the field and what is allowed", () => {
        expect(() => loadTenants(tenantDir({ "bad.yaml": { ...publicTenant("bad", 2), support: { page: "http://bad.example" } } }))).toThrow(
            /bad\.yaml:\d+: support\.page: must be an https:\/\/ URL/,
        );
    });

    it("an image pinned by digest is accepted", () => {
        const dir = tenantDir({ "good.yaml": { ...good, homeserver: { image: `ghcr.io/matrix-construct/tuwunel:v1.9.0@sha256:${DIGEST}` } } });
        expect(loadTenants(dir)[0].tenant.homeserver.image).toContain(DIGEST);
    });

    it("unparseable YAML names the file and line", () => {
        const problems = problemsOf(tenantDir({ "good.yaml": good, "bad.yaml": "name: bad\nid: [1,\n" }));
        const problem = problems.find((p) => p.file.endsWith("bad.yaml"));
        expect(problem?.message).toMatch(/not valid YAML/);
        expect(problem?.line).toBeGreaterThanOrEqual(2);
    });

    it("a YAML file that is not a mapping is refused", () => {
        expectProblem(problemsOf(tenantDir({ "bad.yaml": "- just\n- a list\n" })), "bad.yaml", "", /mapping/);
    });

    it("reports the line of the offending field", () => {
        const problems = problemsOf(tenantDir({ "bad.yaml": "name: bad\nid: 2\ncontact: nope\naccess:\n  mode: public\n  domain: matrix.bad.example\n" }));
        expect(problems).toEqual([expect.objectContaining({ field: "contact", line: 3 })]);
    });

    it("reports every problem of every file at once", () => {
        const problems = problemsOf(
            tenantDir({
                "one.yaml": { ...publicTenant("one", 1), contact: "x" },
                "two.yaml": { ...publicTenant("two", 2), logging: { retentionDays: 99 }, typo: 1 },
            }),
        );
        expect(problems.map((p) => `${path.basename(p.file)}:${p.field}`).sort()).toEqual(["one.yaml:contact", "two.yaml:logging.retentionDays", "two.yaml:typo"]);
    });

    it("the error message lists each problem with file, line and field", () => {
        expect(() => loadTenants(tenantDir({ "bad.yaml": { ...publicTenant("bad", 2), contact: "x" } }))).toThrow(/bad\.yaml:\d+: contact: must be an email address/);
    });

    it("a directory that does not exist is a clear error", () => {
        expect(() => loadTenants("/nonexistent/tenants")).toThrow(/is not a directory of tenant files/);
    });
});

describe("refusing bad tenant sets", () => {
    it.each<[string, Record<string, Record<string, unknown>>, string, RegExp]>([
        // Two files may claim one name only if one is misnamed; the set check must still catch the duplicate.
        [
            "duplicate name",
            { "alpha.yaml": publicTenant("alpha", 1), "bravo.yml": publicTenant("alpha", 2, { access: { mode: "public", domain: "matrix.bravo.example" } }) },
            "name",
            /name 'alpha' is already used/,
        ],
        ["duplicate id", { "alpha.yaml": publicTenant("alpha", 1), "bravo.yaml": publicTenant("bravo", 1) }, "id", /id '1' is already used by .*alpha\.yaml/],
        [
            "duplicate domain",
            { "alpha.yaml": publicTenant("alpha", 1), "bravo.yaml": publicTenant("bravo", 2, { access: { mode: "public", domain: "matrix.alpha.example" } }) },
            "access.domain",
            /domain 'matrix.alpha.example' is already used/,
        ],
        [
            "duplicate server name",
            {
                "alpha.yaml": publicTenant("alpha", 1, { homeserver: { serverName: "shared.example" } }),
                "bravo.yaml": publicTenant("bravo", 2, { homeserver: { serverName: "shared.example" } }),
            },
            "homeserver.serverName",
            /server name 'shared.example' is already used/,
        ],
        [
            "a name that extends another tenant's name",
            { "alpha.yaml": publicTenant("alpha", 1), "alpha-corp.yaml": publicTenant("alpha-corp", 2) },
            "name",
            /begins with tenant 'alpha'/,
        ],
        ["the reserved name edge", { "alpha.yaml": publicTenant("alpha", 1), "edge.yaml": publicTenant("edge", 2) }, "name", /reserved/],
    ])("%s", (_title, files, field, message) => {
        const problems = problemsOf(tenantDir(files));
        const second = Object.keys(files)[1];
        expectProblem(problems, second, field, message);
    });
});

describe("the ledger of issued names and ids (tenants/ledger.yaml)", () => {
    const ledger = (entries: string[]) => (entries.length ? `tenants:\n${entries.map((e) => `  - ${e}\n`).join("")}` : "tenants: []\n");

    it("the example tenants are all issued", () => {
        expect(() => loadTenants(EXAMPLE_TENANTS_DIR)).not.toThrow();
    });

    it.each<[string, Record<string, string | Record<string, unknown>>, string, string, RegExp]>([
        [
            "changing a tenant's id",
            { "alpha.yaml": publicTenant("alpha", 7), "ledger.yaml": ledger(["{ name: alpha, id: 1 }"]) },
            "alpha.yaml",
            "id",
            /issued id 1 to 'alpha'; a tenant's id never changes/,
        ],
        [
            "reusing another tenant's id",
            { "bravo.yaml": publicTenant("bravo", 1), "ledger.yaml": ledger(["{ name: alpha, id: 1, deletedOn: 2026-01-10 }", "{ name: bravo, id: 2 }"]) },
            "bravo.yaml",
            "id",
            /issued id 2 to 'bravo'/,
        ],
        [
            "reusing a deleted tenant's id",
            { "bravo.yaml": publicTenant("bravo", 1), "ledger.yaml": ledger(["{ name: alpha, id: 1, deletedOn: 2026-01-10 }"]) },
            "bravo.yaml",
            "id",
            /1 was issued to 'alpha'.*never reused/,
        ],
        [
            "reusing a deleted tenant's name",
            { "alpha.yaml": publicTenant("alpha", 5), "ledger.yaml": ledger(["{ name: alpha, id: 1, deletedOn: 2026-01-10 }"]) },
            "alpha.yaml",
            "name",
            /deleted on 2026-01-10; names are never reused/,
        ],
        ["a tenant that was never issued", { "alpha.yaml": publicTenant("alpha", 1), "ledger.yaml": ledger([]) }, "alpha.yaml", "name", /not in .*ledger.yaml; issue it by adding/],
        [
            "removing a tenant file while its data may exist",
            { "alpha.yaml": publicTenant("alpha", 1), "ledger.yaml": ledger(["{ name: alpha, id: 1 }", "{ name: bravo, id: 2 }"]) },
            "ledger.yaml",
            "tenants",
            /'bravo' has no file but is not marked deleted/,
        ],
        ["a malformed ledger", { "alpha.yaml": publicTenant("alpha", 1), "ledger.yaml": ledger(["{ name: alpha }"]) }, "ledger.yaml", "tenants.0.id", /required/],
    ])("refuses %s", (_title, files, file, field, message) => {
        expectProblem(problemsOf(tenantDir(files)), file, field, message);
    });

    it("a deleted tenant without a file is fine", () => {
        const dir = tenantDir({ "alpha.yaml": publicTenant("alpha", 2), "ledger.yaml": ledger(["{ name: gone, id: 1, deletedOn: 2026-01-10 }", "{ name: alpha, id: 2 }"]) });
        expect(loadTenants(dir).map((l) => l.tenant.name)).toEqual(["alpha"]);
    });
});
