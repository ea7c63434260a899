// npm run bench -- [N] [--hosts H] [--no-policy] [--no-plan]
//
// Generates N synthetic tenants (default 100; a mix of public, tor and vpn,
// small/medium/large) into a temporary project, with a matching ledger, on H
// Docker hosts (default 1: the repository's stacks; H > 1: H primary stacks
// made from stacks/Pulumi.iceland.yaml, tenants dealt round-robin), and times
// the full offline plan: every stack under mocks, then the real policy pack
// over gRPC. Prints resources/s and the total. Then times working out one
// tenant's targets (what `npm run tenant -- preview|up` does before Pulumi
// starts) among 10 tenants and among N: the fleet should not change it.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { buildPlan, planExitCode } from "../lib/plan";
import { planTenantOperation } from "../lib/tenant-ops";

/** A valid WireGuard public key (32 bytes, base64) derived from i. */
function wgKey(i: number): string {
    const bytes = Buffer.alloc(32);
    bytes.writeUInt32BE(i + 1, 0);
    bytes.writeUInt32BE(0x5eed, 28);
    return bytes.toString("base64");
}

/** The i-th synthetic tenant's name (0-based): bench-0001, bench-0002, ... */
const syntheticName = (i: number) => `bench-${String(i + 1).padStart(4, "0")}`;

/**
 * Writes `count` synthetic tenant files and their ledger into `dir`. With `hostOf`, each tenant
 * names its host (a primary stack) in its file and ledger entry, as ops place tenants.
 */
export function writeSyntheticTenants(dir: string, count: number, hostOf?: (i: number) => string): void {
    const ledger: { name: string; id: number; host?: string }[] = [];
    const plans = ["small", "medium", "large"];
    for (let i = 0; i < count; i++) {
        const id = i + 1;
        const name = syntheticName(i);
        const mode = i % 5 === 3 ? "tor" : i % 5 === 4 ? "vpn" : "public";
        const host = hostOf?.(i);
        const tenant: Record<string, unknown> = {
            name,
            id,
            ...(host === undefined ? {} : { host }),
            contact: `ops@${name}.example`,
            plan: plans[i % 3],
            access: mode === "public" ? { mode, domain: `matrix.${name}.example` } : mode === "tor" ? { mode } : { mode, peers: [{ name: "office", publicKey: wgKey(i) }] },
            ...(mode === "public" ? {} : { homeserver: { serverName: `${name}.redoubt.internal` } }),
        };
        fs.writeFileSync(path.join(dir, `${name}.yaml`), stringify(tenant));
        ledger.push({ name, id, ...(host === undefined ? {} : { host }) });
    }
    fs.writeFileSync(path.join(dir, "ledger.yaml"), stringify({ tenants: ledger }));
}

const REPO = path.join(__dirname, "..");

/** The primary stack of synthetic host h (1-based) when there are several. */
const syntheticHost = (h: number) => `iceland-${h}`;

/**
 * A project directory with the repository's stacks and image catalog and `count` synthetic tenants.
 * With several hosts, the primary stack is replaced by one per host (own site, Docker host and
 * address), and the tenants are dealt round-robin: each names its host in its file and ledger entry.
 */
export function writeSyntheticProject(dir: string, count: number, hosts: number): void {
    fs.cpSync(path.join(REPO, "stacks"), path.join(dir, "stacks"), { recursive: true });
    fs.copyFileSync(path.join(REPO, "images.yaml"), path.join(dir, "images.yaml"));
    fs.mkdirSync(path.join(dir, "tenants"));
    writeSyntheticTenants(path.join(dir, "tenants"), count, hosts <= 1 ? undefined : (i) => syntheticHost((i % hosts) + 1));
    if (hosts <= 1) return;
    const primaryFile = path.join(dir, "stacks", "Pulumi.iceland.yaml");
    const primary = (parse(fs.readFileSync(primaryFile, "utf8")) as { config: Record<string, unknown> }).config;
    fs.rmSync(primaryFile);
    for (let h = 1; h <= hosts; h++) {
        const config = {
            ...primary,
            "redoubt:site": `iceland${h}`,
            "redoubt:dockerHost": `ssh://root@docker${h}.is.redoubt.example`,
            "redoubt:publicAddress": `203.0.113.${10 + h}`,
        };
        fs.writeFileSync(path.join(dir, "stacks", `Pulumi.${syntheticHost(h)}.yaml`), stringify({ config }));
    }
}

