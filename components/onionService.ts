import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as path from "node:path";
import { ConfigCarrier } from "./configCarrier";
import { configMount, dataMount, FIXED_NAME, hardenedContainerArgs, HELPER_LIMITS, type TenantContainerArgs } from "./hardening";
import { CONFIG_REVISION_LABEL } from "./labels";
import { containerName } from "./names";
import { onionKeysFromSeed, renderTorrc, TOR_DATA_DIR, TOR_SERVICE_DIR, TORRC_PATH, type OnionKeys } from "./render/tor";

export interface OnionServiceArgs extends TenantContainerArgs {
    /** host:port of the tenant's TLS proxy. */
    target: string;
    /** services (to reach the proxy) and egress (to reach the Tor network). */
    servicesNetwork: pulumi.Input<string>;
    egressNetwork: pulumi.Input<string>;
    /**
     * Protect the onion key: losing it changes the tenant's address.
     * @default true
     */
    protectKey?: boolean;
    /**
     * Run tor (and write its config). The key is kept either way, so the address survives a suspension.
     * @default true
     */
    running?: boolean;
}

/**
 * The tenant's Tor onion service (tor access mode). The onion key is a
 * Pulumi secret, so the address is known at plan time and survives the
 * container; nothing is published on the host.
 */
export class OnionService extends pulumi.ComponentResource {
    /** The tenant's .onion name. */
    public readonly hostname: pulumi.Output<string>;
    public readonly container?: docker.Container;

    constructor(name: string, args: OnionServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:tenant:OnionService", name, {}, opts);
        const seed = new random.RandomBytes(`${name}-key-seed`, { length: 32 }, { parent: this, protect: args.protectKey ?? true, additionalSecretOutputs: ["base64", "hex"] });
        const keys = pulumi.secret(seed.base64).apply(onionKeysFromSeed);
        // The address is public by nature: it is what the customer types.
        this.hostname = pulumi.unsecret(keys.apply((k) => k.hostname));
        if (args.running ?? true) this.container = torContainer(name, args, keys, this);
        this.registerOutputs({ hostname: this.hostname });
    }
}

/** tor with its torrc and the onion keys, written by its config carrier into its state directory. */
function torContainer(name: string, args: OnionServiceArgs, keys: pulumi.Output<OnionKeys>, parent: pulumi.Resource): docker.Container {
    const torName = containerName(args.tenant, "tor");
    const uid = args.user.split(":")[0];
    const stateMount = (readOnly: boolean) => dataMount(args.dataVolume, "tor", TOR_DATA_DIR, readOnly);
    const configDir = path.posix.dirname(TORRC_PATH);
    // The keys land in tor's own state directory (HiddenServiceDir, mode 0700 and owned by the tenant's uid, as tor requires).
    const carrier = new ConfigCarrier(
        `${name}-config`,
        {
            ...args,
            configures: "tor",
            serviceName: torName,
            mounts: [configMount(args.dataVolume, "tor", configDir, false), stateMount(false)],
            files: [
                { path: TORRC_PATH, content: renderTorrc({ target: args.target }), permissions: "0444" },
                { path: `${TOR_SERVICE_DIR}/hs_ed25519_secret_key`, contentBase64: keys.apply((k) => k.secretKeyFileBase64), permissions: "0600", owner: uid },
                { path: `${TOR_SERVICE_DIR}/hs_ed25519_public_key`, contentBase64: keys.apply((k) => k.publicKeyFileBase64), permissions: "0600", owner: uid },
            ],
        },
        { parent },
    );
    return new docker.Container(
        `${name}-container`,
        {
            name: torName,
            image: args.image,
            entrypoints: ["tor"],
            command: ["-f", TORRC_PATH],
            networksAdvanced: [{ name: args.servicesNetwork }, { name: args.egressNetwork }],
            // tor writes its state (consensus cache, lock) beside the keys.
            mounts: [stateMount(false), configMount(args.dataVolume, "tor", configDir)],
            ...hardenedContainerArgs({
                tenant: args.tenant,
                role: "tor",
                user: args.user,
                limits: HELPER_LIMITS.tor,
                cgroupParent: args.cgroupParent,
                logRetentionDays: args.logRetentionDays,
                labels: { ...args.labels, [CONFIG_REVISION_LABEL]: carrier.revision },
            }),
        },
        { parent, ...FIXED_NAME },
    );
}
