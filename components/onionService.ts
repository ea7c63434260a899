import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import * as path from "node:path";
import { configMount, FIXED_NAME, hardenedContainerArgs, HELPER_LIMITS, type TenantContainerArgs } from "./hardening";
import { onionKeysFromSeed, renderTorrc, TOR_DATA_DIR, TOR_SERVICE_DIR, TORRC_PATH } from "./render/tor";

export interface OnionServiceArgs extends TenantContainerArgs {
    /** host:port of the tenant's TLS proxy. */
    target: string;
    /** services (to reach the proxy) and egress (to reach the Tor network). */
    servicesNetwork: pulumi.Input<string>;
    egressNetwork: pulumi.Input<string>;
    /** Protect the onion key: losing it changes the tenant's address. Default: true. */
    protectKey?: boolean;
}

/**
 * The tenant's Tor onion service (tor access mode). The onion key is a
 * Pulumi secret, so the address is known at plan time and survives the
 * container; nothing is published on the host.
 */
export class OnionService extends pulumi.ComponentResource {
    /** The tenant's .onion name. */
    public readonly hostname: pulumi.Output<string>;
    public readonly container: docker.Container;

    constructor(name: string, args: OnionServiceArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:tenant:OnionService", name, {}, opts);
        const seed = new random.RandomBytes(`${name}-key-seed`, { length: 32 }, { parent: this, protect: args.protectKey ?? true, additionalSecretOutputs: ["base64", "hex"] });
        const keys = pulumi.secret(seed.base64).apply(onionKeysFromSeed);
        // The address is public by nature: it is what the customer types.
        this.hostname = pulumi.unsecret(keys.apply((k) => k.hostname));
        this.container = new docker.Container(
            `${name}-container`,
            {
                name: `redoubt-${args.tenant}-tor`,
                image: args.image,
                entrypoints: ["tor"],
                command: ["-f", TORRC_PATH],
                networksAdvanced: [{ name: args.servicesNetwork }, { name: args.egressNetwork }],
                mounts: [
                    { type: "volume", source: args.dataVolume, target: TOR_DATA_DIR, volumeOptions: { subpath: "tor" } },
                    configMount(args.dataVolume, "tor", path.posix.dirname(TORRC_PATH)),
                ],
                uploads: pulumi.secret([
                    { file: TORRC_PATH, content: renderTorrc({ target: args.target }), permissions: "0444" },
                    { file: `${TOR_SERVICE_DIR}/hs_ed25519_secret_key`, contentBase64: keys.apply((k) => k.secretKeyFileBase64), permissions: "0600", owner: args.user.split(":")[0] },
                    { file: `${TOR_SERVICE_DIR}/hs_ed25519_public_key`, contentBase64: keys.apply((k) => k.publicKeyFileBase64), permissions: "0600", owner: args.user.split(":")[0] },
                ]),
                ...hardenedContainerArgs({
                    tenant: args.tenant,
                    role: "tor",
                    user: args.user,
                    limits: HELPER_LIMITS.tor,
                    cgroupParent: args.cgroupParent,
                    logRetentionDays: args.logRetentionDays,
                    labels: args.labels,
                }),
            },
            { parent: this, ...FIXED_NAME },
        );
        this.registerOutputs({ hostname: this.hostname });
    }
}
