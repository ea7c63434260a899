// Property tests for the pure functions beside the components.
import fc from "fast-check";
import { MAX_TENANTS_IN_POOL, SUBNET_PURPOSES, tenantHostAddress, tenantSubnet, tenantUid, wireguardPort } from "../../components/addressing";
import { backupTime, DEFAULT_BACKUP_WINDOW, defaultBackupTime, onCalendar, parseDailyTime } from "../../components/schedule";
import { vpnAddresses, wireguardPublicKey } from "../../components/render/wireguard";
import { MAX_TENANT_ID, MAX_VPN_TENANT_ID } from "../../tenants/schema";

function cidrRange(cidr: string): [number, number] {
    const [address, prefix] = cidr.split("/");
    const start = address.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
    return [start, start + 2 ** (32 - Number(prefix)) - 1];
}
const overlaps = (a: string, b: string) => {
    const [a0, a1] = cidrRange(a);
    const [b0, b1] = cidrRange(b);
    return a0 <= b1 && b0 <= a1;
};
const tenantId = fc.integer({ min: 1, max: MAX_TENANT_ID });

describe("subnet allocation", () => {
    it("every schema-valid id has subnets inside 10.128.0.0/9", () => {
        expect(MAX_TENANT_ID).toBeLessThan(MAX_TENANTS_IN_POOL);
        fc.assert(
            fc.property(tenantId, fc.constantFrom(...SUBNET_PURPOSES), (id, purpose) => {
                const [start, end] = cidrRange(tenantSubnet(id, purpose).subnet);
                const [poolStart, poolEnd] = cidrRange("10.128.0.0/9");
                return start >= poolStart && end <= poolEnd;
            }),
        );
    });

    it("two different tenants never overlap, and one tenant's networks never overlap each other", () => {
        fc.assert(
            fc.property(tenantId, tenantId, fc.constantFrom(...SUBNET_PURPOSES), fc.constantFrom(...SUBNET_PURPOSES), (a, b, pa, pb) => {
                fc.pre(a !== b || pa !== pb);
                return !overlaps(tenantSubnet(a, pa).subnet, tenantSubnet(b, pb).subnet);
            }),
        );
    });

    it("never changes for an existing tenant: the allocation is fixed (a new scheme would move every tenant's networks)", () => {
        expect(tenantSubnet(1, "services")).toEqual({ subnet: "10.128.0.64/28", gateway: "10.128.0.65" });
        expect(tenantSubnet(1000, "egress")).toEqual({ subnet: "10.128.250.32/28", gateway: "10.128.250.33" });
    });

    it("fixed host addresses stay inside their tenant's subnet, past the gateway", () => {
        fc.assert(
            fc.property(tenantId, fc.integer({ min: 2, max: 14 }), (id, host) => {
                const [start, end] = cidrRange(tenantSubnet(id, "services").subnet);
                const [address] = cidrRange(`${tenantHostAddress(id, "services", host)}/32`);
                return address > start + 1 && address < end;
            }),
        );
        expect(() => tenantHostAddress(1, "services", 1)).toThrow(RangeError);
        expect(() => tenantHostAddress(1, "services", 15)).toThrow(RangeError);
    });

    it("refuses ids outside the pool", () => {
        expect(() => tenantSubnet(0, "services")).toThrow(RangeError);
        expect(() => tenantSubnet(MAX_TENANTS_IN_POOL, "services")).toThrow(RangeError);
    });

    it("gives each tenant its own non-root uid and, for vpn tenants, a valid UDP port", () => {
        fc.assert(fc.property(tenantId, tenantId, (a, b) => a === b || tenantUid(a) !== tenantUid(b)));
        fc.assert(fc.property(tenantId, (id) => tenantUid(id) >= 100000));
        fc.assert(fc.property(fc.integer({ min: 1, max: MAX_VPN_TENANT_ID }), (id) => wireguardPort(id) <= 65535));
        expect(() => wireguardPort(MAX_VPN_TENANT_ID + 1)).toThrow(RangeError);
    });
});

describe("VPN addresses", () => {
    it("every tenant's VPN /27 lies in 100.64.0.0/10 and never overlaps another's", () => {
        fc.assert(
            fc.property(tenantId, tenantId, (a, b) => {
                const sa = vpnAddresses(a, 1).subnet;
                const [start, end] = cidrRange(sa);
                const [poolStart, poolEnd] = cidrRange("100.64.0.0/10");
                return start >= poolStart && end <= poolEnd && (a === b || !overlaps(sa, vpnAddresses(b, 1).subnet));
            }),
        );
    });

    it("peers get distinct addresses inside the subnet, after the endpoint", () => {
        fc.assert(
            fc.property(tenantId, fc.integer({ min: 1, max: 29 }), (id, count) => {
                const { subnet, server, peers } = vpnAddresses(id, count);
                const all = [server, ...peers];
                const [start, end] = cidrRange(subnet);
                const numbers = all.map((a) => cidrRange(`${a}/32`)[0]);
                return new Set(all).size === all.length && numbers.every((n) => n > start && n < end);
            }),
        );
        expect(() => vpnAddresses(1, 30)).toThrow(RangeError);
    });
});

describe("backup schedule", () => {
    it("default times fall inside the quiet window", () => {
        fc.assert(
            fc.property(tenantId, (id) => {
                const { hour, minute } = defaultBackupTime(id);
                return hour >= DEFAULT_BACKUP_WINDOW.startHour && hour < DEFAULT_BACKUP_WINDOW.endHour && minute >= 0 && minute < 60;
            }),
        );
    });

    it("consecutive tenants start at different times", () => {
        fc.assert(fc.property(fc.integer({ min: 1, max: MAX_TENANT_ID - 1 }), (id) => JSON.stringify(defaultBackupTime(id)) !== JSON.stringify(defaultBackupTime(id + 1))));
    });

    it("an explicit time wins and round-trips to systemd's OnCalendar", () => {
        fc.assert(
            fc.property(fc.integer({ min: 0, max: 23 }), fc.integer({ min: 0, max: 59 }), tenantId, (hour, minute, id) => {
                const hhmm = `${String(hour).padStart(2, "0")}:${String(minute).padStart(2, "0")}`;
                return onCalendar(backupTime(id, hhmm)) === `*-*-* ${hhmm}:00 UTC`;
            }),
        );
        expect(() => parseDailyTime("24:00")).toThrow(/HH:MM/);
    });
});

describe("WireGuard keys", () => {
    it("derives a 32-byte public key, different for different private keys", () => {
        fc.assert(
            fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (a, b) => {
                const pa = wireguardPublicKey(Buffer.from(a).toString("base64"));
                const pb = wireguardPublicKey(Buffer.from(b).toString("base64"));
                return Buffer.from(pa, "base64").length === 32 && (Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0 || pa !== pb);
            }),
            { numRuns: 50 },
        );
    });

    it("matches RFC 7748's X25519 test vector (Alice)", () => {
        const alicePrivate = Buffer.from("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", "hex").toString("base64");
        const alicePublic = Buffer.from("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a", "hex").toString("base64");
        expect(wireguardPublicKey(alicePrivate)).toBe(alicePublic);
    });
});
