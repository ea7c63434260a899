// Promise: "One dedicated, isolated instance per customer; no shared tenant
// data, no cross-tenant access." Container hardening (CIS Docker §5 as
// inputs), label contract, network layout and cross-tenant references.
//
// Not visible in resources: sharing of secrets and certificates between
// tenants (random/tls resources carry no labels, and mock URNs keep only the
// direct parent's type); the host's firewall. A tenant's access mode is not a
// label: private-access-not-public infers tor/vpn mode from a tor or
// wireguard container.
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import {
    CONFIGURES_LABEL,
    CONTAINER_ROLES,
    DATA_LABEL,
    EDGE_PUBLIC_NETWORK,
    EGRESS_ROLES,
    NETWORK_LABEL,
    NETWORK_PURPOSES,
    ROLE_LABEL,
    T,
    TENANT_LABEL,
    asArray,
    asString,
    describe,
    isRecord,
    labelsOf,
    parseNetworkName,
    type Props,
} from "./common";

/** Capabilities a role may add back after dropping ALL. Anything else is refused. */
export const CAPABILITY_ALLOW_LIST: Record<string, string[]> = {
    wireguard: ["NET_ADMIN"],
};
/** Devices a role may use. */
export const DEVICE_ALLOW_LIST: Record<string, string[]> = {
    wireguard: ["/dev/net/tun"],
};
/**
 * Roles that may run as uid 0 inside their container. WireGuard needs
 * NET_ADMIN, and Docker grants added capabilities to uid 0 only (there are no
 * ambient capabilities for other users); it still drops every other
 * capability and runs with no-new-privileges.
 */
export const ROOT_USER_ALLOW_LIST = ["wireguard"];
/** Host paths a tenant's bind mounts may come from. */
export const tenantHostRoot = (tenant: string) => `/srv/redoubt/tenants/${tenant}/`;

function isRootUser(user: string): boolean {
    const u = user.split(":")[0].trim();
    return u === "" || u === "0" || u === "root";
}

/**
 * A config carrier may have a writable root filesystem (Docker extracts
 * uploads only into one) because nothing ever runs in it: never started,
 * never restarted, no network, no published port.
 */
function configCarrierProblems(where: string, props: Props): string[] {
    const out: string[] = [];
    if (props["start"] !== false) out.push(`The config carrier ${where} would be started; set start: false (a carrier only holds uploads and never runs).`);
    if (props["mustRun"] !== false) out.push(`The config carrier ${where} must not be kept running; set mustRun: false.`);
    if (props["restart"] !== "no")
        out.push(`The config carrier ${where} has restart ${JSON.stringify(props["restart"] ?? "(default)")}; set restart: "no" so Docker never starts it.`);
    if (props["networkMode"] !== "none" || asArray(props["networksAdvanced"]).length > 0) {
        out.push(`The config carrier ${where} is attached to a network; set networkMode: "none" and no networksAdvanced.`);
    }
    if (asArray(props["ports"]).length > 0) out.push(`The config carrier ${where} publishes ports; remove them.`);
    return out;
}

