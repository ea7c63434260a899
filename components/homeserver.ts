import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { ConfigCarrier } from "./configCarrier";
import { configMount, dataMount, type ContainerLimits, FIXED_NAME, hardenedContainerArgs, type TenantContainerArgs } from "./hardening";
import { CONFIG_REVISION_LABEL } from "./labels";
import { containerName } from "./names";
import { DEFAULT_HOMESERVER, type HomeserverFlavor, type HomeserverSettings } from "./homeservers";

/** The keeper that ties a registration token to its period (read by tests). */
export const REGISTRATION_TOKEN_KEEPER = "validSince";

export interface HomeserverArgs extends TenantContainerArgs {
    /**
     * Which server runs: its container contract, config files and data layout.
     * @default DEFAULT_HOMESERVER (Tuwunel)
     */
    flavor?: HomeserverFlavor;
    /** Everything the config says (all known when the program runs: no generated value goes in it). */
    config: HomeserverSettings;
    /** The tenant's services network: the only network the homeserver joins. */
    servicesNetwork: pulumi.Input<string>;
    limits: ContainerLimits;
    /**
     * Create and run the container (false while suspended or cancelled).
     * @default true
     */
    running?: boolean;
    /**
     * The first day of the registration token's period (`registrationTokenPeriod` in components/schedule.ts):
     * a new period makes a new token. Only read where registration is by token.
     */
    registrationTokenSince: string;
}

/** Seconds Docker waits after SIGTERM before it kills the homeserver: time for the database to close cleanly (the provider's default is 0, an immediate kill). */
export const HOMESERVER_STOP_GRACE_SECONDS = 30;

/** The tenant's Matrix homeserver (Tuwunel unless `flavor` says otherwise): rendered config files, no federation, on the services network only. */
export class Homeserver extends pulumi.ComponentResource {
    /** The registration token (secret); also written to the token file. */
    public readonly registrationToken?: pulumi.Output<string>;
    public readonly container?: docker.Container;
    /** host:port of the homeserver on the services network. */
    public readonly address: string;
    public readonly containerName: string;

    constructor(name: string, args: HomeserverArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:tenant:Homeserver", name, {}, opts);
        const flavor = args.flavor ?? DEFAULT_HOMESERVER;
        this.containerName = containerName(args.tenant, "homeserver");
        this.address = `${this.containerName}:${flavor.port}`;
        this.registrationToken = args.config.registration === "token" ? registrationToken(name, args.registrationTokenSince, this) : undefined;
        if (args.running ?? true) {
            const carrier = writeConfig(name, args, flavor, this.containerName, this.registrationToken, this);
            this.container = homeserverContainer(name, args, flavor, this.containerName, carrier.revision, this);
        }
        this.registerOutputs({ containerName: this.containerName, registrationToken: this.registrationToken });
    }
}

/** The token, replaced when its period changes: a RandomPassword's `keepers` force a new one when they change (@pulumi/random). */
function registrationToken(name: string, since: string, parent: pulumi.Resource): pulumi.Output<string> {
    const token = new random.RandomPassword(`${name}-registration-token`, { length: 32, special: false, keepers: { [REGISTRATION_TOKEN_KEEPER]: since } }, { parent });
    return pulumi.secret(token.result);
}

/** The config files (plain: every privacy setting is readable by the policy pack, even at preview) and the token file (secret). */
function writeConfig(
    name: string,
    args: HomeserverArgs,
    flavor: HomeserverFlavor,
    serviceName: string,
    token: pulumi.Output<string> | undefined,
    parent: pulumi.Resource,
): ConfigCarrier {
    return new ConfigCarrier(
        `${name}-config`,
        {
            ...args,
            configures: "homeserver",
            serviceName,
            mounts: [configMount(args.dataVolume, "homeserver", flavor.configDir, false)],
            files: flavor.configFiles(args.config, { registrationToken: token, owner: args.user.split(":")[0] }),
        },
        { parent },
    );
}

function homeserverContainer(
    name: string,
    args: HomeserverArgs,
    flavor: HomeserverFlavor,
    serviceName: string,
    revision: pulumi.Output<string>,
    parent: pulumi.Resource,
): docker.Container {
    return new docker.Container(
        `${name}-container`,
        {
            name: serviceName,
            image: args.image,
            envs: flavor.container.envs,
            networksAdvanced: [{ name: args.servicesNetwork, aliases: [serviceName] }],
            mounts: [dataMount(args.dataVolume, flavor.data.subdir, flavor.data.mountPath), configMount(args.dataVolume, "homeserver", flavor.configDir)],
            // Durations in Go's own format: the provider reads them back that way ("60s" returns as "1m0s"), and any
            // other spelling would show as a change on every update.
            healthcheck: { tests: flavor.container.healthcheck, interval: "30s", timeout: "10s", retries: 3, startPeriod: "1m0s" },
            destroyGraceSeconds: HOMESERVER_STOP_GRACE_SECONDS,
            ...hardenedContainerArgs({
                tenant: args.tenant,
                role: "homeserver",
                user: args.user,
                limits: args.limits,
                cgroupParent: args.cgroupParent,
                logRetentionDays: args.logRetentionDays,
                labels: { ...args.labels, [CONFIG_REVISION_LABEL]: revision },
            }),
        },
        { parent, ...FIXED_NAME },
    );
}
