// The stack program: composes the stack's tenants into components. Config,
// stack name and tenant files are read when the function runs (not at module
// load), so tests can call it under mocks with their own settings.
import * as path from "node:path";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { BackupBucket, type BackupBucketCredentials } from "../components/backupBucket";
import type { BackupTarget } from "../components/backupAgent";
import { Edge } from "../components/edge";
import { HostBaseline } from "../components/hostBaseline";
import { homeserverReleaseFor, loadImageCatalog, pinnedReference } from "../components/images";
import { datingProblems, lifecycleOf, type Lifecycle } from "../components/lifecycle";
import { storageBoxRepository } from "../components/render/backup";
import { edgeRouteOf, TenantCell } from "../components/tenantCell";
import { loadTenants, TenantSetError, type LoadedTenant } from "../tenants/loader";
import { PLANS, type Tenant } from "../tenants/schema";
import {
    asOfDate,
    parseStackConfig,
    placeholderHostKeyProblem,
    StackConfigError,
    stalePinProblem,
    type BackupStackConfig,
    type PrimaryStackConfig,
    type StackConfig,
} from "./config";
import { hostOf, primaryStacksIn } from "./placement";

export interface StackProgramOptions {
    /** Project root; tenantsDir and images.yaml are resolved against it. Default: the repository root. */
    projectDir?: string;
    /** Override the tenant directory (e.g. the plan's --tenants). */
    tenantsDir?: string;
    /** Applied to every top-level resource (and so to all resources): how the offline plan sees options. */
    transformations?: pulumi.ResourceTransformation[];
    /**
     * This run's lifecycle date, given explicitly (the plan's --as-of).
     * @default REDOUBT_AS_OF, else the stack's redoubt:asOf, else today (UTC)
     */
    asOf?: string;
}

/** A tenant in this stack, with its lifecycle at the as-of date. */
export interface StackTenant {
    tenant: Tenant;
    lifecycle: Lifecycle;
}

const DEFAULT_PROJECT_DIR = path.join(__dirname, "..");

/** Reads and validates this stack's `redoubt:*` config. */
export function readStackConfig(): StackConfig {
    const file = `stacks/Pulumi.${pulumi.getStack()}.yaml`;
    const config = parseStackConfig(pulumi.runtime.allConfig(), file);
    // A preview (and the offline plan) may run against the example's placeholder key; a deployment may not.
    const problems = [stalePinProblem(config.asOf), pulumi.runtime.isDryRun() ? undefined : placeholderHostKeyProblem(config)].flatMap((p) => p ?? []);
    if (problems.length > 0) throw new StackConfigError(file, problems);
    return config;
}

/** Loads the tenant set and selects this stack's tenants; every problem is reported before anything is declared. */
export function selectTenants(config: StackConfig, options: StackProgramOptions = {}): StackTenant[] {
    const projectDir = options.projectDir ?? DEFAULT_PROJECT_DIR;
    const dir = options.tenantsDir ?? path.resolve(projectDir, config.tenantsDir);
    const loaded = loadTenants(dir);
    if (config.tenants) {
        const known = new Set(loaded.map((l) => l.tenant.name));
        const unknown = config.tenants.filter((name) => !known.has(name));
        if (unknown.length > 0) {
            throw new TenantSetError(
                unknown.map((name) => ({ file: `stacks/Pulumi.${pulumi.getStack()}.yaml`, field: "redoubt:tenants", message: `names '${name}', which has no file in ${dir}` })),
            );
        }
    }
    const asOf = options.asOf ?? asOfDate(config);
    const misdated = loaded.flatMap(({ file, tenant }) => datingProblems(tenant, asOf).map((p) => ({ file, ...p })));
    if (misdated.length > 0) throw new TenantSetError(misdated);
    const onThisSite = config.role === "primary" ? onThisHost(loaded, projectDir) : (t: Tenant) => t.backups.sites.includes(config.site);
    return loaded
        .map((l) => l.tenant)
        .filter((t) => config.tenants === undefined || config.tenants.includes(t.name))
        .filter(onThisSite)
        .map((tenant) => ({ tenant, lifecycle: lifecycleOf(tenant, asOf, config.deletionGraceDays) }))
        .filter((t) => t.lifecycle.declared);
}

