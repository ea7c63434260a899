// Entry point for the Pulumi CLI (Pulumi.yaml `main`). Stack outputs are per
// tenant: endpoints and access details on the primary, Storage Box credentials
// (secrets) on the backup stacks.
import { defineStack } from "./program";

export = defineStack();
