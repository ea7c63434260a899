// Writes tenants/tenant.schema.json from the zod schema,
// monitoring/redoubt-alerts.rules.yml from the alert rules and
// monitoring/redoubt-dashboard.json from the dashboard's panels (npm run schema).
// Unit tests fail when a committed file is out of date.
import * as fs from "node:fs";
import * as path from "node:path";
import { renderDashboard } from "../components/render/dashboard";
import { renderAlertRules } from "../components/render/monitoring";
import { tenantJsonSchema } from "../tenants/schema";

export const SCHEMA_FILE = path.join(__dirname, "..", "tenants", "tenant.schema.json");

/** The Prometheus rule file ops load: the alert rules as rendered from components/render/monitoring.ts. */
export const ALERT_RULES_FILE = path.join(__dirname, "..", "monitoring", "redoubt-alerts.rules.yml");

/** The Grafana dashboard ops import: rendered from components/render/dashboard.ts. */
export const DASHBOARD_FILE = path.join(__dirname, "..", "monitoring", "redoubt-dashboard.json");

export function renderTenantJsonSchema(): string {
    return `${JSON.stringify(tenantJsonSchema(), null, 2)}\n`;
}

if (require.main === module) {
    fs.writeFileSync(SCHEMA_FILE, renderTenantJsonSchema());
    process.stderr.write(`wrote ${path.relative(process.cwd(), SCHEMA_FILE)}\n`);
    fs.mkdirSync(path.dirname(ALERT_RULES_FILE), { recursive: true });
    fs.writeFileSync(ALERT_RULES_FILE, renderAlertRules());
    process.stderr.write(`wrote ${path.relative(process.cwd(), ALERT_RULES_FILE)}\n`);
    fs.writeFileSync(DASHBOARD_FILE, renderDashboard());
    process.stderr.write(`wrote ${path.relative(process.cwd(), DASHBOARD_FILE)}\n`);
}
