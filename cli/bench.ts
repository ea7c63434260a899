// npm run bench -- [N] [--no-policy] [--no-plan]
//
// Generates N synthetic tenants (default 100; a mix of public, tor and vpn,
// small/medium/large) into a temporary directory, with a matching ledger, and
// times the full offline plan: every stack under mocks, then the real policy
// pack over gRPC. Prints resources/s and the total. Then times working out one
// tenant's targets (what `npm run tenant -- preview|up` does before Pulumi
// starts) among 10 tenants and among N: the fleet should not change it.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { buildPlan, planExitCode } from "../lib/plan";
import { planTenantOperation } from "../lib/tenant-ops";

/** A valid WireGuard public key (32 bytes, base64) derived from i. */
function wgKey(i: number): string {
    const bytes = Buffer.alloc(32);
    bytes.writeUInt32BE(i + 1, 0);
    bytes.writeUInt32BE(0x5eed, 28);
    return bytes.toString("base64");
}

export function writeSyntheticTenants(dir: string, count: number): void {
    const ledger: { name: string; id: number }[] = [];
    const plans = ["small", "medium", "large"];
    for (let i = 0; i < count; i++) {
        const id = i + 1;
        const name = `bench-${String(id).padStart(4, "0")}`;
        const mode = i % 5 === 3 ? "tor" : i % 5 === 4 ? "vpn" : "public";
        const tenant: Record<string, unknown> = {
            name,
            id,
            contact: `ops@${name}.example`,
            plan: plans[i % 3],
            access: mode === "public" ? { mode, domain: `matrix.${name}.example` } : mode === "tor" ? { mode } : { mode, peers: [{ name: "office", publicKey: wgKey(i) }] },
            ...(mode === "public" ? {} : { homeserver: { serverName: `${name}.redoubt.internal` } }),
        };
        fs.writeFileSync(path.join(dir, `${name}.yaml`), stringify(tenant));
        ledger.push({ name, id });
    }
    fs.writeFileSync(path.join(dir, "ledger.yaml"), stringify({ tenants: ledger }));
}

async function benchPlan(dir: string, count: number, policy: boolean): Promise<void> {
    const started = process.hrtime.bigint();
    let mocksDone = 0n;
    const doc = await buildPlan({
        tenantsDir: dir,
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
    const count = Number(args.find((a) => /^\d+$/.test(a)) ?? 100);
    const policy = !args.includes("--no-policy");
    if (!args.includes("--no-plan")) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-bench-"));
        try {
            writeSyntheticTenants(dir, count);
            process.stderr.write(`bench: ${count} synthetic tenants in ${dir}\n`);
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
