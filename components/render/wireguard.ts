// The tenant's WireGuard endpoint (vpn access mode).
import { createPrivateKey, createPublicKey } from "node:crypto";

export const WIREGUARD_CONFIG_PATH = "/config/wg_confs/wg0.conf";
/** The UDP port WireGuard listens on inside its container; the host publishes the tenant's own port to it. */
export const WIREGUARD_LISTEN_PORT = 51820;
const X25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b656e04220420", "hex");

/** The public key WireGuard derives from a base64 private key (as `wg pubkey` does). */
export function wireguardPublicKey(privateKeyBase64: string): string {
    const raw = Buffer.from(privateKeyBase64, "base64");
    if (raw.length !== 32) throw new Error(`a WireGuard private key is 32 bytes, got ${raw.length}`);
    const der = createPublicKey(createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: "der", type: "pkcs8" })).export({
        format: "der",
        type: "spki",
    });
    return der.subarray(-32).toString("base64");
}

/** The tenant's VPN: a /27 of 100.64.0.0/10 by tenant id; .1 is the endpoint, peers from .2. */
export function vpnAddresses(tenantId: number, peerCount: number): { subnet: string; server: string; peers: string[] } {
    if (peerCount > 29) throw new RangeError(`a tenant VPN holds at most 29 peers, got ${peerCount}`);
    const poolStart = 100 * 2 ** 24 + 64 * 2 ** 16;
    const poolEnd = poolStart + 2 ** 22;
    const base = poolStart + tenantId * 32;
    if (!Number.isInteger(tenantId) || tenantId < 1 || base + 32 > poolEnd) throw new RangeError(`tenant id ${tenantId} has no VPN subnet`);
    const dotted = (n: number) => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join(".");
    return {
        subnet: `${dotted(base)}/27`,
        server: dotted(base + 1),
        peers: Array.from({ length: peerCount }, (_, i) => dotted(base + 2 + i)),
    };
}

export interface WireguardConfigInput {
    privateKey: string;
    listenPort: number;
    address: string;
    /** The only destination peers may reach: the tenant's services network. */
    servicesSubnet: string;
    peers: { name: string; publicKey: string; address: string }[];
}

export function renderWireguardConfig(input: WireguardConfigInput): string {
    return [
        "# Rendered by redoubt.",
        "[Interface]",
        `Address = ${input.address}/27`,
        `ListenPort = ${input.listenPort}`,
        `PrivateKey = ${input.privateKey}`,
        // Peers reach the tenant's services network (the proxy) and nothing else: no route out through egress.
        `PostUp = iptables -A FORWARD -i %i -d ${input.servicesSubnet} -j ACCEPT; iptables -A FORWARD -i %i -j DROP; iptables -t nat -A POSTROUTING -d ${input.servicesSubnet} -j MASQUERADE`,
        `PostDown = iptables -D FORWARD -i %i -d ${input.servicesSubnet} -j ACCEPT; iptables -D FORWARD -i %i -j DROP; iptables -t nat -D POSTROUTING -d ${input.servicesSubnet} -j MASQUERADE`,
        "",
        ...input.peers.flatMap((p) => [`# ${p.name}`, "[Peer]", `PublicKey = ${p.publicKey}`, `AllowedIPs = ${p.address}/32`, ""]),
    ].join("\n");
}
