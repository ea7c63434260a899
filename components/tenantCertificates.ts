import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

export interface TenantCertificatesArgs {
    tenant: string;
    /** Names the server certificate covers. */
    hostnames: pulumi.Input<string[]>;
    /**
     * Validity of the CA and server certificates in hours.
     * @default 8760 (one year)
     */
    validityHours?: number;
}

/**
 * A per-tenant CA and server certificate, for tor and vpn tenants that
 * public ACME cannot serve. The CA certificate is handed to the customer;
 * no CA is shared between tenants.
 */
export class TenantCertificates extends pulumi.ComponentResource {
    public readonly caCertPem: pulumi.Output<string>;
    public readonly certPem: pulumi.Output<string>;
    /** Secret. */
    public readonly keyPem: pulumi.Output<string>;

    constructor(name: string, args: TenantCertificatesArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:tenant:TenantCertificates", name, {}, opts);
        const validityPeriodHours = args.validityHours ?? 8760;
        const caKey = new tls.PrivateKey(`${name}-ca-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this, additionalSecretOutputs: ["privateKeyPem"] });
        const ca = new tls.SelfSignedCert(
            `${name}-ca`,
            {
                privateKeyPem: pulumi.secret(caKey.privateKeyPem),
                isCaCertificate: true,
                validityPeriodHours,
                allowedUses: ["cert_signing", "crl_signing"],
                subject: { commonName: `Redoubt ${args.tenant} CA`, organization: "Redoubt" },
            },
            { parent: this },
        );
        const key = new tls.PrivateKey(`${name}-server-key`, { algorithm: "ECDSA", ecdsaCurve: "P256" }, { parent: this, additionalSecretOutputs: ["privateKeyPem"] });
        const hostnames = pulumi.output(args.hostnames);
        const request = new tls.CertRequest(
            `${name}-server-request`,
            { privateKeyPem: pulumi.secret(key.privateKeyPem), dnsNames: hostnames, subject: { commonName: hostnames.apply((h) => h[0]) } },
            { parent: this },
        );
        const cert = new tls.LocallySignedCert(
            `${name}-server-cert`,
            {
                certRequestPem: request.certRequestPem,
                caPrivateKeyPem: pulumi.secret(caKey.privateKeyPem),
                caCertPem: ca.certPem,
                validityPeriodHours,
                earlyRenewalHours: 720,
                allowedUses: ["digital_signature", "key_encipherment", "server_auth"],
            },
            { parent: this },
        );
        this.caCertPem = ca.certPem;
        this.certPem = cert.certPem;
        this.keyPem = pulumi.secret(key.privateKeyPem);
        this.registerOutputs({ caCertPem: this.caCertPem });
    }
}
