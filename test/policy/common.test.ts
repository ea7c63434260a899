import * as contract from "../../components/labels";
import * as common from "../../policies/common";
import { tenantHostRoot } from "../../policies/isolation";
import { EDGE_ATTACHMENT_TYPE } from "../../components/edge";
import { ENCRYPTED_VOLUME_TYPE } from "../../components/encryptedVolume";
import { containerName, EDGE_PUBLIC_NETWORK, networkName, sliceName } from "../../components/names";
import { PUSH_PROXY_PORT } from "../../components/render/pushProxy";
import { tenantPushProxyUrl } from "../../policies/no-federation";
import { tenantSlice } from "../../policies/resource-limits";
import { CADDY_CONFIG_PATH, PROXIED_PATHS } from "../../components/render/caddy";
import { tenantRoot } from "../../components/render/host";
import { TUWUNEL_CONFIG_PATH } from "../../components/render/tuwunel";
import { TENANT_CELL_TYPE } from "../../components/tenantCell";

import { AS_OF_ENV, STORAGE_BOX_LOCATIONS } from "../../stacks/config";

describe("policies/common", () => {
    it("keeps the pack's copy of the label contract equal to components/labels.ts", () => {
        for (const key of [
            "TENANT_LABEL",
            "ROLE_LABEL",
            "NETWORK_LABEL",
            "LOG_RETENTION_LABEL",
            "DATA_LABEL",
            "STATUS_LABEL",
            "DELETE_BY_LABEL",
            "COUNTRY_LABEL",
            "BACKUP_SITES_LABEL",
            "BACKUP_COUNTRIES_LABEL",
            "CONTAINER_ROLES",
            "EGRESS_ROLES",
            "NETWORK_PURPOSES",
        ] as const) {
            expect([key, (common as Record<string, unknown>)[key]]).toEqual([key, (contract as Record<string, unknown>)[key]]);
        }
    });
    it("keeps every other fact the pack copies equal to its source in lib and components", () => {
        // The pack ships alone (`pulumi policy publish`), so it restates these; each must equal the one place it comes from.
        expect(common.TUWUNEL_CONFIG_PATH).toBe(TUWUNEL_CONFIG_PATH);
        expect(common.CADDY_CONFIG_PATH).toBe(CADDY_CONFIG_PATH);
        expect(common.PROXIED_PATHS).toEqual(PROXIED_PATHS);
        expect(common.EDGE_PUBLIC_NETWORK).toBe(EDGE_PUBLIC_NETWORK);
        expect(common.T.encryptedVolume).toBe(ENCRYPTED_VOLUME_TYPE);
        expect(common.T.tenantCell).toBe(TENANT_CELL_TYPE);
        expect(common.T.edgeAttachment).toBe(EDGE_ATTACHMENT_TYPE);
        // The network names the pack parses are the ones components/names.ts builds.
        for (const purpose of ["services", "ingress", "egress"] as const) {
            expect(common.parseNetworkName(networkName("acme-corp", purpose))).toEqual({ tenant: "acme-corp", purpose });
        }
        // The host directory the pack allows a tenant's mounts under is the renderers' own.
        expect(tenantHostRoot("acme")).toBe(`${tenantRoot("acme")}/`);
        // The slice that bounds a tenant's processes, and its push proxy's address.
        expect(tenantSlice("acme")).toBe(sliceName("acme"));
        expect(tenantPushProxyUrl("acme")).toBe(`http://${containerName("acme", "push-proxy")}:${PUSH_PROXY_PORT}`);
    });
    it("keeps the pack's copy of the Storage Box locations equal to the stack config's", () => {
        expect(common.STORAGE_BOX_LOCATIONS).toEqual(STORAGE_BOX_LOCATIONS);
        expect(common.AS_OF_ENV).toBe(AS_OF_ENV);
    });
    it("reads docker label lists and hcloud label maps", () => {
        expect(common.labelsOf({ labels: [{ label: "a", value: "1" }] })).toEqual({ a: "1" });
        expect(common.labelsOf({ labels: { a: "1" } })).toEqual({ a: "1" });
        expect(common.labelsOf({})).toEqual({});
    });
    it("parses network names", () => {
        expect(common.parseNetworkName("redoubt-my-tenant-services")).toEqual({ tenant: "my-tenant", purpose: "services" });
        expect(common.parseNetworkName("redoubt-edge-public")).toEqual({ purpose: "edge-public" });
        expect(common.parseNetworkName("bridge")).toBeUndefined();
    });
    it("merges config over defaults", () => {
        expect(common.configOf({ getConfig: <T extends object>() => ({ a: 5 }) as T }, { a: 1, b: 2 })).toEqual({ a: 5, b: 2 });
    });
});
