// Entry point for the Pulumi CLI (Pulumi.yaml `main`). Stack outputs are the
// per-tenant endpoints and backup credentials (secrets stay secret).
import { defineStack } from "./program";

export = defineStack();