/** Problems with one container's inputs, as full sentences. */
export function containerHardeningProblems(name: string, props: Props): string[] {
    const out: string[] = [];
    const where = describe(T.container, name);
    const labels = labelsOf(props);
    const role = labels[ROLE_LABEL] ?? "";
    const tenant = labels[TENANT_LABEL];

    const user = asString(props["user"]);
    if ((user === undefined || isRootUser(user)) && !ROOT_USER_ALLOW_LIST.includes(role)) {
        out.push(`The ${where} runs as ${user ? `"${user}"` : "root (no user set)"}; set user to a non-root uid:gid such as "10001:10001".`);
    }
    if (role === "config") out.push(...configCarrierProblems(where, props));
    else if (props["readOnly"] !== true) out.push(`The ${where} has a writable root filesystem; set readOnly: true and mount a tmpfs for scratch space.`);
    if (props["privileged"] === true) out.push(`The ${where} is privileged; remove privileged: true.`);
    for (const key of ["networkMode", "pidMode", "ipcMode", "usernsMode", "utsMode"]) {
        if (props[key] === "host") out.push(`The ${where} shares the host's ${key.replace("Mode", "")} namespace; remove ${key}: "host".`);
    }

    const caps = isRecord(props["capabilities"]) ? props["capabilities"] : {};
    const drops = asArray(caps["drops"]).map(String);
    if (!drops.includes("ALL")) out.push(`The ${where} does not drop all capabilities; set capabilities.drops to ["ALL"].`);
    const allowed = CAPABILITY_ALLOW_LIST[role] ?? [];
    for (const add of asArray(caps["adds"]).map(String)) {
        const cap = add.replace(/^CAP_/, "");
        if (!allowed.includes(cap)) {
            out.push(
                `The ${where} (role ${role || "unknown"}) adds capability ${add}; remove it from capabilities.adds${allowed.length ? ` (this role may add only ${allowed.join(", ")})` : ""}.`,
            );
        }
    }

    const secOpts = asArray(props["securityOpts"]).map(String);
    if (!secOpts.some((o) => /^no-new-privileges(:true|=true)?$/.test(o))) {
        out.push(`The ${where} can gain privileges; add "no-new-privileges:true" to securityOpts.`);
    }
    for (const o of secOpts) {
        if (/unconfined/.test(o)) out.push(`The ${where} has securityOpts "${o}"; remove it so the default AppArmor and seccomp profiles apply.`);
    }

    const devAllowed = DEVICE_ALLOW_LIST[role] ?? [];
    for (const d of asArray(props["devices"])) {
        const hostPath = isRecord(d) ? String(d["hostPath"] ?? "") : String(d);
        if (!devAllowed.includes(hostPath)) out.push(`The ${where} (role ${role || "unknown"}) maps host device ${hostPath}; remove it from devices.`);
    }

    const checkHostPath = (source: string, field: string) => {
        if (source.includes("docker.sock")) {
            out.push(`The ${where} mounts the Docker socket (${source}) through ${field}, which gives root on the host; remove that mount.`);
        } else if (!tenant) {
            out.push(`The ${where} has no tenant but bind-mounts ${source} through ${field}; shared containers may not bind-mount host paths: remove it.`);
        } else if (!source.startsWith(tenantHostRoot(tenant))) {
            out.push(`The ${where} bind-mounts ${source} through ${field}; bind mounts must come from ${tenantHostRoot(tenant)}: move the path there or use a volume.`);
        }
    };
    for (const m of asArray(props["mounts"]).filter(isRecord)) {
        const type = String(m["type"] ?? "volume");
        const source = String(m["source"] ?? "");
        if (type === "bind") checkHostPath(source, "mounts");
        const bind = isRecord(m["bindOptions"]) ? m["bindOptions"] : {};
        if (/shared/.test(String(bind["propagation"] ?? ""))) out.push(`The ${where} mounts ${source} with shared propagation; use the default (rprivate).`);
    }
    for (const v of asArray(props["volumes"]).filter(isRecord)) {
        if (typeof v["hostPath"] === "string") checkHostPath(v["hostPath"], "volumes");
    }

    if (role === "homeserver" && !isRecord(props["healthcheck"])) {
        out.push(`The homeserver ${where} has no healthcheck; set healthcheck.tests to ["CMD", "tuwunel", "--health-check"].`);
    }
    return out;
}

export const containerHardening: ResourceValidationPolicy = {
    name: "container-hardening",
    description:
        "Containers run non-root, read-only, with all capabilities dropped (explicit allow list per role), no-new-privileges, no host namespaces, no Docker socket and bind mounts only from the tenant's own directory.",
    validateResource: (args, report) => {
        if (args.type !== T.container) return;
        for (const p of containerHardeningProblems(args.name, args.props)) report(p);
    },
};

export const tenantLabels: ResourceValidationPolicy = {
    name: "tenant-labels",
    description:
        "Every Docker container, network and volume says whose it is (redoubt.tenant) and what it is for (redoubt.role / redoubt.network); only the shared edge has no tenant.",
    validateResource: (args, report) => {
        if (args.type !== T.container && args.type !== T.network && args.type !== T.volume) return;
        const labels = labelsOf(args.props);
        const where = describe(args.type, args.name);
        const tenant = labels[TENANT_LABEL];
        if (args.type === T.container) {
            const role = labels[ROLE_LABEL];
            if (!role || !(CONTAINER_ROLES as readonly string[]).includes(role)) {
                report(`The ${where} has ${ROLE_LABEL}=${JSON.stringify(role ?? null)}; label it with one of ${CONTAINER_ROLES.join(", ")}.`);
            }
            const shared = role === "edge" || (role === "config" && labels[CONFIGURES_LABEL] === "edge");
            if (!tenant && !shared) report(`The ${where} has no ${TENANT_LABEL} label; label it with the tenant that owns it (only the edge and its config carrier are shared).`);
            if (tenant && role === "edge") report(`The edge ${where} carries ${TENANT_LABEL}=${tenant}; the edge is shared, remove the tenant label.`);
        } else if (args.type === T.network) {
            const purpose = labels[NETWORK_LABEL];
            if (!purpose || !(NETWORK_PURPOSES as readonly string[]).includes(purpose)) {
                report(`The ${where} has ${NETWORK_LABEL}=${JSON.stringify(purpose ?? null)}; label it with one of ${NETWORK_PURPOSES.join(", ")}.`);
            }
            if (!tenant && purpose !== "edge-public")
                report(`The ${where} has no ${TENANT_LABEL} label; label it with the tenant that owns it (only ${EDGE_PUBLIC_NETWORK} is shared).`);
        } else if (!tenant && labels[ROLE_LABEL] !== "edge") {
            report(
                `The ${where} has no ${TENANT_LABEL} label; every volume belongs to exactly one tenant (only the edge's config volume, labelled ${ROLE_LABEL}=edge, is shared): add the label.`,
            );
        } else if (!tenant && labels[DATA_LABEL] === "true") {
            report(`The ${where} is the edge's but is labelled as tenant data; the edge holds no tenant data: remove ${DATA_LABEL}.`);
        }
    },
};

