import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import type { HomeserverFlavor } from "./homeservers";
import { EXPORTS_DIR, installFileCommand, renderExportScript, SCRIPTS_DIR } from "./render/host";

export interface DataExportArgs {
    tenant: string;
    /** The customer's age public key: the archive is encrypted to it alone. */
    recipient: string;
    /** The request date; a new date runs a new export. */
    requestedOn: string;
    /** The homeserver container; if it runs, it is asked for a fresh database backup first. */
    homeserverContainer: string;
    /**
     * The homeserver whose database backup and media are exported.
     * @default DEFAULT_HOMESERVER
     */
    homeserver?: HomeserverFlavor;
    connection: command.types.input.remote.ConnectionArgs;
}

/**
 * A customer's data export: one archive of the tenant's latest consistent
 * database backup and media, encrypted on the host to the customer's age key,
 * left in the exports directory for ops to hand over.
 */
export class DataExport extends pulumi.ComponentResource {
    /** Where the archive is written on the Docker host. */
    public readonly archivePath: string;

    constructor(name: string, args: DataExportArgs, opts?: pulumi.ComponentResourceOptions) {
        super("redoubt:tenant:DataExport", name, {}, opts);
        const scriptPath = `${SCRIPTS_DIR}/${args.tenant}-export.sh`;
        this.archivePath = `${EXPORTS_DIR}/${args.tenant}-${args.requestedOn}.tar.age`;
        new command.remote.Command(
            `${name}-job`,
            {
                connection: args.connection,
                create: `${installFileCommand(
                    scriptPath,
                    renderExportScript({
                        tenant: args.tenant,
                        recipient: args.recipient,
                        label: args.requestedOn,
                        homeserverContainer: args.homeserverContainer,
                        flavor: args.homeserver,
                    }),
                    "0700",
                )} && ${scriptPath}`,
                triggers: [args.requestedOn, args.recipient],
            },
            { parent: this },
        );
        this.registerOutputs({ archivePath: this.archivePath });
    }
}
