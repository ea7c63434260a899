import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { COUNTRY_LABEL, DATA_LABEL, dockerLabels, TENANT_LABEL } from "./labels";
import { dataVolumeName } from "./names";
import { installFileCommand, renderLuksScript, SCRIPTS_DIR, tenantDataMount } from "./render/host";

/** The component type token (the unlock command and the policy pack find volumes by it). */
export const ENCRYPTED_VOLUME_TYPE = "redoubt:tenant:EncryptedVolume";

export interface EncryptedVolumeArgs {
    tenant: string;
    /** Size of the LUKS2 container in GiB. */
    sizeGiB: number;
    /** Owner of the data directories: the tenant's uid. */
    uid: number;
    /** SSH connection to the Docker host. */
    connection: command.types.input.remote.ConnectionArgs;
    /**
     * Protect the key, the LUKS container and the Docker volume against deletion.
     * @default true
     */
    protect?: boolean;
    /** Country of the site (a label for the policy pack). */
    country: string;
}

/** Where a tenant's LUKS script lives on the host. */
export function luksScriptPath(tenant: string): string {
    return `${SCRIPTS_DIR}/${tenant}-luks.sh`;
}

/**
 * Per-tenant encryption at rest: a LUKS2 container file on the Docker host,
 * opened with a key that exists only as a Pulumi secret (sent on stdin), and
 * a Docker volume bound to its mount. Deleting it crypto-erases the LUKS
 * header, so no copy of the key (state history included) can open it again.
 */
export class EncryptedVolume extends pulumi.ComponentResource {
    public readonly volume: docker.Volume;
    public readonly luks: command.remote.Command;
    public readonly volumeName: pulumi.Output<string>;
    /** The script on the host that opens, mounts and erases the volume (`open` takes the key on stdin). */
    public readonly scriptPath: string;

    constructor(name: string, args: EncryptedVolumeArgs, opts?: pulumi.ComponentResourceOptions) {
        super(ENCRYPTED_VOLUME_TYPE, name, { tenant: args.tenant }, opts);
        const protect = args.protect ?? true;
        const key = new random.RandomPassword(`${name}-key`, { length: 64, special: false }, { parent: this, protect });
        const script = renderLuksScript({ tenant: args.tenant, sizeGiB: args.sizeGiB, uid: args.uid });
        const scriptPath = luksScriptPath(args.tenant);
        this.scriptPath = scriptPath;
        this.luks = new command.remote.Command(
            `${name}-luks`,
            {
                connection: args.connection,
                create: `${installFileCommand(scriptPath, script, "0700")} && ${scriptPath} create`,
                // Crypto-erase: runs only when the tenant's lifecycle removes it (it is protected until then).
                delete: `${scriptPath} erase && rm -f ${scriptPath}`,
                stdin: pulumi.secret(key.result),
                triggers: [args.tenant],
            },
            { parent: this, protect, additionalSecretOutputs: ["stdin"] },
        );
        this.volume = new docker.Volume(
            `${name}-volume`,
            {
                name: dataVolumeName(args.tenant),
                driver: "local",
                driverOpts: { type: "none", o: "bind", device: tenantDataMount(args.tenant) },
                // Only labels that never change: Docker cannot relabel a volume, so any change would replace it.
                labels: dockerLabels({ [TENANT_LABEL]: args.tenant, [DATA_LABEL]: "true", [COUNTRY_LABEL]: args.country }),
            },
            { parent: this, protect, dependsOn: [this.luks] },
        );
        this.volumeName = this.volume.name;
        // What `npm run tenant -- unlock` reads from the state after a reboot: whose volume this is and how to open it.
        // The key is this component's RandomPassword child (a secret in the state, never on the host's disk).
        this.registerOutputs({ tenant: args.tenant, volumeName: this.volumeName, scriptPath });
    }
}
