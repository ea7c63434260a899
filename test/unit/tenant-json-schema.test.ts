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
});