export const networkConfig: ResourceValidationPolicy = {
    name: "network-config",
    description: "Tenant networks are named redoubt-<tenant>-<purpose> consistently with their labels; services and ingress networks are internal (no route out).",
    validateResource: (args, report) => {
        if (args.type !== T.network) return;
        const labels = labelsOf(args.props);
        const name = String(args.props["name"] ?? "");
        const where = describe(args.type, args.name);
        const purpose = labels[NETWORK_LABEL];
        const tenant = labels[TENANT_LABEL];
        const expected = purpose === "edge-public" ? EDGE_PUBLIC_NETWORK : `redoubt-${tenant}-${purpose}`;
        if (name !== expected) report(`The ${where} is named "${name}"; name it "${expected}" to match its ${TENANT_LABEL} and ${NETWORK_LABEL} labels.`);
        if ((purpose === "services" || purpose === "ingress") && args.props["internal"] !== true) {
            report(`The ${purpose} ${where} is not internal, so its containers can reach the internet; set internal: true.`);
        }
        if (args.props["driver"] !== undefined && args.props["driver"] !== "bridge") {
            report(`The ${where} uses driver ${JSON.stringify(args.props["driver"])}; use the default bridge driver.`);
        }
    },
};

/** Which network purposes a role may join. The edge also joins every tenant's ingress network. */
export function allowedPurposes(role: string): string[] {
    // A public tenant's proxy reaches its ACME CA through egress; tor and vpn proxies have no ingress and need none.
    const base = role === "edge" ? ["edge-public", "ingress"] : role === "proxy" ? ["services", "ingress", "egress"] : ["services"];
    if (EGRESS_ROLES.includes(role)) base.push("egress");
    return base;
}

export const networkIsolation: StackValidationPolicy = {
    name: "network-isolation",
    description:
        "Containers join only their own tenant's networks, and only the purposes their role needs (ingress: proxy and edge; egress: backup agent, tor, push proxy, wireguard, and a public proxy for its ACME CA); data volumes are mounted only by their own tenant.",
    validateStack: (args, report) => {
        // network name or id -> {tenant, purpose}
        const networks = new Map<string, { tenant?: string; purpose?: string }>();
        for (const r of args.resources) {
            if (r.type !== T.network) continue;
            const labels = labelsOf(r.props);
            const info = { tenant: labels[TENANT_LABEL], purpose: labels[NETWORK_LABEL] };
            for (const key of [r.props["name"], r.props["id"], r.name]) if (typeof key === "string" && key) networks.set(key, info);
        }
        const volumes = new Map<string, string | undefined>();
        for (const r of args.resources) {
            if (r.type !== T.volume) continue;
            const tenant = labelsOf(r.props)[TENANT_LABEL];
            for (const key of [r.props["name"], r.props["id"], r.name]) if (typeof key === "string" && key) volumes.set(key, tenant);
        }
        for (const r of args.resources) {
            if (r.type !== T.edgeAttachment) continue;
            const ref = String(r.props["network"] ?? "");
            const net = networks.get(ref);
            if (!net || net.purpose !== "ingress") {
                report(
                    `The edge attachment ${JSON.stringify(r.name)} joins the edge to "${ref}", which is ${net ? `a ${net.purpose ?? "unlabelled"} network` : "not a network of this stack"}; the edge may join only tenants' ingress networks.`,
                    r.urn,
                );
            }
        }
        for (const r of args.resources) {
            if (r.type !== T.container) continue;
            const labels = labelsOf(r.props);
            const role = labels[ROLE_LABEL] ?? "";
            const tenant = labels[TENANT_LABEL];
            const where = describe(r.type, r.name);
            const allowed = allowedPurposes(role);
            for (const n of asArray(r.props["networksAdvanced"]).filter(isRecord)) {
                const ref = String(n["name"] ?? "");
                const net = networks.get(ref) ?? parseNetworkName(ref);
                if (!net) {
                    report(`The ${where} joins network "${ref}", which is not a Redoubt network; attach it only to networks named redoubt-<tenant>-<purpose>.`, r.urn);
                    continue;
                }
                const purpose = net.purpose ?? "";
                if (role !== "edge" && net.tenant !== tenant) {
                    report(
                        `The ${where} of tenant ${tenant ?? "(none)"} joins network "${ref}" of ${net.tenant ? `tenant ${net.tenant}` : "the shared edge"}; attach it only to its own tenant's networks.`,
                        r.urn,
                    );
                } else if (!allowed.includes(purpose)) {
                    report(
                        `The ${where} (role ${role || "unknown"}) joins the ${purpose} network "${ref}"; a ${role || "container without a role"} may join only ${allowed.join(", ")} networks: remove it from networksAdvanced.`,
                        r.urn,
                    );
                }
            }
            const carrier = role === "config" && r.props["networkMode"] === "none";
            if (!carrier && r.props["networkMode"] !== undefined && r.props["networkMode"] !== "bridge" && !asArray(r.props["networksAdvanced"]).length) {
                report(`The ${where} uses networkMode ${JSON.stringify(r.props["networkMode"])}; attach it through networksAdvanced to its tenant's networks instead.`, r.urn);
            }
            for (const m of asArray(r.props["mounts"]).filter(isRecord)) {
                if ((m["type"] ?? "volume") !== "volume") continue;
                const source = String(m["source"] ?? "");
                if (!volumes.has(source)) continue;
                const owner = volumes.get(source);
                if (owner !== tenant) {
                    report(`The ${where} of tenant ${tenant ?? "(none)"} mounts volume "${source}" of tenant ${owner ?? "(none)"}; mount only the tenant's own volumes.`, r.urn);
                }
            }
        }
    },
};

