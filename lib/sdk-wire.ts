// The markers of Pulumi's wire form (secrets, unknowns, resource references),
// taken from the SDK that defines them rather than written out again.
import * as rpc from "@pulumi/pulumi/runtime/rpc";

/** The key of a marker object (`{[SECRET_SIGNATURE_KEY]: SECRET_SIGNATURE, value}` is a secret). */
export const SECRET_SIGNATURE_KEY = rpc.specialSigKey;
export const SECRET_SIGNATURE = rpc.specialSecretSig;
export const RESOURCE_SIGNATURE = rpc.specialResourceSig;
/** The string an unknown value (e.g. during a preview) travels as. */
export const UNKNOWN_VALUE = rpc.unknownValue;
