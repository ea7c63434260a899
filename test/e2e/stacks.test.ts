// The three stacks built from the example tenants, run under mocks: what
// they declare must keep the promises on the privacy page.
import { parse as parseToml } from "smol-toml";
import { PROXY_HOST, tenantHostAddress, tenantSubnet } from "../../components/addressing";
import { CADDY_TENANT_CA_PATH } from "../../components/render/caddy";
import { runStacks, type StackRun } from "../../lib/mock-run";
import { CONTAINER, labelsOf, NETWORK, networksOf, ofType, pinnedAsOf, plain, STORAGE_BOX, stringsIn, tenantOf, uploadContent, uploadsOf, VOLUME } from "./stack-helpers";

const TENANTS = ["acme", "nightowl", "harbor"];
const IDS: Record<string, number> = { acme: 1, nightowl: 2, harbor: 3 };
let helsinki: StackRun;
let falkenstein: StackRun;
let iceland: StackRun;

beforeAll(async () => {
    [helsinki, falkenstein, iceland] = await runStacks({ configOverrides: pinnedAsOf() });
}, 60_000);

const tenantContainers = () => ofType(iceland, CONTAINER).filter((c) => labelsOf(c)["redoubt.tenant"] !== undefined);
const edge = () => ofType(iceland, CONTAINER).find((c) => labelsOf(c)["redoubt.role"] === "edge");
const containerOf = (tenant: string, role: string) => {
    const found = tenantContainers().find((c) => labelsOf(c)["redoubt.tenant"] === tenant && labelsOf(c)["redoubt.role"] === role);
    if (!found) throw new Error(`no ${role} container for ${tenant}`);
    return found;
};
/** The config carrier that writes a tenant role's files (Docker cannot upload into the read-only service container). */
const carrierOf = (tenant: string, role: string) => {
    const found = tenantContainers().find(
        (c) => labelsOf(c)["redoubt.tenant"] === tenant && labelsOf(c)["redoubt.role"] === "config" && labelsOf(c)["redoubt.configures"] === role,
    );
    if (!found) throw new Error(`no config carrier of ${tenant}'s ${role}`);
    return found;
};

describe("tenant networks", () => {
    it.each(TENANTS)("%s has its own subnets; services (and ingress) are internal, egress is not", (tenant) => {
        const networks = ofType(iceland, NETWORK).filter((n) => labelsOf(n)["redoubt.tenant"] === tenant);
        const byPurpose = Object.fromEntries(networks.map((n) => [labelsOf(n)["redoubt.network"], n]));
        expect(plain(byPurpose.services.inputs.ipamConfigs)).toEqual([tenantSubnet(IDS[tenant], "services")]);
        expect(byPurpose.services.inputs.internal).toBe(true);
        expect(byPurpose.egress.inputs.internal).toBe(false);
        if (tenant === "acme") expect(byPurpose.ingress.inputs.internal).toBe(true);
        else expect(byPurpose.ingress).toBeUndefined();
    });

    it("every container of a tenant attaches only to that tenant's networks", () => {
        for (const container of tenantContainers()) {
            const tenant = labelsOf(container)["redoubt.tenant"];
            for (const network of networksOf(container))
                expect({ container: container.name, network }).toEqual({ container: container.name, network: expect.stringMatching(new RegExp(`^redoubt-${tenant}-`)) });
        }
    });

    it("the edge joins only ingress networks (and its own public network), and shares none with a homeserver", () => {
        // The container itself sits on its public network only; each public tenant attaches it to its ingress network.
        expect(networksOf(edge()!)).toEqual(["redoubt-edge-public"]);
        const attachments = iceland.resources.filter((r) => r.type === "redoubt:edge:EdgeAttachment");
        const edgeNetworks = [...networksOf(edge()!), ...attachments.map((a) => String(a.inputs.network))];
        expect(edgeNetworks.sort()).toEqual(["redoubt-acme-ingress", "redoubt-edge-public"]);
        expect(attachments.map((a) => a.parent)).toEqual([expect.stringMatching(/TenantCell::acme$/)]);
        for (const tenant of TENANTS) {
            const homeserver = networksOf(containerOf(tenant, "homeserver"));
            expect(homeserver).toEqual([`redoubt-${tenant}-services`]);
            expect(homeserver.filter((n) => edgeNetworks.includes(n))).toEqual([]);
        }
    });

    it("only the roles that need the outside join egress", () => {
        for (const container of tenantContainers()) {
            const role = labelsOf(container)["redoubt.role"];
            const onEgress = networksOf(container).some((n) => n.endsWith("-egress"));
            const publicProxy = role === "proxy" && labelsOf(container)["redoubt.tenant"] === "acme";
            expect({ role, onEgress }).toEqual({ role, onEgress: publicProxy || ["backup-agent", "tor", "wireguard", "push-proxy"].includes(role) });
        }
    });
});

