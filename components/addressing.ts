// Stable address allocation: a tenant's subnets are a function of its id
// alone, so adding or removing a tenant never moves another tenant.

/** The pool tenant networks are carved from; Docker's own default pools do not overlap it. */
export const TENANT_POOL = { base: [10, 128, 0, 0] as const, prefix: 9 };
/** Each tenant owns one /26 of the pool, split into four /28s. */
const BLOCK_SIZE = 64;
const SUBNET_SIZE = 16;
export const SUBNET_PURPOSES = ["services", "ingress", "egress"] as const;
export type SubnetPurpose = (typeof SUBNET_PURPOSES)[number];

/** The edge's own public-facing network, outside the tenant pool. */
export const EDGE_PUBLIC_SUBNET = "10.127.255.0/28";

function toDotted(n: number): string {
    return [24, 16, 8, 0].map((shift) => (n >>> shift) & 255).join(".");
}

function poolBase(): number {
    const [a, b, c, d] = TENANT_POOL.base;
    return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

export const MAX_TENANTS_IN_POOL = 2 ** (32 - TENANT_POOL.prefix) / BLOCK_SIZE;

export interface TenantSubnet {
    /** CIDR, e.g. 10.128.0.64/28. */
    subnet: string;
    /** The Docker bridge gateway: the subnet's first usable address. */
    gateway: string;
}

/** The subnet a tenant's network of a purpose uses. Throws for ids outside the pool. */
export function tenantSubnet(tenantId: number, purpose: SubnetPurpose): TenantSubnet {
    if (!Number.isInteger(tenantId) || tenantId < 1 || tenantId >= MAX_TENANTS_IN_POOL) {
        throw new RangeError(`tenant id ${tenantId} is outside 1..${MAX_TENANTS_IN_POOL - 1}`);
    }
    const start = poolBase() + tenantId * BLOCK_SIZE + SUBNET_PURPOSES.indexOf(purpose) * SUBNET_SIZE;
    return { subnet: `${toDotted(start)}/28`, gateway: toDotted(start + 1) };
}

/** Host number of the tenant's TLS proxy in its services /28: a fixed address tor and VPN peers can use without DNS. */
export const PROXY_HOST = 10;

/** A fixed address inside a tenant subnet (host 2..14; 1 is the gateway). */
export function tenantHostAddress(tenantId: number, purpose: SubnetPurpose, host: number): string {
    if (!Number.isInteger(host) || host < 2 || host > SUBNET_SIZE - 2) throw new RangeError(`host ${host} is outside 2..${SUBNET_SIZE - 2} of a /28`);
    const [network] = tenantSubnet(tenantId, purpose).subnet.split("/");
    const octets = network.split(".").map(Number);
    return [octets[0], octets[1], octets[2], octets[3] + host].join(".");
}

/** The per-tenant Unix uid (and gid) containers run as: never root, never shared. */
export function tenantUid(tenantId: number): number {
    return 100000 + tenantId;
}

/** The host UDP port a vpn tenant's WireGuard endpoint listens on. */
export function wireguardPort(tenantId: number): number {
    const port = 51820 + tenantId;
    if (port > 65535) throw new RangeError(`tenant id ${tenantId} has no WireGuard port below 65536`);
    return port;
}
