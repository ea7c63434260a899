// A compliant tenant ("acme") as the stacks register it, for policy tests.
// Each test derives one violating variant from these.
import { renderCaddyConfig } from "../../components/render/caddy";
import { TUWUNEL_CONFIG_PATH, renderTuwunelConfig } from "../../components/render/tuwunel";
import { readStackConfigFile } from "../../lib/mock-run";
import { parseStackConfig } from "../../stacks/config";
import { PLANS } from "../../tenants/schema";
import type { Res } from "./helpers";
import { labels } from "./helpers";

export const DIGEST = "ghcr.io/matrix-construct/tuwunel:v1.9.0@sha256:" + "a".repeat(64);
export const CADDY_DIGEST = "docker.io/library/caddy:2.8@sha256:" + "b".repeat(64);

/** The sign-up terms of the shipped primary stack (stacks/Pulumi.iceland.yaml). */
export const REGISTRATION_TERMS = (() => {
    const config = parseStackConfig(readStackConfigFile("iceland"), "stacks/Pulumi.iceland.yaml");
    if (config.role !== "primary") throw new Error("stacks/Pulumi.iceland.yaml is not the primary stack");
    return config.registrationTerms;
})();

/** The homeserver config as the real renderer writes it. */
export const TUWUNEL_TOML = renderTuwunelConfig({
    serverName: "chat.acme.example",
    logLevel: "warn",
    registration: "token",
    mediaRetentionDays: PLANS.small.mediaRetentionDays,
    registrationTerms: REGISTRATION_TERMS,
});

/** The proxy config as the real renderer writes it. */
export const CADDY_JSON = JSON.stringify(
    renderCaddyConfig({
        hostnames: ["chat.acme.example"],
        upstream: "redoubt-acme-homeserver:8008",
        clientUrl: "https://chat.acme.example",
        storagePath: "/data/caddy",
        tls: { kind: "acme", email: "ops@acme.example" },
    }),
);

export function tenantLabels(tenant: string, extra: Record<string, string | undefined> = {}) {
    return { "redoubt.tenant": tenant, "redoubt.status": "active", ...extra };
}

export function container(tenant: string, role: string, over: Record<string, unknown> = {}, extraLabels: Record<string, string | undefined> = {}): Res {
    const nets: Record<string, string[]> = {
        homeserver: ["services"],
        proxy: ["services", "ingress"],
        "backup-agent": ["services", "egress"],
    };
    const props: Record<string, unknown> = {
        name: `redoubt-${tenant}-${role}`,
        image: role === "proxy" ? CADDY_DIGEST : DIGEST,
        user: "10001:10001",
        readOnly: true,
        capabilities: { drops: ["ALL"] },
        securityOpts: ["no-new-privileges:true"],
        memory: 1024,
        memorySwap: 1024,
        cpus: "1",
        cgroupParent: `redoubt-${tenant}.slice`,
        logDriver: "journald",
        labels: labels({ ...tenantLabels(tenant), "redoubt.role": role, "redoubt.log-retention-days": "14", ...extraLabels }),
        networksAdvanced: (nets[role] ?? ["services"]).map((p) => ({ name: `redoubt-${tenant}-${p}` })),
        mounts: role === "homeserver" ? [{ type: "volume", source: `redoubt-${tenant}-data`, target: "/var/lib/tuwunel" }] : [],
        ...(role === "homeserver" ? { healthcheck: { tests: ["CMD", "tuwunel", "--health-check"] } } : {}),
        ...(role === "backup-agent" ? { start: false } : {}),
        ...over,
    };
    if (role === "backup-agent") {
        props["labels"] = labels({
            ...tenantLabels(tenant),
            "redoubt.role": role,
            "redoubt.log-retention-days": "14",
            "redoubt.backup-sites": "helsinki,falkenstein",
            "redoubt.backup-countries": "FI,DE",
            ...extraLabels,
        });
    }
    return { type: "docker:index/container:Container", name: `${tenant}-${role}`, props };
}

