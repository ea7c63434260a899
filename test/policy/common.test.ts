import * as contract from "../../components/labels";
import * as common from "../../policies/common";
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
