// Stand-ins for the providers whose resources only generate values:
// @pulumi/random (terraform-provider-random) and @pulumi/tls
// (terraform-provider-tls). Values are generated for real (crypto-random,
// real keys, real X.509 certificates); every input forces a replacement, as
// both providers mark all their arguments RequiresReplace.
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, randomInt, webcrypto, type KeyObject } from "node:crypto";
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the metadata polyfill loaded first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { changedKeys, type CreateResult, type DiffResult, type LiveProvider, type Properties } from "./provider";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export const RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword";
export const RANDOM_BYTES = "random:index/randomBytes:RandomBytes";
export const TLS_PRIVATE_KEY = "tls:index/privateKey:PrivateKey";
export const TLS_SELF_SIGNED_CERT = "tls:index/selfSignedCert:SelfSignedCert";
export const TLS_CERT_REQUEST = "tls:index/certRequest:CertRequest";
export const TLS_LOCALLY_SIGNED_CERT = "tls:index/locallySignedCert:LocallySignedCert";

/** Outputs the real providers' schemas mark Sensitive (the engine keeps them secret). */
export const GENERATED_SECRET_OUTPUTS: Record<string, readonly string[]> = {
    [RANDOM_PASSWORD]: ["result", "bcryptHash"],
    [RANDOM_BYTES]: ["base64", "hex"],
    [TLS_PRIVATE_KEY]: ["privateKeyPem", "privateKeyPemPkcs8", "privateKeyOpenssh"],
};

/** Every argument replaces (RequiresReplace on all attributes of these resources). */
function replaceAll(olds: Properties, news: Properties): DiffResult {
    const changed = changedKeys(olds, news);
    return { changed, replaceKeys: changed };
}

// terraform-provider-random internal/random/string.go: the default special characters.
const DEFAULT_SPECIAL = "!@#$%&*()-_=+[]{}<>:?";
const LOWER = "abcdefghijklmnopqrstuvwxyz";
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const NUMERIC = "0123456789";

function pick(chars: string, n: number): string[] {
    return Array.from({ length: n }, () => chars[randomInt(chars.length)]);
}

/** As random's CreateString: the minimums of each class first, the rest from the whole set, then shuffled. */
export function randomPassword(inputs: Properties): string {
    const length = Number(inputs.length);
    const classes = [
        { on: inputs.lower !== false, chars: LOWER, min: Number(inputs.minLower ?? 0) },
        { on: inputs.upper !== false, chars: UPPER, min: Number(inputs.minUpper ?? 0) },
        { on: inputs.numeric !== false && inputs.number !== false, chars: NUMERIC, min: Number(inputs.minNumeric ?? 0) },
        { on: inputs.special !== false, chars: typeof inputs.overrideSpecial === "string" ? inputs.overrideSpecial : DEFAULT_SPECIAL, min: Number(inputs.minSpecial ?? 0) },
    ].filter((c) => c.on && c.chars.length > 0);
    const all = classes.map((c) => c.chars).join("");
    const out = classes.flatMap((c) => pick(c.chars, c.min));
    if (out.length > length) throw new Error(`the minimum counts (${out.length}) exceed the length ${length}`);
    out.push(...pick(all, length - out.length));
    for (let i = out.length - 1; i > 0; i--) {
        const j = randomInt(i + 1);
        [out[i], out[j]] = [out[j], out[i]];
    }
    return out.join("");
}

export function randomProvider(): LiveProvider {
    return {
        types: [RANDOM_PASSWORD, RANDOM_BYTES],
        diff: (_type, olds, news) => replaceAll(olds, news),
        async create(type, _name, inputs): Promise<CreateResult> {
            if (type === RANDOM_PASSWORD) {
                const result = randomPassword(inputs);
                // bcrypt is not in Node's crypto; nothing here reads bcryptHash, so it is a salted SHA-256 stand-in, marked secret like the real one.
                const bcryptHash = createHash("sha256").update(randomBytes(16)).update(result).digest("base64");
                return { id: "none", outputs: { ...inputs, result, bcryptHash } };
            }
            const bytes = randomBytes(Number(inputs.length));
            return { id: "none", outputs: { ...inputs, base64: bytes.toString("base64"), hex: bytes.toString("hex") } };
        },
        async update() {
            throw new Error("random resources are never updated in place");
        },
        async delete() {
            // Nothing exists outside the state.
        },
    };
}

// --- tls ------------------------------------------------------------------------------

