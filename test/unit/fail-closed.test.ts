// Every bad input a careless or hostile operator could give the plan, one row
// each: the stack files, the tenant files and the set as a whole. Each row
// asserts that nothing is planned (the validation the plan runs before any
// program or policy), and that the problem names the file, the field and
// what is allowed. The CLI's exit codes for these errors are checked in
// test/e2e/plan.test.ts; loader-level bad files in loader-fail-closed.test.ts.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { addDays, todayUtc } from "../../components/lifecycle";
import { validateInputs } from "../../lib/plan";
import { StackSetError } from "../../lib/stack-set";
import { StackConfigError } from "../../stacks/config";
import { TenantSetError } from "../../tenants/loader";
import { EXAMPLE_TENANTS_DIR } from "./tenant-fixtures";

const REPO = path.join(__dirname, "..", "..");
const AGE_KEY = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p";
const WG_KEY = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=";
const TODAY = todayUtc();

type Doc = Record<string, unknown>;
type StackConfigs = Record<string, Record<string, unknown>>;

interface Project {
    /** Stack name → its `config:` mapping (edit in place). */
    stacks: StackConfigs;
    /** Extra stack files written verbatim (name → text). */
    rawStacks: Record<string, string>;
    /** Tenant file name → document (edit in place), or raw text. */
    tenants: Record<string, Doc | string>;
    ledger: { name: string; id: number; host?: string; deletedOn?: string }[];
}

/** The repository's own stacks and example tenants, as documents a case can edit. */
function exampleProject(): Project {
    const stacks: StackConfigs = {};
    for (const file of fs.readdirSync(path.join(REPO, "stacks")).filter((f) => /^Pulumi\..+\.yaml$/.test(f))) {
        stacks[file.slice("Pulumi.".length, -".yaml".length)] = (parse(fs.readFileSync(path.join(REPO, "stacks", file), "utf8")) as { config: Doc }).config;
    }
    const tenants: Record<string, Doc> = {};
    for (const file of fs.readdirSync(EXAMPLE_TENANTS_DIR).filter((f) => f.endsWith(".yaml") && f !== "ledger.yaml")) {
        tenants[file] = parse(fs.readFileSync(path.join(EXAMPLE_TENANTS_DIR, file), "utf8")) as Doc;
    }
    const ledger = (parse(fs.readFileSync(path.join(EXAMPLE_TENANTS_DIR, "ledger.yaml"), "utf8")) as { tenants: Project["ledger"] }).tenants;
    return { stacks, rawStacks: {}, tenants, ledger };
}

function write(project: Project): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-fail-closed-"));
    fs.mkdirSync(path.join(dir, "stacks"));
    fs.mkdirSync(path.join(dir, "tenants"));
    fs.mkdirSync(path.join(dir, "empty"));
    fs.copyFileSync(path.join(REPO, "images.yaml"), path.join(dir, "images.yaml"));
    for (const [stack, config] of Object.entries(project.stacks)) fs.writeFileSync(path.join(dir, "stacks", `Pulumi.${stack}.yaml`), stringify({ config }));
    for (const [stack, text] of Object.entries(project.rawStacks)) fs.writeFileSync(path.join(dir, "stacks", `Pulumi.${stack}.yaml`), text);
    for (const [file, doc] of Object.entries(project.tenants)) fs.writeFileSync(path.join(dir, "tenants", file), typeof doc === "string" ? doc : stringify(doc));
    fs.writeFileSync(path.join(dir, "tenants", "ledger.yaml"), stringify({ tenants: project.ledger }));
    return dir;
}

interface Problem {
    file: string;
    field: string;
    message: string;
}

/** What the plan would print for the inputs, or [] when it would go on to plan. */
function problemsOf(project: Project, stacks?: string[]): Problem[] {
    const projectDir = write(project);
    try {
        validateInputs({ projectDir, stacks });
        return [];
    } catch (e) {
        if (e instanceof StackConfigError) return e.problems.map((p) => ({ file: e.file, ...p }));
        if (e instanceof TenantSetError || e instanceof StackSetError)
            return e.problems.map((p) => ({ ...p, file: path.isAbsolute(p.file) ? path.relative(projectDir, p.file) : p.file }));
        throw e; // anything else is a crash: exit 3
    } finally {
        fs.rmSync(projectDir, { recursive: true, force: true });
    }
}

const iceland = (p: Project) => p.stacks["iceland"];
const helsinki = (p: Project) => p.stacks["backup-helsinki"];
const falkenstein = (p: Project) => p.stacks["backup-falkenstein"];
const tenant = (p: Project, name: string) => p.tenants[`${name}.yaml`] as Doc;
const sub = (doc: Doc, key: string) => doc[key] as Doc;
/** The README's recipe for a third backup site: its stack file and the primary's entry. */
const NUREMBERG_STACK = { "redoubt:role": "backup", "redoubt:site": "nuremberg", "redoubt:country": "DE", "redoubt:location": "nbg1" };
const addNuremberg = (p: Project) => {
    p.stacks["backup-nuremberg"] = { ...NUREMBERG_STACK };
    sub(iceland(p), "redoubt:backupSites").nuremberg = { stack: "backup-nuremberg", country: "DE" };
};
/** A new tenant file, issued in the ledger as ops would. */
const addTenant = (p: Project, doc: Doc & { name: string; id: number }) => {
    p.tenants[`${doc.name}.yaml`] = doc;
    p.ledger.push({ name: doc.name, id: doc.id });
};

