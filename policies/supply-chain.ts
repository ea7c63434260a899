// Promise (operational): what runs is exactly what was reviewed. Images are
// pinned by an immutable sha256 digest (CIS Docker 5.28); a tag can change
// under us.
//
// Not visible in resources: whether the digest belongs to the image the tag
// claims, or its signature; the image catalog records where each digest came from.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { T, describe } from "./common";

export const DIGEST_PATTERN = /@sha256:[0-9a-f]{64}$/;
/** A bare image id (what RemoteImage.imageId resolves to) is also immutable. */
const IMAGE_ID_PATTERN = /^sha256:[0-9a-f]{64}$/;

export const imagesPinnedByDigest: ResourceValidationPolicy = {
    name: "images-pinned-by-digest",
    description: "Container images and pulled images are referenced by sha256 digest, never by tag alone.",
    validateResource: (args, report) => {
        let ref: unknown;
        if (args.type === T.container) ref = args.props["image"];
        else if (args.type === T.remoteImage) ref = args.props["name"];
        else return;
        const where = describe(args.type, args.name);
        if (typeof ref !== "string" || !(DIGEST_PATTERN.test(ref) || IMAGE_ID_PATTERN.test(ref))) {
            report(`The ${where} uses image ${JSON.stringify(ref ?? null)}, which is not pinned; reference it by digest as <repository>:<tag>@sha256:<64 hex digits>.`);
        }
    },
};

export const supplyChainPolicies = [imagesPinnedByDigest];
