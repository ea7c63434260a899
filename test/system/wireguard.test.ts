// The rendered WireGuard config through wg-quick's own parser, and our public
// key derivation against `wg pubkey`.
import { randomBytes } from "node:crypto";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { renderWireguardConfig, vpnAddresses, wireguardPublicKey } from "../../components/render/wireguard";
import { makeTempDir, removeDir, run, runOk } from "./helpers";
import { requireProgram } from "./programs";

// Real programs, some started and waited for: more than jest's default 5 s.
jest.setTimeout(120_000);

// Keys wg(8) itself understands; everything else must be stripped by wg-quick.
const WG_INTERFACE_KEYS = new Set(["PrivateKey", "ListenPort", "FwMark"]);
const WG_PEER_KEYS = new Set(["PublicKey", "PresharedKey", "AllowedIPs", "Endpoint", "PersistentKeepalive"]);

interface Section {
    name: string;
    entries: [string, string][];
}

function parseSections(text: string): Section[] {
    const sections: Section[] = [];
    for (const raw of text.split("\n")) {
        const line = raw.replace(/#.*/, "").trim();
        if (!line) continue;
        const header = /^\[(\w+)\]$/.exec(line);
        if (header) {
            sections.push({ name: header[1], entries: [] });
            continue;
        }
        const kv = /^(\w+)\s*=\s*(.*)$/.exec(line);
        if (!kv || sections.length === 0) throw new Error(`not a WireGuard config line: ${raw}`);
        sections[sections.length - 1].entries.push([kv[1], kv[2]]);
    }
    return sections;
}

describe("WireGuard (wireguard-tools)", () => {
    let wg: string;
    let wgQuick: string;
    let ip: string;
    let unshare: string;
    let dir: string;

    beforeAll(() => {
        wg = requireProgram("wg", "wireguard-tools");
        wgQuick = requireProgram("wg-quick", "wireguard-tools");
        ip = requireProgram("ip", "iproute2");
        unshare = requireProgram("unshare", "util-linux");
        dir = makeTempDir("wg");
    });
    afterAll(() => removeDir(dir));

    const genkey = () => runOk(wg, ["genkey"]).stdout.trim();
    const pubkey = (priv: string) => runOk(wg, ["pubkey"], { input: `${priv}\n` }).stdout.trim();

    test("wireguardPublicKey equals `wg pubkey` for keys from `wg genkey` and for raw random bytes", () => {
        const keys = [genkey(), genkey(), genkey(), randomBytes(32).toString("base64"), Buffer.alloc(32, 0xff).toString("base64")];
        for (const priv of keys) {
            expect({ priv, pub: wireguardPublicKey(priv) }).toEqual({ priv, pub: pubkey(priv) });
        }
    });

    test("the rendered config parses with `wg-quick strip`, keeps exactly wg's own settings, and its Address is one iproute2 accepts", () => {
        const addrs = vpnAddresses(7, 2);
        const serverKey = genkey();
        const peers = addrs.peers.map((address, i) => ({ name: `device-${i}`, publicKey: pubkey(genkey()), address }));
        const text = renderWireguardConfig({ privateKey: serverKey, listenPort: 51820, address: addrs.server, servicesSubnet: "10.128.0.192/28", peers });
        // wg-quick only reads <interface>.conf, and warns about readable files.
        const file = join(dir, "wg0.conf");
        writeFileSync(file, text);
        chmodSync(file, 0o600);
        const stripped = runOk(wgQuick, ["strip", file]);
        expect(stripped.stderr).toBe("");

        const sections = parseSections(stripped.stdout);
        expect(sections.map((s) => s.name)).toEqual(["Interface", "Peer", "Peer"]);
        const [iface, ...peerSections] = sections;
        for (const [key] of iface.entries) expect(WG_INTERFACE_KEYS).toContain(key);
        for (const p of peerSections) for (const [key] of p.entries) expect(WG_PEER_KEYS).toContain(key);
        expect(Object.fromEntries(iface.entries)).toEqual({ PrivateKey: serverKey, ListenPort: "51820" });
        expect(peerSections.map((p) => Object.fromEntries(p.entries))).toEqual(peers.map((p) => ({ PublicKey: p.publicKey, AllowedIPs: `${p.address}/32` })));
        // Every key is one wg(8) accepts (32 bytes, base64): `wg pubkey` refuses anything else.
        for (const key of [serverKey, ...peers.map((p) => p.publicKey)]) expect(run(wg, ["pubkey"], { input: `${key}\n` }).code).toBe(0);

        // What wg-quick strips it runs itself: Address goes to `ip address add`. Try it on the
        // loopback of a private network namespace (never the host's interfaces).
        const original = Object.fromEntries(parseSections(text)[0].entries);
        expect(original.Address).toBe(`${addrs.server}/27`);
        // As root a plain network namespace will do; otherwise a user namespace maps us to root in it.
        const unshareArgs = process.getuid?.() === 0 ? ["-n"] : ["-rn"];
        const addr = run(unshare, [...unshareArgs, ip, "address", "add", original.Address, "dev", "lo"]);
        expect(addr).toMatchObject({ code: 0, stderr: "" });
    });
});
