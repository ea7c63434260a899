// npm run bench -- [N ...] [--hosts H] [--no-policy] [--no-plan] [--no-bare]
//
// Generates N synthetic tenants (default 100; a mix of public, tor and vpn,
// small/medium/large) into a temporary project, with a matching ledger, on H
// Docker hosts (default 1: the repository's stacks; H > 1: H primary stacks
// made from stacks/Pulumi.iceland.yaml, tenants dealt round-robin), and times
// the full offline plan: every stack under mocks, then the real policy pack
// over gRPC. Prints resources/s, the total and the peak RSS, and the time a bare
// program takes to register the same resources under the same mocks. Then times working out one
// tenant's targets (what `npm run tenant -- preview|up` does before Pulumi
// starts) among 10 tenants and among N: the fleet should not change it.
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse, stringify } from "yaml";
import { runBareUnderMocks, type BareResource } from "../lib/mock-run";
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

/** Plans the project and prints the figures; returns the plan's mocks time and its resources per stack. */
async function benchPlan(projectDir: string, count: number, policy: boolean): Promise<{ mocks: number; stacks: { stack: string; resources: BareResource[] }[] }> {
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
    return { mocks, stacks: doc.stacks.map((s) => ({ stack: s.stack, resources: s.resources })) };
}

/**
 * The same resources registered by a bare program under the same mocks (runBareUnderMocks), stack
 * by stack: the SDK's own cost, printed beside the plan's mocks time (which also validates the set).
 */
async function benchBare(mocks: number, stacks: { stack: string; resources: BareResource[] }[]): Promise<void> {
    const started = process.hrtime.bigint();
    for (const { stack, resources } of stacks) await runBareUnderMocks(stack, resources);
    const bare = Number(process.hrtime.bigint() - started) / 1e9;
    process.stdout.write(
        `bench: a bare program registering the same resources under the same mocks: ${bare.toFixed(1)} s; the stack program's mocks time is ${(mocks / bare).toFixed(1)}× that\n`,
    );
}

/** Peak resident memory of this process so far, in GB (getrusage's maxrss is in KiB on Linux). */
const peakRssGb = () => (process.resourceUsage().maxRSS / 1024 / 1024).toFixed(2);

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

/**
 * Several sizes (the curve, e.g. 100 300 1000): each in its own process, so each starts with an
 * empty heap and a size that runs out of memory is reported while the others still run.
 */
function benchCurve(counts: number[], flags: string[]): number {
    let failed = 0;
    for (const count of counts) {
        const run = spawnSync(process.execPath, [require.resolve("ts-node/dist/bin"), "--swc", __filename, String(count), ...flags], { stdio: "inherit" });
        if (run.status !== 0) {
            failed++;
            process.stdout.write(`bench: ${count} tenants did not complete (${run.signal ? `signal ${run.signal}` : `exit ${run.status}`})\n`);
        }
    }
    return failed === 0 ? 0 : 1;
}

async function main(): Promise<number> {
    const args = process.argv.slice(2);
    // A bare number is a size, except the one after --hosts.
    const isCount = (a: string, i: number) => /^\d+$/.test(a) && args[i - 1] !== "--hosts";
    const counts = args.filter(isCount).map(Number);
    if (counts.length > 1)
        return benchCurve(
            counts,
            args.filter((a, i) => !isCount(a, i)),
        );
    const count = counts[0] ?? 100;
    const policy = !args.includes("--no-policy");
    const hostsAt = args.indexOf("--hosts");
    const hosts = hostsAt >= 0 ? Number(args[hostsAt + 1]) : 1;
    if (!Number.isInteger(hosts) || hosts < 1 || hosts > 50) throw new Error(`--hosts takes a whole number of hosts from 1 to 50, not ${args[hostsAt + 1] ?? "nothing"}`);
    if (!args.includes("--no-plan")) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-bench-"));
        try {
            writeSyntheticProject(dir, count, hosts);
            process.stderr.write(`bench: ${count} synthetic tenants on ${hosts} host${hosts === 1 ? "" : "s"} in ${dir}\n`);
            const { mocks, stacks } = await benchPlan(dir, count, policy);
            process.stdout.write(`bench: peak RSS after the plan ${peakRssGb()} GB\n`);
            if (!args.includes("--no-bare")) await benchBare(mocks, stacks);
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