/**
 * A primary stack serves the tenants placed on its host (hostOf: the file's `host`, or the only
 * primary stack). A tenant the project cannot place refuses the whole run, as any bad tenant file.
 */
function onThisHost(loaded: LoadedTenant[], projectDir: string): (tenant: Tenant) => boolean {
    const stack = pulumi.getStack();
    const primaries = [...new Set([...primaryStacksIn(projectDir), stack])].sort();
    const placed = new Map(loaded.map(({ tenant }) => [tenant.name, hostOf(tenant, primaries)]));
    const unplaced = loaded.flatMap(({ file, tenant }) => {
        const problem = placed.get(tenant.name)?.problem;
        return problem === undefined ? [] : [{ file, field: "host", message: problem }];
    });
    if (unplaced.length > 0) throw new TenantSetError(unplaced);
    return (tenant) => placed.get(tenant.name)?.host === stack;
}

export function defineBackupStack(config: BackupStackConfig, tenants: StackTenant[], options: StackProgramOptions = {}): Record<string, unknown> {
    const transformations = options.transformations;
    // Per tenant: what the primary reads by StackReference.
    const outputs: Record<string, BackupBucketCredentials> = {};
    for (const { tenant, lifecycle } of tenants) {
        const bucket = new BackupBucket(
            tenant.name,
            {
                tenant: tenant.name,
                site: config.site,
                country: config.country,
                location: config.location,
                storageBoxType: PLANS[tenant.plan].storageBoxType,
                status: lifecycle.phase,
                deleteBy: lifecycle.deleteBy,
                protect: lifecycle.protectData,
            },
            { transformations },
        );
        outputs[tenant.name] = bucket.credentials;
    }
    return { site: config.site, country: config.country, tenants: outputs };
}

function sshConnection(config: PrimaryStackConfig): command.types.input.remote.ConnectionArgs {
    const url = new URL(config.dockerHost);
    const privateKey = new pulumi.Config("redoubt").getSecret("sshPrivateKey");
    return {
        host: url.hostname,
        port: url.port ? Number(url.port) : 22,
        user: url.username,
        // The volume keys travel over this connection: only to the host whose key ops pinned.
        hostKey: config.sshHostKey,
        // Without a key in config, the provider uses the SSH agent (SSH_AUTH_SOCK), as the Docker provider does.
        ...(privateKey ? { privateKey } : {}),
    };
}

interface BackupSiteReference {
    country: string;
    reference: pulumi.StackReference;
}

function backupTargetsFor(tenant: Tenant, sites: Map<string, BackupSiteReference>): BackupTarget[] {
    return tenant.backups.sites.map((site) => {
        const backupSite = sites.get(site);
        if (!backupSite) throw new Error(`tenant ${tenant.name} backs up to ${site}, but redoubt:backupSites names no stack for it`);
        const { reference, country } = backupSite;
        const field = (key: keyof BackupBucketCredentials) =>
            reference.requireOutput("tenants").apply((all: Record<string, Record<string, string>> | undefined) => {
                const entry = all?.[tenant.name];
                if (!entry) {
                    // A preview of a new tenant runs before the backup stacks' `up` has made its boxes: their
                    // credentials are not known yet, as any output of a resource still to be created (an apply
                    // that returns pulumi.unknown makes its output unknown: @pulumi/pulumi output.js). An `up`
                    // cannot go on without them.
                    if (pulumi.runtime.isDryRun()) return pulumi.unknown as unknown as string;
                    throw new Error(
                        `backup stack for ${site} has no storage box for tenant ${tenant.name}: bring the backup stacks up first (npm run tenant -- up ${tenant.name})`,
                    );
                }
                if (entry.country !== country) {
                    throw new Error(`backup stack for ${site} says its country is ${entry.country}, but redoubt:backupSites says ${country}; correct the stack config`);
                }
                return entry[key];
            });
        return {
            site,
            country,
            // Where the box is is not secret; the credentials are.
            host: pulumi.unsecret(field("host")),
            user: pulumi.unsecret(field("user")),
            sshPrivateKey: pulumi.secret(field("sshPrivateKey")),
            resticPassword: pulumi.secret(field("resticPassword")),
        };
    });
}