describe("nothing is shared between tenants", () => {
    it("no network, volume, secret, key or certificate belongs to two tenants", () => {
        const owners = new Map<string, Set<string>>();
        for (const run of [iceland, helsinki, falkenstein]) {
            for (const resource of run.resources) {
                const tenant = tenantOf(resource, TENANTS);
                if (!tenant) continue;
                for (const { value } of stringsIn(resource.inputs)) {
                    if (!/^(redoubt-[a-z]+-|mock-password-|-----BEGIN)/.test(value)) continue;
                    owners.set(value, (owners.get(value) ?? new Set()).add(tenant));
                }
            }
        }
        const shared = [...owners.entries()].filter(([, set]) => set.size > 1);
        expect(shared).toEqual([]);
        // The check sees what it should: each tenant's own names and secrets were collected.
        expect([...owners.keys()].filter((v) => v.startsWith("mock-password-")).length).toBeGreaterThanOrEqual(6);
    });

    it("each tenant has its own data volume, key and CA", () => {
        const dataVolumes = ofType(iceland, VOLUME).filter((v) => labelsOf(v)["redoubt.data"] === "true");
        expect(dataVolumes.map((v) => [v.inputs.name, labelsOf(v)["redoubt.tenant"]]).sort()).toEqual([
            ["redoubt-acme-data", "acme"],
            ["redoubt-harbor-data", "harbor"],
            ["redoubt-nightowl-data", "nightowl"],
        ]);
        expect(
            iceland.resources
                .filter((r) => r.type === "tls:index/selfSignedCert:SelfSignedCert")
                .map((r) => r.name)
                .sort(),
        ).toEqual(["harbor-certificates-ca", "nightowl-certificates-ca"]);
    });
});

