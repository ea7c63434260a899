import * as fs from "node:fs";
import { renderTenantJsonSchema, SCHEMA_FILE } from "../../cli/write-schema";

describe("tenants/tenant.schema.json", () => {
    it("is up to date with the zod schema (run `npm run schema` after changing tenants/schema.ts)", () => {
        expect(fs.readFileSync(SCHEMA_FILE, "utf8")).toBe(renderTenantJsonSchema());
    });

    it("describes the fields an editor should complete", () => {
        const schema = JSON.parse(renderTenantJsonSchema()) as { properties: Record<string, unknown>; required: string[]; additionalProperties: boolean };
        expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(["name", "id", "contact", "status", "plan", "homeserver", "access", "logging", "backups", "export"]));
        expect(schema.required).toEqual(expect.arrayContaining(["name", "id", "contact", "access"]));
        expect(schema.additionalProperties).toBe(false);
    });

    it("gives backup sites as a name pattern, not a list: the sites are the project's backup stacks", () => {
        type Sites = { default: string[]; description: string; minItems: number; items: { type: string; pattern?: string; enum?: string[]; description: string } };
        const schema = JSON.parse(renderTenantJsonSchema()) as { properties: { backups: { properties: { sites: Sites } } } };
        const sites = schema.properties.backups.properties.sites;
        expect(sites.default).toEqual(["helsinki", "falkenstein"]);
        expect(sites.minItems).toBe(2);
        expect(sites.items.enum).toBeUndefined();
        const pattern = new RegExp(sites.items.pattern!);
        expect(["helsinki", "nuremberg", "falkenstein-2", "ab"].filter((s) => !pattern.test(s))).toEqual([]);
        expect(["Helsinki", "a", "hel_1", "x-", "-x", `s${"x".repeat(32)}`].filter((s) => pattern.test(s))).toEqual([]);
        expect(sites.description).toMatch(/backup stacks \(stacks\/Pulumi\.<stack>\.yaml with redoubt:role: backup/);
        expect(sites.items.description).toMatch(/redoubt:site of one of the project's backup stacks/);
    });
});
