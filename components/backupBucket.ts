import * as hcloud from "@pulumi/hcloud";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as tls from "@pulumi/tls";
import { BACKUP_SITES_LABEL, COUNTRY_LABEL, DATA_LABEL, DELETE_BY_LABEL, STATUS_LABEL, TENANT_LABEL } from "./labels";

/** The component type token (the plan attributes resources to tenants by it). */
export const BACKUP_BUCKET_TYPE = "redoubt:backup:BackupBucket";

export interface BackupBucketArgs {
    tenant: string;
    /** Backup site name, e.g. helsinki. */
    site: string;
    country: string;
    /** Hetzner location: hel1, fsn1. */
    location: string;
    /** Storage Box type, e.g. bx11. */
    storageBoxType: string;
    /** The tenant's lifecycle phase, labelled on the box. */
    status: string;
    /**
     * The day the box must be gone (cancelled tenants), labelled on the box.
     * @default none (not cancelled)
     */
    deleteBy?: string;
    /**
     * Delete protection at Hetzner and Pulumi `protect`.
     * @default true
     */
    protect?: boolean;
}

/** What the primary stack needs to write a tenant's backups to this site. */
export interface BackupBucketCredentials {
    site: string;
    country: string;
    host: pulumi.Output<string>;
    user: pulumi.Output<string>;
    /** Secret. */
    sshPrivateKey: pulumi.Output<string>;
    /** Secret: restic's repository password, born and destroyed with the box. */
    resticPassword: pulumi.Output<string>;
}

/**
 * One tenant's Storage Box at one backup site: its own box (no sharing),
 * reachable only with the tenant's own SSH key, no Samba/WebDAV, and no
 * snapshot plan (snapshots would outlive a deletion). Holds the restic
 * repository password too, so the repository and its key live and die together.
 */
export class BackupBucket extends pulumi.ComponentResource {
    public readonly box: hcloud.StorageBox;
    public readonly credentials: BackupBucketCredentials;

    constructor(name: string, args: BackupBucketArgs, opts?: pulumi.ComponentResourceOptions) {
        super(BACKUP_BUCKET_TYPE, name, {}, opts);
        const protect = args.protect ?? true;
        const password = new random.RandomPassword(
            `${name}-password`,
            // Hetzner's policy wants upper, lower, digits and a special character.
            { length: 40, special: true, overrideSpecial: "-_+=.", minUpper: 2, minLower: 2, minNumeric: 2, minSpecial: 2 },
            { parent: this },
        );
        // Protected like the box: Hetzner cannot change a box's keys, so a new key would replace the box.
        const sshKey = new tls.PrivateKey(`${name}-ssh-key`, { algorithm: "ED25519" }, { parent: this, protect, additionalSecretOutputs: ["privateKeyOpenssh", "privateKeyPem"] });
        const resticPassword = new random.RandomPassword(`${name}-restic-password`, { length: 64, special: false }, { parent: this, protect });
        this.box = new hcloud.StorageBox(
            `${name}-box`,
            {
                name: `redoubt-${args.tenant}`,
                location: args.location,
                storageBoxType: args.storageBoxType,
                password: pulumi.secret(password.result),
                sshKeys: [sshKey.publicKeyOpenssh],
                accessSettings: { reachableExternally: true, sshEnabled: true, sambaEnabled: false, webdavEnabled: false, zfsEnabled: false },
                deleteProtection: protect,
                labels: {
                    [TENANT_LABEL]: args.tenant,
                    [STATUS_LABEL]: args.status,
                    [DATA_LABEL]: "true",
                    [COUNTRY_LABEL]: args.country,
                    [BACKUP_SITES_LABEL]: args.site,
                    ...(args.deleteBy ? { [DELETE_BY_LABEL]: args.deleteBy } : {}),
                },
            },
            { parent: this, protect },
        );
        this.credentials = {
            site: args.site,
            country: args.country,
            host: this.box.server,
            user: this.box.username,
            sshPrivateKey: pulumi.secret(sshKey.privateKeyOpenssh),
            resticPassword: pulumi.secret(resticPassword.result),
        };
        this.registerOutputs({ host: this.credentials.host, user: this.credentials.user });
    }
}