describe("homeserver and proxy configuration", () => {
    it.each(TENANTS)("%s: a tor or vpn proxy's carrier writes its tenant CA's certificate (what the customer gets) for the host's monitoring; a public one none", (tenant) => {
        const output = (iceland.outputs.tenants as Record<string, Record<string, unknown>>)[tenant];
        const written = uploadsOf(carrierOf(tenant, "proxy")).filter((u) => u.file === CADDY_TENANT_CA_PATH);
        if (output.caCertificate === undefined) {
            expect(written).toEqual([]);
            return;
        }
        expect(written.map((u) => u.content)).toEqual([plain(output.caCertificate)]);
        // Public, unlike the key beside it.
        expect(stringsIn(written).every((s) => !s.secret)).toBe(true);
    });

    it.each(TENANTS)("%s: Tuwunel has federation off, no trusted servers, no previews, quiet logs, connect_info IPs", (tenant) => {
        const config = parseToml(uploadContent(carrierOf(tenant, "homeserver"), "/etc/tuwunel/tuwunel.toml")) as { global: Record<string, unknown> };
        expect(config.global).toMatchObject({
            allow_federation: false,
            federate_created_rooms: false,
            trusted_servers: [],
            url_preview_domain_contains_allowlist: [],
            url_preview_domain_explicit_allowlist: [],
            url_preview_url_contains_allowlist: [],
            ip_source: "connect_info",
            save_unredacted_events: false,
            allow_local_presence: false,
            error_on_unknown_config_opts: true,
        });
        expect(["warn", "error"]).toContain(config.global.log);
    });

    it.each(TENANTS)("%s: Caddy has no access log, TLS 1.2 minimum and HSTS", (tenant) => {
        const config = JSON.parse(uploadContent(carrierOf(tenant, "proxy"), "/etc/caddy/caddy.json"));
        const servers = Object.values<Record<string, unknown>>(config.apps.http.servers);
        for (const server of servers) {
            expect(server.logs).toBeUndefined();
            expect(server.tls_connection_policies).toEqual([expect.objectContaining({ protocol_min: "tls1.2" })]);
        }
        expect(JSON.stringify(config)).toContain("Strict-Transport-Security");
    });

    it("push notifications leave only through the tenant's own allow-listing proxy, when the tenant asks for it", () => {
        const acme = parseToml(uploadContent(carrierOf("acme", "homeserver"), "/etc/tuwunel/tuwunel.toml")) as {
            global: { proxy?: { by_domain: { url: string; include: string[] }[] } };
        };
        expect(acme.global.proxy?.by_domain).toEqual([{ url: "http://redoubt-acme-push-proxy:3128", include: ["matrix.org"] }]);
        expect(networksOf(containerOf("acme", "push-proxy")).sort()).toEqual(["redoubt-acme-egress", "redoubt-acme-services"]);
        const pushProxy = carrierOf("acme", "push-proxy");
        expect(uploadContent(pushProxy, "/etc/tinyproxy/filter")).toBe("^matrix\\.org:443$\n");
        expect(uploadContent(pushProxy, "/etc/tinyproxy/tinyproxy.conf")).toMatch(/^Allow 10\.128\.0\.64\/28$/m);
        for (const tenant of ["nightowl", "harbor"]) {
            const config = parseToml(uploadContent(carrierOf(tenant, "homeserver"), "/etc/tuwunel/tuwunel.toml")) as { global: Record<string, unknown> };
            expect(config.global.proxy).toBeUndefined();
            expect(tenantContainers().some((c) => labelsOf(c)["redoubt.tenant"] === tenant && labelsOf(c)["redoubt.role"] === "push-proxy")).toBe(false);
        }
    });

    it("tor forwards to the proxy's fixed address (tor does not resolve Docker names), inside the tenant's services subnet", () => {
        const proxy = containerOf("nightowl", "proxy");
        const services = plain<{ name: string; ipv4Address?: string }[]>(proxy.inputs.networksAdvanced).find((n) => n.name === "redoubt-nightowl-services");
        expect(services?.ipv4Address).toBe(tenantHostAddress(2, "services", PROXY_HOST));
        expect(services?.ipv4Address).toBe("10.128.0.138");
        expect(uploadContent(carrierOf("nightowl", "tor"), "/etc/tor/torrc")).toMatch(/^HiddenServicePort 443 10\.128\.0\.138:8443$/m);
    });

    it("the well-known client URL is each tenant's own address, answered by its proxy", () => {
        // What /.well-known/matrix/client returns, from the proxy's rendered Caddy config.
        const wellKnownOf = (tenant: string) => {
            const config = JSON.parse(uploadContent(carrierOf(tenant, "proxy"), "/etc/caddy/caddy.json")) as {
                apps: { http: { servers: { tenant: { routes: { handle: { handler: string; routes?: { match?: { path?: string[] }[]; handle: { body?: string }[] }[] }[] }[] } } } };
            };
            const subroute = config.apps.http.servers.tenant.routes[0].handle.find((h) => h.handler === "subroute")!;
            const route = subroute.routes!.find((r) => r.match?.[0].path?.includes("/.well-known/matrix/client"))!;
            return (JSON.parse(route.handle[0].body!) as { "m.homeserver": { base_url: string } })["m.homeserver"].base_url;
        };
        const endpoints = plain<Record<string, { endpoint: string }>>(iceland.outputs.tenants);
        expect(wellKnownOf("acme")).toBe("https://matrix.acme.example");
        expect(wellKnownOf("harbor")).toBe(endpoints.harbor.endpoint);
        // The tor proxy answers with the name the client asked for: its onion name (Caddy's placeholder).
        expect(wellKnownOf("nightowl")).toBe("https://{http.request.host}");
        expect(endpoints.nightowl.endpoint).toMatch(/^https:\/\/[a-z2-7]{56}\.onion$/);
        // The homeserver's own config has no well-known: the proxy never passes that path on.
        for (const tenant of ["acme", "nightowl", "harbor"]) {
            expect(
                (parseToml(uploadContent(carrierOf(tenant, "homeserver"), "/etc/tuwunel/tuwunel.toml")) as { global: Record<string, unknown> }).global.well_known,
            ).toBeUndefined();
        }
    });
});

