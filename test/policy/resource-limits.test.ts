import { containerResourceLimits } from "../../policies/resource-limits";
import { container } from "./fixtures";
import { runResource } from "./helpers";

describe("container-resource-limits", () => {
    it("accepts a limited container", async () => {
        expect(await runResource(containerResourceLimits, container("acme", "homeserver"))).toEqual([]);
    });
    it.each([
        ["no memory", { memory: undefined }, /set memory/],
        ["swap beyond memory", { memorySwap: 2048 }, /memorySwap equal to memory/],
        ["no cpus", { cpus: undefined }, /set cpus/],
        ["no slice", { cgroupParent: undefined }, /cgroupParent to "redoubt-acme.slice"/],
        ["another tenant's slice", { cgroupParent: "redoubt-beta.slice" }, /redoubt-acme.slice/],
    ])("refuses %s", async (_w, over, re) => {
        expect(await runResource(containerResourceLimits, container("acme", "proxy", over))).toEqual([expect.stringMatching(re)]);
    });
});