function sshString(data: Buffer | string): Buffer {
    const body = typeof data === "string" ? Buffer.from(data) : data;
    const len = Buffer.alloc(4);
    len.writeUInt32BE(body.length);
    return Buffer.concat([len, body]);
}

/** OpenSSH's own private key format (openssh-key-v1, unencrypted), as tls's `private_key_openssh` for ED25519. */
export function ed25519OpenSsh(privateKey: KeyObject, comment = ""): { privateKey: string; publicKey: string } {
    const jwk = privateKey.export({ format: "jwk" }) as { d: string; x: string };
    const seed = Buffer.from(jwk.d, "base64url");
    const pub = Buffer.from(jwk.x, "base64url");
    const publicBlob = Buffer.concat([sshString("ssh-ed25519"), sshString(pub)]);
    const check = randomBytes(4);
    let priv = Buffer.concat([check, check, sshString("ssh-ed25519"), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString(comment)]);
    const pad = (8 - (priv.length % 8)) % 8;
    priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
    const body = Buffer.concat([
        Buffer.from("openssh-key-v1\0"),
        sshString("none"),
        sshString("none"),
        sshString(""),
        Buffer.from([0, 0, 0, 1]),
        sshString(publicBlob),
        sshString(priv),
    ]);
    const b64 = body.toString("base64").replace(/(.{70})/g, "$1\n");
    return {
        privateKey: `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64.trimEnd()}\n-----END OPENSSH PRIVATE KEY-----\n`,
        publicKey: `ssh-ed25519 ${publicBlob.toString("base64")}\n`,
    };
}

function fingerprints(publicDer: Buffer, sshBlob?: Buffer): Properties {
    const blob = sshBlob ?? publicDer;
    return {
        publicKeyFingerprintMd5: createHash("md5")
            .update(blob)
            .digest("hex")
            .replace(/(..)(?!$)/g, "$1:"),
        publicKeyFingerprintSha256: `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`,
    };
}

/** A private key in the PEM forms terraform-provider-tls gives (PKCS#1 for RSA, SEC 1 for ECDSA, PKCS#8 for ED25519). */
function generatePrivateKey(inputs: Properties): Properties {
    const algorithm = String(inputs.algorithm ?? "RSA");
    let key: KeyObject;
    let pem: string;
    if (algorithm === "ED25519") {
        key = generateKeyPairSync("ed25519").privateKey;
        pem = String(key.export({ format: "pem", type: "pkcs8" }));
    } else if (algorithm === "ECDSA") {
        const curve = { P224: "P-224", P256: "P-256", P384: "P-384", P521: "P-521" }[String(inputs.ecdsaCurve ?? "P224")];
        if (!curve) throw new Error(`unsupported ecdsaCurve ${String(inputs.ecdsaCurve)}`);
        key = generateKeyPairSync("ec", { namedCurve: curve }).privateKey;
        pem = String(key.export({ format: "pem", type: "sec1" }));
    } else if (algorithm === "RSA") {
        key = generateKeyPairSync("rsa", { modulusLength: Number(inputs.rsaBits ?? 2048) }).privateKey;
        pem = String(key.export({ format: "pem", type: "pkcs1" }));
    } else {
        throw new Error(`unsupported tls algorithm ${algorithm}`);
    }
    const publicKey = createPublicKey(key);
    const publicDer = publicKey.export({ format: "der", type: "spki" });
    const out: Properties = {
        ...inputs,
        privateKeyPem: pem,
        privateKeyPemPkcs8: String(key.export({ format: "pem", type: "pkcs8" })),
        publicKeyPem: String(publicKey.export({ format: "pem", type: "spki" })),
    };
    if (algorithm === "ED25519") {
        const ssh = ed25519OpenSsh(key);
        out.privateKeyOpenssh = ssh.privateKey;
        out.publicKeyOpenssh = ssh.publicKey;
        Object.assign(out, fingerprints(publicDer, Buffer.from(ssh.publicKey.split(" ")[1], "base64")));
    } else {
        out.privateKeyOpenssh = "";
        out.publicKeyOpenssh = "";
        Object.assign(out, fingerprints(publicDer));
    }
    return out;
}

