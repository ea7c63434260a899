// End to end: the real pack (policies/index.ts), started as the CLI starts it,
// over its gRPC analyzer interface.
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { mandatory, runPolicyPack, startPolicyPack, type CapturedResource, type PolicyPackSession } from "../../lib/policy-harness";
import { container, encryptedVolume, fixtureUrn, luks, network, storageBox, tenantStack, volume } from "./fixtures";
import { labels } from "./helpers";

jest.setTimeout(120_000);

const packDir = path.join(__dirname, "../../policies");
const SECRET = { "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270" };

function alive(pid: number): boolean {
    try {
        process.kill(pid, 0);
        return true;
    } catch {
        return false;
    }
}

const names = (ds: { policyName: string }[]) => [...new Set(ds.map((d) => d.policyName))].sort();

describe("policy pack over gRPC", () => {
    let session: PolicyPackSession;
    beforeAll(async () => {
        session = await startPolicyPack({ packDir, config: { "deletion-deadline": { asOf: "2025-06-10" } } });
    });
    afterAll(async () => {
        const pid = session?.pid;
        await session?.close();
        if (pid) expect(alive(pid)).toBe(false);
    });

    it("describes itself", () => {
        expect(session.policyPackName).toBe("redoubt-privacy");
        expect(session.policies.length).toBeGreaterThanOrEqual(20);
        expect(session.policies.every((p) => p.enforcementLevel === "mandatory")).toBe(true);
        expect(session.policies.find((p) => p.name === "container-log-retention")?.configDefaults).toEqual({ maxLogRetentionDays: 30 });

        console.log(`policy pack started in ${session.startMs} ms`);
    });

    it("passes a compliant two-tenant stack with the edge, secrets encoded as the CLI encodes them", async () => {
        const rs = compliant();
        const { diagnostics } = await session.analyze(rs);
        expect(diagnostics).toEqual([]);
    });

    it("gives AnalyzeStack a component's registered outputs, not its inputs, as the engine does", async () => {
        // An EncryptedVolume that registered no outputs: its inputs still name the tenant, but the
        // engine's AnalyzeStack sees only outputs, so the pack cannot tie the LUKS command to a tenant.
        const rs = compliant().map((r) => (r.type === "redoubt:tenant:EncryptedVolume" && r.name === "acme-volume" ? { ...r, outputs: {} } : r));
        const { diagnostics } = await session.analyze(rs);
        expect(diagnostics.map((d) => d.policyName)).toContain("encrypted-at-rest");
        expect(diagnostics.find((d) => d.policyName === "encrypted-at-rest")?.message).toMatch(/tenant acme has no LUKS2 container/);
    });

    it.each([
        [
            "log retention of 45 days",
            "container-log-retention",
            /set the tenant's logging.retentionDays to at most 30 days/,
            () => replace(compliant(), container("acme", "homeserver", {}, { "redoubt.log-retention-days": "45" })),
        ],
        [
            "a container on another tenant's network",
            "network-isolation",
            /attach it only to its own tenant's networks/,
            () => replace(compliant(), container("acme", "homeserver", { networksAdvanced: [{ name: "redoubt-acme-services" }, { name: "redoubt-beta-services" }] })),
        ],
        ["an image by tag", "images-pinned-by-digest", /reference it by digest/, () => replace(compliant(), container("acme", "proxy", { image: "caddy:2.8" }))],
        [
            "a cancelled tenant 8 days past its date with its data volume",
            "deletion-deadline",
            /Tenant gone was cancelled and its data had to be deleted by 2025-06-02 \(8 days ago.*remove the tenant/,
            () => [
                ...compliant(),
                cap(volume("gone", { "redoubt.status": "cancelled", "redoubt.delete-by": "2025-06-02" }, false)),
                cap(encryptedVolume("gone")),
                cap(luks("gone", false)),
            ],
        ],
        [
            "a backup agent writing to IS",
            "backup-sites",
            /writes a backup to IS, the primary site's country; move that backup site/,
            () => replace(compliant(), container("acme", "backup-agent", {}, { "redoubt.backup-countries": "FI,IS", "redoubt.backup-sites": "helsinki,reykjavik" })),
        ],
    ])("refuses %s", async (_what, policy, message, build) => {
        const { diagnostics } = await session.analyze(build());
        const m = mandatory(diagnostics);
        expect(names(m)).toEqual([policy]);
        expect(m.every((d) => d.policyPackName === "redoubt-privacy")).toBe(true);
        expect(m.map((d) => d.message).join("\n")).toMatch(message);
    });

    it("honours per-policy config overrides", async () => {
        const { diagnostics } = await session.analyze(compliant(), { "container-log-retention": { maxLogRetentionDays: 7 } });
        expect(names(mandatory(diagnostics))).toEqual(["container-log-retention"]);
    });

    it("turns a policy that reads an unknown value into an advisory", async () => {
        const rs = replace(compliant(), container("acme", "proxy", { image: pulumi.unknown }));
        const { diagnostics } = await session.analyze(rs);
        expect(mandatory(diagnostics)).toEqual([]);
        expect(diagnostics).toEqual([
            expect.objectContaining({ policyName: "images-pinned-by-digest", enforcementLevel: "advisory", message: expect.stringMatching(/during preview/) }),
        ]);
    });
});

describe("runPolicyPack", () => {
    it("stops the pack after a run", async () => {
        let pid = 0;
        const r = await runPolicyPack([cap(container("acme", "homeserver", {}, { "redoubt.log-retention-days": "45" }))], { packDir, onSpawn: (p) => (pid = p) });
        expect(r.pid).toBe(pid);
        expect(names(mandatory(r.diagnostics))).toContain("container-log-retention");
        expect(alive(pid)).toBe(false);
    });
    it("stops the pack when it times out", async () => {
        let pid = 0;
        await expect(runPolicyPack([], { packDir, timeoutMs: 200, onSpawn: (p) => (pid = p) })).rejects.toThrow(/printed no port within 200 ms/);
        expect(pid).toBeGreaterThan(0);
        expect(alive(pid)).toBe(false);
    });
});

// ---------------------------------------------------------------------------

function cap(r: { type: string; name: string; props: Record<string, unknown>; protect?: boolean; parent?: string }): CapturedResource {
    const custom = !r.type.startsWith("redoubt:");
    // A component fixture's props are what it registers as outputs (what AnalyzeStack sees of it);
    // a custom resource's outputs echo its inputs.
    return {
        type: r.type,
        name: r.name,
        urn: fixtureUrn(r.type, r.name),
        parent: r.parent,
        protect: r.protect ?? false,
        inputs: r.props,
        outputs: custom ? undefined : r.props,
        custom,
    };
}

function replace(rs: CapturedResource[], r: ReturnType<typeof container>): CapturedResource[] {
    return rs.map((x) => (x.name === r.name ? cap(r) : x));
}

/** Two compliant tenants, the edge and their storage boxes; uploads wrapped as Pulumi secrets the way mocks see them. */
function compliant(): CapturedResource[] {
    const rs = [...tenantStack("acme"), ...tenantStack("beta")].map(cap);
    for (const r of rs) {
        if (r.type === "docker:index/container:Container" && Array.isArray(r.inputs["uploads"])) r.inputs["uploads"] = { ...SECRET, value: r.inputs["uploads"] };
    }
    const edge = container("edge", "edge", {
        labels: labels({ "redoubt.role": "edge", "redoubt.log-retention-days": "7" }),
        cgroupParent: "redoubt-edge.slice",
        ports: [{ internal: 443, external: 443, ip: "0.0.0.0" }],
        networksAdvanced: [{ name: "redoubt-edge-public" }, { name: "redoubt-acme-ingress" }, { name: "redoubt-beta-ingress" }],
    });
    const edgeNet = network("edge", "edge-public", { name: "redoubt-edge-public", internal: false, labels: labels({ "redoubt.network": "edge-public" }) });
    const component = {
        type: "redoubt:tenant:TenantCell",
        name: "acme",
        urn: "urn:pulumi:policy-test::redoubt::redoubt:tenant:TenantCell::acme",
        protect: false,
        inputs: {},
        custom: false,
    };
    return [
        component,
        ...rs,
        cap(edge),
        cap(edgeNet),
        // The host's journald retention, as HostBaseline writes it.
        cap({
            type: "command:remote:Command",
            name: "host-journald",
            props: { create: "cat > /etc/systemd/journald.conf.d/redoubt.conf <<'REDOUBT_EOF'\n[Journal]\nMaxFileSec=24h\nMaxRetentionSec=312h\nREDOUBT_EOF" },
        }),
        cap(storageBox("acme", "FI", "helsinki")),
        cap(storageBox("acme", "DE", "falkenstein")),
        cap({ type: "random:index/randomPassword:RandomPassword", name: "acme-registration-token", props: { length: 32, special: false } }),
        cap({ type: "tls:index/privateKey:PrivateKey", name: "beta-ca-key", props: { algorithm: "ECDSA", ecdsaCurve: "P384" } }),
        cap({
            type: "tls:index/selfSignedCert:SelfSignedCert",
            name: "beta-ca",
            props: { validityPeriodHours: 8760, privateKeyPem: { ...SECRET, value: "-----BEGIN EC PRIVATE KEY-----" } },
        }),
    ];
}
