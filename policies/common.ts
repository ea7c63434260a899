// Helpers shared by the rule modules: label reading, config with defaults,
// resource type tokens. Nothing here starts a server or prints.
import type { PolicyResource, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy, StackValidationArgs } from "@pulumi/policy";
import { parse as parseToml } from "smol-toml";
// The label contract, copied from components/labels.ts so that the pack is
// self-contained (`pulumi policy publish` ships only this directory).
// test/policy/common.test.ts fails if the two copies drift apart.
export const TENANT_LABEL = "redoubt.tenant";
export const ROLE_LABEL = "redoubt.role";
export const NETWORK_LABEL = "redoubt.network";
export const LOG_RETENTION_LABEL = "redoubt.log-retention-days";
export const DATA_LABEL = "redoubt.data";
export const STATUS_LABEL = "redoubt.status";
export const DELETE_BY_LABEL = "redoubt.delete-by";
export const COUNTRY_LABEL = "redoubt.country";
export const BACKUP_SITES_LABEL = "redoubt.backup-sites";
export const BACKUP_COUNTRIES_LABEL = "redoubt.backup-countries";
export const CONFIGURES_LABEL = "redoubt.configures";
export const CONFIG_REVISION_LABEL = "redoubt.config-revision";
export const CONTAINER_ROLES = ["homeserver", "proxy", "backup-agent", "tor", "wireguard", "push-proxy", "edge", "config"] as const;
export const EGRESS_ROLES: readonly string[] = ["backup-agent", "tor", "push-proxy", "wireguard"];
export const NETWORK_PURPOSES = ["services", "ingress", "egress", "edge-public"] as const;

export const T = {
    container: "docker:index/container:Container",
    network: "docker:index/network:Network",
    volume: "docker:index/volume:Volume",
    remoteImage: "docker:index/remoteImage:RemoteImage",
    command: "command:remote:Command",
    storageBox: "hcloud:index/storageBox:StorageBox",
    randomPassword: "random:index/randomPassword:RandomPassword",
    randomString: "random:index/randomString:RandomString",
    privateKey: "tls:index/privateKey:PrivateKey",
    selfSignedCert: "tls:index/selfSignedCert:SelfSignedCert",
    locallySignedCert: "tls:index/locallySignedCert:LocallySignedCert",
    tenantCell: "redoubt:tenant:TenantCell",
    edgeAttachment: "redoubt:edge:EdgeAttachment",
    encryptedVolume: "redoubt:tenant:EncryptedVolume",
} as const;

/** Hetzner Storage Box location → country (copied from stacks/config.ts; the drift test compares them). */
export const STORAGE_BOX_LOCATIONS: Readonly<Record<string, string>> = { fsn1: "DE", nbg1: "DE", hel1: "FI" };

/** Where the homeserver and proxy configurations are uploaded inside their containers. */
export const TUWUNEL_CONFIG_PATH = "/etc/tuwunel/tuwunel.toml";
export const CADDY_CONFIG_PATH = "/etc/caddy/caddy.json";
/** The only paths a tenant proxy passes to its homeserver (copied from components/render/caddy.ts). */
export const PROXIED_PATHS: readonly string[] = ["/_matrix/client/*", "/_matrix/media/*"];

export type Props = Record<string, unknown>;

