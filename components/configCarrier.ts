// How configuration files reach read-only containers.
//
// The Docker provider writes `uploads` as one tar archive per file, extracted
// at "/" of the container (terraform-provider-docker,
// resource_docker_container_funcs.go, resourceDockerContainerCreate:
// `dstPath := "/"`, then CopyToContainer). Docker refuses that for a container
// whose root filesystem is read-only, even when the file's path lies in a
// volume (the daemon checks the destination "/", not the file). Every
// container of ours is read-only, so none of them can carry uploads.
//
// Instead, each service gets a config carrier: a container that is created
// but never started, has no network, and mounts the service's config (and,
// where needed, state) directories from the tenant's encrypted volume. Its
// uploads land there through Docker's archive API (the daemon mounts a
// container's volumes for archive operations whether or not it runs). The
// service mounts the same directories read-only, and carries the carrier's id
// as a label: new files mean a new carrier, a new id, and so a new service
// container that starts with them.
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { FIXED_NAME, hardenedContainerArgs, HELPER_LIMITS, type TenantContainerArgs } from "./hardening";
import { CONFIGURES_LABEL, type ContainerRole } from "./labels";
import { carrierName } from "./names";

/** A file the carrier writes. Secret content stays secret (only that entry, so the rest is readable at preview). */
export interface ConfigFile {
    path: string;
    /**
     * The file's text; give this or `contentBase64`.
     * @default none
     */
    content?: pulumi.Input<string>;
    /**
     * The file's bytes, base64-encoded (keys, binary files).
     * @default none
     */
    contentBase64?: pulumi.Input<string>;
    /** Octal mode, e.g. "0444". Files are owned by root unless `owner` is set. */
    permissions: string;
    /**
     * Numeric uid that owns the file (for secrets readable only by the service's uid).
     * @default "0" (root)
     */
    owner?: string;
    /**
     * Whether the file is a program the service runs.
     * @default false
     */
    executable?: boolean;
}

export interface ConfigCarrierArgs extends Omit<TenantContainerArgs, "tenant"> {
    /**
     * The tenant.
     * @default none (the shared edge)
     */
    tenant?: string;
    /** The role whose files it writes. */
    configures: Exclude<ContainerRole, "config">;
    /** The service's container name; the carrier is named `<name>-config`. */
    serviceName: string;
    /** The mounts the files land in, as the service mounts them (writable here). */
    mounts: docker.types.input.ContainerMount[];
    files: ConfigFile[];
}

/** A stopped, network-less container whose uploads write a service's configuration into its volume. */
export class ConfigCarrier extends pulumi.ComponentResource {
    public readonly container: docker.Container;
    /** Changes whenever the files are written anew: the service's CONFIG_REVISION_LABEL. */
    public readonly revision: pulumi.Output<string>;

    constructor(name: string, args: ConfigCarrierArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:config:ConfigCarrier", name, {}, opts);
        const uploads = args.files.map((f) => ({
            file: f.path,
            content: f.content,
            contentBase64: f.contentBase64,
            permissions: f.permissions,
            owner: f.owner,
            executable: f.executable,
        }));
        const hardened = hardenedContainerArgs({
            tenant: args.tenant,
            role: "config",
            user: args.user,
            limits: HELPER_LIMITS.config,
            cgroupParent: args.cgroupParent,
            logRetentionDays: args.logRetentionDays,
            labels: { ...args.labels, [CONFIGURES_LABEL]: args.configures },
        });
        this.container = new docker.Container(
            `${name}-container`,
            {
                name: carrierName(args.serviceName),
                image: args.image,
                ...hardened,
                // Docker extracts uploads only into a container whose root filesystem is writable. This one never
                // runs (start: false, no network), so nothing executes in that filesystem; the policy pack holds a
                // config carrier to exactly these settings.
                readOnly: false,
                start: false,
                mustRun: false,
                restart: "no",
                maxRetryCount: 0,
                networkMode: "none",
                mounts: args.mounts,
                uploads,
            },
            { parent: this, ...FIXED_NAME },
        );
        this.revision = this.container.id;
        this.registerOutputs({ revision: this.revision });
    }
}
