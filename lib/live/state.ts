// The live engine's state file: what `pulumi up` keeps in a stack's
// checkpoint, reduced to what the engine needs to update and delete on the
// next run (type, id, inputs, outputs, options, dependencies). Secret values
// are encrypted on disk, as Pulumi's passphrase secrets provider encrypts
// them in a checkpoint: AES-256-GCM with a key kept beside the state file
// (mode 0600), never in the repository.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { SECRET_SIGNATURE, SECRET_SIGNATURE_KEY } from "../sdk-wire";
import type { Properties } from "./provider";

/** The SDK's marker for a secret value (the same signature the engine and policy packs use). */
export { SECRET_SIGNATURE, SECRET_SIGNATURE_KEY };

export interface SecretMarker {
    [SECRET_SIGNATURE_KEY]: typeof SECRET_SIGNATURE;
    value: unknown;
}

export function isSecret(value: unknown): value is SecretMarker {
    return typeof value === "object" && value !== null && (value as Record<string, unknown>)[SECRET_SIGNATURE_KEY] === SECRET_SIGNATURE;
}

export function secret(value: unknown): SecretMarker {
    return isSecret(value) ? value : { [SECRET_SIGNATURE_KEY]: SECRET_SIGNATURE, value };
}

/** The value with every secret marker removed: what a provider receives. */
export function reveal<T>(value: T): T {
    if (isSecret(value)) return reveal(value.value) as T;
    if (Array.isArray(value)) return value.map(reveal) as T;
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reveal(v)])) as T;
    return value;
}

export interface StateResource {
    urn: string;
    type: string;
    custom: boolean;
    id?: string;
    parent?: string;
    /** `urn::id` of the provider resource, as the engine records it; absent for the default provider. */
    provider?: string;
    protect: boolean;
    deleteBeforeReplace: boolean;
    /** URNs this resource depends on (explicit and through its inputs). */
    dependencies: string[];
    /** Inputs with secret markers. */
    inputs: Properties;
    /** Outputs with secret markers; for components, what registerOutputs set. */
    outputs: Properties;
    /** A create failed after the resource came to exist: the next run replaces it. */
    tainted?: boolean;
}

export interface LiveState {
    version: 1;
    stack: string;
    /** In dependency order: every resource after the resources it depends on. */
    resources: StateResource[];
    /** The stack's outputs (secret markers kept). */
    outputs: Properties;
}

interface EncryptedValue {
    secure: string;
}

function keyFile(stateFile: string): string {
    return `${stateFile}.key`;
}

function loadKey(stateFile: string): Buffer {
    const file = keyFile(stateFile);
    if (!fs.existsSync(file)) {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, randomBytes(32).toString("base64"), { mode: 0o600 });
    }
    return Buffer.from(fs.readFileSync(file, "utf8").trim(), "base64");
}

function encrypt(key: Buffer, value: unknown): EncryptedValue {
    const iv = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key, iv);
    const body = Buffer.concat([cipher.update(JSON.stringify(value), "utf8"), cipher.final()]);
    return { secure: Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64") };
}

function decrypt(key: Buffer, value: EncryptedValue): unknown {
    const raw = Buffer.from(value.secure, "base64");
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString("utf8"));
}

function mapSecrets(value: unknown, fn: (secretValue: unknown) => unknown): unknown {
    if (isSecret(value)) return fn(value.value);
    if (Array.isArray(value)) return value.map((v) => mapSecrets(v, fn));
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapSecrets(v, fn)]));
    return value;
}

function mapEncrypted(value: unknown, fn: (encrypted: EncryptedValue) => unknown): unknown {
    if (value && typeof value === "object" && !Array.isArray(value) && typeof (value as Record<string, unknown>).secure === "string" && Object.keys(value).length === 1) {
        return fn(value as EncryptedValue);
    }
    if (Array.isArray(value)) return value.map((v) => mapEncrypted(v, fn));
    if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapEncrypted(v, fn)]));
    return value;
}

export function emptyState(stack: string): LiveState {
    return { version: 1, stack, resources: [], outputs: {} };
}

export function readState(file: string, stack: string): LiveState {
    if (!fs.existsSync(file)) return emptyState(stack);
    const key = loadKey(file);
    const raw = JSON.parse(fs.readFileSync(file, "utf8")) as LiveState;
    if (raw.version !== 1 || raw.stack !== stack) throw new Error(`${file} is not a version 1 live state of stack ${stack}`);
    return mapEncrypted(raw, (e) => secret(decrypt(key, e))) as LiveState;
}

export function writeState(file: string, state: LiveState): void {
    const key = loadKey(file);
    const encrypted = mapSecrets(state, (v) => encrypt(key, v));
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, `${JSON.stringify(encrypted, null, 2)}\n`, { mode: 0o600 });
    fs.renameSync(tmp, file);
}