export function isRecord(v: unknown): v is Record<string, unknown> {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function asArray(v: unknown): unknown[] {
    return Array.isArray(v) ? v : [];
}

export function asString(v: unknown): string | undefined {
    return typeof v === "string" ? v : undefined;
}

/**
 * Labels of a resource as a map. Docker resources carry `[{label, value}]`,
 * hcloud resources a plain map; both are accepted.
 */
export function labelsOf(props: Props): Record<string, string> {
    const raw = props["labels"];
    const out: Record<string, string> = {};
    if (Array.isArray(raw)) {
        for (const entry of raw) {
            // No policy reads the config revision (a carrier's id, unknown in a first preview); reading it would make every policy advisory there.
            if (isRecord(entry) && typeof entry["label"] === "string" && entry["label"] !== CONFIG_REVISION_LABEL) out[entry["label"]] = String(entry["value"] ?? "");
        }
    } else if (isRecord(raw)) {
        for (const [k, v] of Object.entries(raw)) if (v !== undefined && v !== null) out[k] = String(v);
    }
    return out;
}

/** A policy's config: the schema defaults, overridden by what the engine passed. */
export function configOf<C extends object>(args: { getConfig: <X extends object>() => X }, defaults: C): C {
    let given: Partial<C>;
    try {
        given = args.getConfig<Partial<C>>() ?? {};
    } catch {
        given = {};
    }
    const merged: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
    for (const [k, v] of Object.entries(given)) if (v !== undefined && v !== null) merged[k] = v;
    return merged as C;
}

/** Copied from stacks/config.ts (AS_OF_ENV); the drift test compares them. */
export const AS_OF_ENV = "REDOUBT_AS_OF";

/**
 * The day a check is made for: the policy config's asOf (`--policy-pack-config`,
 * given for one run), else REDOUBT_AS_OF (the CLI starts the analyzer with its
 * own environment, as it starts the program), else today (UTC). Never the
 * stack's `redoubt:asOf`: a date left in the stack file must not stop the
 * deletion clock. A malformed explicit date is not silently replaced by today.
 */
export function asOfDate(asOf: string | undefined, now: Date = new Date(), env: NodeJS.ProcessEnv = process.env): string {
    if (asOf) {
        if (!isIsoDate(asOf)) throw new Error(`The policy config's asOf is '${asOf}'; give a date written YYYY-MM-DD, or leave it empty for today.`);
        return asOf;
    }
    const fromEnv = env[AS_OF_ENV];
    if (fromEnv) {
        if (!isIsoDate(fromEnv)) throw new Error(`${AS_OF_ENV} is '${fromEnv}'; set a date written YYYY-MM-DD, or unset it for today.`);
        return fromEnv;
    }
    return now.toISOString().slice(0, 10);
}

export function isIsoDate(s: string | undefined): s is string {
    return !!s && /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`));
}

/** Whole days from `from` to `to` (both YYYY-MM-DD). */
export function daysBetween(from: string, to: string): number {
    return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/**
 * What a container input `uploads` holds, by path. The contents are read only
 * when asked for: in a preview a file the policy does not read (a generated
 * secret) may be unknown, and reading an unknown value makes the policy advisory.
 */
export function uploadsOf(props: Props): Map<string, { content(): string | undefined; contentBase64(): string | undefined }> {
    const out = new Map<string, { content(): string | undefined; contentBase64(): string | undefined }>();
    for (const u of asArray(props["uploads"])) {
        if (!isRecord(u) || typeof u["file"] !== "string") continue;
        out.set(u["file"], { content: () => asString(u["content"]), contentBase64: () => asString(u["contentBase64"]) });
    }
    return out;
}

export function uploadText(props: Props, file: string): string | undefined {
    const u = uploadsOf(props).get(file);
    if (!u) return undefined;
    const content = u.content();
    if (content !== undefined) return content;
    const base64 = u.contentBase64();
    if (base64 !== undefined) return Buffer.from(base64, "base64").toString("utf8");
    return undefined;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

export function parseTomlText(text: string): Parsed<Record<string, unknown>> {
    try {
        return { ok: true, value: parseToml(text) };
    } catch (e) {
        return { ok: false, error: e instanceof Error ? e.message.split("\n")[0] : String(e) };
    }
}

export function parseJsonText(text: string): Parsed<unknown> {
    try {
        return { ok: true, value: JSON.parse(text) };
    } catch (e) {
        return { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
}

/** The `[global]` table of the homeserver's uploaded tuwunel.toml, or why it cannot be read. */
export function tuwunelGlobal(props: Props): Parsed<Record<string, unknown>> | undefined {
    const text = uploadText(props, TUWUNEL_CONFIG_PATH);
    if (text === undefined) return undefined;
    const parsed = parseTomlText(text);
    if (!parsed.ok) return parsed;
    const g = parsed.value["global"];
    if (!isRecord(g)) return { ok: false, error: "it has no [global] table" };
    return { ok: true, value: g };
}

/**
 * The `[global]` table of the tuwunel.toml a homeserver's config carrier
 * uploads, for a policy that checks it: undefined (after reporting why) when it
 * is missing or unreadable. `uploadIt` finishes the sentence "upload the
 * rendered tuwunel.toml there …".
 */
export function homeserverConfig(props: Props, where: string, report: ReportViolation, uploadIt: string): Record<string, unknown> | undefined {
    const g = tuwunelGlobal(props);
    if (g === undefined) {
        report(`The homeserver's config carrier ${where} writes no ${TUWUNEL_CONFIG_PATH}; upload the rendered tuwunel.toml there ${uploadIt}.`);
        return undefined;
    }
    if (!g.ok) {
        report(`The homeserver's config carrier ${where} writes a tuwunel.toml that cannot be read (${g.error}); render valid TOML with a [global] table.`);
        return undefined;
    }
    return g.value;
}

/**
 * A policy that judges the `[global]` table of every homeserver's tuwunel.toml:
 * `problemsOf` returns what is wrong as sentence middles, each reported with
 * the carrier it came from. `uploadIt` is as for {@link homeserverConfig}.
 */
