import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as path from "node:path";
import { configMount, type ContainerLimits, FIXED_NAME, hardenedContainerArgs, type TenantContainerArgs } from "./hardening";
import {
    renderTuwunelConfig,
    TUWUNEL_CONFIG_PATH,
    TUWUNEL_DATA_PATH,
    TUWUNEL_PORT,
    TUWUNEL_TOKEN_PATH,
    type TuwunelConfigInput,
} from "./render/tuwunel";

export interface HomeserverArgs extends TenantContainerArgs {
    /** Everything the config file says; clientUrl may be known only at deploy time (onion names). */
    config: Omit<TuwunelConfigInput, "clientUrl"> & { clientUrl: pulumi.Input<string> };
    /** The tenant's services network: the only network the homeserver joins. */
    servicesNetwork: pulumi.Input<string>;
    limits: ContainerLimits;
    /** Create and run the container. Default: true (false while suspended or cancelled). */
    running?: boolean;
}

/** The tenant's Matrix homeserver (Tuwunel): one rendered config file, no federation, on the services network only. */
export class Homeserver extends pulumi.ComponentResource {
    /** The registration token (secret); also written to the token file. */
    public readonly registrationToken?: pulumi.Output<string>;
    public readonly container?: docker.Container;
    /** host:port of the homeserver on the services network. */
    public readonly address: string;
    public readonly containerName: string;

    constructor(name: string, args: HomeserverArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:tenant:Homeserver", name, {}, opts);
        this.containerName = `redoubt-${args.tenant}-homeserver`;
        this.address = `${this.containerName}:${TUWUNEL_PORT}`;
        const content = pulumi.output(args.config.clientUrl).apply((clientUrl) => renderTuwunelConfig({ ...args.config, clientUrl }));
        const uploads: pulumi.Input<docker.types.input.ContainerUpload>[] = [{ file: TUWUNEL_CONFIG_PATH, content, permissions: "0444" }];
        if (args.config.registration === "token") {
            const token = new random.RandomPassword(`${name}-registration-token`, { length: 32, special: false }, { parent: this });
            this.registrationToken = pulumi.secret(token.result);
            uploads.push({ file: TUWUNEL_TOKEN_PATH, content: this.registrationToken, permissions: "0400", owner: args.user.split(":")[0] });
        }
        if (args.running ?? true) {
            this.container = new docker.Container(
                `${name}-container`,
                {
                    name: this.containerName,
                    image: args.image,
                    // Only the config file: TUWUNEL_* variables would silently override it.
                    command: ["-c", TUWUNEL_CONFIG_PATH],
                    envs: [],
                    networksAdvanced: [{ name: args.servicesNetwork, aliases: [this.containerName] }],
                    mounts: [
                        { type: "volume", source: args.dataVolume, target: TUWUNEL_DATA_PATH, volumeOptions: { subpath: "tuwunel" } },
                        configMount(args.dataVolume, "homeserver", path.posix.dirname(TUWUNEL_CONFIG_PATH)),
                    ],
                    uploads: pulumi.secret(uploads),
                    healthcheck: { tests: ["CMD", "tuwunel", "--health-check"], interval: "30s", timeout: "10s", retries: 3, startPeriod: "60s" },
                    ...hardenedContainerArgs({
                        tenant: args.tenant,
                        role: "homeserver",
                        user: args.user,
                        limits: args.limits,
                        cgroupParent: args.cgroupParent,
                        logRetentionDays: args.logRetentionDays,
                        labels: args.labels,
                    }),
                },
                { parent: this, ...FIXED_NAME },
            );
        }
        this.registerOutputs({ containerName: this.containerName, registrationToken: this.registrationToken });
    }
}
