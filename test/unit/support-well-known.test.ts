// /.well-known/matrix/support (MSC1929): what the proxy publishes when a
// tenant file asks for it, and that nothing is published when it does not.
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { parse as parseYaml } from "yaml";
import { HSTS_VALUE, renderCaddyConfig, renderSupportWellKnown, type CaddyConfigInput } from "../../components/render/caddy";
import { runStacks, type StackRun } from "../../lib/mock-run";
import { caddyProxiedPathProblems } from "../../policies/metadata-privacy";
import { CONTAINER, labelsOf, ofType, pinnedAsOf, uploadContent } from "../e2e/stack-helpers";
import { EXAMPLE_TENANTS_DIR } from "./tenant-fixtures";

const PATH = "/.well-known/matrix/support";

/**
 * The spec's rules for the document, written here from MSC1929 rather than
 * from the renderer: at least one of contacts and support_page; each contact
 * has a role and at least one of matrix_id and email_address.
 */
function msc1929Problems(doc: unknown): string[] {
    if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return ["not a JSON object"];
    const d = doc as Record<string, unknown>;
    const problems: string[] = [];
    if (d.contacts === undefined && d.support_page === undefined) problems.push("neither contacts nor support_page");
    if (d.contacts !== undefined) {
        if (!Array.isArray(d.contacts)) problems.push("contacts is not a list");
        else
            (d.contacts as Record<string, unknown>[]).forEach((c, i) => {
                if (typeof c.role !== "string") problems.push(`contact ${i} has no role`);
                if (typeof c.matrix_id !== "string" && typeof c.email_address !== "string") problems.push(`contact ${i} has neither matrix_id nor email_address`);
            });
    }
    if (d.support_page !== undefined && typeof d.support_page !== "string") problems.push("support_page is not a string");
    return problems;
}

describe("renderSupportWellKnown", () => {
    it.each<[string, { email?: string; page?: string }, unknown]>([
        ["an email only", { email: "help@a.example" }, { contacts: [{ email_address: "help@a.example", role: "m.role.admin" }] }],
        ["a page only", { page: "https://a.example/help" }, { support_page: "https://a.example/help" }],
        [
            "an email and a page",
            { email: "help@a.example", page: "https://a.example/help" },
            { contacts: [{ role: "m.role.admin", email_address: "help@a.example" }], support_page: "https://a.example/help" },
        ],
    ])("%s: the MSC1929 document with just that", (_title, support, expected) => {
        const doc: unknown = JSON.parse(renderSupportWellKnown(support));
        expect(doc).toEqual(expected);
        expect(msc1929Problems(doc)).toEqual([]);
    });

    it("refuses to render a document with neither (MSC1929 needs at least one)", () => {
        expect(() => renderSupportWellKnown({})).toThrow(/email or a page/);
    });

    it("any email and page come back exactly as given, in a valid document (JSON escaping)", () => {
        const text = fc.string({ unit: "grapheme", minLength: 1, maxLength: 40 });
        fc.assert(
            fc.property(fc.option(text, { nil: undefined }), fc.option(text, { nil: undefined }), (email, page) => {
                fc.pre(email !== undefined || page !== undefined);
                const doc = JSON.parse(renderSupportWellKnown({ email, page })) as { contacts?: { email_address: string }[]; support_page?: string };
                expect(msc1929Problems(doc)).toEqual([]);
                expect(doc.contacts?.map((c) => c.email_address)).toEqual(email === undefined ? undefined : [email]);
                expect(doc.support_page).toBe(page);
            }),
            { numRuns: 200 },
        );
    });
});

/** The static answer a Caddy JSON config gives for a path on the tenant's server, or "proxied"/"none". */
function answerFor(config: Record<string, unknown>, requestPath: string): { status: number; headers?: Record<string, string[]>; body?: string } | "proxied" | "none" {
    type Route = { match?: { path?: string[] }[]; handle: { handler: string; routes?: Route[]; status_code?: number; headers?: Record<string, string[]>; body?: string }[] };
    const server = (config.apps as { http: { servers: { tenant: { routes: Route[] } } } }).http.servers.tenant;
    const matches = (pattern: string) => (pattern.endsWith("*") ? requestPath.startsWith(pattern.slice(0, -1)) : requestPath === pattern);
    const subroutes = server.routes[0].handle.find((h) => h.handler === "subroute")?.routes ?? [];
    for (const route of subroutes) {
        if (route.match && !route.match.some((m) => (m.path ?? []).some(matches))) continue;
        const handler = route.handle[0];
        if (handler.handler === "reverse_proxy") return "proxied";
        if (handler.handler === "static_response") return { status: handler.status_code ?? 200, headers: handler.headers, body: handler.body };
    }
    return "none";
}