export function homeserverConfigPolicy(name: string, description: string, uploadIt: string, problemsOf: (global: Record<string, unknown>) => string[]): ResourceValidationPolicy {
    return {
        name,
        description,
        validateResource: (args, report) => {
            if (args.type !== T.container || configuredRoleOf(args.props) !== "homeserver") return;
            const where = describe(args.type, args.name);
            const g = homeserverConfig(args.props, where, report, uploadIt);
            if (g === undefined) return;
            for (const problem of problemsOf(g)) report(`In the tuwunel.toml written by the homeserver's config carrier ${where}, ${problem}.`);
        },
    };
}

/**
 * The Caddy JSON config a proxy's config carrier uploads, for a policy that
 * checks it: undefined (after reporting why) when it is missing or not JSON.
 * `checking` finishes the sentence "upload the rendered Caddy JSON there so …".
 */
export function proxyCaddyConfig(props: Props, where: string, report: ReportViolation, checking: string): { value: unknown } | undefined {
    const text = uploadText(props, CADDY_CONFIG_PATH);
    if (text === undefined) {
        report(`The proxy's config carrier ${where} writes no Caddy config to ${CADDY_CONFIG_PATH}; upload the rendered Caddy JSON there so ${checking}.`);
        return undefined;
    }
    const parsed = parseJsonText(text);
    if (!parsed.ok) {
        report(`The proxy's config carrier ${where} writes a Caddy config at ${CADDY_CONFIG_PATH} that is not valid JSON (${parsed.error}); render it with JSON.stringify.`);
        return undefined;
    }
    return { value: parsed.value };
}

/**
 * The role whose configuration a container's uploads are: a config carrier's
 * CONFIGURES_LABEL. Service containers carry no uploads (Docker cannot write
 * into a read-only container); their carrier does (components/configCarrier.ts).
 */
export function configuredRoleOf(props: Props): string | undefined {
    const labels = labelsOf(props);
    return labels[ROLE_LABEL] === "config" ? labels[CONFIGURES_LABEL] : undefined;
}

/** The role label of a container, if it names a known role. */
export function roleOf(props: Props): string | undefined {
    return labelsOf(props)[ROLE_LABEL];
}

export function tenantOf(props: Props): string | undefined {
    return labelsOf(props)[TENANT_LABEL];
}

/** A readable name for messages: `container "acme-homeserver"`. */
export function describe(type: string, name: string): string {
    const short = type.split(":").pop() ?? type;
    return `${short.charAt(0).toLowerCase()}${short.slice(1)} "${name}"`;
}

/** The network name shared by every tenant's edge router. */
export const EDGE_PUBLIC_NETWORK = "redoubt-edge-public";

/** Parses `redoubt-<tenant>-<purpose>` (and `redoubt-edge-public`). */
export function parseNetworkName(name: string): { tenant?: string; purpose: string } | undefined {
    if (name === EDGE_PUBLIC_NETWORK) return { purpose: "edge-public" };
    const m = /^redoubt-(.+)-(services|ingress|egress)$/.exec(name);
    if (!m) return undefined;
    return { tenant: m[1], purpose: m[2] };
}

/** A tenant's lifecycle status by tenant, collected from every labelled resource in the stack. */
export function tenantStatuses(resources: PolicyResource[]): Map<string, { status?: string; deleteBy?: string }> {
    const out = new Map<string, { status?: string; deleteBy?: string }>();
    for (const r of resources) {
        const labels = labelsOf(r.props);
        const tenant = labels[TENANT_LABEL];
        if (!tenant) continue;
        const seen = out.get(tenant) ?? {};
        seen.status ??= labels[STATUS_LABEL];
        seen.deleteBy ??= labels[DELETE_BY_LABEL];
        out.set(tenant, seen);
    }
    return out;
}

/**
 * The tenant whose LUKS2 container a command holds: the command of an
 * EncryptedVolume component, whose own properties name the tenant. Read from
 * types and structure, never from names (a renamed child is still found).
 */
export function luksTenant(r: { type: string; parent?: { type: string; props: Props } }): string | undefined {
    if (r.type !== T.command || r.parent?.type !== T.encryptedVolume) return undefined;
    return asString(r.parent.props["tenant"]);
}

/** Collects violations in tests (and anywhere a policy is run by hand). */
export function collector(): { report: ReportViolation; messages: { message: string; urn?: string }[] } {
    const messages: { message: string; urn?: string }[] = [];
    return { report: (message: string, urn?: string) => messages.push({ message, urn }), messages };
}

export type { PolicyResource, ReportViolation, ResourceValidationArgs, StackValidationArgs };

/** Monitoring's allow-lists, copied from components/render/monitoring.ts (test/policy/monitoring.test.ts compares them). */
export const MONITORING_TYPE = "redoubt:host:Monitoring";
export const MONITORING_LABELS: readonly string[] = ["tenant", "role", "site", "kind"];
export const NODE_EXPORTER_COLLECTORS: readonly string[] = ["cpu", "meminfo", "filesystem", "loadavg", "diskstats", "pressure", "textfile"];
