import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { FIXED_NAME } from "./hardening";
import { tenantSubnet, type SubnetPurpose } from "./addressing";
import { dockerLabels, NETWORK_LABEL, TENANT_LABEL } from "./labels";
import { networkName } from "./names";

export interface TenantNetworksArgs {
    tenant: string;
    tenantId: number;
    /**
     * Create the ingress network the edge joins (tor and vpn tenants have none).
     * @default false
     */
    ingress?: boolean;
}

/**
 * A tenant's Docker networks, each on its own subnet derived from the tenant
 * id: `services` (internal; homeserver and proxy), `ingress` (internal; only
 * the proxy and the edge), and `egress` (the only way out, for the roles that
 * need it).
 */
export class TenantNetworks extends pulumi.ComponentResource {
    public readonly services: docker.Network;
    public readonly ingress?: docker.Network;
    public readonly egress: docker.Network;

    constructor(name: string, args: TenantNetworksArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:tenant:TenantNetworks", name, {}, opts);
        const network = (purpose: SubnetPurpose, internal: boolean) => {
            const { subnet, gateway } = tenantSubnet(args.tenantId, purpose);
            return new docker.Network(
                `${name}-${purpose}`,
                {
                    name: networkName(args.tenant, purpose),
                    driver: "bridge",
                    internal,
                    attachable: false,
                    ipamConfigs: [{ subnet, gateway }],
                    // A bridge name ops can read in `ip link`: rd<tenant id><s|i|e>.
                    options: { "com.docker.network.bridge.name": `rd${args.tenantId}${purpose[0]}` },
                    // Only labels that never change: Docker cannot relabel a network, so a change would replace it.
                    labels: dockerLabels({ [TENANT_LABEL]: args.tenant, [NETWORK_LABEL]: purpose }),
                },
                { parent: this, ...FIXED_NAME },
            );
        };
        this.services = network("services", true);
        this.ingress = args.ingress ? network("ingress", true) : undefined;
        this.egress = network("egress", false);
        this.registerOutputs({ services: this.services.name, ingress: this.ingress?.name, egress: this.egress.name });
    }
}
