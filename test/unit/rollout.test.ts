// A homeserver release rolled out canary first (images.yaml `homeserver.rollout`):
// the rule as a pure function over dates, the catalog's errors naming file and
// field, the stack set refusing a canary that is not a tenant, and the program
// under mocks giving each tenant's container the release the rule names.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import fc from "fast-check";
import { parseDocument } from "yaml";
import { DEFAULT_CATALOG_FILE, digestReference, homeserverReleaseFor, loadImageCatalog, MAX_SOAK_DAYS, pinnedReference, type ImageCatalog } from "../../components/images";
import { addDays } from "../../components/lifecycle";
import { containerName } from "../../components/names";
import { runStacks, PROJECT_DIR } from "../../lib/mock-run";
import { validateInputs } from "../../lib/plan";
import { StackSetError } from "../../lib/stack-set";
import { AS_OF, CONTAINER, ofType } from "../e2e/stack-helpers";
import { EXAMPLE_TENANTS_DIR } from "./tenant-fixtures";

const PREVIOUS = { tag: "v1.8.0", digest: `sha256:${"0".repeat(64)}` };

/** A copy of the catalog with `homeserver.rollout` set to `rollout` (any value: the loader judges it). */
function catalogWithRollout(rollout: unknown): string {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-rollout-")), "images.yaml");
    const doc = parseDocument(fs.readFileSync(DEFAULT_CATALOG_FILE, "utf8"));
    doc.setIn(["homeserver", "rollout"], rollout);
    fs.writeFileSync(file, doc.toString());
    return file;
}

const date = fc.date({ min: new Date("2025-01-01T00:00:00Z"), max: new Date("2030-12-31T00:00:00Z"), noInvalidDate: true }).map((d) => d.toISOString().slice(0, 10));

describe("the canary rule", () => {
    const catalog = loadImageCatalog();
    const withRollout = (since: string, soakDays: number): ImageCatalog => ({
        ...catalog,
        homeserver: { ...catalog.homeserver, rollout: { canary: ["acme"], since, soakDays, previous: PREVIOUS } },
    });
    const current = pinnedReference(catalog.homeserver);
    const previous = pinnedReference({ ...catalog.homeserver, ...PREVIOUS });

    it("gives every tenant the catalog's release when there is no rollout", () => {
        fc.assert(fc.property(fc.constantFrom("acme", "harbor", "nightowl"), date, (tenant, asOf) => homeserverReleaseFor(catalog, tenant, asOf).pinned === current));
    });

    it("gives a canary the new release from the start, and the others the previous one until the soak has passed", () => {
        fc.assert(
            fc.property(date, fc.integer({ min: 1, max: MAX_SOAK_DAYS }), fc.integer({ min: -30, max: 60 }), (since, soakDays, offset) => {
                const asOf = addDays(since, offset);
                const rolled = withRollout(since, soakDays);
                expect(homeserverReleaseFor(rolled, "acme", asOf)).toEqual({ pinned: current, reason: "canary" });
                const other = homeserverReleaseFor(rolled, "harbor", asOf);
                expect(other.pinned).toBe(offset >= soakDays ? current : previous);
                expect(other.reason).toBe(offset >= soakDays ? "current" : "previous");
            }),
        );
    });
});

describe("the rollout in the image catalog", () => {
    const valid = { canary: ["acme"], since: "2026-11-20", soakDays: 3, previous: PREVIOUS };

    it("loads a valid rollout", () => {
        expect(loadImageCatalog(catalogWithRollout(valid)).homeserver.rollout).toEqual(valid);
    });

    it.each<[string, unknown, RegExp]>([
        ["no canary", { ...valid, canary: [] }, /homeserver\.rollout\.canary: must name at least one tenant/],
        ["a canary that is not a tenant name", { ...valid, canary: ["Acme Corp"] }, /homeserver\.rollout\.canary\.0: must be a tenant name/],
        ["a soak of 0 days", { ...valid, soakDays: 0 }, /homeserver\.rollout\.soakDays: must be at least 1 day/],
        ["a soak longer than the limit", { ...valid, soakDays: MAX_SOAK_DAYS + 1 }, new RegExp(`homeserver\\.rollout\\.soakDays: must be at most ${MAX_SOAK_DAYS} days`)],
        ["a date that is not YYYY-MM-DD", { ...valid, since: "20.11.2026" }, /homeserver\.rollout\.since: must be a date written YYYY-MM-DD/],
        ["a previous release by tag only", { ...valid, previous: { tag: "v1.8.0" } }, /homeserver\.rollout\.previous\.digest/],
        ["an unknown key", { ...valid, canaries: ["acme"] }, /homeserver\.rollout: .*canaries/],
    ])("refuses %s, naming the file and the field", (_, rollout, message) => {
        const file = catalogWithRollout(rollout);
        expect(() => loadImageCatalog(file)).toThrow(message);
        expect(() => loadImageCatalog(file)).toThrow(file);
    });

    it("is refused by the stack set when a canary is not one of the tenants", () => {
        const file = catalogWithRollout({ ...valid, canary: ["nobody"] });
        const run = () => validateInputs({ projectDir: PROJECT_DIR, asOf: AS_OF, configOverrides: { iceland: { "redoubt:imageCatalog": file } } });
        expect(run).toThrow(StackSetError);
        expect(run).toThrow(/homeserver\.rollout\.canary: names nobody, but no tenant file declares it; name a tenant that runs the catalog's homeserver/);
    });
});

describe("the program under a rollout", () => {
    it("runs the canary on the new release and every other tenant on the previous one until the soak has passed", async () => {
        const since = AS_OF;
        const file = catalogWithRollout({ canary: ["acme"], since, soakDays: 2, previous: PREVIOUS });
        const catalog = loadImageCatalog(file);
        const imageOf = async (asOf: string) => {
            const runs = await runStacks({ tenantsDir: EXAMPLE_TENANTS_DIR, configOverrides: { iceland: { "redoubt:imageCatalog": file, "redoubt:asOf": asOf } } });
            const iceland = runs.find((r) => r.stack === "iceland")!;
            const containers = ofType(iceland, CONTAINER);
            return (tenant: string) => containers.find((c) => c.inputs["name"] === containerName(tenant, "homeserver"))?.inputs["image"];
        };
        const during = await imageOf(since);
        expect(during("acme")).toBe(digestReference(pinnedReference(catalog.homeserver)));
        expect(during("harbor")).toBe(digestReference(pinnedReference({ ...catalog.homeserver, ...PREVIOUS })));
        const after = await imageOf(addDays(since, 2));
        expect(after("harbor")).toBe(during("acme"));
    }, 120_000);
});
