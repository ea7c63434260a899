// Writes tenants/tenant.schema.json from the zod schema (npm run schema).
// A unit test fails when the committed file is out of date.
import * as fs from "node:fs";
import * as path from "node:path";
import { tenantJsonSchema } from "../tenants/schema";

export const SCHEMA_FILE = path.join(__dirname, "..", "tenants", "tenant.schema.json");

export function renderTenantJsonSchema(): string {
    return `${JSON.stringify(tenantJsonSchema(), null, 2)}\n`;
}

if (require.main === module) {
    fs.writeFileSync(SCHEMA_FILE, renderTenantJsonSchema());
    process.stderr.write(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}\n`);
}
