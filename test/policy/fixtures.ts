// A compliant tenant ("acme") as the stacks register it, for policy tests.
// Each test derives one violating variant from these.
import type { Res } from "./helpers";
import { labels } from "./helpers";

export const DIGEST = "ghcr.io/matrix-construct/tuwunel:v1.9.0@sha256:" + "a".repeat(64);
export const CADDY_DIGEST = "docker.io/library/caddy:2.8@sha256:" + "b".repeat(64);

export const TUWUNEL_TOML = `[global]
server_name = "chat.acme.example"
address = ["0.0.0.0"]
port = 8008
allow_federation = false
federate_created_rooms = false
trusted_servers = []
allow_public_room_directory_over_federation = false
allow_registration = true
registration_token_file = "/run/secrets/registration-token"
log = "warn"
log_colors = false
ip_source = "connect_info"
`;

export const CADDY_JSON = JSON.stringify({
    apps: {
        http: {
            servers: {
                tenant: {
                    listen: [":443"],
                    routes: [
                        {
                            handle: [
                                { handler: "headers", response: { set: { "Strict-Transport-Security": ["max-age=31536000"] } } },
                                { handler: "reverse_proxy", upstreams: [{ dial: "homeserver:8008" }] },
                            ],
                        },
                    ],
                    tls_connection_policies: [{ protocol_min: "tls1.2" }],
                },
            },
        },
    },
});

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
        uploads:
            role === "homeserver"
                ? [{ file: "/etc/tuwunel/tuwunel.toml", content: TUWUNEL_TOML }]
                : role === "proxy"
                  ? [{ file: "/etc/caddy/caddy.json", content: CADDY_JSON }]
                  : [],
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

export function luks(tenant: string, protect = true): Res {
    return {
        type: "command:remote:Command",
        name: `${tenant}-volume-luks`,
        protect,
        parent: `urn:pulumi:test::redoubt::redoubt:tenant:EncryptedVolume::${tenant}-volume`,
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
        luks(tenant),
        container(tenant, "homeserver"),
        container(tenant, "proxy"),
        container(tenant, "backup-agent"),
    ];
}