async function importSigningKey(pem: string): Promise<{ key: CryptoKey; algorithm: EcdsaParams | Algorithm; publicKey: CryptoKey }> {
    const keyObject = createPrivateKey(pem);
    const pkcs8 = keyObject.export({ format: "der", type: "pkcs8" });
    const spki = createPublicKey(keyObject).export({ format: "der", type: "spki" });
    const type = keyObject.asymmetricKeyType;
    let algorithm: EcKeyImportParams | RsaHashedImportParams | Algorithm;
    let signing: EcdsaParams | Algorithm;
    if (type === "ec") {
        const namedCurve = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" }[String(keyObject.asymmetricKeyDetails?.namedCurve)] ?? "P-256";
        algorithm = { name: "ECDSA", namedCurve };
        signing = { name: "ECDSA", hash: "SHA-256" };
    } else if (type === "rsa") {
        algorithm = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
        signing = algorithm;
    } else if (type === "ed25519") {
        algorithm = { name: "Ed25519" };
        signing = algorithm;
    } else {
        throw new Error(`unsupported key type ${type}`);
    }
    const subtle = webcrypto.subtle as unknown as SubtleCrypto;
    const key = await subtle.importKey("pkcs8", pkcs8, algorithm, true, ["sign"]);
    const publicKey = await subtle.importKey("spki", spki, algorithm, true, ["verify"]);
    return { key, algorithm: signing, publicKey };
}

interface Subject {
    commonName?: string;
    organization?: string;
    organizationalUnit?: string;
    country?: string;
    locality?: string;
    province?: string;
}

function distinguishedName(subject: Subject | undefined): string {
    const parts: string[] = [];
    const esc = (v: string) => v.replace(/([,+"\\<>;=])/g, "\\$1");
    if (subject?.country) parts.push(`C=${esc(subject.country)}`);
    if (subject?.province) parts.push(`ST=${esc(subject.province)}`);
    if (subject?.locality) parts.push(`L=${esc(subject.locality)}`);
    if (subject?.organization) parts.push(`O=${esc(subject.organization)}`);
    if (subject?.organizationalUnit) parts.push(`OU=${esc(subject.organizationalUnit)}`);
    if (subject?.commonName) parts.push(`CN=${esc(subject.commonName)}`);
    return parts.join(", ");
}

// terraform-provider-tls internal/provider/types.go: allowed_uses names → key usage bits and extended key usages.
const KEY_USAGES: Record<string, x509.KeyUsageFlags> = {
    digital_signature: x509.KeyUsageFlags.digitalSignature,
    content_commitment: x509.KeyUsageFlags.nonRepudiation,
    key_encipherment: x509.KeyUsageFlags.keyEncipherment,
    data_encipherment: x509.KeyUsageFlags.dataEncipherment,
    key_agreement: x509.KeyUsageFlags.keyAgreement,
    cert_signing: x509.KeyUsageFlags.keyCertSign,
    crl_signing: x509.KeyUsageFlags.cRLSign,
    encipher_only: x509.KeyUsageFlags.encipherOnly,
    decipher_only: x509.KeyUsageFlags.decipherOnly,
};
const EXTENDED_USAGES: Record<string, string> = {
    server_auth: x509.ExtendedKeyUsage.serverAuth,
    client_auth: x509.ExtendedKeyUsage.clientAuth,
    code_signing: x509.ExtendedKeyUsage.codeSigning,
    email_protection: x509.ExtendedKeyUsage.emailProtection,
    timestamping: x509.ExtendedKeyUsage.timeStamping,
    ocsp_signing: x509.ExtendedKeyUsage.ocspSigning,
};

async function certificateExtensions(inputs: Properties, dnsNames: string[], publicKey: CryptoKey): Promise<x509.Extension[]> {
    const uses = (inputs.allowedUses as string[] | undefined) ?? [];
    const unknown = uses.filter((u) => !(u in KEY_USAGES) && !(u in EXTENDED_USAGES));
    if (unknown.length > 0) throw new Error(`unsupported allowedUses: ${unknown.join(", ")}`);
    const extensions: x509.Extension[] = [new x509.BasicConstraintsExtension(inputs.isCaCertificate === true, undefined, true)];
    const keyUsage = uses.filter((u) => u in KEY_USAGES).reduce((acc, u) => acc | KEY_USAGES[u], 0);
    if (keyUsage) extensions.push(new x509.KeyUsagesExtension(keyUsage, true));
    const extended = uses.filter((u) => u in EXTENDED_USAGES).map((u) => EXTENDED_USAGES[u]);
    if (extended.length) extensions.push(new x509.ExtendedKeyUsageExtension(extended, false));
    if (dnsNames.length) extensions.push(new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: "dns" as const, value }))));
    extensions.push(await x509.SubjectKeyIdentifierExtension.create(publicKey));
    return extensions;
}