interface Case {
    what: string;
    edit: (p: Project) => void;
    /** Plan only these stacks (default: all). */
    stacks?: string[];
    file: RegExp;
    field: RegExp;
    message: RegExp;
}

const ICELAND = /^stacks\/Pulumi\.iceland\.yaml$/;
const HELSINKI = /^stacks\/Pulumi\.backup-helsinki\.yaml$/;
const FALKENSTEIN = /^stacks\/Pulumi\.backup-falkenstein\.yaml$/;
const file = (name: string) => new RegExp(`^tenants/${name}\\.yaml$`);

const stackCases: Case[] = [
    // Where the backups are: the location decides the country.
    {
        what: "Helsinki stack placed in Falkenstein",
        edit: (p) => (helsinki(p)["redoubt:location"] = "fsn1"),
        file: HELSINKI,
        field: /^redoubt:country$/,
        message: /location fsn1 is in DE/,
    },
    {
        what: "Falkenstein stack placed in Helsinki",
        edit: (p) => (falkenstein(p)["redoubt:location"] = "hel1"),
        file: FALKENSTEIN,
        field: /^redoubt:country$/,
        message: /location hel1 is in FI/,
    },
    {
        what: "Falkenstein stack in Nuremberg claiming FI",
        edit: (p) => Object.assign(falkenstein(p), { "redoubt:country": "FI", "redoubt:location": "nbg1" }),
        file: FALKENSTEIN,
        field: /^redoubt:country$/,
        message: /nbg1 is in DE/,
    },
    {
        what: "unknown Storage Box location",
        edit: (p) => (helsinki(p)["redoubt:location"] = "ash"),
        file: HELSINKI,
        field: /^redoubt:location$/,
        message: /fsn1 \(DE\), nbg1 \(DE\), hel1 \(FI\)/,
    },
    {
        what: "backup stack site name with capitals",
        edit: (p) => (helsinki(p)["redoubt:site"] = "Helsinki"),
        file: HELSINKI,
        field: /^redoubt:site$/,
        message: /lower-case site name: 2 to 32 letters, digits or inner hyphens/,
    },
    {
        what: "backup stack site name with an underscore",
        edit: (p) => (helsinki(p)["redoubt:site"] = "hel_1"),
        file: HELSINKI,
        field: /^redoubt:site$/,
        message: /lower-case site name/,
    },
    {
        what: "backup stack renamed to another site: the primary's entry no longer has its stack",
        edit: (p) => (helsinki(p)["redoubt:site"] = "paris"),
        file: ICELAND,
        field: /^redoubt:backupSites\.helsinki\.stack$/,
        message:
            /whose redoubt:site is paris, not helsinki; no backup stack serves helsinki; the backup sites that exist: falkenstein \(backup-falkenstein, DE\), paris \(backup-helsinki, FI\)/,
    },
    {
        what: "backup stack renamed to another site: tenants still naming the old one",
        edit: (p) => (helsinki(p)["redoubt:site"] = "paris"),
        file: file("acme"),
        field: /^backups\.sites$/,
        message: /names helsinki, which no backup stack of this project serves .*the backup sites that exist: falkenstein \(backup-falkenstein, DE\), paris/,
    },
    {
        what: "backup stack with a primary's setting",
        edit: (p) => (helsinki(p)["redoubt:dockerHost"] = "ssh://root@x.example"),
        file: HELSINKI,
        field: /^redoubt:dockerHost$/,
        message: /not a known setting; allowed: .*redoubt:location/,
    },
    {
        what: "primary says Helsinki is in Germany",
        edit: (p) => (sub(sub(iceland(p), "redoubt:backupSites"), "helsinki").country = "DE"),
        file: ICELAND,
        field: /^redoubt:backupSites\.helsinki\.country$/,
        message: /is DE, but stack 'backup-helsinki' keeps its boxes in hel1, which is in FI/,
    },
    {
        what: "primary says Helsinki is in Germany: every default tenant would back up twice to DE",
        edit: (p) => (sub(sub(iceland(p), "redoubt:backupSites"), "helsinki").country = "DE"),
        file: file("acme"),
        field: /^backups\.sites$/,
        message: /names helsinki and falkenstein, which are both in DE; a tenant's backup sites must be in different countries/,
    },
    {
        what: "primary's site country disagrees with the backup stack's location",
        edit: (p) => (sub(sub(iceland(p), "redoubt:backupSites"), "helsinki").country = "SE"),
        file: ICELAND,
        field: /^redoubt:backupSites\.helsinki\.country$/,
        message: /keeps its boxes in hel1, which is in FI/,
    },
    {
        what: "backup site in the primary's country",
        edit: (p) => (sub(sub(iceland(p), "redoubt:backupSites"), "helsinki").country = "IS"),
        file: ICELAND,
        field: /^redoubt:backupSites\.helsinki\.country$/,
        message: /the primary site's own country; backups must be kept in another country/,
    },
    {
        what: "backup site pointing at a stack that does not exist",
        edit: (p) => (sub(sub(iceland(p), "redoubt:backupSites"), "helsinki").stack = "backup-oslo"),
        file: ICELAND,
        field: /^redoubt:backupSites\.helsinki\.stack$/,
        message: /'backup-oslo', which has no stacks\/Pulumi\.backup-oslo\.yaml/,
    },
    {
        what: "backup site pointing at the primary itself",
        edit: (p) => (sub(sub(iceland(p), "redoubt:backupSites"), "helsinki").stack = "iceland"),
        file: ICELAND,
        field: /^redoubt:backupSites\.helsinki\.stack$/,
        message: /is a primary stack, not a backup stack/,
    },
    {
        what: "backup site pointing at the other site's stack",
        edit: (p) => (sub(sub(iceland(p), "redoubt:backupSites"), "helsinki").stack = "backup-falkenstein"),
        file: ICELAND,
        field: /^redoubt:backupSites\.helsinki\.stack$/,
        message: /whose redoubt:site is falkenstein, not helsinki/,
    },
    {
        what: "a primary backupSites entry that no backup stack serves",
        edit: (p) => (sub(iceland(p), "redoubt:backupSites").paris = { stack: "backup-paris", country: "FR" }),
        file: ICELAND,
        field: /^redoubt:backupSites\.paris$/,
        message:
            /names backup site paris, which no backup stack of this project serves: there is no stacks\/Pulumi\.backup-paris\.yaml .*the backup sites that exist: falkenstein \(backup-falkenstein, DE\), helsinki \(backup-helsinki, FI\)$/,
    },
    {
        what: "a primary backupSites entry whose stack file is missing while another stack serves the site",
        edit: (p) => {
            addNuremberg(p);
            delete p.stacks["backup-nuremberg"];
            p.stacks["backup-nbg"] = { ...NUREMBERG_STACK };
        },
        file: ICELAND,
        field: /^redoubt:backupSites\.nuremberg\.stack$/,
        message: /names stack 'backup-nuremberg', which has no stacks\/Pulumi\.backup-nuremberg\.yaml; site nuremberg is served by backup-nbg/,
    },
    {
        what: "a primary backupSites key that is not a site name",
        edit: (p) => (sub(iceland(p), "redoubt:backupSites").Nuremberg = { stack: "backup-nuremberg", country: "DE" }),
        file: ICELAND,
        field: /^redoubt:backupSites\.Nuremberg$/,
        message: /is not a site name: 2 to 32 lower-case letters/,
    },
    {
        what: "a primary backupSites key of one letter",
        edit: (p) => (sub(iceland(p), "redoubt:backupSites").n = { stack: "backup-nuremberg", country: "DE" }),
        file: ICELAND,
        field: /^redoubt:backupSites\.n$/,
        message: /is not a site name/,
    },
    {
        what: "backup site entry with an unknown key",
        edit: (p) => (sub(sub(iceland(p), "redoubt:backupSites"), "helsinki").bucket = "x"),
        file: ICELAND,
        field: /^redoubt:backupSites\.helsinki\.bucket$/,
        message: /^is not a known field; allowed: stack, country$/,
    },
    // Every active tenant served by exactly one primary and backed up where it says.
    { what: "primary with redoubt:tenants: []", edit: (p) => (iceland(p)["redoubt:tenants"] = []), file: ICELAND, field: /^redoubt:tenants$/, message: /leaves out tenant 'acme'/ },
    {
        what: "primary serving a subset",
        edit: (p) => (iceland(p)["redoubt:tenants"] = ["acme", "harbor"]),
        file: ICELAND,
        field: /^redoubt:tenants$/,
        message: /leaves out tenant 'nightowl'/,
    },
    {
        what: "primary serving a subset, planned alone",
        edit: (p) => (iceland(p)["redoubt:tenants"] = ["acme"]),
        stacks: ["iceland"],
        file: ICELAND,
        field: /^redoubt:tenants$/,
        message: /leaves out tenant 'harbor'/,
    },
    {
        what: "primary naming a tenant with no file",
        edit: (p) => (iceland(p)["redoubt:tenants"] = ["acme", "harbor", "nightowl", "ghost"]),
        file: ICELAND,
        field: /^redoubt:tenants$/,
        message: /'ghost', which has no tenant file/,
    },
    {
        what: "primary reading an empty tenants directory",
        edit: (p) => (iceland(p)["redoubt:tenantsDir"] = "empty"),
        file: ICELAND,
        field: /^redoubt:tenantsDir$/,
        message: /does not hold tenant 'acme'.*which is placed on this host; point it at the tenants directory/,
    },
    // Placement on hosts (stacks/placement.ts): a tenant file's host, fixed by the ledger.
    {
        what: "a second primary stack while the tenant files name no host",
        edit: (p) => (p.stacks["iceland-2"] = { ...iceland(p), "redoubt:site": "iceland2" }),
        file: /^tenants\/(acme|harbor|nightowl)\.yaml$/,
        field: /^host$/,
        message: /^is required: this project has 2 Docker hosts \(primary stacks iceland, iceland-2\)\. Name the one that holds '\w+' and record it in its ledger entry/,
    },
    {
        what: "a host that is not a primary stack",
        edit: (p) => {
            tenant(p, "acme").host = "backup-helsinki";
            p.ledger[0].host = "backup-helsinki";
        },
        file: file("acme"),
        field: /^host$/,
        message: /^is 'backup-helsinki', which is not a primary stack of this project .*; allowed: iceland$/,
    },
    {
        what: "a host that is not a stack name",
        edit: (p) => (tenant(p, "acme").host = "Iceland 1"),
        file: file("acme"),
        field: /^host$/,
        message: /must be the name of a primary stack \(a Docker host\).*e\.g\. iceland/,
    },
    {
        what: "a host in the file the ledger does not record",
        edit: (p) => (tenant(p, "acme").host = "iceland"),
        file: file("acme"),
        field: /^host$/,
        message: /^is 'iceland', but .*ledger\.yaml records no host for 'acme'; record it there \('- \{ name: acme, id: 1, host: iceland \}'\)/,
    },
    {
        what: "a host other than the ledger's",
        edit: (p) => {
            p.stacks["iceland-2"] = { ...iceland(p), "redoubt:site": "iceland2" };
            for (const t of ["acme", "harbor", "nightowl"]) tenant(p, t).host = "iceland";
            for (const entry of p.ledger) entry.host = "iceland";
            tenant(p, "acme").host = "iceland-2";
        },
        file: file("acme"),
        field: /^host$/,
        message: /^is 'iceland-2', but .*ledger\.yaml placed 'acme' on 'iceland'; a tenant never moves host/,
    },
    {
        what: "a host in the ledger that is not a host name",
        edit: (p) => (p.ledger[0].host = "Iceland"),
        file: /^tenants\/ledger\.yaml$/,
        field: /^tenants\.0\.host$/,
        message: /must be the name of a primary stack/,
    },
    {
        what: "backup stack dropping every tenant",
        edit: (p) => (helsinki(p)["redoubt:tenants"] = []),
        file: HELSINKI,
        field: /^redoubt:tenants$/,
        message: /leaves out tenant 'acme' .*backs up to helsinki/,
    },
    {
        what: "backup stack dropping one tenant",
        edit: (p) => (falkenstein(p)["redoubt:tenants"] = ["acme", "harbor"]),
        file: FALKENSTEIN,
        field: /^redoubt:tenants$/,
        message: /leaves out tenant 'nightowl'/,
    },
    // The clock.
    {
        what: "a stale date pinned in the primary",
        edit: (p) => (iceland(p)["redoubt:asOf"] = "2020-01-01"),
        file: ICELAND,
        field: /^redoubt:asOf$/,
        message: /before today .* stops the deletion clock.*REDOUBT_AS_OF/,
    },
    {
        what: "a stale date pinned in a backup stack",
        edit: (p) => (helsinki(p)["redoubt:asOf"] = addDays(TODAY, -1)),
        file: HELSINKI,
        field: /^redoubt:asOf$/,
        message: /before today/,
    },
    { what: "an impossible date", edit: (p) => (iceland(p)["redoubt:asOf"] = "2026-02-30"), file: ICELAND, field: /^redoubt:asOf$/, message: /real calendar date|YYYY-MM-DD/ },
    {
        what: "a grace period longer than the promise",
        edit: (p) => (iceland(p)["redoubt:deletionGraceDays"] = 8),
        file: ICELAND,
        field: /^redoubt:deletionGraceDays$/,
        message: /at most 7/,
    },
    {
        what: "a host limit below the tenants it serves",
        edit: (p) => (iceland(p)["redoubt:maxTenants"] = 2),
        file: ICELAND,
        field: /^redoubt:maxTenants$/,
        message:
            /^this host is full: it would serve 3 tenants, more than its limit of 2\. Place '\w+' on another host \(host: in its file and its ledger entry; a tenant never moves host once deployed/,
    },
    { what: "a host limit of no tenants", edit: (p) => (iceland(p)["redoubt:maxTenants"] = 0), file: ICELAND, field: /^redoubt:maxTenants$/, message: /at least 1/ },
    { what: "a host limit that is not a number", edit: (p) => (iceland(p)["redoubt:maxTenants"] = "many"), file: ICELAND, field: /^redoubt:maxTenants$/, message: /number/ },
    {
        what: "a negative grace period",
        edit: (p) => (helsinki(p)["redoubt:deletionGraceDays"] = -1),
        file: HELSINKI,
        field: /^redoubt:deletionGraceDays$/,
        message: />=0|at least 0|too small/i,
    },
    // Secrets never committed in plain text.
    {
        what: "the SSH private key in plain text",
        edit: (p) => (iceland(p)["redoubt:sshPrivateKey"] = "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----"),
        file: ICELAND,
        field: /^redoubt:sshPrivateKey$/,
        message: /plain text; it is a secret: .*pulumi config set --secret redoubt:sshPrivateKey/,
    },
    {
        what: "the SSH private key in plain text, even empty",
        edit: (p) => (iceland(p)["redoubt:sshPrivateKey"] = ""),
        file: ICELAND,
        field: /^redoubt:sshPrivateKey$/,
        message: /plain text/,
    },
    {
        what: "a private key under another provider's key",
        edit: (p) => (iceland(p)["command:privateKey"] = "-----BEGIN RSA PRIVATE KEY-----\nabc"),
        file: ICELAND,
        field: /^command:privateKey$/,
        message: /private key in plain text; set it with pulumi config set --secret/,
    },
    // The primary's own settings.
    { what: "role missing", edit: (p) => delete iceland(p)["redoubt:role"], file: ICELAND, field: /^redoubt:role$/, message: /primary or backup/ },
    { what: "role unknown", edit: (p) => (iceland(p)["redoubt:role"] = "secondary"), file: ICELAND, field: /^redoubt:role$/, message: /primary or backup/ },
    { what: "unknown setting", edit: (p) => (iceland(p)["redoubt:federation"] = "true"), file: ICELAND, field: /^redoubt:federation$/, message: /not a known setting; allowed: / },
    { what: "country not a code", edit: (p) => (iceland(p)["redoubt:country"] = "Iceland"), file: ICELAND, field: /^redoubt:country$/, message: /ISO 3166-1 alpha-2/ },
    { what: "site with capitals", edit: (p) => (iceland(p)["redoubt:site"] = "Iceland"), file: ICELAND, field: /^redoubt:site$/, message: /lower-case site name/ },
    {
        what: "Docker host over plain TCP",
        edit: (p) => (iceland(p)["redoubt:dockerHost"] = "tcp://docker1:2375"),
        file: ICELAND,
        field: /^redoubt:dockerHost$/,
        message: /ssh:\/\/user@host\[:port\]/,
    },
    { what: "Docker host missing", edit: (p) => delete iceland(p)["redoubt:dockerHost"], file: ICELAND, field: /^redoubt:dockerHost$/, message: /is required/ },
    {
        what: "host key not a key",
        edit: (p) => (iceland(p)["redoubt:sshHostKey"] = "trust-me"),
        file: ICELAND,
        field: /^redoubt:sshHostKey$/,
        message: /the Docker host's public host key/,
    },
    {
        what: "host key with a shell suffix",
        edit: (p) => (iceland(p)["redoubt:sshHostKey"] = "ssh-ed25519 AAAA; rm -rf /"),
        file: ICELAND,
        field: /^redoubt:sshHostKey$/,
        message: /public host key/,
    },
    {
        what: "public address a name",
        edit: (p) => (iceland(p)["redoubt:publicAddress"] = "edge.example"),
        file: ICELAND,
        field: /^redoubt:publicAddress$/,
        message: /IPv4 address the edge publishes/,
    },
    { what: "public address out of range", edit: (p) => (iceland(p)["redoubt:publicAddress"] = "203.0.113.300"), file: ICELAND, field: /^redoubt:publicAddress$/, message: /IPv4/ },
    { what: "ACME email not an address", edit: (p) => (iceland(p)["redoubt:acmeEmail"] = "hostmaster"), file: ICELAND, field: /^redoubt:acmeEmail$/, message: /email address/ },
    {
        what: "ACME directory over http",
        edit: (p) => (iceland(p)["redoubt:acmeDirectory"] = "http://ca.example/dir"),
        file: ICELAND,
        field: /^redoubt:acmeDirectory$/,
        message: /https URL of an ACME directory/,
    },
    { what: "ACME CA not PEM", edit: (p) => (iceland(p)["redoubt:acmeDirectoryCa"] = "MIIB..."), file: ICELAND, field: /^redoubt:acmeDirectoryCa$/, message: /PEM certificate/ },
    {
        what: "image catalog outside YAML",
        edit: (p) => (iceland(p)["redoubt:imageCatalog"] = "/etc/passwd"),
        file: ICELAND,
        field: /^redoubt:imageCatalog$/,
        message: /path to a YAML image catalog/,
    },
    {
        what: "image catalog that does not exist",
        edit: (p) => (iceland(p)["redoubt:imageCatalog"] = "mirror.yaml"),
        file: ICELAND,
        field: /^redoubt:imageCatalog$/,
        message: /cannot be read/,
    },
    { what: "backup sites not a mapping", edit: (p) => (iceland(p)["redoubt:backupSites"] = ["helsinki"]), file: ICELAND, field: /^redoubt:backupSites/, message: /./ },
    // The stack files themselves.
    {
        what: "a stack that does not exist",
        edit: () => undefined,
        stacks: ["nowhere"],
        file: /^stacks\/Pulumi\.nowhere\.yaml$/,
        field: /^\(file\)$/,
        message: /no stack named nowhere \(known: /,
    },
    { what: "a stack file that is not YAML", edit: (p) => (p.rawStacks["iceland"] = "config: [unclosed\n"), file: ICELAND, field: /^\(file\)$/, message: /is not valid YAML/ },
    {
        what: "a stack file that is a list",
        edit: (p) => (p.rawStacks["iceland"] = "- a\n- b\n"),
        file: ICELAND,
        field: /^\(file\)$/,
        message: /must be a YAML mapping with a config: section/,
    },
    {
        what: "a stack file whose config is a list",
        edit: (p) => (p.rawStacks["iceland"] = "config:\n  - a\n"),
        file: ICELAND,
        field: /^config$/,
        message: /mapping of namespace:key/,
    },
    {
        what: "a stack file with duplicate keys",
        edit: (p) => (p.rawStacks["iceland"] = "config:\n  redoubt:role: primary\n  redoubt:role: backup\n"),
        file: ICELAND,
        field: /^\(file\)$/,
        message: /not valid YAML/,
    },
    {
        what: "a stack file that is an alias bomb",
        edit: (p) =>
            (p.rawStacks["iceland"] = `a: &a [x, x, x, x, x, x, x, x, x]\n${"bcdefghij"
                .split("")
                .map((c, i) => `${c}: &${c} [${Array(9).fill(`*${"abcdefghij"[i]}`).join(", ")}]`)
                .join("\n")}\nconfig: {}\n`),
        file: ICELAND,
        field: /^\(file\)$/,
        message: /not valid YAML/,
    },
];

const tenantCases: Case[] = [
    // Dates that cannot be true yet.
    {
        what: "an export requested in the future",
        edit: (p) => (tenant(p, "acme").export = { requestedOn: addDays(TODAY, 3), recipient: AGE_KEY }),
        file: file("acme"),
        field: /^export\.requestedOn$/,
        message: /after the plan's date/,
    },
    {
        what: "an export delivered in the future",
        edit: (p) => (tenant(p, "acme").export = { requestedOn: addDays(TODAY, -3), recipient: AGE_KEY, deliveredOn: addDays(TODAY, 2) }),
        file: file("acme"),
        field: /^export\.deliveredOn$/,
        message: /after the plan's date/,
    },
    {
        what: "an export delivered before it was requested",
        edit: (p) => (tenant(p, "acme").export = { requestedOn: addDays(TODAY, -3), recipient: AGE_KEY, deliveredOn: addDays(TODAY, -5) }),
        file: file("acme"),
        field: /^export\.deliveredOn$/,
        message: /must not be before export\.requestedOn/,
    },
    {
        what: "an export without a key",
        edit: (p) => (tenant(p, "acme").export = { requestedOn: TODAY }),
        file: file("acme"),
        field: /^export\.recipient$/,
        message: /age public key/,
    },
    {
        what: "an export to an SSH key",
        edit: (p) => (tenant(p, "acme").export = { requestedOn: TODAY, recipient: "ssh-ed25519 AAAA" }),
        file: file("acme"),
        field: /^export\.recipient$/,
        message: /age1 followed by 58 characters/,
    },
    // Images.
    {
        what: "a homeserver image from another registry",
        edit: (p) => (sub(tenant(p, "acme"), "homeserver").image = `evil.example/tuwunel:1@sha256:${"a".repeat(64)}`),
        file: file("acme"),
        field: /^homeserver\.image$/,
        message: /pulled from evil\.example; images may only come from the registries the catalog uses: .*ghcr\.io/,
    },
    {
        what: "a homeserver image from a registry on its own port",
        edit: (p) => (sub(tenant(p, "acme"), "homeserver").image = `mirror.example:5000/tuwunel@sha256:${"a".repeat(64)}`),
        file: file("acme"),
        field: /^homeserver\.image$/,
        message: /pulled from mirror\.example:5000/,
    },
    {
        what: "a homeserver image by tag only",
        edit: (p) => (sub(tenant(p, "acme"), "homeserver").image = "ghcr.io/matrix-construct/tuwunel:latest"),
        file: file("acme"),
        field: /^homeserver\.image$/,
        message: /pinned by digest/,
    },
    // WireGuard peers.
    {
        what: "two peers with one key",
        edit: (p) => ((sub(tenant(p, "harbor"), "access").peers as Doc[])[1].publicKey = WG_KEY),
        file: file("harbor"),
        field: /^access\.peers\.1\.publicKey$/,
        message: /same as peer 0's; each peer needs its own publicKey/,
    },
    {
        what: "two peers with one name",
        edit: (p) => ((sub(tenant(p, "harbor"), "access").peers as Doc[])[1].name = "office"),
        file: file("harbor"),
        field: /^access\.peers\.1\.name$/,
        message: /each peer needs its own name/,
    },
    {
        what: "a peer key that is not a key",
        edit: (p) => ((sub(tenant(p, "harbor"), "access").peers as Doc[])[0].publicKey = "abc"),
        file: file("harbor"),
        field: /^access\.peers\.0\.publicKey$/,
        message: /WireGuard public key/,
    },
    {
        what: "a peer name with spaces",
        edit: (p) => ((sub(tenant(p, "harbor"), "access").peers as Doc[])[0].name = "my laptop"),
        file: file("harbor"),
        field: /^access\.peers\.0\.name$/,
        message: /short lower-case name/,
    },
    {
        what: "a vpn tenant without peers",
        edit: (p) => (sub(tenant(p, "harbor"), "access").peers = []),
        file: file("harbor"),
        field: /^access\.peers$/,
        message: /at least one WireGuard peer/,
    },
    {
        what: "a vpn tenant with 30 peers",
        edit: (p) =>
            (sub(tenant(p, "harbor"), "access").peers = Array.from({ length: 30 }, (_, i) => ({ name: `p${i}`, publicKey: `${String(i).padStart(2, "0")}${"A".repeat(40)}A=` }))),
        file: file("harbor"),
        field: /^access\.peers$/,
        message: /at most 29 peers/,
    },
    // Fields of one tenant file.
    { what: "name with capitals", edit: (p) => (tenant(p, "acme").name = "Acme"), file: file("acme"), field: /^name$/, message: /DNS label/ },
    { what: "name that is not the file's", edit: (p) => (tenant(p, "acme").name = "acme-two"), file: file("acme"), field: /^name$/, message: /file must be named acme-two\.yaml/ },
    { what: "id zero", edit: (p) => (tenant(p, "acme").id = 0), file: file("acme"), field: /^id$/, message: /at least 1/ },
    { what: "id fractional", edit: (p) => (tenant(p, "acme").id = 1.5), file: file("acme"), field: /^id$/, message: /whole number/ },
    { what: "id past the address plan", edit: (p) => (tenant(p, "acme").id = 131072), file: file("acme"), field: /^id$/, message: /at most 131071/ },
    { what: "id as text", edit: (p) => (tenant(p, "acme").id = "1"), file: file("acme"), field: /^id$/, message: /whole number/ },
    { what: "vpn tenant id past its port range", edit: (p) => (tenant(p, "harbor").id = 20000), file: file("harbor"), field: /^id$/, message: /at most 13715 for a vpn tenant/ },
    { what: "contact not an address", edit: (p) => (tenant(p, "acme").contact = "it-dept"), file: file("acme"), field: /^contact$/, message: /email address/ },
    { what: "status unknown", edit: (p) => (tenant(p, "acme").status = "paused"), file: file("acme"), field: /^status$/, message: /active|suspended|cancelled/ },
    {
        what: "cancelled without a date",
        edit: (p) => (tenant(p, "acme").status = "cancelled"),
        file: file("acme"),
        field: /^cancelledOn$/,
        message: /required when status is cancelled/,
    },
    {
        what: "cancellation date on an active tenant",
        edit: (p) => (tenant(p, "acme").cancelledOn = TODAY),
        file: file("acme"),
        field: /^cancelledOn$/,
        message: /only allowed when status is cancelled/,
    },
    { what: "plan unknown", edit: (p) => (tenant(p, "acme").plan = "huge"), file: file("acme"), field: /^plan$/, message: /small|medium|large/ },
    { what: "access missing", edit: (p) => delete tenant(p, "acme").access, file: file("acme"), field: /^access$/, message: /required|mode must be one of/ },
    {
        what: "access mode unknown",
        edit: (p) => (tenant(p, "acme").access = { mode: "i2p" }),
        file: file("acme"),
        field: /^access(\.mode)?$/,
        message: /mode must be one of: public \(with domain\), tor, vpn \(with peers\)/,
    },
    {
        what: "public tenant without a domain",
        edit: (p) => (tenant(p, "acme").access = { mode: "public" }),
        file: file("acme"),
        field: /^access\.domain$/,
        message: /required|DNS/,
    },
    {
        what: "domain with an underscore",
        edit: (p) => (sub(tenant(p, "acme"), "access").domain = "matrix_acme.example"),
        file: file("acme"),
        field: /^access\.domain$/,
        message: /DNS name/i,
    },
    {
        what: "tor tenant with a domain",
        edit: (p) => (sub(tenant(p, "nightowl"), "access").domain = "x.example"),
        file: file("nightowl"),
        field: /^access\.domain$/,
        message: /not a known|Unrecognized|unknown/i,
    },
    {
        what: "tor tenant without a server name",
        edit: (p) => delete sub(tenant(p, "nightowl"), "homeserver").serverName,
        file: file("nightowl"),
        field: /^homeserver\.serverName$/,
        message: /required for tor tenants/,
    },
    {
        what: "registration open to all",
        edit: (p) => (sub(tenant(p, "nightowl"), "homeserver").registration = "open"),
        file: file("nightowl"),
        field: /^homeserver\.registration$/,
        message: /token|closed/,
    },
    {
        what: "federation switched on",
        edit: (p) => (sub(tenant(p, "nightowl"), "homeserver").federation = true),
        file: file("nightowl"),
        field: /^homeserver\.federation$/,
        message: /not a known|Unrecognized|unknown/i,
    },
    {
        what: "push proxy without gateways",
        edit: (p) => delete sub(tenant(p, "acme"), "homeserver").pushGateways,
        file: file("acme"),
        field: /^homeserver\.pushGateways$/,
        message: /required with push: proxy/,
    },
    {
        what: "gateways without the push proxy",
        edit: (p) => (sub(tenant(p, "acme"), "homeserver").push = "off"),
        file: file("acme"),
        field: /^homeserver\.pushGateways$/,
        message: /only allowed with push: proxy/,
    },
    {
        what: "log retention past 30 days",
        edit: (p) => (sub(tenant(p, "acme"), "logging").retentionDays = 31),
        file: file("acme"),
        field: /^logging\.retentionDays$/,
        message: /30/,
    },
    {
        what: "log level trace",
        edit: (p) => (sub(tenant(p, "nightowl"), "logging").level = "trace"),
        file: file("nightowl"),
        field: /^logging\.level$/,
        message: /error|warn|info/,
    },
    {
        what: "a backup site no backup stack serves",
        edit: (p) => (sub(tenant(p, "acme"), "backups").sites = ["helsinki", "oslo"]),
        file: file("acme"),
        field: /^backups\.sites$/,
        message:
            /names oslo, which no backup stack of this project serves .*the backup sites that exist: falkenstein \(backup-falkenstein, DE\), helsinki \(backup-helsinki, FI\)$/,
    },
    {
        what: "a backup site in Iceland (the primary is a site, not a backup site)",
        edit: (p) => (sub(tenant(p, "acme"), "backups").sites = ["helsinki", "iceland"]),
        file: file("acme"),
        field: /^backups\.sites$/,
        message: /names iceland, which no backup stack of this project serves/,
    },
    {
        what: "a backup site whose stack exists but the primary does not list",
        edit: (p) => {
            addNuremberg(p);
            delete sub(iceland(p), "redoubt:backupSites").nuremberg;
            sub(tenant(p, "acme"), "backups").sites = ["helsinki", "nuremberg"];
        },
        file: file("acme"),
        field: /^backups\.sites$/,
        message:
            /names nuremberg, but stacks\/Pulumi\.iceland\.yaml, the primary stack serving this tenant, has no redoubt:backupSites\.nuremberg; add that entry \(stack backup-nuremberg\), or use one of: helsinki, falkenstein$/,
    },
    {
        what: "two backup sites in one country",
        edit: (p) => {
            addNuremberg(p);
            sub(tenant(p, "acme"), "backups").sites = ["falkenstein", "nuremberg"];
        },
        file: file("acme"),
        field: /^backups\.sites$/,
        message:
            /names falkenstein and nuremberg, which are both in DE; a tenant's backup sites must be in different countries .*helsinki \(FI\), falkenstein \(DE\), nuremberg \(DE\)/,
    },
    {
        what: "a backup site name with capitals",
        edit: (p) => (sub(tenant(p, "acme"), "backups").sites = ["helsinki", "Falkenstein"]),
        file: file("acme"),
        field: /^backups\.sites\.1$/,
        message: /lower-case site name/,
    },
    {
        what: "a backup site name ending in a hyphen",
        edit: (p) => (sub(tenant(p, "acme"), "backups").sites = ["helsinki", "falkenstein-"]),
        file: file("acme"),
        field: /^backups\.sites\.1$/,
        message: /lower-case site name/,
    },
    {
        what: "a backup site name too long",
        edit: (p) => (sub(tenant(p, "acme"), "backups").sites = ["helsinki", `f${"a".repeat(32)}`]),
        file: file("acme"),
        field: /^backups\.sites\.1$/,
        message: /2 to 32/,
    },
    {
        what: "a single backup site",
        edit: (p) => (sub(tenant(p, "acme"), "backups").sites = ["helsinki"]),
        file: file("acme"),
        field: /^backups\.sites$/,
        message: /at least two backup sites/,
    },
    {
        what: "backup site twice",
        edit: (p) => (sub(tenant(p, "acme"), "backups").sites = ["helsinki", "helsinki"]),
        file: file("acme"),
        field: /^backups\.sites$/,
        message: /must not name a site twice/,
    },
    {
        what: "backup schedule not a time",
        edit: (p) => (sub(tenant(p, "acme"), "backups").schedule = "25:00"),
        file: file("acme"),
        field: /^backups\.schedule$/,
        message: /HH:MM|time/i,
    },
    { what: "unknown top-level key", edit: (p) => (tenant(p, "acme").federate = true), file: file("acme"), field: /^federate$/, message: /not a known|Unrecognized|unknown/i },
    // Across tenant files.
    {
        what: "two tenants with one id",
        edit: (p) => (tenant(p, "harbor").id = 1),
        file: /^tenants\/(harbor|ledger)\.yaml$/,
        field: /^id$/,
        message: /already used by|was issued to/,
    },
    {
        what: "two tenants with one domain",
        edit: (p) => addTenant(p, { ...tenant(p, "acme"), name: "zeta", id: 9 }),
        file: file("zeta"),
        field: /^access\.domain$/,
        message: /domain 'matrix\.acme\.example' is already used by/,
    },
    {
        what: "a reserved name",
        edit: (p) => addTenant(p, { ...tenant(p, "nightowl"), name: "edge", id: 9 }),
        file: file("edge"),
        field: /^name$/,
        message: /reserved for shared resources/,
    },
    {
        what: "a name that extends another tenant's",
        edit: (p) => addTenant(p, { ...tenant(p, "nightowl"), name: "acme-two", id: 9, homeserver: { serverName: "two.example" } }),
        file: file("acme-two"),
        field: /^name$/,
        message: /begins with tenant 'acme' and a hyphen/,
    },
    // The ledger.
    { what: "an id changed", edit: (p) => (tenant(p, "acme").id = 7), file: file("acme"), field: /^id$/, message: /issued id 1 to 'acme'; a tenant's id never changes/ },
    {
        what: "a tenant not issued",
        edit: (p) => (p.tenants["zeta.yaml"] = { ...tenant(p, "nightowl"), name: "zeta", id: 9, homeserver: { serverName: "zeta.example" } }),
        file: file("zeta"),
        field: /^name$/,
        message: /not in .*ledger\.yaml; issue it/,
    },
    {
        what: "a tenant file removed",
        edit: (p) => delete p.tenants["harbor.yaml"],
        file: /^tenants\/ledger\.yaml$/,
        field: /^tenants$/,
        message: /tenant 'harbor' has no file but is not marked deleted/,
    },
    {
        what: "a deleted tenant's name reused",
        edit: (p) => (
            p.ledger.push({ name: "zeta", id: 9, deletedOn: "2025-01-01" }),
            (p.tenants["zeta.yaml"] = { ...tenant(p, "nightowl"), name: "zeta", id: 10, homeserver: { serverName: "zeta.example" } })
        ),
        file: file("zeta"),
        field: /^name$/,
        message: /deleted on 2025-01-01; names are never reused/,
    },
    {
        what: "an issued id taken by another name",
        edit: (p) => (
            p.ledger.push({ name: "old", id: 9, deletedOn: "2025-01-01" }),
            (p.tenants["zeta.yaml"] = { ...tenant(p, "nightowl"), name: "zeta", id: 9, homeserver: { serverName: "zeta.example" } })
        ),
        file: file("zeta"),
        field: /^id$/,
        message: /9 was issued to 'old'.*ids are never reused/,
    },
    { what: "a tenant file that is not YAML", edit: (p) => (p.tenants["acme.yaml"] = "name: acme\n  id: [\n"), file: file("acme"), field: /^$/, message: /is not valid YAML/ },
    {
        what: "a tenant file that is a list",
        edit: (p) => (p.tenants["acme.yaml"] = "- acme\n"),
        file: file("acme"),
        field: /^$/,
        message: /must be a YAML mapping of tenant fields/,
    },
];

describe("the plan refuses bad input before planning anything", () => {
    it("accepts the repository's own stacks and tenants (the baseline every case edits)", () => {
        expect(problemsOf(exampleProject())).toEqual([]);
    });

    it("accepts a third backup site added by the recipe (a stack file and the primary's entry), with and without a tenant naming it", () => {
        const project = exampleProject();
        addNuremberg(project);
        expect(problemsOf(project)).toEqual([]);
        sub(tenant(project, "acme"), "backups").sites = ["helsinki", "nuremberg"];
        expect(problemsOf(project)).toEqual([]);
    });

    it.each([...stackCases, ...tenantCases].map((c) => [c.what, c] as const))("%s", (_what, c) => {
        const project = exampleProject();
        c.edit(project);
        const problems = problemsOf(project, c.stacks);
        // One problem names the file, the field and what to do; the rest may be consequences.
        // On failure, jest prints every problem the plan did report.
        expect(problems).toContainEqual(
            expect.objectContaining({ file: expect.stringMatching(c.file), field: expect.stringMatching(c.field), message: expect.stringMatching(c.message) }),
        );
    });
});