/** What each role's config carrier writes in the compliant stack. */
const CARRIED: Record<string, { file: string; content: string }[]> = {
    homeserver: [{ file: TUWUNEL_CONFIG_PATH, content: TUWUNEL_TOML }],
    proxy: [{ file: "/etc/caddy/caddy.json", content: CADDY_JSON }],
};

/** The config carrier of a tenant's role: never started, no network, writable only for Docker's uploads. */
export function carrier(tenant: string, configures: string, over: Record<string, unknown> = {}): Res {
    const base = container(tenant, "config", {}, { "redoubt.configures": configures });
    return {
        ...base,
        name: `${tenant}-${configures}-config`,
        props: {
            ...base.props,
            name: `redoubt-${tenant}-${configures}-config`,
            readOnly: false,
            start: false,
            mustRun: false,
            restart: "no",
            networkMode: "none",
            networksAdvanced: [],
            uploads: CARRIED[configures] ?? [],
            ...over,
        },
    };
}

export function network(tenant: string, purpose: string, over: Record<string, unknown> = {}): Res {
    return {
        type: "docker:index/network:Network",
        name: `${tenant}-net-${purpose}`,
        props: {
            name: `redoubt-${tenant}-${purpose}`,
            internal: purpose !== "egress",
            ipamConfigs: [{ subnet: "10.128.0.0/28" }],
            labels: labels({ ...tenantLabels(tenant), "redoubt.network": purpose }),
            ...over,
        },
    };
}

export function volume(tenant: string, extra: Record<string, string | undefined> = {}, protect = true): Res {
    return {
        type: "docker:index/volume:Volume",
        name: `${tenant}-data`,
        protect,
        props: { name: `redoubt-${tenant}-data`, labels: labels({ ...tenantLabels(tenant), "redoubt.data": "true", "redoubt.country": "IS", ...extra }) },
    };
}

/** The URN policy fixtures give a resource (the stack helpers resolve parents by it). */
export const fixtureUrn = (type: string, name: string) => `urn:pulumi:test::redoubt::${type}::${name}`;

/** A tenant's EncryptedVolume component: its properties name the tenant, as the component registers them. */
export function encryptedVolume(tenant: string): Res {
    return { type: "redoubt:tenant:EncryptedVolume", name: `${tenant}-volume`, props: { tenant } };
}

/** The LUKS command of a tenant's EncryptedVolume (a child of it; `name` may be anything). */
export function luks(tenant: string, protect = true, name = `${tenant}-volume-luks`): Res {
    return {
        type: "command:remote:Command",
        name,
        protect,
        parent: fixtureUrn("redoubt:tenant:EncryptedVolume", `${tenant}-volume`),
        props: { create: "cryptsetup luksFormat --type luks2 /srv/redoubt/tenants/x/data.luks --key-file=-", stdin: "secret-key" },
    };
}

export function storageBox(tenant: string, country: string, site: string, over: Record<string, unknown> = {}, extra: Record<string, string> = {}, protect = true): Res {
    return {
        type: "hcloud:index/storageBox:StorageBox",
        name: `${tenant}-backup-${site}`,
        protect,
        props: {
            name: `redoubt-${tenant}-${site}`,
            location: country === "FI" ? "hel1" : "fsn1",
            deleteProtection: true,
            accessSettings: { reachableExternally: true, sshEnabled: true, sambaEnabled: false, webdavEnabled: false },
            labels: { "redoubt.tenant": tenant, "redoubt.country": country, "redoubt.backup-sites": site, "redoubt.status": "active", ...extra },
            ...over,
        },
    };
}

/** The compliant primary-site resources of one tenant. */
export function tenantStack(tenant: string): Res[] {
    return [
        network(tenant, "services"),
        network(tenant, "ingress"),
        network(tenant, "egress"),
        volume(tenant),
        encryptedVolume(tenant),
        luks(tenant),
        container(tenant, "homeserver"),
        carrier(tenant, "homeserver"),
        container(tenant, "proxy"),
        carrier(tenant, "proxy"),
        container(tenant, "backup-agent"),
    ];
}
