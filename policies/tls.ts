// Promise: "All connections use TLS (1.2+)": key strength and certificate
// lifetime of the per-tenant CAs (@pulumi/tls), the proxy's TLS settings and
// HSTS, and no plaintext port published.
//
// Not visible in resources: which ciphers a client actually negotiates, and
// ACME certificates Caddy obtains at run time (the system tests handshake
// against the generated Caddy config for that).
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { T, asArray, configOf, configuredRoleOf, describe, isRecord, proxyCaddyConfig, roleOf } from "./common";

const ECDSA_CURVES = ["P256", "P384", "P521"];
const MIN_RSA_BITS = 3072;

export const tlsPrivateKeyStrength: ResourceValidationPolicy = {
    name: "tls-private-key-strength",
    description: "TLS private keys are ECDSA (P-256/P-384/P-521) or RSA of at least 3072 bits; Ed25519 is accepted for SSH keys.",
    validateResource: (args, report) => {
        if (args.type !== T.privateKey) return;
        const algorithm = String(args.props["algorithm"] ?? "");
        const where = describe(args.type, args.name);
        if (algorithm === "ECDSA") {
            const curve = String(args.props["ecdsaCurve"] ?? "P224"); // the provider's default curve is P224
            if (!ECDSA_CURVES.includes(curve)) {
                report(`The ${where} uses ECDSA curve ${curve}; set ecdsaCurve to one of ${ECDSA_CURVES.join(", ")}.`);
            }
        } else if (algorithm === "RSA") {
            const bits = Number(args.props["rsaBits"] ?? 2048); // the provider's default is 2048
            if (!(bits >= MIN_RSA_BITS)) {
                report(`The ${where} is an RSA key of ${bits} bits; set rsaBits to at least ${MIN_RSA_BITS} or use algorithm ECDSA with ecdsaCurve P256 or P384.`);
            }
        } else if (algorithm === "ED25519") {
            // Ed25519 is fine for SSH (backup agent to Storage Box, deploy keys), and not used for TLS here.
        } else {
            report(`The ${where} uses algorithm "${algorithm}"; set algorithm to ECDSA (ecdsaCurve P256 or P384), RSA (rsaBits >= ${MIN_RSA_BITS}) or ED25519 (SSH keys only).`);
        }
    },
};

export const tlsCertValidity: ResourceValidationPolicy = {
    name: "tls-cert-validity",
    description: "Certificates made by @pulumi/tls are valid for at most maxCertValidityHours.",
    configSchema: {
        properties: {
            maxCertValidityHours: { type: "integer", minimum: 1, default: 8760 * 2 },
        },
    },
    validateResource: (args, report) => {
        if (args.type !== T.selfSignedCert && args.type !== T.locallySignedCert) return;
        const { maxCertValidityHours } = configOf(args, { maxCertValidityHours: 8760 * 2 });
        const hours = Number(args.props["validityPeriodHours"]);
        const where = describe(args.type, args.name);
        if (!Number.isFinite(hours) || hours <= 0) {
            report(`The ${where} has no validityPeriodHours; set it to at most ${maxCertValidityHours} hours.`);
        } else if (hours > maxCertValidityHours) {
            report(`The ${where} is valid for ${hours} hours; set validityPeriodHours to at most ${maxCertValidityHours} and renew it before it expires.`);
        }
    },
};

const TLS_VERSIONS = ["tls1.2", "tls1.3"];

/** Problems with a Caddy JSON config's TLS settings (tls1.2 minimum, HSTS). */
export function caddyTlsProblems(config: unknown): string[] {
    const problems: string[] = [];
    const servers = isRecord(config) && isRecord(config["apps"]) && isRecord(config["apps"]["http"]) ? config["apps"]["http"]["servers"] : undefined;
    if (!isRecord(servers) || Object.keys(servers).length === 0) {
        return ["it defines no apps.http.servers; render the proxy's Caddy JSON with at least one server"];
    }
    for (const [name, server] of Object.entries(servers)) {
        if (!isRecord(server)) continue;
        const policies = asArray(server["tls_connection_policies"]);
        if (policies.length === 0) {
            problems.push(`server "${name}" has no tls_connection_policies; add one with "protocol_min": "tls1.2"`);
        }
        for (const p of policies) {
            const min = isRecord(p) ? p["protocol_min"] : undefined;
            if (typeof min !== "string" || !TLS_VERSIONS.includes(min)) {
                problems.push(`server "${name}" has a TLS connection policy with protocol_min ${JSON.stringify(min ?? null)}; set "protocol_min": "tls1.2" (or "tls1.3")`);
            }
        }
        if (!JSON.stringify(server["routes"] ?? []).match(/"Strict-Transport-Security"\s*:\s*\[\s*"max-age=\d+/i)) {
            problems.push(
                `server "${name}" sends no Strict-Transport-Security header; add a headers handler with response.set["Strict-Transport-Security"] = ["max-age=31536000"]`,
            );
        }
        for (const addr of asArray(server["listen"])) {
            if (typeof addr === "string" && /:(80|8008|8448)$/.test(addr)) {
                problems.push(`server "${name}" listens on ${addr}, a plaintext HTTP port; listen on :443 (TLS) only`);
            }
        }
    }
    return problems;
}

export const proxyTls: ResourceValidationPolicy = {
    name: "proxy-tls",
    description: "Every tenant proxy's Caddy config requires TLS 1.2 or newer and sends HSTS.",
    validateResource: (args, report) => {
        if (args.type !== T.container || configuredRoleOf(args.props) !== "proxy") return;
        const where = describe(args.type, args.name);
        const caddy = proxyCaddyConfig(args.props, where, report, "its TLS settings can be checked");
        if (caddy === undefined) return;
        for (const problem of caddyTlsProblems(caddy.value)) report(`In the Caddy config written by the proxy's config carrier ${where}, ${problem}.`);
    },
};

const FORBIDDEN_PORTS = [80, 8008, 8448, 8080];

export const noPlaintextPorts: ResourceValidationPolicy = {
    name: "no-plaintext-ports",
    description: "Only the edge router publishes a port (TCP 443); a WireGuard endpoint may publish one UDP port; nothing else is published.",
    validateResource: (args, report) => {
        if (args.type !== T.container) return;
        const role = roleOf(args.props);
        const where = describe(args.type, args.name);
        const ports = asArray(args.props["ports"]).filter(isRecord);
        let udp = 0;
        for (const p of ports) {
            const external = Number(p["external"] ?? p["internal"]);
            const internal = Number(p["internal"]);
            const protocol = String(p["protocol"] ?? "tcp");
            const label = `${external}/${protocol}`;
            if (FORBIDDEN_PORTS.includes(external) || FORBIDDEN_PORTS.includes(internal)) {
                report(`The ${where} publishes port ${label}, a plaintext HTTP/Matrix port; remove it from ports: only the edge publishes TCP 443.`);
            } else if (role === "edge") {
                if (!(protocol === "tcp" && external === 443)) {
                    report(`The edge ${where} publishes ${label}; the edge may publish only TCP 443, remove the other ports.`);
                }
            } else if (role === "wireguard" && protocol === "udp") {
                udp += 1;
                if (udp > 1) report(`The WireGuard ${where} publishes more than one UDP port; publish exactly one.`);
            } else {
                report(
                    `The ${where} (role ${role ?? "unknown"}) publishes ${label}; remove its ports: only the edge (TCP 443) and a WireGuard endpoint (one UDP port) may publish.`,
                );
            }
        }
    },
};

export const tlsPolicies = [tlsPrivateKeyStrength, tlsCertValidity, proxyTls, noPlaintextPorts];
