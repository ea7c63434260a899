// Once before any test file: the policy pack's build made fresh (lib/policy-build.ts), so
// parallel workers starting the pack never race to rebuild it.
import * as path from "node:path";
import { ensurePackBuilt } from "../lib/policy-build";

export default function globalSetup(): void {
    ensurePackBuilt(path.join(__dirname, "..", "policies"));
}
