// The harness's encoding of mock inputs (no policy pack process here).
import * as pulumi from "@pulumi/pulumi";
import { encodeProperty, mandatory, PACK_CALL_DEADLINES_MS, packCallError, type PolicyDiagnostic } from "../../lib/policy-harness";

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

describe("packCallError", () => {
    const failure = (code: number, message: string) => Object.assign(new Error(message), { code });
    // gRPC status codes (grpc/doc/statuscodes.md): 4 DEADLINE_EXCEEDED, 14 UNAVAILABLE.
    const status = { DEADLINE_EXCEEDED: 4, UNAVAILABLE: 14 };

    it("names the call, what it was for and its own deadline when the deadline passed", () => {
        const e = packCallError(failure(status.DEADLINE_EXCEEDED, "4 DEADLINE_EXCEEDED: Deadline exceeded"), "analyze", "urn:pulumi:iceland::redoubt::x");
        expect(e.message).toBe(`policy pack call analyze for urn:pulumi:iceland::redoubt::x got no answer within its ${PACK_CALL_DEADLINES_MS.analyze} ms deadline`);
    });

    it("names the call and passes on grpc's message for any other failure", () => {
        expect(packCallError(failure(status.UNAVAILABLE, "14 UNAVAILABLE: No connection established"), "analyzeStack", "3 resources").message).toBe(
            "policy pack call analyzeStack for 3 resources failed: 14 UNAVAILABLE: No connection established",
        );
    });

    it("gives every call its own deadline", () => {
        for (const call of ["getAnalyzerInfo", "configureStack", "configure", "analyze", "analyzeStack"] as const) expect(PACK_CALL_DEADLINES_MS[call]).toBeGreaterThan(0);
    });
});