/**
 * Promise: "Optional Tor-only or VPN-only access: nothing of the tenant is
 * reachable from the public internet." A tenant with a tor or wireguard
 * container is taken to be in that mode (the access mode itself is not a
 * label): none of its containers joins an ingress network, and the edge
 * joins none of its networks.
 */
export const privateAccessNotPublic: StackValidationPolicy = {
    name: "private-access-not-public",
    description: "Tor-only and VPN-only tenants (those with a tor or wireguard container) have nothing on an ingress network and nothing wired to the public edge.",
    validateStack: (args, report) => {
        const privateTenants = new Map<string, string>();
        for (const r of args.resources) {
            if (r.type !== T.container) continue;
            const labels = labelsOf(r.props);
            const role = labels[ROLE_LABEL];
            if ((role === "tor" || role === "wireguard") && labels[TENANT_LABEL]) privateTenants.set(labels[TENANT_LABEL], role === "tor" ? "Tor-only" : "VPN-only");
        }
        if (privateTenants.size === 0) return;
        const networks = new Map<string, { tenant?: string; purpose?: string }>();
        for (const r of args.resources) {
            if (r.type !== T.network) continue;
            const labels = labelsOf(r.props);
            for (const key of [r.props["name"], r.props["id"], r.name])
                if (typeof key === "string" && key) networks.set(key, { tenant: labels[TENANT_LABEL], purpose: labels[NETWORK_LABEL] });
        }
        for (const r of args.resources) {
            if (r.type !== T.edgeAttachment) continue;
            const ref = String(r.props["network"] ?? "");
            const net = networks.get(ref);
            const mode = net?.tenant ? privateTenants.get(net.tenant) : undefined;
            if (mode)
                report(
                    `The edge attachment ${JSON.stringify(r.name)} joins the edge to network "${ref}" of ${mode} tenant ${net?.tenant}; remove it, nothing of that tenant may be reachable from the public internet.`,
                    r.urn,
                );
        }
        for (const r of args.resources) {
            if (r.type !== T.container) continue;
            const labels = labelsOf(r.props);
            const role = labels[ROLE_LABEL];
            for (const n of asArray(r.props["networksAdvanced"]).filter(isRecord)) {
                const ref = String(n["name"] ?? "");
                const net = networks.get(ref) ?? parseNetworkName(ref);
                const mode = net?.tenant ? privateTenants.get(net.tenant) : undefined;
                if (!net || !mode) continue;
                if (role === "edge") {
                    report(
                        `The edge ${describe(r.type, r.name)} joins network "${ref}" of ${mode} tenant ${net.tenant}; remove it, nothing of that tenant may be reachable from the public internet.`,
                        r.urn,
                    );
                } else if (net.purpose === "ingress") {
                    report(
                        `The ${describe(r.type, r.name)} of ${mode} tenant ${net.tenant} joins the ingress network "${ref}"; remove it, a ${mode} tenant is reached only through its ${mode === "Tor-only" ? "onion service" : "WireGuard endpoint"}.`,
                        r.urn,
                    );
                }
            }
        }
    },
};

export const isolationPolicies = [containerHardening, tenantLabels, networkConfig, networkIsolation, privateAccessNotPublic];