export function definePrimaryStack(config: PrimaryStackConfig, tenants: StackTenant[], options: StackProgramOptions = {}): Record<string, unknown> {
    const projectDir = options.projectDir ?? DEFAULT_PROJECT_DIR;
    const catalog = loadImageCatalog(path.resolve(projectDir, config.imageCatalog));
    const transformations = options.transformations;
    const provider = new docker.Provider("docker-host", { host: config.dockerHost }, { transformations });
    const connection = sshConnection(config);
    const retention = Math.min(...tenants.map((t) => t.tenant.logging.retentionDays), 30);
    // Each tenant's homeserver image: its own override, else the catalog's release under its rollout (canary first).
    const asOf = options.asOf ?? asOfDate(config);
    const homeserverImages = tenants.map(({ tenant }) => tenant.homeserver.image ?? homeserverReleaseFor(catalog, tenant.name, asOf).pinned);
    const catalogHomeserver = pinnedReference(catalog.homeserver);
    const host = new HostBaseline(
        "host",
        {
            connection,
            logRetentionDays: retention,
            catalog,
            extraImages: homeserverImages.filter((image) => image !== catalogHomeserver),
            provider,
        },
        { transformations },
    );
    // The edge first: tenants attach it to their ingress networks. Its routes come from the tenant files alone.
    const edge = new Edge(
        "edge",
        {
            image: host.images.edge,
            publicAddress: config.publicAddress,
            routes: tenants.flatMap(({ tenant, lifecycle }) => edgeRouteOf(tenant, lifecycle) ?? []),
            cgroupParent: host.edgeSlice,
            logRetentionDays: retention,
            connection,
        },
        { providers: { docker: provider }, dependsOn: [host], transformations },
    );
    const references = new Map(
        Object.entries(config.backupSites).map(([site, { stack, country }]) => [
            site,
            { country, reference: new pulumi.StackReference(`backup-${site}`, { name: stack }, { transformations }) },
        ]),
    );
    const acme = { email: config.acmeEmail, directory: config.acmeDirectory, directoryCa: config.acmeDirectoryCa };
    const targets = tenants.map(({ tenant }) => backupTargetsFor(tenant, references));
    const cells = tenants.map(
        ({ tenant, lifecycle }, i) =>
            new TenantCell(
                tenant.name,
                {
                    tenant,
                    lifecycle,
                    images: {
                        homeserver: homeserverImages[i] === catalogHomeserver ? host.images.homeserver : host.extraImages[homeserverImages[i]],
                        proxy: host.images.proxy,
                        backupAgent: host.images.backupAgent,
                        tor: host.images.tor,
                        wireguard: host.images.wireguard,
                        pushProxy: host.images.pushProxy,
                    },
                    connection,
                    country: config.country,
                    acme,
                    publicAddress: config.publicAddress,
                    registrationTerms: config.registrationTerms,
                    asOf,
                    backupTargets: targets[i],
                    edge,
                },
                { providers: { docker: provider }, dependsOn: [host], transformations },
            ),
    );
    return {
        site: config.site,
        tenants: Object.fromEntries(
            cells.map((cell, i) => [
                tenants[i].tenant.name,
                {
                    status: tenants[i].lifecycle.phase,
                    endpoint: cell.endpoint,
                    caCertificate: cell.caCertPem,
                    wireguardPublicKey: cell.vpn?.publicKey,
                    wireguardEndpoint: cell.vpn?.endpoint,
                    wireguardPeers: cell.vpn?.peers,
                    // VPN peers map the server name to this address (hosts file or their DNS).
                    vpnProxyAddress: cell.vpn?.proxyAddress,
                    registrationToken: cell.registrationToken,
                    registrationTokenRotatesOn: cell.registrationTokenRotatesOn,
                    exportArchive: cell.exportArchive,
                    // Where the tenant's restic repositories are; their passwords stay in the backup stacks.
                    backups: Object.fromEntries(targets[i].map((t) => [t.site, pulumi.all([t.user, t.host]).apply(([user, host]) => storageBoxRepository(user, host))])),
                },
            ]),
        ),
    };
}

/** The whole program: what `pulumi up` runs (stacks/index.ts) and what the offline plan runs under mocks. */
export function defineStack(options: StackProgramOptions = {}): Record<string, unknown> {
    const config = readStackConfig();
    const tenants = selectTenants(config, options);
    return config.role === "primary" ? definePrimaryStack(config, tenants, options) : defineBackupStack(config, tenants, options);
}