describe("container hardening", () => {
    it("every uploaded file lands on a volume: Docker refuses to copy onto a read-only root filesystem", () => {
        for (const c of ofType(iceland, CONTAINER)) {
            const mounts = plain<{ type: string; target: string }[]>(c.inputs.mounts ?? []).filter((m) => m.type === "volume");
            for (const upload of uploadsOf(c)) {
                expect({ container: c.name, file: upload.file, onVolume: mounts.some((m) => upload.file.startsWith(`${m.target}/`)) }).toEqual({
                    container: c.name,
                    file: upload.file,
                    onVolume: true,
                });
            }
        }
    });

    it("every container has memory, CPU and process limits, no capabilities, a read-only root and bounded logs", () => {
        const containers = ofType(iceland, CONTAINER);
        expect(containers.length).toBeGreaterThanOrEqual(12);
        for (const c of containers) {
            const role = labelsOf(c)["redoubt.role"];
            const tenant = labelsOf(c)["redoubt.tenant"] ?? "edge";
            expect({ name: c.name, memory: c.inputs.memory, swap: c.inputs.memorySwap, cpus: c.inputs.cpus, slice: c.inputs.cgroupParent }).toEqual({
                name: c.name,
                memory: expect.any(Number),
                swap: c.inputs.memory,
                cpus: expect.stringMatching(/^\d+(\.\d+)?$/),
                slice: `redoubt-${tenant}.slice`,
            });
            expect(plain<{ drops: string[] }>(c.inputs.capabilities).drops).toEqual(["ALL"]);
            // A config carrier is the one writable container: Docker uploads only into a writable root, and it never runs.
            if (role === "config")
                expect({ start: c.inputs.start, networkMode: c.inputs.networkMode, restart: c.inputs.restart }).toEqual({ start: false, networkMode: "none", restart: "no" });
            else expect(c.inputs.readOnly).toBe(true);
            expect(c.inputs.securityOpts).toEqual(["no-new-privileges:true"]);
            expect(["journald", "none"]).toContain(c.inputs.logDriver);
            if (role !== "wireguard") expect(String(c.inputs.user)).toMatch(/^[1-9]\d*:[1-9]\d*$/);
        }
    });

    it("every image is pinned by digest", () => {
        for (const c of ofType(iceland, CONTAINER)) expect(c.inputs.image).toMatch(/@sha256:[0-9a-f]{64}$/);
    });

    it("only the edge publishes a TCP port (443), and only the vpn tenant's WireGuard a UDP port", () => {
        const published = ofType(iceland, CONTAINER).flatMap((c) =>
            plain<{ external: number; protocol: string }[]>(c.inputs.ports ?? []).map((p) => `${c.name}:${p.protocol}/${p.external}`),
        );
        expect(published.sort()).toEqual(["edge-container:tcp/443", "harbor-wireguard-container:udp/51823"]);
    });
});

