// The harness's encoding of mock inputs (no policy pack process here).
import * as pulumi from "@pulumi/pulumi";
import { encodeProperty, mandatory, type PolicyDiagnostic } from "../../lib/policy-harness";

const SIG = "4dabf18193072939515e22adb298388d";

describe("encodeProperty", () => {
    it("keeps secret markers and encodes their value", () => {
        expect(encodeProperty({ a: { [SIG]: "1b47061264138c4ac30d75fd1eb44270", value: [pulumi.unknown, 1] } })).toEqual({
            a: { [SIG]: "1b47061264138c4ac30d75fd1eb44270", value: ["04da6b54-80e4-46f7-96ec-b56ff0331ba9", 1] },
        });
    });
    it("turns unknowns into the sentinel, flattens resource references and drops __ keys and undefined", () => {
        expect(
            encodeProperty({
                u: pulumi.unknown,
                ref: { [SIG]: "5cf8f73096256a8f31e491e813e4eb8e", urn: "urn:x", id: "net-1" },
                refNoId: { [SIG]: "5cf8f73096256a8f31e491e813e4eb8e", urn: "urn:y", id: "" },
                __internal: 1,
                gone: undefined,
                list: [undefined, "x"],
            }),
        ).toEqual({ u: "04da6b54-80e4-46f7-96ec-b56ff0331ba9", ref: "net-1", refNoId: "urn:y", list: [null, "x"] });
    });
});

describe("mandatory", () => {
    it("keeps only mandatory diagnostics", () => {
        const d = (enforcementLevel: PolicyDiagnostic["enforcementLevel"]): PolicyDiagnostic => ({ policyName: "p", policyPackName: "k", message: "m", enforcementLevel });
        expect(mandatory([d("advisory"), d("mandatory"), d("disabled")])).toEqual([d("mandatory")]);
    });
});
