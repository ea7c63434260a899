import { noPlaintextPorts, proxyTls, tlsCertValidity, tlsPrivateKeyStrength } from "../../policies/tls";
import { CADDY_JSON, carrier, container } from "./fixtures";
import { labels, runResource } from "./helpers";

const key = (props: Record<string, unknown>) => ({ type: "tls:index/privateKey:PrivateKey", name: "acme-ca-key", props });
const cert = (hours: number | undefined) => ({ type: "tls:index/selfSignedCert:SelfSignedCert", name: "acme-ca", props: { validityPeriodHours: hours } });

describe("tls-private-key-strength", () => {
    it.each([{ algorithm: "ECDSA", ecdsaCurve: "P256" }, { algorithm: "ECDSA", ecdsaCurve: "P384" }, { algorithm: "RSA", rsaBits: 4096 }, { algorithm: "ED25519" }])(
        "accepts %o",
        async (props) => expect(await runResource(tlsPrivateKeyStrength, key(props))).toEqual([]),
    );
    it("refuses RSA 2048 and the default ECDSA curve", async () => {
        expect(await runResource(tlsPrivateKeyStrength, key({ algorithm: "RSA", rsaBits: 2048 }))).toEqual([expect.stringMatching(/set rsaBits to at least 3072/)]);
        expect(await runResource(tlsPrivateKeyStrength, key({ algorithm: "RSA" }))).toEqual([expect.stringMatching(/2048 bits/)]);
        expect(await runResource(tlsPrivateKeyStrength, key({ algorithm: "ECDSA" }))).toEqual([expect.stringMatching(/curve P224; set ecdsaCurve/)]);
    });
});

describe("tls-cert-validity", () => {
    it("accepts a two-year certificate and refuses ten years", async () => {
        expect(await runResource(tlsCertValidity, cert(8760 * 2))).toEqual([]);
        expect(await runResource(tlsCertValidity, cert(8760 * 10))).toEqual([expect.stringMatching(/set validityPeriodHours to at most 17520/)]);
        expect(await runResource(tlsCertValidity, cert(undefined))).toEqual([expect.stringMatching(/has no validityPeriodHours/)]);
    });
    it("takes maxCertValidityHours from config", async () => {
        expect(await runResource(tlsCertValidity, cert(1000), { maxCertValidityHours: 720 })).toEqual([expect.stringMatching(/at most 720/)]);
    });
});

describe("proxy-tls", () => {
    const withCaddy = (cfg: unknown) => carrier("acme", "proxy", { uploads: [{ file: "/etc/caddy/caddy.json", content: JSON.stringify(cfg) }] });
    const base = JSON.parse(CADDY_JSON);
    it("accepts the compliant Caddy config", async () => {
        expect(await runResource(proxyTls, container("acme", "proxy"))).toEqual([]);
    });
    it("refuses protocol_min tls1.1", async () => {
        const cfg = structuredClone(base);
        cfg.apps.http.servers.tenant.tls_connection_policies = [{ protocol_min: "tls1.1" }];
        expect(await runResource(proxyTls, withCaddy(cfg))).toEqual([expect.stringMatching(/set "protocol_min": "tls1.2"/)]);
    });
    it("refuses a server without HSTS", async () => {
        const cfg = structuredClone(base);
        cfg.apps.http.servers.tenant.routes = [{ handle: [{ handler: "reverse_proxy" }] }];
        expect(await runResource(proxyTls, withCaddy(cfg))).toEqual([expect.stringMatching(/Strict-Transport-Security/)]);
    });
    it("refuses a proxy without a Caddy config, or with broken JSON", async () => {
        expect(await runResource(proxyTls, carrier("acme", "proxy", { uploads: [] }))).toEqual([expect.stringMatching(/upload the rendered Caddy JSON/)]);
        expect(await runResource(proxyTls, carrier("acme", "proxy", { uploads: [{ file: "/etc/caddy/caddy.json", content: "{" }] }))).toEqual([
            expect.stringMatching(/not valid JSON/),
        ]);
    });
});

describe("no-plaintext-ports", () => {
    const edgeLabels = labels({ "redoubt.role": "edge" });
    it("lets the edge publish 443/tcp and wireguard one udp port", async () => {
        expect(await runResource(noPlaintextPorts, container("x", "edge", { labels: edgeLabels, ports: [{ internal: 443, external: 443 }] }))).toEqual([]);
        expect(await runResource(noPlaintextPorts, container("acme", "wireguard", { ports: [{ internal: 51820, external: 51820, protocol: "udp" }] }))).toEqual([]);
    });
    it("refuses port 80 on the edge, and any port on a homeserver", async () => {
        expect(await runResource(noPlaintextPorts, container("x", "edge", { labels: edgeLabels, ports: [{ internal: 80, external: 80 }] }))).toEqual([
            expect.stringMatching(/plaintext HTTP\/Matrix port; remove it/),
        ]);
        expect(await runResource(noPlaintextPorts, container("acme", "homeserver", { ports: [{ internal: 9000, external: 9000 }] }))).toEqual([
            expect.stringMatching(/remove its ports/),
        ]);
    });
});
