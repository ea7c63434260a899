// A real `pulumi preview` of the primary for a new tenant runs before the
// backup stacks have made its Storage Boxes: the StackReference has no entry
// for it yet. The preview must still work (those credentials are unknown, as
// any output of a resource not yet created), and an `up` must refuse.
import * as pulumi from "@pulumi/pulumi";
import { runStacks } from "../../lib/mock-run";
import { pinnedAsOf } from "./stack-helpers";

describe("a preview of the primary before the backup stacks are up", () => {
    it("plans a tenant whose boxes do not exist yet, with their credentials unknown", async () => {
        // The Helsinki stack has not been brought up since harbor was added: it holds only acme and nightowl.
        const overrides: Record<string, Record<string, string>> = pinnedAsOf();
        overrides["backup-helsinki"] = { ...overrides["backup-helsinki"], "redoubt:tenants": JSON.stringify(["acme", "nightowl"]) };
        const [iceland] = await runStacks({ stacks: ["iceland"], configOverrides: overrides });
        const unknownIn = (value: unknown): boolean =>
            pulumi.isUnknown(value) || (Array.isArray(value) ? value.some(unknownIn) : value !== null && typeof value === "object" && Object.values(value).some(unknownIn));
        // Whatever is given the Helsinki box's credentials (the backup agent's files) is not known yet for harbor; for acme it is.
        const withUnknowns = (tenant: string) => iceland.resources.filter((r) => r.name.startsWith(`${tenant}-`) && unknownIn(r.inputs)).map((r) => r.name);
        expect(withUnknowns("harbor")).toEqual(expect.arrayContaining([expect.stringMatching(/^harbor-backup/)]));
        expect(withUnknowns("acme")).toEqual([]);
    }, 60_000);
});
