import { imagesPinnedByDigest } from "../../policies/supply-chain";
import { container } from "./fixtures";
import { runResource } from "./helpers";

describe("images-pinned-by-digest", () => {
    it("accepts digests", async () => {
        expect(await runResource(imagesPinnedByDigest, container("acme", "homeserver"))).toEqual([]);
        const img = { type: "docker:index/remoteImage:RemoteImage", name: "tuwunel", props: { name: "ghcr.io/x/y@sha256:" + "c".repeat(64) } };
        expect(await runResource(imagesPinnedByDigest, img)).toEqual([]);
    });
    it("refuses a tag", async () => {
        expect(await runResource(imagesPinnedByDigest, container("acme", "homeserver", { image: "ghcr.io/matrix-construct/tuwunel:latest" }))).toEqual([
            expect.stringMatching(/not pinned; reference it by digest/),
        ]);
        const img = { type: "docker:index/remoteImage:RemoteImage", name: "caddy", props: { name: "caddy:2" } };
        expect(await runResource(imagesPinnedByDigest, img)).toHaveLength(1);
    });
});
