// `npm run tenant -- restore`: the refusals (pure, against the example tenant
// files, and through the command), and the dry run, which reads the
// repository from the primary stack's outputs (a stand-in `pulumi` on PATH)
// and prints the script it would run on the host.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { containerName } from "../../components/names";
import { storageBoxOf, storageBoxRepository } from "../../components/render/backup";
import { restoreRequest, TenantOpError, type RestoreArgs } from "../../lib/tenant-ops";
import { loadTenants } from "../../tenants/loader";
import { runCli } from "../cli-run";
import { EXAMPLE_TENANTS_DIR } from "./tenant-fixtures";

jest.setTimeout(120_000);

const tenants = loadTenants(EXAMPLE_TENANTS_DIR).map((l) => l.tenant);
const acme = tenants.find((t) => t.name === "acme")!;
const [site, otherSite] = acme.backups.sites;
const request = (args: Partial<RestoreArgs>, set = tenants) => restoreRequest({ tenant: "acme", from: site, force: false, ...args }, set);
const refusal = (fn: () => unknown): string => {
    try {
        fn();
    } catch (e) {
        expect(e).toBeInstanceOf(TenantOpError);
        return (e as Error).message;
    }
    throw new Error("expected a refusal");
};

describe("restore arguments", () => {
    test("a valid restore onto the tenant itself, from either of its sites", () => {
        expect(request({})).toEqual({ tenant: "acme", target: "acme", site, snapshot: undefined, force: false });
        expect(request({ from: otherSite, snapshot: "0123abcd", force: true })).toMatchObject({ site: otherSite, snapshot: "0123abcd", force: true });
    });

    test("an unknown tenant is named with the known ones", () => {
        expect(refusal(() => request({ tenant: "nobody" }))).toMatch(/unknown tenant 'nobody'.*known: .*acme/);
    });

    test("a missing --from names the tenant's sites", () => {
        expect(refusal(() => request({ from: undefined }))).toMatch(new RegExp(`--from is required.*backs up to ${site}, ${otherSite}`));
    });

    test("a site the tenant does not back up to names its sites", () => {
        expect(refusal(() => request({ from: "reykjavik" }))).toMatch(
            new RegExp(`--from reykjavik: acme does not back up to reykjavik; its backups.sites are ${site}, ${otherSite}`),
        );
    });

    test("--snapshot must be a restic snapshot ID", () => {
        for (const bad of ["latest", "0123", "0123ABCD", "abc; rm -rf /"]) expect(refusal(() => request({ snapshot: bad }))).toMatch(/--snapshot .* is not a restic snapshot ID/);
    });

    test("--as: another existing, active tenant; never the tenant itself", () => {
        const other = tenants.find((t) => t.name !== "acme" && t.status === "active")!;
        expect(request({ as: other.name })).toMatchObject({ tenant: "acme", target: other.name });
        expect(refusal(() => request({ as: "nobody" }))).toMatch(/--as nobody: no tenant file names it; a drill restores onto a fresh tenant/);
        expect(refusal(() => request({ as: "acme" }))).toMatch(/--as acme names the tenant restored from/);
        const suspended = tenants.map((t) => (t.name === other.name ? { ...t, status: "suspended" as const } : t));
        expect(refusal(() => request({ as: other.name }, suspended))).toMatch(new RegExp(`--as ${other.name}: that tenant is suspended; a drill needs a fresh, active tenant`));
    });

    test("the Storage Box of a repository is read back from the form the stack exports", () => {
        expect(storageBoxOf(storageBoxRepository("u123", "u123.your-storagebox.de"))).toEqual({ user: "u123", host: "u123.your-storagebox.de" });
        expect(storageBoxOf("/srv/local/repository")).toBeUndefined();
    });
});

const STAND_IN = `#!${process.execPath}
// Stand-in for the Pulumi CLI: logs every call; answers stack output with the restore's repository.
const fs = require("fs");
const args = process.argv.slice(2);
fs.appendFileSync(process.env.FAKE_PULUMI_LOG, JSON.stringify(args) + "\\n");
const out = (v) => { process.stdout.write(typeof v === "string" ? v : JSON.stringify(v)); process.stdout.write("\\n"); process.exit(0); };
if (args[0] === "version") out("v3.200.0");
if (args[0] === "stack" && args[1] === "output") out(JSON.parse(process.env.FAKE_PULUMI_OUTPUTS));
process.exit(0);
`;

describe("npm run tenant -- restore", () => {
    const noPulumiPath = [path.dirname(process.execPath), "/usr/bin", "/bin"].join(path.delimiter);
    const tenantCli = (args: string[], env: Record<string, string> = { PATH: noPulumiPath }) => runCli("cli/tenant.ts", args, { env });

    test.each([
        [["restore", "nobody", "--from", "helsinki"], /unknown tenant 'nobody'/],
        [["restore", "acme"], /--from is required/],
        [["restore", "acme", "--from", "reykjavik"], /acme does not back up to reykjavik/],
        [["restore", "acme", "--from", "helsinki", "--as", "nobody"], /--as nobody: no tenant file names it/],
        [["restore", "acme", "--from", "helsinki", "--stack", "iceland"], /restore takes no --stack/],
        [["restore", "acme", "harbor", "--from", "helsinki"], /restore takes one tenant name, not harbor/],
        [["up", "acme", "--force"], /--force: only for restore/],
        [["restore", "acme", "--from"], /--from needs a value/],
    ])("%j is refused before Pulumi or SSH (exit 1)", async (args, message) => {
        const run = await tenantCli(args);
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(message);
    });

    test("--dry-run prints the script for the repository the primary stack exports, and connects nowhere", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-restore-cli-"));
        fs.mkdirSync(path.join(dir, "bin"));
        fs.writeFileSync(path.join(dir, "bin", "pulumi"), STAND_IN, { mode: 0o755 });
        const log = path.join(dir, "calls.jsonl");
        const repository = storageBoxRepository("u777", "u777.your-storagebox.de");
        const outputs = { tenants: { acme: { backups: { [site]: repository } } } };
        const env = { PATH: `${path.join(dir, "bin")}${path.delimiter}${noPulumiPath}`, FAKE_PULUMI_LOG: log, FAKE_PULUMI_OUTPUTS: JSON.stringify(outputs) };
        const run = await tenantCli(["restore", "acme", "--from", site, "--dry-run"], env);
        const calls = fs.existsSync(log) ? fs.readFileSync(log, "utf8") : "";
        expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: "" });
        expect(run.stdout.startsWith("#!/bin/sh\n")).toBe(true);
        expect(run.stdout).toContain(repository);
        expect(run.stdout).toContain("u777@u777.your-storagebox.de");
        expect(run.stdout).toContain(containerName("acme", "homeserver"));
        expect(run.stdout).toMatch(/^force=0$/m);
        // Only reads the outputs: no update, no state export.
        expect(calls).toMatch(/"stack","output"/);
        expect(calls).not.toMatch(/"(up|preview|refresh|export)"/);

        const missing = await tenantCli(["restore", "acme", "--from", otherSite, "--dry-run"], { ...env, FAKE_PULUMI_OUTPUTS: JSON.stringify({ tenants: {} }) });
        fs.rmSync(dir, { recursive: true, force: true });
        expect(missing.code).toBe(1);
        expect(missing.stderr).toMatch(new RegExp(`outputs have no tenants.acme.backups.${otherSite}; bring the tenant up first`));
    });
});
