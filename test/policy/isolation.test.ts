import { containerHardening, networkConfig, networkIsolation, privateAccessNotPublic, tenantLabels } from "../../policies/isolation";
import { container, network, tenantStack, volume } from "./fixtures";
import { labels, runResource, runStack } from "./helpers";

describe("container-hardening", () => {
    it("accepts the compliant containers", async () => {
        for (const role of ["homeserver", "proxy", "backup-agent"]) expect(await runResource(containerHardening, container("acme", role))).toEqual([]);
    });
    it.each([
        ["root user", { user: "0:0" }, /non-root/],
        ["no user", { user: undefined }, /non-root/],
        ["writable root fs", { readOnly: false }, /readOnly: true/],
        ["privileged", { privileged: true }, /remove privileged/],
        ["host network", { networkMode: "host" }, /remove networkMode/],
        ["host pid", { pidMode: "host" }, /remove pidMode/],
        ["caps not dropped", { capabilities: { drops: [] } }, /drops to \["ALL"\]/],
        ["cap added", { capabilities: { drops: ["ALL"], adds: ["NET_ADMIN"] } }, /adds capability NET_ADMIN; remove it/],
        ["no no-new-privileges", { securityOpts: [] }, /no-new-privileges:true/],
        ["seccomp unconfined", { securityOpts: ["no-new-privileges:true", "seccomp=unconfined"] }, /remove it/],
        ["docker.sock", { mounts: [{ type: "bind", source: "/var/run/docker.sock", target: "/var/run/docker.sock" }] }, /Docker socket/],
        ["bind outside tenant dir", { mounts: [{ type: "bind", source: "/srv/redoubt/tenants/other/x", target: "/x" }] }, /must come from \/srv\/redoubt\/tenants\/acme\//],
        ["device", { devices: [{ hostPath: "/dev/sda" }] }, /remove it from devices/],
        ["no healthcheck", { healthcheck: undefined }, /healthcheck/],
    ])("refuses %s", async (_what, over, re) => {
        const msgs = await runResource(containerHardening, container("acme", "homeserver", over));
        expect(msgs.length).toBeGreaterThan(0);
        expect(msgs.join("\n")).toMatch(re);
    });
    it("allows a bind mount under the tenant's own directory", async () => {
        const c = container("acme", "proxy", { mounts: [{ type: "bind", source: "/srv/redoubt/tenants/acme/caddy", target: "/data" }] });
        expect(await runResource(containerHardening, c)).toEqual([]);
    });
    it("lets wireguard (only) run as uid 0", async () => {
        expect(await runResource(containerHardening, container("acme", "wireguard", { user: "0:0" }))).toEqual([]);
        expect(await runResource(containerHardening, container("acme", "tor", { user: "0:0" }))).toEqual([expect.stringMatching(/non-root/)]);
    });
    it("lets wireguard (only) add NET_ADMIN and /dev/net/tun", async () => {
        const over = { capabilities: { drops: ["ALL"], adds: ["NET_ADMIN"] }, devices: [{ hostPath: "/dev/net/tun" }] };
        expect(await runResource(containerHardening, container("acme", "wireguard", over))).toEqual([]);
        expect((await runResource(containerHardening, container("acme", "tor", over))).length).toBe(2);
    });
});

describe("tenant-labels", () => {
    it("accepts labelled resources and a tenant-less edge", async () => {
        for (const r of tenantStack("acme")) expect(await runResource(tenantLabels, r)).toEqual([]);
        const edge = container("x", "edge", { labels: labels({ "redoubt.role": "edge", "redoubt.log-retention-days": "7" }) });
        expect(await runResource(tenantLabels, edge)).toEqual([]);
    });
    it("refuses a container without a tenant or with an unknown role", async () => {
        const c = container("acme", "homeserver", { labels: labels({ "redoubt.role": "database" }) });
        const msgs = await runResource(tenantLabels, c);
        expect(msgs.join("\n")).toMatch(/label it with one of homeserver/);
        expect(msgs.join("\n")).toMatch(/no redoubt.tenant label/);
    });
    it("refuses an unlabelled volume", async () => {
        expect(await runResource(tenantLabels, { ...volume("acme"), props: { name: "v" } })).toEqual([expect.stringMatching(/add the label/)]);
    });
    it("accepts the edge's config volume, but not as tenant data", async () => {
        const edgeVolume = { ...volume("acme"), name: "edge-config", props: { name: "redoubt-edge-config", labels: labels({ "redoubt.role": "edge" }) } };
        expect(await runResource(tenantLabels, edgeVolume)).toEqual([]);
        const dataOnEdge = { ...edgeVolume, props: { ...edgeVolume.props, labels: labels({ "redoubt.role": "edge", "redoubt.data": "true" }) } };
        expect(await runResource(tenantLabels, dataOnEdge)).toEqual([expect.stringMatching(/edge holds no tenant data/)]);
    });
});

describe("network-config", () => {
    it("accepts the tenant's networks", async () => {
        for (const p of ["services", "ingress", "egress"]) expect(await runResource(networkConfig, network("acme", p))).toEqual([]);
    });
    it("refuses a services network that is not internal", async () => {
        expect(await runResource(networkConfig, network("acme", "services", { internal: false }))).toEqual([expect.stringMatching(/set internal: true/)]);
    });
    it("refuses a name that does not match the labels", async () => {
        expect(await runResource(networkConfig, network("acme", "services", { name: "acme" }))).toEqual([expect.stringMatching(/name it "redoubt-acme-services"/)]);
    });
});

describe("network-isolation", () => {
    const edge = container("x", "edge", {
        labels: labels({ "redoubt.role": "edge", "redoubt.log-retention-days": "7" }),
        networksAdvanced: [{ name: "redoubt-edge-public" }, { name: "redoubt-acme-ingress" }, { name: "redoubt-beta-ingress" }],
    });
    it("accepts two tenants and the edge", async () => {
        expect(await runStack(networkIsolation, [...tenantStack("acme"), ...tenantStack("beta"), edge])).toEqual([]);
    });
    it("refuses a container on another tenant's network", async () => {
        const bad = container("acme", "homeserver", { networksAdvanced: [{ name: "redoubt-acme-services" }, { name: "redoubt-beta-services" }] });
        const msgs = await runStack(networkIsolation, [...tenantStack("beta"), bad]);
        expect(msgs).toEqual([expect.stringMatching(/tenant acme joins network "redoubt-beta-services" of tenant beta; attach it only to its own/)]);
    });
    it("refuses a homeserver on the egress network and a homeserver on ingress", async () => {
        const bad = container("acme", "homeserver", { networksAdvanced: [{ name: "redoubt-acme-egress" }, { name: "redoubt-acme-ingress" }] });
        const msgs = await runStack(networkIsolation, [bad]);
        expect(msgs).toHaveLength(2);
        expect(msgs[0]).toMatch(/may join only services networks/);
    });
    it("maps network ids to networks through the Network resources", async () => {
        const net = network("beta", "services", { id: "abc123" });
        const bad = container("acme", "homeserver", { networksAdvanced: [{ name: "abc123" }] });
        expect(await runStack(networkIsolation, [net, bad])).toEqual([expect.stringMatching(/of tenant beta/)]);
    });
    it("refuses mounting another tenant's volume", async () => {
        const bad = container("acme", "homeserver", { mounts: [{ type: "volume", source: "redoubt-beta-data", target: "/var/lib/tuwunel" }] });
        expect(await runStack(networkIsolation, [volume("beta"), bad])).toEqual([expect.stringMatching(/mounts volume "redoubt-beta-data" of tenant beta/)]);
    });
});

describe("private-access-not-public", () => {
    const tor = container("hidden", "tor", { networksAdvanced: [{ name: "redoubt-hidden-services" }, { name: "redoubt-hidden-egress" }] });
    it("accepts a tor tenant reached only through its onion service, next to a public tenant on the edge", async () => {
        const proxy = container("hidden", "proxy", { networksAdvanced: [{ name: "redoubt-hidden-services" }] });
        const edge = container("x", "edge", { labels: labels({ "redoubt.role": "edge" }), networksAdvanced: [{ name: "redoubt-edge-public" }, { name: "redoubt-acme-ingress" }] });
        expect(await runStack(privateAccessNotPublic, [...tenantStack("acme"), tor, proxy, edge])).toEqual([]);
    });
    it("refuses a tor tenant's proxy on an ingress network and the edge on its network", async () => {
        const proxy = container("hidden", "proxy");
        const edge = container("x", "edge", {
            labels: labels({ "redoubt.role": "edge" }),
            networksAdvanced: [{ name: "redoubt-edge-public" }, { name: "redoubt-hidden-ingress" }],
        });
        expect(await runStack(privateAccessNotPublic, [tor, proxy, edge])).toEqual([
            expect.stringMatching(/Tor-only tenant hidden joins the ingress network "redoubt-hidden-ingress"; remove it/),
            expect.stringMatching(/edge .* joins network "redoubt-hidden-ingress" of Tor-only tenant hidden; remove it/),
        ]);
    });
});
