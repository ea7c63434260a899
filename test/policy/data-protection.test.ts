import { dataResourcesProtected, encryptedAtRest } from "../../policies/data-protection";
import { encryptedVolume, luks, tenantStack, volume } from "./fixtures";
import { runStack } from "./helpers";

describe("data-resources-protected", () => {
    it("accepts protected data of an active tenant", async () => {
        expect(await runStack(dataResourcesProtected, tenantStack("acme"))).toEqual([]);
    });
    it("refuses an unprotected data volume and LUKS container of an active tenant", async () => {
        const rs = [...tenantStack("acme").filter((r) => r.name !== "acme-data" && r.name !== "acme-volume-luks"), volume("acme", {}, false), luks("acme", false)];
        expect(await runStack(dataResourcesProtected, rs)).toEqual([
            expect.stringMatching(/volume "acme-data" holds data of active tenant acme but is not protected; set the protect resource option/),
            expect.stringMatching(/command "acme-volume-luks" holds data/),
        ]);
    });
    it("lets a cancelled tenant's data be unprotected", async () => {
        const cancelled = { "redoubt.status": "cancelled", "redoubt.delete-by": "2030-01-01" };
        expect(await runStack(dataResourcesProtected, [volume("acme", cancelled, false), encryptedVolume("acme"), luks("acme", false)])).toEqual([]);
    });
});

describe("LUKS containers are found by structure, not by name", () => {
    it("a renamed LUKS command is still the tenant's data: unprotected it is refused, and it satisfies encrypted-at-rest", async () => {
        const renamed = luks("acme", false, "acme-crypt-container");
        const rs = [...tenantStack("acme").filter((r) => r.name !== "acme-volume-luks"), renamed];
        expect(await runStack(dataResourcesProtected, rs)).toEqual([expect.stringMatching(/command "acme-crypt-container" holds data of active tenant acme/)]);
        expect(await runStack(encryptedAtRest, rs)).toEqual([]);
    });
    it("a command that only looks like one by name is not taken for the tenant's LUKS container", async () => {
        const impostor = { ...luks("acme"), parent: undefined };
        const rs = [...tenantStack("acme").filter((r) => r.name !== "acme-volume-luks"), impostor];
        expect(await runStack(encryptedAtRest, rs)).toEqual([expect.stringMatching(/has no LUKS2 container/)]);
    });
});

describe("encrypted-at-rest", () => {
    it("accepts a data volume with its LUKS container", async () => {
        expect(await runStack(encryptedAtRest, tenantStack("acme"))).toEqual([]);
    });
    it("refuses a data volume without one", async () => {
        expect(await runStack(encryptedAtRest, [volume("acme")])).toEqual([expect.stringMatching(/create it through the EncryptedVolume component \(its LUKS command\)/)]);
    });
});