describe("host commands", () => {
    it("every host command pins the Docker host's SSH host key from the stack config", () => {
        const commands = iceland.resources.filter((r) => r.type === "command:remote:Command");
        expect(commands.length).toBeGreaterThanOrEqual(10);
        for (const c of commands) {
            expect({ name: c.name, hostKey: plain<{ hostKey?: string }>(c.inputs.connection).hostKey }).toEqual({ name: c.name, hostKey: expect.stringMatching(/^ssh-ed25519 /) });
        }
    });
});

describe("backup stacks", () => {
    it.each([
        ["helsinki", () => helsinki, "hel1"],
        ["falkenstein", () => falkenstein, "fsn1"],
    ])("%s declares one delete-protected storage box per active tenant, in its own location", (_site, run, location) => {
        const boxes = ofType(run(), STORAGE_BOX);
        expect(boxes.map((b) => labelsOf(b)["redoubt.tenant"]).sort()).toEqual([...TENANTS].sort());
        for (const box of boxes) {
            expect(box.inputs).toMatchObject({ location, deleteProtection: true });
            // Snapshots would outlive a deletion: no snapshot plan.
            expect(box.inputs).not.toHaveProperty("snapshotPlan");
            expect(plain(box.inputs.accessSettings)).toMatchObject({ sshEnabled: true, sambaEnabled: false, webdavEnabled: false });
            expect(box.protect).toBe(true);
        }
    });

    it("each backup agent writes to both sites' boxes, never one site twice", () => {
        for (const tenant of TENANTS) {
            const agent = containerOf(tenant, "backup-agent");
            expect(labelsOf(agent)["redoubt.backup-countries"]).toBe("FI,DE");
            const script = uploadContent(carrierOf(tenant, "backup-agent"), "/etc/redoubt/backup.sh");
            const repositories = [...script.matchAll(/'sftp:(u\d+)@([^:']+):redoubt'/g)].map((m) => `${m[1]}@${m[2]}`);
            const boxes = [helsinki, falkenstein].map((run) => {
                const credentials = plain<Record<string, { user: string; host: string }>>(run.outputs.tenants)[tenant];
                return `${plain(credentials.user)}@${plain(credentials.host)}`;
            });
            expect(repositories).toEqual(boxes);
            expect(new Set(repositories).size).toBe(2);
            // The primary's stack output names the same repositories, in plain text (no credentials in them).
            const outputs = (iceland.outputs.tenants as Record<string, { backups: Record<string, unknown> }>)[tenant].backups;
            expect(Object.values(outputs)).toEqual(boxes.map((box) => `sftp:${box}:redoubt`));
        }
    });
});

describe("what the engine's AnalyzeStack would see", () => {
    it("each component carries the outputs it registered, which name what the pack reads of it", () => {
        const components = iceland.resources.filter((r) => !r.custom);
        // Custom resources echo their inputs; components have only what registerOutputs gave.
        expect(iceland.resources.filter((r) => r.custom).every((r) => r.outputs === undefined)).toBe(true);
        for (const tenant of TENANTS) {
            const volume = components.find((r) => r.type === "redoubt:tenant:EncryptedVolume" && r.name === `${tenant}-volume`);
            expect({ tenant, outputs: volume?.outputs }).toEqual({ tenant, outputs: expect.objectContaining({ tenant }) });
            const cell = components.find((r) => r.type === "redoubt:tenant:TenantCell" && r.name === tenant);
            expect(plain<Record<string, string>>(cell?.outputs?.["labels"])["redoubt.tenant"]).toBe(tenant);
        }
        const attachment = components.find((r) => r.type === "redoubt:edge:EdgeAttachment");
        expect(attachment?.outputs?.["network"]).toBe("redoubt-acme-ingress");
    });
});