function validity(inputs: Properties): { notBefore: Date; notAfter: Date; outputs: Properties } {
    const notBefore = new Date();
    const notAfter = new Date(notBefore.getTime() + Number(inputs.validityPeriodHours) * 3_600_000);
    return {
        notBefore,
        notAfter,
        outputs: { validityStartTime: notBefore.toISOString(), validityEndTime: notAfter.toISOString(), readyForRenewal: false },
    };
}

function serial(): string {
    const bytes = randomBytes(16);
    bytes[0] &= 0x7f;
    return bytes.toString("hex");
}

async function selfSignedCert(inputs: Properties): Promise<Properties> {
    const { key, algorithm, publicKey } = await importSigningKey(String(inputs.privateKeyPem));
    const { notBefore, notAfter, outputs } = validity(inputs);
    const cert = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: serial(),
        name: distinguishedName(inputs.subject as Subject),
        notBefore,
        notAfter,
        signingAlgorithm: algorithm,
        keys: { privateKey: key, publicKey },
        extensions: await certificateExtensions(inputs, (inputs.dnsNames as string[]) ?? [], publicKey),
    });
    return { ...inputs, ...outputs, certPem: `${cert.toString("pem")}\n` };
}

async function certRequest(inputs: Properties): Promise<Properties> {
    const { key, algorithm, publicKey } = await importSigningKey(String(inputs.privateKeyPem));
    const dnsNames = (inputs.dnsNames as string[]) ?? [];
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
        name: distinguishedName(inputs.subject as Subject),
        keys: { privateKey: key, publicKey },
        signingAlgorithm: algorithm,
        extensions: dnsNames.length ? [new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: "dns" as const, value })))] : [],
    });
    return { ...inputs, certRequestPem: `${csr.toString("pem")}\n` };
}

async function locallySignedCert(inputs: Properties): Promise<Properties> {
    const csr = new x509.Pkcs10CertificateRequest(String(inputs.certRequestPem));
    if (!(await csr.verify())) throw new Error("the certificate request's signature does not verify");
    const ca = new x509.X509Certificate(String(inputs.caCertPem));
    const { key } = await importSigningKey(String(inputs.caPrivateKeyPem));
    const { notBefore, notAfter, outputs } = validity(inputs);
    // The CSR's extensions come back generic: re-read the SAN through its own class.
    const sanRaw = csr.getExtension("2.5.29.17");
    const san = sanRaw ? new x509.SubjectAlternativeNameExtension(sanRaw.rawData) : undefined;
    const dnsNames = san ? san.names.items.filter((n) => n.type === "dns").map((n) => n.value) : [];
    const publicKey = await csr.publicKey.export();
    const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: csr.subject,
        issuer: ca.subject,
        notBefore,
        notAfter,
        publicKey,
        signingKey: key,
        signingAlgorithm: key.algorithm.name === "ECDSA" ? { name: "ECDSA", hash: "SHA-256" } : key.algorithm,
        extensions: [...(await certificateExtensions(inputs, dnsNames, publicKey)), await x509.AuthorityKeyIdentifierExtension.create(await ca.publicKey.export())],
    });
    return { ...inputs, ...outputs, certPem: `${cert.toString("pem")}\n` };
}

export function tlsProvider(): LiveProvider {
    return {
        types: [TLS_PRIVATE_KEY, TLS_SELF_SIGNED_CERT, TLS_CERT_REQUEST, TLS_LOCALLY_SIGNED_CERT],
        diff: (_type, olds, news) => replaceAll(olds, news),
        async create(type, _name, inputs): Promise<CreateResult> {
            switch (type) {
                case TLS_PRIVATE_KEY: {
                    const outputs = generatePrivateKey(inputs);
                    // tls uses the SHA-1 hash of the public key PEM as the id.
                    return { id: createHash("sha1").update(String(outputs.publicKeyPem)).digest("hex"), outputs };
                }
                case TLS_SELF_SIGNED_CERT:
                case TLS_LOCALLY_SIGNED_CERT: {
                    const outputs = type === TLS_SELF_SIGNED_CERT ? await selfSignedCert(inputs) : await locallySignedCert(inputs);
                    return { id: new x509.X509Certificate(String(outputs.certPem)).serialNumber, outputs };
                }
                default: {
                    const outputs = await certRequest(inputs);
                    return { id: createHash("sha1").update(String(outputs.certRequestPem)).digest("hex"), outputs };
                }
            }
        },
        async update() {
            throw new Error("tls resources are never updated in place");
        },
        async delete() {
            // Nothing exists outside the state.
        },
    };
}
