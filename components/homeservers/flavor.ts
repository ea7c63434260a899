// The homeserver seam: what the stack knows about a homeserver implementation
// beyond Matrix itself. Homeserver (container and config), BackupAgent,
// DataExport, the host's backup trigger and the LUKS script's directories read
// these facts; a new server is a new entry in HOMESERVER_FLAVORS (./index.ts)
// plus its configuration checks in the policy pack. Pure data and renderers:
// nothing here creates a resource.
import type * as pulumi from "@pulumi/pulumi";
import type { RegistrationTerms } from "../../stacks/config";
import type { ConfigFile } from "../configCarrier";

/** What a tenant file says about its homeserver, whatever the server. */
export interface HomeserverSettings {
    serverName: string;
    logLevel: "error" | "warn";
    registration: "token" | "closed";
    /** Push gateways reached through the tenant's push proxy; absent: no push leaves the server. */
    pushProxy?: { url: string; gateways: string[] };
    /** Media older than this many days are deleted (the tenant's plan: PLANS in tenants/schema.ts). */
    mediaRetentionDays: number;
    /** What a new user accepts at sign-up (the stack's redoubt:registrationTerms); asked only where registration is open. */
    registrationTerms: RegistrationTerms;
}

/** Where a server keeps its data on the tenant's encrypted volume, and what a backup takes from it. */
export interface HomeserverData {
    /** The volume subdirectory holding the database and media (created by the LUKS script, mounted by the container). */
    subdir: string;
    /** Where the container mounts that subdirectory. */
    mountPath: string;
    /** The directory, relative to `subdir`, a consistent database backup is written to. */
    backups: string;
    /** The file, relative to `subdir`, a finished database backup writes last (its mtime says when). */
    backupMarker: string;
    /** The media directory, relative to `subdir` (backed up and exported beside the database backup). */
    media: string;
}

export interface HomeserverFlavor {
    /** Lower-case name, as in docs and messages. */
    name: string;
    /** The client-server API port inside the container. */
    port: number;
    data: HomeserverData;
    /** The signal (as `docker kill --signal` takes it) that asks the running server for a consistent database backup. */
    backupSignal: string;
    /**
     * The server's own commands that delete media older than `days`, local uploads included. The config runs them
     * on `backupSignal` before the database backup, so they run daily with the host's backup timer and finish
     * before the backup agent reads the media.
     */
    mediaRetentionCommands(days: number): string[];
    /** The directory the config files live in inside the container (a read-only mount of the carrier's files). */
    configDir: string;
    /** The config files the server runs with: the configuration plain (the policy pack reads it), secrets in files of their own. */
    configFiles(settings: HomeserverSettings, secrets: { registrationToken?: pulumi.Output<string>; owner: string }): ConfigFile[];
    /** The container's environment and Docker health check command. */
    container: { envs: string[]; healthcheck: string[] };
}