describe("the Caddy config's support route", () => {
    const input: CaddyConfigInput = {
        hostnames: ["matrix.a.example"],
        upstream: "homeserver:8008",
        clientUrl: "https://matrix.a.example",
        tls: { kind: "acme", email: "ops@a.example" },
        storagePath: "/data/caddy",
    };

    it("answers with the document as static JSON for any origin, before the 404 catch-all", () => {
        const config = renderCaddyConfig({ ...input, support: { email: "help@a.example", page: "https://a.example/help" } });
        const answer = answerFor(config, PATH);
        expect(answer).toMatchObject({ status: 200, headers: { "Content-Type": ["application/json"], "Access-Control-Allow-Origin": ["*"] } });
        expect(JSON.parse((answer as { body: string }).body)).toEqual({
            contacts: [{ email_address: "help@a.example", role: "m.role.admin" }],
            support_page: "https://a.example/help",
        });
    });

    it("without support the path answers 404, as any other unknown path", () => {
        const config = renderCaddyConfig(input);
        expect(answerFor(config, PATH)).toEqual({ status: 404, headers: undefined, body: undefined });
        expect(JSON.stringify(config)).not.toContain("matrix/support");
    });

    it("adds nothing else: the client well-known, the proxied paths, HSTS and the proxy policy stay as they were", () => {
        const without = renderCaddyConfig(input);
        const withSupport = renderCaddyConfig({ ...input, support: { email: "help@a.example" } });
        for (const p of ["/.well-known/matrix/client", "/_matrix/client/versions", "/_matrix/media/v3/config", "/_matrix/federation/v1/version", "/"]) {
            expect({ path: p, answer: answerFor(withSupport, p) }).toEqual({ path: p, answer: answerFor(without, p) });
        }
        expect(JSON.stringify(withSupport)).toContain(JSON.stringify(HSTS_VALUE));
        expect(caddyProxiedPathProblems(withSupport)).toEqual([]);
    });
});

describe("the stacks publish support only for tenants that ask (mocked run of the example tenants)", () => {
    let iceland: StackRun;

    beforeAll(async () => {
        [, , iceland] = await runStacks({ configOverrides: pinnedAsOf() });
    }, 60_000);

    const proxyConfig = (tenant: string) => {
        const carrier = ofType(iceland, CONTAINER).find(
            (c) => labelsOf(c)["redoubt.tenant"] === tenant && labelsOf(c)["redoubt.role"] === "config" && labelsOf(c)["redoubt.configures"] === "proxy",
        );
        if (!carrier) throw new Error(`no proxy config carrier for ${tenant}`);
        return JSON.parse(uploadContent(carrier, "/etc/caddy/caddy.json")) as Record<string, unknown>;
    };

    it("acme's proxy answers with what acme.yaml says", () => {
        const file = parseYaml(fs.readFileSync(path.join(EXAMPLE_TENANTS_DIR, "acme.yaml"), "utf8")) as { support: { email: string; page: string } };
        const answer = answerFor(proxyConfig("acme"), PATH);
        expect(answer).toMatchObject({ status: 200 });
        expect(JSON.parse((answer as { body: string }).body)).toEqual({ contacts: [{ email_address: file.support.email, role: "m.role.admin" }], support_page: file.support.page });
    });

    it.each(["nightowl", "harbor"])("%s publishes nothing (its file has no support; its contact stays private)", (tenant) => {
        const config = proxyConfig(tenant);
        expect(answerFor(config, PATH)).toMatchObject({ status: 404 });
        const contact = (parseYaml(fs.readFileSync(path.join(EXAMPLE_TENANTS_DIR, `${tenant}.yaml`), "utf8")) as { contact: string }).contact;
        expect(JSON.stringify(config)).not.toContain(contact);
    });

    it("acme's ops contact is not published either", () => {
        const contact = (parseYaml(fs.readFileSync(path.join(EXAMPLE_TENANTS_DIR, "acme.yaml"), "utf8")) as { contact: string }).contact;
        expect(JSON.stringify(proxyConfig("acme"))).not.toContain(contact);
    });
});
