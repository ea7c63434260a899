// The live run's tenant set, written into a directory of its own (never
// tenants/): a public tenant, a Tor-only one, a VPN-only one and a suspended
// one, and a second public tenant added while the host runs. Written anew for
// each step, as ops edit tenant files between `pulumi up`s. (Each tenant costs
// minutes under software emulation: the set is as small as the promises allow.)
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { stringify } from "yaml";

export const LIVE_DOMAIN = "live.test";

/** A WireGuard key pair for the vpn tenant's one peer (the test's client). */
export interface PeerKeys {
    privateKey: string;
    publicKey: string;
}

export function wireguardKeyPair(): PeerKeys {
    const { privateKey } = generateKeyPairSync("x25519");
    const raw = (key: ReturnType<typeof createPrivateKey>, type: "private" | "public") =>
        Buffer.from((type === "private" ? key.export({ format: "jwk" }).d : createPublicKey(key).export({ format: "jwk" }).x) as string, "base64url").toString("base64");
    return { privateKey: raw(privateKey, "private"), publicKey: raw(privateKey, "public") };
}

export interface LiveTenantSet {
    /** HH:MM (UTC) of alpha's nightly backup; default the staggered one. */
    alphaBackupAt?: string;
    /** Add the second public tenant. */
    withCharlie?: boolean;
    /** Cancel the suspended tenant on this day. */
    dozyCancelledOn?: string;
    peer: PeerKeys;
}

type TenantDoc = Record<string, unknown>;

export function liveTenants(set: LiveTenantSet): TenantDoc[] {
    const publicTenant = (name: string, id: number, extra: TenantDoc = {}): TenantDoc => ({
        name,
        id,
        contact: `ops@${name}.${LIVE_DOMAIN}`,
        plan: "small",
        access: { mode: "public", domain: `${name}.${LIVE_DOMAIN}` },
        logging: { retentionDays: 7 },
        ...extra,
    });
    return [
        publicTenant("alpha", 1, set.alphaBackupAt ? { backups: { schedule: set.alphaBackupAt } } : {}),
        { name: "owl", id: 3, contact: `ops@owl.${LIVE_DOMAIN}`, plan: "small", access: { mode: "tor" }, homeserver: { serverName: `owl.${LIVE_DOMAIN}` } },
        {
            name: "vault",
            id: 4,
            contact: `ops@vault.${LIVE_DOMAIN}`,
            plan: "small",
            access: { mode: "vpn", peers: [{ name: "laptop", publicKey: set.peer.publicKey }] },
            homeserver: { serverName: `vault.${LIVE_DOMAIN}` },
        },
        publicTenant("dozy", 5, set.dozyCancelledOn ? { status: "cancelled", cancelledOn: set.dozyCancelledOn } : { status: "suspended" }),
        ...(set.withCharlie ? [publicTenant("charlie", 6)] : []),
    ];
}

/** Writes the tenant files and the ledger (a name is added when its tenant is). */
export function writeLiveTenants(dir: string, set: LiveTenantSet): TenantDoc[] {
    fs.mkdirSync(dir, { recursive: true });
    for (const f of fs.readdirSync(dir)) if (f.endsWith(".yaml")) fs.rmSync(path.join(dir, f));
    const tenants = liveTenants(set);
    for (const t of tenants) fs.writeFileSync(path.join(dir, `${String(t.name)}.yaml`), stringify(t));
    const ledger = tenants.map((t) => ({ name: t.name, id: t.id }));
    fs.writeFileSync(path.join(dir, "ledger.yaml"), stringify({ tenants: ledger }));
    return tenants;
}

/** The domains the public tenants are reached at. */
export const publicDomain = (tenant: string) => `${tenant}.${LIVE_DOMAIN}`;