async function benchPlan(projectDir: string, count: number, policy: boolean): Promise<void> {
    const started = process.hrtime.bigint();
    let mocksDone = 0n;
    const doc = await buildPlan({
        projectDir,
        packDir: path.join(REPO, "policies"),
        policy,
        progress: (m) => {
            if (m.startsWith("waiting for the policy pack") || m.startsWith("checking")) mocksDone ||= process.hrtime.bigint();
        },
    });
    const total = Number(process.hrtime.bigint() - started) / 1e9;
    const mocks = mocksDone ? Number(mocksDone - started) / 1e9 : total;
    const resources = doc.stacks.reduce((n, s) => n + s.resources.length, 0);
    const diagnostics = doc.stacks.reduce((n, s) => n + s.diagnostics.length, 0);
    for (const s of doc.stacks) process.stdout.write(`  ${s.stack}: ${s.tenants.length} tenants, ${s.resources.length} resources, ${s.diagnostics.length} diagnostics\n`);
    process.stdout.write(
        `bench: ${count} tenants, ${resources} resources in ${total.toFixed(1)} s (${(resources / total).toFixed(0)} resources/s; mocks ${mocks.toFixed(1)} s${policy ? `, policy pack ${(total - mocks).toFixed(1)} s` : ", policy pack skipped"}); ${diagnostics} diagnostics, plan exit ${planExitCode(doc)}\n`,
    );
}

/** One tenant's targets among `count` synthetic tenants: seconds for the whole set's validation and for the rest. */
async function benchTargets(count: number): Promise<string> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-bench-targets-"));
    try {
        writeSyntheticTenants(dir, count);
        const started = process.hrtime.bigint();
        let validated = started;
        const plan = await planTenantOperation({ tenant: "bench-0001", tenantsDir: dir, afterValidation: () => (validated = process.hrtime.bigint()) });
        const seconds = (from: bigint, to: bigint) => (Number(to - from) / 1e9).toFixed(1);
        const done = process.hrtime.bigint();
        const targets = plan.steps.reduce((n, s) => n + s.urns.length + s.shared.length, 0);
        return `${count} tenants ${seconds(started, done)} s (validating the set ${seconds(started, validated)} s), ${targets} URNs`;
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

async function main(): Promise<number> {
    const args = process.argv.slice(2);
    const count = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== "--hosts") ?? 100);
    const policy = !args.includes("--no-policy");
    const hostsAt = args.indexOf("--hosts");
    const hosts = hostsAt >= 0 ? Number(args[hostsAt + 1]) : 1;
    if (!Number.isInteger(hosts) || hosts < 1 || hosts > 50) throw new Error(`--hosts takes a whole number of hosts from 1 to 50, not ${args[hostsAt + 1] ?? "nothing"}`);
    if (!args.includes("--no-plan")) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-bench-"));
        try {
            writeSyntheticProject(dir, count, hosts);
            process.stderr.write(`bench: ${count} synthetic tenants on ${hosts} host${hosts === 1 ? "" : "s"} in ${dir}\n`);
            await benchPlan(dir, count, policy);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    }
    const sizes = [...new Set([10, count])];
    const lines: string[] = [];
    for (const size of sizes) lines.push(await benchTargets(size));
    process.stdout.write(`bench: one tenant's targets (npm run tenant): ${lines.join("; ")}\n`);
    return 0;
}

if (require.main === module) {
    main()
        .then((code) => process.exit(code))
        .catch((e) => {
            process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
            process.exit(3);
        });
}
