import { homeserverNoFederation } from "../../policies/no-federation";
import { TUWUNEL_TOML, carrier, container } from "./fixtures";
import { runResource } from "./helpers";

const hs = (toml: string, over: Record<string, unknown> = {}) => carrier("acme", "homeserver", { uploads: [{ file: "/etc/tuwunel/tuwunel.toml", content: toml }], ...over });

describe("homeserver-no-federation", () => {
    it("accepts the rendered config", async () => {
        expect(await runResource(homeserverNoFederation, carrier("acme", "homeserver"))).toEqual([]);
    });
    it("refuses federation on", async () => {
        expect(await runResource(homeserverNoFederation, hs(TUWUNEL_TOML.replace("allow_federation = false", "allow_federation = true")))).toEqual([
            expect.stringMatching(/set allow_federation = false/),
        ]);
    });
    it("refuses federation left at its default", async () => {
        expect(await runResource(homeserverNoFederation, hs(TUWUNEL_TOML.replace("allow_federation = false\n", "")))).toEqual([expect.stringMatching(/default true/)]);
    });
    it("refuses trusted servers, URL previews and the directory over federation", async () => {
        const toml = TUWUNEL_TOML.replace("trusted_servers = []", 'trusted_servers = ["matrix.org"]')
            .replace("allow_public_room_directory_over_federation = false", "allow_public_room_directory_over_federation = true")
            .replace("url_preview_domain_contains_allowlist = []", 'url_preview_domain_contains_allowlist = ["*"]');
        const msgs = await runResource(homeserverNoFederation, hs(toml));
        expect(msgs).toHaveLength(3);
        expect(msgs.join("\n")).toMatch(/set trusted_servers = \[\]/);
        expect(msgs.join("\n")).toMatch(/allow_public_room_directory_over_federation = false/);
        expect(msgs.join("\n")).toMatch(/url_preview_domain_contains_allowlist.*leave it empty/);
    });
    it("accepts push gateways through the tenant's own push proxy", async () => {
        const toml = `${TUWUNEL_TOML}\n[global.proxy]\n[[global.proxy.by_domain]]\nurl = "http://redoubt-acme-push-proxy:3128"\ninclude = ["matrix.org"]\n`;
        expect(await runResource(homeserverNoFederation, hs(toml))).toEqual([]);
    });
    it("refuses a global proxy, another tenant's proxy, or a wildcard push domain", async () => {
        const toml = `${TUWUNEL_TOML}\n[global.proxy]\nglobal = { url = "socks5h://tor:9050" }\n[[global.proxy.by_domain]]\nurl = "http://redoubt-beta-push-proxy:3128"\ninclude = ["*"]\n`;
        const msgs = await runResource(homeserverNoFederation, hs(toml));
        expect(msgs).toHaveLength(3);
        expect(msgs.join("\n")).toMatch(/global sends all outbound traffic/);
        expect(msgs.join("\n")).toMatch(/use the tenant's own push proxy, http:\/\/redoubt-acme-push-proxy:3128/);
        expect(msgs.join("\n")).toMatch(/without wildcards/);
    });
    it("refuses a TUWUNEL_ env override but not TUWUNEL_CONFIG", async () => {
        const ok = container("acme", "homeserver", { envs: ["TUWUNEL_CONFIG=/etc/tuwunel/tuwunel.toml"] });
        expect(await runResource(homeserverNoFederation, ok)).toEqual([]);
        const bad = container("acme", "homeserver", { envs: ["TUWUNEL_ALLOW_FEDERATION=true"] });
        expect(await runResource(homeserverNoFederation, bad)).toEqual([expect.stringMatching(/remove it and put the setting in the rendered config/)]);
    });
    it("refuses a homeserver without a config upload", async () => {
        expect(await runResource(homeserverNoFederation, carrier("acme", "homeserver", { uploads: [] }))).toEqual([expect.stringMatching(/upload the rendered tuwunel.toml/)]);
    });
});
