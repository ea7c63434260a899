// After a host reboot the tenants' LUKS volumes are closed (their keys live
// only in Pulumi state, never on the host) and Docker does not start the
// tenants' containers (restart: on-failure brings back only containers that
// failed, and a container on a closed volume cannot start: its volume subpath
// does not exist). `npm run tenant -- unlock <tenant|--all>` delivers each key
// from the state over SSH to the tenant's LUKS script (`open`: verify the
// key, open, mount; never format), then starts the containers the state
// says run, and the shared edge.
//
// The state is read by resource type and structure, not by names: an
// EncryptedVolume component's outputs name its tenant and script, its
// RandomPassword child holds the key; Docker containers carry their tenant
// and role as labels and `start: false` when they are one-shot jobs.
import { ENCRYPTED_VOLUME_TYPE } from "../components/encryptedVolume";
import { ROLE_LABEL, TENANT_LABEL } from "../components/labels";

import { SECRET_SIGNATURE_KEY } from "./sdk-wire";
const CONTAINER = "docker:index/container:Container";
const RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword";

/** A resource as a stack's state holds it (`pulumi stack export --show-secrets`, or the live engine's state). */
export interface StateResourceLike {
    urn: string;
    type: string;
    parent?: string;
    inputs?: Record<string, unknown>;
    outputs?: Record<string, unknown>;
}

/**
 * A secret's plaintext. The CLI's `--show-secrets` export writes
 * `{sig, plaintext: "<JSON>"}`; the SDK's (and the live state's) form is `{sig, value}`.
 */
export function plaintext(value: unknown): unknown {
    if (value && typeof value === "object" && SECRET_SIGNATURE_KEY in value) {
        const v = value as Record<string, unknown>;
        if (typeof v.plaintext === "string") return JSON.parse(v.plaintext);
        if ("value" in v) return plaintext(v.value);
        throw new Error("the state holds this secret encrypted: export it with --show-secrets");
    }
    return value;
}

function labels(r: StateResourceLike): Record<string, string> {
    const raw = plaintext(r.inputs?.labels);
    return Array.isArray(raw) ? Object.fromEntries(raw.map((l: { label: string; value: string }) => [l.label, String(l.value)])) : {};
}

export interface UnlockTarget {
    tenant: string;
    /** The tenant's LUKS script on the host (its `open` takes the key on stdin). */
    scriptPath: string;
    key: string;
    /** The tenant's containers that run (not one-shot jobs, not config carriers), by name. */
    containers: string[];
}

export interface UnlockPlan {
    tenants: UnlockTarget[];
    /** Shared containers to start once the tenants are open (the edge). */
    shared: string[];
}

export class UnlockError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "UnlockError";
    }
}

/** Works out what to open and start for `tenants` (all tenants with a volume when undefined) from a stack's state. */
export function unlockPlan(resources: StateResourceLike[], tenants?: string[]): UnlockPlan {
    const volumes = resources.filter((r) => r.type === ENCRYPTED_VOLUME_TYPE);
    const byTenant = new Map(volumes.map((v) => [String(plaintext(v.outputs?.tenant) ?? plaintext(v.inputs?.tenant) ?? ""), v]));
    const wanted = tenants ?? [...byTenant.keys()].filter(Boolean).sort();
    const unknown = wanted.filter((t) => !byTenant.has(t));
    if (unknown.length > 0) {
        throw new UnlockError(`no encrypted volume in the state for ${unknown.join(", ")} (volumes: ${[...byTenant.keys()].sort().join(", ") || "none"})`);
    }
    const running = (r: StateResourceLike) => r.type === CONTAINER && plaintext(r.inputs?.start) !== false && labels(r)[ROLE_LABEL] !== "config";
    const targets = wanted.map((tenant) => {
        const volume = byTenant.get(tenant)!;
        const keyResource = resources.find((r) => r.parent === volume.urn && r.type === RANDOM_PASSWORD);
        const key = plaintext(keyResource?.outputs?.result);
        if (typeof key !== "string" || key.length === 0) throw new UnlockError(`the state holds no key for ${tenant}'s volume (a RandomPassword child of ${volume.urn})`);
        const scriptPath = String(plaintext(volume.outputs?.scriptPath) ?? "");
        if (!scriptPath.startsWith("/")) throw new UnlockError(`${tenant}'s volume has no scriptPath output; bring the stack up once with this version first`);
        const containers = resources.filter((r) => running(r) && labels(r)[TENANT_LABEL] === tenant).map((r) => String(plaintext(r.inputs?.name)));
        return { tenant, scriptPath, key, containers };
    });
    const shared = resources.filter((r) => running(r) && labels(r)[TENANT_LABEL] === undefined).map((r) => String(plaintext(r.inputs?.name)));
    return { tenants: targets, shared };
}

/** Runs a command as root on the Docker host, stdin optional; rejects unless it exits 0. */
export type HostRunner = (command: string, stdin?: string) => Promise<string>;

/** Opens every volume of the plan (key on stdin), then starts its containers, then the shared ones. */
export async function unlock(plan: UnlockPlan, run: HostRunner, log: (line: string) => void = () => undefined): Promise<void> {
    for (const t of plan.tenants) {
        await run(`${t.scriptPath} open`, `${t.key}\n`);
        log(`unlock: ${t.tenant}: volume open`);
        if (t.containers.length > 0) {
            await run(`docker start ${t.containers.join(" ")} >/dev/null`);
            log(`unlock: ${t.tenant}: started ${t.containers.join(", ")}`);
        }
    }
    if (plan.shared.length > 0) {
        await run(`docker start ${plan.shared.join(" ")} >/dev/null`);
        log(`unlock: started ${plan.shared.join(", ")}`);
    }
}
