// Stand-in for @pulumi/docker 5.2.0, a Terraform bridge over
// kreuzwerker/terraform-provider-docker, talking to a real Docker Engine
// through dockerode. It follows the upstream provider at the commit
// pulumi-docker pins (upstream submodule 5074970c, v4.5.0):
//   internal/provider/resource_docker_container.go        (container schema)
//   internal/provider/resource_docker_container_funcs.go  (container create/read/update/delete)
//   internal/provider/resource_docker_container_structures.go
//   internal/provider/resource_docker_network.go, resource_docker_network_funcs.go
//   internal/provider/resource_docker_volume.go
//   internal/provider/resource_docker_image.go, resource_docker_image_funcs.go (docker_image = RemoteImage)
//   internal/provider/data_source_docker_image.go          (determineRepoDigest)
// and pulumi-docker provider/resources.go for the Pulumi names (tokens are
// computed with tfbridgetokens.SingleModule; lists and sets get plural names:
// upload → uploads, entrypoint → entrypoints, env → envs, …).
//
// Every input a resource may carry is in a table below (derived from the
// schema): what a change does (replace = ForceNew; update = handled by the
// provider's Update; state = neither, the new value only lands in the state),
// whether the attribute is Optional+Computed (removing it from the program
// keeps the old state, no diff), its schema Default, and whether this
// stand-in can apply it. Create refuses any input it cannot apply faithfully,
// and any input the schema does not know.
import { readFileSync } from "node:fs";
import type Docker from "dockerode";
import { PartialCreateError, sameValue, type CreateResult, type DiffResult, type LiveProvider, type Properties, type ProviderContext } from "./provider";

export const DOCKER_CONTAINER = "docker:index/container:Container";
export const DOCKER_NETWORK = "docker:index/network:Network";
export const DOCKER_VOLUME = "docker:index/volume:Volume";
export const DOCKER_REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage";

/** What a change of an input does with the real provider. */
export type ChangeKind = "replace" | "update" | "state";

type ValueKind = "string" | "int" | "bool" | "list" | "set" | "map" | "block";

export interface AttributeRule {
    /** replace: ForceNew; update: the provider's Update acts on it; state: only the state changes. */
    change: ChangeKind;
    kind: ValueKind;
    /** Optional+Computed: absent from the program means "keep what the state has" (no diff). */
    computed?: boolean;
    /** The schema's Default, applied when the program leaves it out. */
    default?: unknown;
    /** A DiffSuppressFunc that treats a new empty value as no change (user, working_dir). */
    emptyKeepsOld?: boolean;
    /** Compared without regard to order (TypeSet, and `ports` through its DiffSuppressFunc). */
    unordered?: boolean;
    /** Nested TypeSet fields of each element (compared without regard to order). */
    nestedSets?: readonly string[];
    /** false: this stand-in refuses it (unless unset or at its default). */
    supported?: boolean;
}

type Rules = Record<string, AttributeRule>;

const R = (kind: ValueKind, extra: Partial<AttributeRule> = {}): AttributeRule => ({ change: "replace", kind, ...extra });
const U = (kind: ValueKind, extra: Partial<AttributeRule> = {}): AttributeRule => ({ change: "update", kind, ...extra });
const S = (kind: ValueKind, extra: Partial<AttributeRule> = {}): AttributeRule => ({ change: "state", kind, ...extra });

/**
 * docker_container, from resource_docker_container.go (5074970c) resourceDockerContainer().Schema.
 * update: the attributes resourceDockerContainerUpdate acts on (must_run false→true starts the
 * container; restart, max_retry_count, cpu_shares, memory, memory_reservation, cpu_set, memory_swap
 * and the device_*_bps/iops go to ContainerUpdate). state: neither ForceNew nor handled by Update.
 */
export const CONTAINER_RULES: Rules = {
    name: R("string"),
    image: R("string"),
    rm: S("bool", { default: false }),
    readOnly: R("bool", { default: false }),
    start: S("bool", { default: true }),
    wait: S("bool", { default: false, supported: false }),
    waitTimeout: S("int", { default: 60 }),
    attach: S("bool", { default: false, supported: false }),
    logs: S("bool", { default: false, supported: false }),
    mustRun: U("bool", { default: true }),
    hostname: R("string", { computed: true }),
    domainname: R("string"),
    command: R("list", { computed: true }),
    entrypoints: R("list", { computed: true }),
    user: R("string", { emptyKeepsOld: true }),
    dns: R("set", { unordered: true }),
    dnsOpts: R("set", { unordered: true }),
    dnsSearches: R("set", { unordered: true }),
    publishAllPorts: R("bool"),
    restart: U("string", { default: "no" }),
    maxRetryCount: U("int"),
    workingDir: R("string", { emptyKeepsOld: true }),
    removeVolumes: S("bool", { default: true }),
    capabilities: R("block", { nestedSets: ["adds", "drops"] }),
    securityOpts: R("set", { computed: true, unordered: true }),
    runtime: R("string", { computed: true }),
    platform: R("string", { computed: true, supported: false }),
    stopSignal: R("string", { computed: true }),
    stopTimeout: R("int", { computed: true }),
    mounts: R("set", { unordered: true }),
    volumes: R("set", { unordered: true, supported: false }),
    tmpfs: S("map"),
    // ForceNew list; suppressIfPortsDidNotChangeForMigrationV0ToV1 ignores the order.
    ports: R("list", { unordered: true }),
    hosts: R("set", { unordered: true }),
    ulimits: R("set", { unordered: true }),
    envs: R("set", { computed: true, unordered: true }),
    privileged: R("bool"),
    devices: R("set", { unordered: true }),
    deviceReadBps: U("set", { unordered: true, supported: false }),
    deviceReadIops: U("set", { unordered: true, supported: false }),
    deviceWriteBps: U("set", { unordered: true, supported: false }),
    deviceWriteIops: U("set", { unordered: true, supported: false }),
    deviceRequests: R("set", { unordered: true, supported: false }),
    destroyGraceSeconds: S("int"),
    labels: R("set", { computed: true, unordered: true }),
    memory: U("int"),
    memoryReservation: U("int", { default: 0 }),
    memorySwap: U("int"),
    shmSize: R("int", { computed: true }),
    cpuShares: U("int"),
    cpuSet: U("string"),
    logDriver: R("string", { computed: true }),
    logOpts: R("map"),
    networkMode: R("string", { default: "bridge" }),
    networksAdvanced: R("set", { unordered: true, nestedSets: ["aliases", "linkLocalIps", "driverOpts"] }),
    pidMode: R("string"),
    usernsMode: R("string"),
    uploads: R("set", { unordered: true }),
    healthcheck: S("block", { computed: true }),
    containerReadRefreshTimeoutMilliseconds: S("int", { default: 15000 }),
    sysctls: R("map"),
    ipcMode: R("string", { computed: true }),
    groupAdds: R("set", { unordered: true }),
    init: S("bool", { computed: true }),
    tty: R("bool", { default: false }),
    stdinOpen: R("bool", { default: false }),
    storageOpts: R("map"),
    gpus: R("string", { supported: false }),
    cpus: R("string"),
    cpuPeriod: S("int"),
    cpuQuota: S("int"),
    cgroupnsMode: R("string"),
    cgroupParent: R("string"),
    // In @pulumi/docker 5.2.0's SDK but not in the upstream source pulumi-docker pins: unknown semantics.
    deviceCgroupRules: R("list", { supported: false }),
};

/** docker_network, from resource_docker_network.go: no Update, every argument ForceNew. */
export const NETWORK_RULES: Rules = {
    name: R("string"),
    labels: R("set", { unordered: true }),
    driver: R("string", { computed: true }),
    options: R("map", { computed: true }),
    internal: R("bool", { computed: true }),
    attachable: R("bool"),
    ingress: R("bool"),
    ipv6: R("bool"),
    ipamDriver: R("string", { default: "default" }),
    ipamOptions: R("map"),
    ipamConfigs: R("set", { computed: true, unordered: true }),
};

/** docker_volume, from resource_docker_volume.go: only cluster.availability is updatable. */
export const VOLUME_RULES: Rules = {
    name: R("string", { computed: true }),
    labels: R("set", { unordered: true }),
    driver: R("string", { computed: true }),
    driverOpts: R("map"),
    cluster: R("block", { supported: false }),
};

/** docker_image (Pulumi's RemoteImage), from resource_docker_image.go; Update re-runs findImage and Read. */
export const REMOTE_IMAGE_RULES: Rules = {
    name: R("string"),
    keepLocally: U("bool"),
    pullTriggers: R("set", { unordered: true }),
    forceRemove: U("bool"),
    build: R("block", { supported: false }),
    triggers: R("map"),
    platform: R("string", { default: "", supported: false }),
};

export const DOCKER_RULES: Record<string, Rules> = {
    [DOCKER_CONTAINER]: CONTAINER_RULES,
    [DOCKER_NETWORK]: NETWORK_RULES,
    [DOCKER_VOLUME]: VOLUME_RULES,
    [DOCKER_REMOTE_IMAGE]: REMOTE_IMAGE_RULES,
};

/** Raised when create failed after the container existed (Terraform then keeps it, tainted; the bridge records it with the error). */
export class DockerPartialCreateError extends PartialCreateError {
    constructor(message: string, id: string) {
        super(message, id);
        this.name = "DockerPartialCreateError";
    }
}

export interface DockerProviderOptions {
    /**
     * Network and volume deletes retry while Docker says "has active endpoints" / "volume is in use"
     * (resource_docker_network_funcs.go resourceDockerNetworkDelete, resource_docker_volume.go
     * resourceDockerVolumeDelete: retry.StateChangeConf{Delay: 2s, MinTimeout: 5s, Timeout: 30s}).
     */
    removeRetry?: { delayMs: number; pollMs: number; timeoutMs: number };
}

const DEFAULT_REMOVE_RETRY = { delayMs: 2000, pollMs: 5000, timeoutMs: 30000 };

// --- values --------------------------------------------------------------------------------

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
    return typeof v === "object" && v !== null && !Array.isArray(v);
}

function str(v: unknown): string {
    return v === undefined || v === null ? "" : String(v);
}

function int(v: unknown): number {
    if (v === undefined || v === null || v === "") return 0;
    const n = Number(v);
    if (!Number.isInteger(n)) throw new Error(`docker: expected an integer, got ${JSON.stringify(v)}`);
    return n;
}

function bool(v: unknown): boolean {
    return v === true;
}

function strings(v: unknown): string[] {
    return Array.isArray(v) ? v.map(str) : [];
}

function stringMap(v: unknown): Record<string, string> {
    return isObj(v) ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, str(x)])) : {};
}

function objects(v: unknown): Obj[] {
    return Array.isArray(v) ? v.filter(isObj) : [];
}

/** Terraform's GetOk: set and not the zero value of its type. */
function given(v: unknown): boolean {
    if (v === undefined || v === null || v === "" || v === 0 || v === false) return false;
    if (Array.isArray(v)) return v.length > 0;
    if (isObj(v)) return Object.keys(v).length > 0;
    return true;
}

/** labels as the schema's label set ({label, value}) → the map Docker takes (helpers.go labelSetToMap). */
function labelMap(v: unknown): Record<string, string> {
    return Object.fromEntries(objects(v).map((l) => [str(l.label), str(l.value)]));
}

/** helpers.go mapToLabelSet (sorted here; a set has no order). */
function labelSet(m: Record<string, string> | null | undefined): Obj[] {
    return Object.entries(m ?? {})
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([label, value]) => ({ label, value }));
}

// --- diff ------------------------------------------------------------------------------------

/** The zero value Terraform's SDK stores for an unset attribute of this kind. */
function zeroOf(kind: ValueKind): unknown {
    switch (kind) {
        case "string":
            return "";
        case "int":
            return 0;
        case "bool":
            return false;
        default:
            return undefined;
    }
}

/** Nested defaults of the schema's blocks (ports.ip/protocol, devices.permissions, upload.executable, healthcheck durations). */
function nestedDefaults(type: string, key: string, value: unknown): unknown {
    if (type !== DOCKER_CONTAINER) return value;
    const withDefaults = (defaults: Obj) => (o: Obj) => ({ ...defaults, ...Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) });
    switch (key) {
        case "ports":
            return objects(value).map(withDefaults({ ip: "0.0.0.0", protocol: "tcp" }));
        case "devices":
            return objects(value).map(withDefaults({ permissions: "rwm" }));
        case "uploads":
            return objects(value).map(withDefaults({ executable: false }));
        case "healthcheck":
            return isObj(value) ? withDefaults({ interval: "0s", timeout: "0s", startPeriod: "0s", startInterval: "0s", retries: 0 })(value) : value;
        default:
            return value;
    }
}

/**
 * Inside blocks, the SDK's flatmap state cannot tell an unset field from its zero value ("", 0, false,
 * an empty list or map): drop them all, so {drops: ["ALL"]} equals Read's {adds: [], drops: ["ALL"]}.
 */
function pruneNested(v: unknown): unknown {
    if (Array.isArray(v)) return v.map(pruneNested);
    if (!isObj(v)) return v;
    const out: Obj = {};
    for (const [k, x] of Object.entries(v)) {
        const p = pruneNested(x);
        if (p === undefined || p === null || p === "" || p === 0 || p === false) continue;
        if ((Array.isArray(p) && p.length === 0) || (isObj(p) && Object.keys(p).length === 0)) continue;
        out[k] = p;
    }
    return out;
}

/** The value a diff compares: defaults applied, empty collections and zero primitives alike, sets sorted. */
function comparable(type: string, key: string, rule: AttributeRule, raw: unknown): unknown {
    let v: unknown = raw === null ? undefined : raw;
    if (v === undefined && rule.default !== undefined) v = rule.default;
    v = nestedDefaults(type, key, v);
    if (v === undefined) v = zeroOf(rule.kind);
    v = pruneNested(v);
    if ((Array.isArray(v) && v.length === 0) || (isObj(v) && Object.keys(v).length === 0)) v = undefined;
    const sortSet = (xs: unknown[]) => [...xs].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    const sortNested = (o: unknown): unknown => {
        if (!isObj(o) || !rule.nestedSets) return o;
        const out: Obj = { ...o };
        for (const f of rule.nestedSets) if (Array.isArray(out[f])) out[f] = sortSet(out[f] as unknown[]);
        return out;
    };
    if (Array.isArray(v)) {
        const elems = v.map(sortNested);
        return rule.unordered ? sortSet(elems.map((e) => JSON.parse(JSON.stringify(e)) as unknown)) : elems;
    }
    return sortNested(v);
}

/** Computed-only attributes (Read sets them; no program sets them): ignored when olds are a prior state. */
const OUTPUT_ONLY: Record<string, readonly string[]> = {
    [DOCKER_CONTAINER]: ["id", "bridge", "networkDatas", "exitCode", "containerLogs"],
    [DOCKER_NETWORK]: ["id", "scope"],
    [DOCKER_VOLUME]: ["id", "mountpoint"],
    [DOCKER_REMOTE_IMAGE]: ["id", "imageId", "repoDigest"],
};

/**
 * The plan the bridge would show: which inputs changed, which of those force a replacement.
 * `olds` may be the old inputs (what LiveProvider.diff gets) or the old outputs: the bridge itself
 * diffs the program's inputs against the prior state, i.e. what Read last wrote.
 */
export function diffDockerInputs(type: string, olds: Properties, news: Properties): DiffResult {
    const rules = DOCKER_RULES[type];
    if (!rules) throw new Error(`docker: this stand-in does not serve ${type}`);
    const changed: string[] = [];
    const replaceKeys: string[] = [];
    for (const key of [...new Set([...Object.keys(olds), ...Object.keys(news)])].sort()) {
        if (OUTPUT_ONLY[type].includes(key) && !(key in news)) continue;
        const rule = rules[key];
        if (!rule) throw new Error(`docker: ${type} has no input "${key}" in the provider's schema`);
        const next = news[key];
        // Optional+Computed: config without it keeps the prior state (Terraform's plan keeps the old value).
        if ((next === undefined || next === null) && rule.computed) continue;
        if (rule.emptyKeepsOld && (next === undefined || next === null || next === "")) continue;
        if (sameValue(comparable(type, key, rule, olds[key]), comparable(type, key, rule, next))) continue;
        changed.push(key);
        if (rule.change === "replace") replaceKeys.push(key);
    }
    // pulumi-docker provider/resources.go: docker_container has DeleteBeforeReplace: true (a container's name is unique).
    return type === DOCKER_CONTAINER ? { changed, replaceKeys, deleteBeforeReplace: true } : { changed, replaceKeys };
}

/** Refuses what the schema does not know and what this stand-in cannot apply. */
function checkInputs(type: string, inputs: Properties): void {
    const rules = DOCKER_RULES[type];
    for (const [key, value] of Object.entries(inputs)) {
        const rule = rules[key];
        if (!rule) throw new Error(`docker: ${type} has no input "${key}" in the provider's schema (pulumi-docker 5.2.0 / upstream 5074970c)`);
        if (rule.supported !== false || value === undefined || value === null) continue;
        if (rule.default !== undefined ? sameValue(value, rule.default) : !given(value)) continue;
        throw new Error(`docker: ${type} input "${key}" is not supported by this stand-in (the real provider would apply it); refusing to ignore it`);
    }
}

// --- durations (Go's time.ParseDuration and Duration.String) -----------------------------------

const UNIT_NS: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, μs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };

/** Go's time.ParseDuration, which the provider uses for healthcheck times (it ignores the error: validated at plan time). */
export function parseGoDuration(text: string): number {
    const s = text.trim();
    if (s === "0" || s === "+0" || s === "-0") return 0;
    const m = /^([+-]?)((?:\d*\.?\d+(?:ns|us|µs|μs|ms|s|m|h))+)$/.exec(s);
    if (!m) throw new Error(`docker: invalid duration ${JSON.stringify(text)}`);
    let total = 0;
    for (const part of m[2].matchAll(/(\d*\.?\d+)(ns|us|µs|μs|ms|s|m|h)/g)) total += Number(part[1]) * UNIT_NS[part[2]];
    return Math.round(m[1] === "-" ? -total : total);
}

function fraction(value: number, unit: number): string {
    const whole = Math.floor(value / unit);
    const rest = value - whole * unit;
    if (rest === 0) return String(whole);
    const digits = String(unit).length - 1;
    return `${whole}.${String(rest).padStart(digits, "0").replace(/0+$/, "")}`;
}

/** Go's Duration.String(): what the provider's Read writes back for healthcheck times (60s → "1m0s"). */
export function formatGoDuration(ns: number): string {
    if (ns === 0) return "0s";
    if (ns < 0) return `-${formatGoDuration(-ns)}`;
    if (ns < 1e3) return `${ns}ns`;
    if (ns < 1e6) return `${fraction(ns, 1e3)}µs`;
    if (ns < 1e9) return `${fraction(ns, 1e6)}ms`;
    const h = Math.floor(ns / 3600e9);
    const m = Math.floor((ns - h * 3600e9) / 60e9);
    const rest = ns - h * 3600e9 - m * 60e9;
    return `${h > 0 ? `${h}h` : ""}${h > 0 || m > 0 ? `${m}m` : ""}${fraction(rest, 1e9)}s`;
}

/** docker/cli opts.ParseCPUs: a decimal number of CPUs → NanoCPUs, refusing what is finer than a nanoCPU. */
export function parseCpus(value: string): number {
    const m = /^(\d*)(?:\.(\d*))?$/.exec(value.trim());
    if (!m || (m[1] === "" && (m[2] ?? "") === "")) throw new Error(`Error setting cpus: failed to parse ${value} as a rational number`);
    const frac = m[2] ?? "";
    if (frac.replace(/0+$/, "").length > 9) throw new Error("Error setting cpus: value is too precise");
    return Number(m[1] || "0") * 1e9 + Number((frac + "000000000").slice(0, 9));
}

/** helpers.go nanoInt64ToDecimalString: NanoCPUs back to the decimal string Read stores. */
function nanoToDecimal(nano: number): string {
    if (nano === 0) return "0";
    return fraction(nano, 1e9);
}

// --- tar (one archive per upload, as resourceDockerContainerCreate writes with archive/tar) ---------

export interface TarFile {
    name: string;
    content: Buffer;
    mode: number;
    uid?: number;
    gid?: number;
    mtime?: Date;
}

function octal(value: number, width: number): string {
    // width includes the terminating NUL, as Go's archive/tar writes numeric fields.
    const digits = value.toString(8);
    if (digits.length > width - 1) throw new Error(`tar: ${value} does not fit in a ${width}-byte field`);
    return `${digits.padStart(width - 1, "0")}\0`;
}

/** A ustar archive of regular files (what Go's tar.Writer emits for a short name: USTAR, uid/gid from the header). */
export function tarArchive(files: TarFile[]): Buffer {
    const blocks: Buffer[] = [];
    for (const f of files) {
        const header = Buffer.alloc(512, 0);
        let name = f.name;
        let prefix = "";
        if (Buffer.byteLength(name) > 100) {
            // ustar splits a long path at a slash into prefix (155 bytes) and name (100 bytes).
            let at = -1;
            for (let i = name.lastIndexOf("/"); i > 0; i = name.lastIndexOf("/", i - 1)) {
                if (Buffer.byteLength(name.slice(i + 1)) > 100) break;
                if (Buffer.byteLength(name.slice(0, i)) <= 155) {
                    at = i;
                    break;
                }
            }
            if (at < 0) throw new Error(`tar: path too long for ustar: ${name}`);
            prefix = name.slice(0, at);
            name = name.slice(at + 1);
        }
        header.write(name, 0, 100, "utf8");
        header.write(octal(f.mode & 0o7777, 8), 100, "ascii");
        header.write(octal(f.uid ?? 0, 8), 108, "ascii");
        header.write(octal(f.gid ?? 0, 8), 116, "ascii");
        header.write(octal(f.content.length, 12), 124, "ascii");
        header.write(octal(Math.round((f.mtime ?? new Date()).getTime() / 1000), 12), 136, "ascii");
        header.write("        ", 148, "ascii");
        header.write("0", 156, "ascii");
        header.write("ustar\u000000", 257, "binary");
        header.write(prefix, 345, 155, "utf8");
        let sum = 0;
        for (const byte of header) sum += byte;
        header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
        blocks.push(header, f.content);
        const pad = (512 - (f.content.length % 512)) % 512;
        if (pad) blocks.push(Buffer.alloc(pad, 0));
    }
    blocks.push(Buffer.alloc(1024, 0));
    return Buffer.concat(blocks);
}

/** A numeric uid/gid for the upload's owner/group; names would need the machine's user database. */
function numericId(field: string, value: unknown): number | undefined {
    if (value === undefined || value === null || value === "") return undefined;
    const s = String(value);
    if (!/^\d+$/.test(s)) {
        throw new Error(
            `docker: upload ${field} ${JSON.stringify(s)} is a name; the provider resolves names in the user database of the machine running Pulumi, which this stand-in refuses to guess: use a numeric id`,
        );
    }
    return Number(s);
}

/** The archive resourceDockerContainerCreate uploads for one `upload` block. */
export function uploadArchive(upload: Obj, now = new Date()): Buffer {
    const content = str(upload.content);
    const contentBase64 = str(upload.contentBase64);
    const source = str(upload.source);
    const set = [content, contentBase64, source].filter((x) => x !== "").length;
    if (set === 0) throw new Error("error with upload content: one of 'content', 'content_base64', or 'source' must be set");
    if (set > 1) throw new Error("error with upload content: only one of 'content', 'content_base64', or 'source' can be set");
    let data: Buffer;
    if (content !== "") data = Buffer.from(content, "utf8");
    else if (contentBase64 !== "") {
        // validateStringIsBase64Encoded rejects anything else at plan time.
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(contentBase64) || contentBase64.length % 4 !== 0) throw new Error("upload content_base64: not valid base64");
        data = Buffer.from(contentBase64, "base64");
    } else data = readFileSync(source);
    const permissions = str(upload.permissions);
    let mode: number;
    if (permissions !== "") {
        if (!/^0[0-7]{3}$/.test(permissions)) throw new Error(`upload permissions ${JSON.stringify(permissions)} must match ^0[0-7]{3}$`);
        mode = parseInt(permissions, 8);
    } else mode = bool(upload.executable) ? 0o744 : 0o644;
    return tarArchive([{ name: str(upload.file), content: data, mode, uid: numericId("owner", upload.owner), gid: numericId("group", upload.group), mtime: now }]);
}

// --- the Docker API ---------------------------------------------------------------------------

interface DockerApiError {
    statusCode?: number;
    json?: { message?: string } | null;
    message: string;
}

function apiError(err: unknown): DockerApiError {
    return (typeof err === "object" && err !== null ? err : { message: String(err) }) as DockerApiError;
}

/** The Go client's error text: "Error response from daemon: <message>". */
function daemonMessage(err: unknown): string {
    const e = apiError(err);
    const message = e.json?.message;
    return message ? `Error response from daemon: ${message}` : e.message;
}

/** helpers.go containsIgnorableErrorMessage: a case-insensitive substring match. */
function ignorable(err: unknown, ...messages: string[]): boolean {
    const text = daemonMessage(err).toLowerCase();
    return messages.some((m) => text.includes(m.toLowerCase()));
}

function notFound(err: unknown): boolean {
    return apiError(err).statusCode === 404;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
    return Buffer.concat(chunks).toString("utf8");
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The API version the provider's client negotiates (client.WithAPIVersionNegotiation, docker client v28.5: at most 1.51). */
async function apiVersion(docker: Docker): Promise<number> {
    const v = await docker.version();
    return Math.min(versionNumber(v.ApiVersion), versionNumber("1.51"));
}

function versionNumber(v: string): number {
    const [major, minor] = v.split(".").map(Number);
    return major * 1000 + minor;
}

interface ImageSummary {
    Id: string;
    RepoTags?: string[] | null;
    RepoDigests?: string[] | null;
}

/** resource_docker_image_funcs.go searchLocalImages: inspect the name, then find that id among the listed images. */
async function searchLocalImage(docker: Docker, name: string): Promise<ImageSummary | undefined> {
    let id: string;
    try {
        id = (await docker.getImage(name).inspect()).Id;
    } catch (err) {
        if (notFound(err)) return undefined;
        throw new Error(`unable to inspect image ${name}: ${daemonMessage(err)}`, { cause: err });
    }
    const images = (await docker.listImages({ all: false })) as unknown as ImageSummary[];
    return images.find((i) => i.Id === id);
}

/** resource_docker_image_funcs.go parseImageOptions/pullImage: fromImage is the repository, tag the digest when pinned. */
function pullParams(name: string): { fromImage: string; tag: string } {
    const at = name.indexOf("@");
    if (at >= 0) {
        const repoTag = name.slice(0, at);
        const slash = repoTag.lastIndexOf("/");
        const colon = repoTag.lastIndexOf(":");
        return { fromImage: colon > slash ? repoTag.slice(0, colon) : repoTag, tag: name.slice(at + 1) };
    }
    const slash = name.lastIndexOf("/");
    const colon = name.lastIndexOf(":");
    return colon > slash ? { fromImage: name.slice(0, colon), tag: name.slice(colon + 1) } : { fromImage: name, tag: "latest" };
}

/** resource_docker_image_funcs.go findImage: local first, else pull and look again. */
async function findImage(docker: Docker, name: string): Promise<ImageSummary> {
    if (name === "") throw new Error("empty image name is not allowed");
    const local = await searchLocalImage(docker, name);
    if (local) return local;
    try {
        // ImagePull with an empty auth config (no registry_auth on our provider).
        const stream = await docker.createImage({ ...pullParams(name), authconfig: {} } as unknown as Docker.ImageInfo);
        const progress = await readAll(stream);
        // The Go provider reads the stream and ignores its messages; an error there surfaces below as "unable to find".
        const lastError = progress
            .split("\n")
            .filter((l) => l.includes('"error"'))
            .pop();
        const pulled = await searchLocalImage(docker, name);
        if (pulled) return pulled;
        throw new Error(`unable to find or pull image ${name}${lastError ? ` (pull said: ${lastError.trim()})` : ""}`);
    } catch (err) {
        if (err instanceof Error && err.message.startsWith("unable to find")) throw err;
        throw new Error(`unable to pull image ${name}: error pulling image ${name}: ${daemonMessage(err)}`, { cause: err });
    }
}

/** data_source_docker_image.go determineRepoDigest (its tag strip cuts at the first colon, as upstream does). */
export function determineRepoDigest(imageName: string, digests: readonly string[]): string {
    if (digests.length === 0) return "";
    if (digests.length === 1) return digests[0];
    const colon = imageName.indexOf(":");
    const withoutTag = colon === -1 ? imageName : imageName.slice(0, colon);
    return digests.find((d) => d.startsWith(withoutTag)) ?? digests[0];
}

// --- container ----------------------------------------------------------------------------------

/** resource_docker_container_structures.go portSetToDockerPorts. */
function portConfig(ports: Obj[]): { exposed: Record<string, object>; bindings: Record<string, { HostIp: string; HostPort: string }[]> } {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const p of ports) {
        const key = `${int(p.internal)}/${str(p.protocol) || "tcp"}`;
        exposed[key] = {};
        // The schema map always carries external (0 when unset) and ip (default 0.0.0.0).
        (bindings[key] ??= []).push({ HostIp: str(p.ip ?? "0.0.0.0"), HostPort: String(int(p.external)) });
    }
    return { exposed, bindings };
}

/** resource_docker_container_funcs.go resourceDockerContainerCreate: the mounts block → HostConfig.Mounts. */
function mountConfig(mounts: Obj[], api: number): Obj[] {
    return mounts.map((m) => {
        const type = str(m.type);
        if (!/^(bind|volume|tmpfs)$/.test(type)) throw new Error(`mounts.type must be bind, volume or tmpfs, got ${JSON.stringify(type)}`);
        const out: Obj = { Type: type, Target: str(m.target), Source: str(m.source), ReadOnly: bool(m.readOnly) };
        if (type === "bind" && isObj(m.bindOptions)) {
            out.BindOptions = { Propagation: str(m.bindOptions.propagation) || undefined };
        } else if (type === "volume" && isObj(m.volumeOptions)) {
            // Upstream refuses any volume_options below API 1.45 (its subpath check covers the whole block,
            // as the schema map always carries subpath): Docker before 26 would silently drop Subpath.
            if (api < versionNumber("1.45")) throw new Error("Setting VolumeOptions.Subpath requires docker version 1.45 or higher");
            const o = m.volumeOptions;
            out.VolumeOptions = {
                NoCopy: bool(o.noCopy),
                Labels: labelMap(o.labels),
                // Upstream always sets DriverConfig (driver_name and driver_options are always in the schema map).
                DriverConfig: { Name: str(o.driverName), Options: stringMap(o.driverOptions) },
                Subpath: str(o.subpath),
            };
        } else if (type === "tmpfs" && isObj(m.tmpfsOptions)) {
            out.TmpfsOptions = { SizeBytes: int(m.tmpfsOptions.sizeBytes), Mode: int(m.tmpfsOptions.mode) };
        }
        return out;
    });
}

/** The create request resourceDockerContainerCreate builds (config, hostConfig, an empty networkingConfig). */
export function containerCreateRequest(inputs: Properties, api: number): Obj {
    const config: Obj = {
        Image: str(inputs.image),
        Hostname: str(inputs.hostname),
        Domainname: str(inputs.domainname),
        Tty: bool(inputs.tty),
        OpenStdin: bool(inputs.stdinOpen),
        StopSignal: str(inputs.stopSignal),
    };
    if (given(inputs.stopTimeout)) config.StopTimeout = int(inputs.stopTimeout);
    if (given(inputs.envs)) config.Env = strings(inputs.envs);
    if (given(inputs.command)) {
        config.Cmd = strings(inputs.command);
        if ((config.Cmd as string[]).some((c) => c === "")) throw new Error("values for command may not be empty");
    }
    if (given(inputs.entrypoints)) config.Entrypoint = strings(inputs.entrypoints);
    if (given(inputs.user)) config.User = str(inputs.user);
    const ports = given(inputs.ports) ? portConfig(nestedDefaults(DOCKER_CONTAINER, "ports", inputs.ports) as Obj[]) : undefined;
    if (ports && Object.keys(ports.exposed).length) config.ExposedPorts = ports.exposed;
    if (given(inputs.workingDir)) config.WorkingDir = str(inputs.workingDir);
    if (given(inputs.labels)) config.Labels = labelMap(inputs.labels);
    if (isObj(inputs.healthcheck)) {
        const h = inputs.healthcheck;
        const hc: Obj = {};
        if (h.tests !== undefined) hc.Test = strings(h.tests);
        // HealthConfig's JSON fields are omitempty: zero durations and retries are not sent.
        const ns = (v: unknown) => (v === undefined ? 0 : parseGoDuration(str(v)));
        if (ns(h.interval)) hc.Interval = ns(h.interval);
        if (ns(h.timeout)) hc.Timeout = ns(h.timeout);
        if (ns(h.startPeriod)) hc.StartPeriod = ns(h.startPeriod);
        if (ns(h.startInterval)) hc.StartInterval = ns(h.startInterval);
        if (int(h.retries)) hc.Retries = int(h.retries);
        config.Healthcheck = hc;
    }

    const host: Obj = {
        Privileged: bool(inputs.privileged),
        PublishAllPorts: bool(inputs.publishAllPorts),
        RestartPolicy: { Name: str(inputs.restart ?? "no"), MaximumRetryCount: int(inputs.maxRetryCount) },
        Runtime: str(inputs.runtime),
        Mounts: mountConfig(objects(inputs.mounts), api),
        AutoRemove: bool(inputs.rm),
        ReadonlyRootfs: bool(inputs.readOnly),
        LogConfig: { Type: str(inputs.logDriver) },
    };
    if (!/^(no|on-failure|always|unless-stopped)$/.test(str(inputs.restart ?? "no"))) throw new Error(`restart must be one of no, on-failure, always, unless-stopped`);
    if (given(inputs.tmpfs)) host.Tmpfs = stringMap(inputs.tmpfs);
    if (ports && Object.keys(ports.bindings).length) host.PortBindings = ports.bindings;
    if (given(inputs.hosts)) host.ExtraHosts = objects(inputs.hosts).map((h) => `${str(h.host)}:${str(h.ip)}`);
    if (given(inputs.ulimits)) host.Ulimits = objects(inputs.ulimits).map((u) => ({ Name: str(u.name), Soft: int(u.soft), Hard: int(u.hard) }));
    if (isObj(inputs.capabilities)) {
        host.CapAdd = strings(inputs.capabilities.adds);
        host.CapDrop = strings(inputs.capabilities.drops);
    }
    if (given(inputs.devices)) {
        // deviceSetToDockerDevices: container_path defaults to host_path, permissions to rwm.
        host.Devices = objects(inputs.devices).map((d) => ({
            PathOnHost: str(d.hostPath),
            PathInContainer: str(d.containerPath) || str(d.hostPath),
            CgroupPermissions: str(d.permissions ?? "rwm") || "rwm",
        }));
    }
    if (given(inputs.dns)) host.Dns = strings(inputs.dns);
    if (given(inputs.dnsOpts)) host.DnsOptions = strings(inputs.dnsOpts);
    if (given(inputs.dnsSearches)) host.DnsSearch = strings(inputs.dnsSearches);
    if (given(inputs.securityOpts)) {
        // parseSystemPaths: "systempaths=unconfined" is the client's, turned into empty masked/read-only paths.
        const opts = strings(inputs.securityOpts);
        host.SecurityOpt = opts.filter((o) => o !== "systempaths=unconfined");
        if (opts.includes("systempaths=unconfined")) {
            host.MaskedPaths = [];
            host.ReadonlyPaths = [];
        }
    }
    const MiB = 1024 * 1024;
    if (given(inputs.memory)) host.Memory = int(inputs.memory) * MiB;
    if (given(inputs.memoryReservation)) host.MemoryReservation = int(inputs.memoryReservation) * MiB;
    if (given(inputs.memorySwap)) {
        const swap = int(inputs.memorySwap);
        host.MemorySwap = swap > 0 ? swap * MiB : swap;
    }
    if (given(inputs.shmSize)) host.ShmSize = int(inputs.shmSize) * MiB;
    if (given(inputs.cpus)) host.NanoCpus = parseCpus(str(inputs.cpus));
    else {
        if (given(inputs.cpuPeriod)) host.CpuPeriod = int(inputs.cpuPeriod);
        if (given(inputs.cpuQuota)) host.CpuQuota = int(inputs.cpuQuota);
    }
    if (given(inputs.cpuShares)) host.CpuShares = int(inputs.cpuShares);
    if (given(inputs.cpuSet)) host.CpusetCpus = str(inputs.cpuSet);
    if (given(inputs.logOpts)) (host.LogConfig as Obj).Config = stringMap(inputs.logOpts);
    // network_mode has Default "bridge", so it is always sent.
    host.NetworkMode = str(inputs.networkMode ?? "bridge") || "bridge";
    if (given(inputs.usernsMode)) host.UsernsMode = str(inputs.usernsMode);
    if (given(inputs.pidMode)) host.PidMode = str(inputs.pidMode);
    if (given(inputs.sysctls)) host.Sysctls = stringMap(inputs.sysctls);
    if (given(inputs.ipcMode)) host.IpcMode = str(inputs.ipcMode);
    if (given(inputs.groupAdds)) host.GroupAdd = strings(inputs.groupAdds);
    if (given(inputs.cgroupnsMode)) {
        // Below API 1.41 upstream only logs a warning and leaves it out.
        if (api >= versionNumber("1.41")) {
            if (!/^(private|host)$/.test(str(inputs.cgroupnsMode))) throw new Error("cgroupns_mode: invalid CGROUP mode, must be either 'private', 'host' or empty");
            host.CgroupnsMode = str(inputs.cgroupnsMode);
        }
    }
    if (given(inputs.cgroupParent)) host.CgroupParent = str(inputs.cgroupParent);
    // `init := d.Get("init").(bool); hostConfig.Init = &init`: unset means false, not the daemon's default.
    host.Init = bool(inputs.init);
    if (given(inputs.storageOpts)) host.StorageOpt = stringMap(inputs.storageOpts);
    return { name: str(inputs.name), ...config, HostConfig: host, NetworkingConfig: {} };
}

interface ContainerInspect {
    Id: string;
    Name: string;
    Image: string;
    State: { Running: boolean; ExitCode: number };
    Config: {
        Image: string;
        Hostname: string;
        Domainname: string;
        Cmd: string[] | null;
        Entrypoint: string[] | null;
        User: string;
        WorkingDir: string;
        Healthcheck?: { Test?: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number } | null;
        Tty: boolean;
        OpenStdin: boolean;
        StopSignal?: string;
        StopTimeout?: number | null;
    };
    HostConfig: {
        AutoRemove: boolean;
        ReadonlyRootfs: boolean;
        SecurityOpt: string[] | null;
        RestartPolicy: { Name: string; MaximumRetryCount: number };
        Init?: boolean | null;
        CapAdd: string[] | null;
        CapDrop: string[] | null;
        Tmpfs?: Record<string, string> | null;
        Privileged: boolean;
        Memory: number;
        MemoryReservation: number;
        MemorySwap: number;
        ShmSize: number;
        NanoCpus: number;
        CpuShares: number;
        CpusetCpus: string;
        LogConfig: { Type: string; Config: Record<string, string> | null };
        NetworkMode: string;
        Sysctls?: Record<string, string> | null;
        IpcMode: string;
        Runtime: string;
    };
    NetworkSettings: {
        Bridge: string;
        Ports: Record<string, { HostIp: string; HostPort: string }[] | null> | null;
        Networks: Record<
            string,
            { IPAddress: string; IPPrefixLen: number; Gateway: string; GlobalIPv6Address: string; GlobalIPv6PrefixLen: number; IPv6Gateway: string; MacAddress: string }
        > | null;
    } | null;
}

/**
 * resourceDockerContainerRead: the inputs as the state holds them, overwritten by what Read sets
 * from ContainerInspect (labels and env are deliberately not read back upstream).
 */
function containerOutputs(inputs: Properties, c: ContainerInspect): Properties {
    const out: Properties = {};
    for (const [key, rule] of Object.entries(CONTAINER_RULES)) {
        const v = nestedDefaults(DOCKER_CONTAINER, key, inputs[key] ?? rule.default);
        if (v !== undefined) out[key] = v;
    }
    const ns = c.NetworkSettings;
    if (ns) {
        out.bridge = ns.Bridge;
        if ((c.State.Running || out.mustRun === true) && given(inputs.ports)) {
            // flattenContainerPorts
            const ports: Obj[] = [];
            for (const [key, bindings] of Object.entries(ns.Ports ?? {})) {
                const [port, protocol] = key.split("/");
                for (const b of bindings ?? []) ports.push({ internal: Number(port), external: Number(b.HostPort), ip: b.HostIp, protocol });
            }
            out.ports = ports.sort((a, b) => Number(a.internal) - Number(b.internal));
        }
        // flattenContainerNetworks (map order upstream; sorted by network name here)
        out.networkDatas = Object.entries(ns.Networks ?? {})
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([networkName, n]) => ({
                networkName,
                ipAddress: n.IPAddress,
                ipPrefixLength: n.IPPrefixLen,
                gateway: n.Gateway,
                globalIpv6Address: n.GlobalIPv6Address,
                globalIpv6PrefixLength: n.GlobalIPv6PrefixLen,
                ipv6Gateway: n.IPv6Gateway,
                macAddress: n.MacAddress,
            }));
    }
    if (!c.State.Running) {
        out.exitCode = c.State.ExitCode;
        // Read flips must_run to false for a stopped container, so the next plan shows an update that starts it.
        if (out.mustRun === true) out.mustRun = false;
    }
    const h = c.HostConfig;
    out.name = c.Name.replace(/^\/+/, "");
    out.rm = h.AutoRemove;
    out.readOnly = h.ReadonlyRootfs;
    out.image = str(inputs.image).startsWith("sha256:") ? c.Image : c.Config.Image;
    out.hostname = c.Config.Hostname;
    out.domainname = c.Config.Domainname;
    out.command = c.Config.Cmd ?? [];
    out.entrypoints = c.Config.Entrypoint ?? [];
    out.user = c.Config.User;
    out.securityOpts = h.SecurityOpt ?? [];
    out.restart = h.RestartPolicy.Name;
    out.maxRetryCount = h.RestartPolicy.MaximumRetryCount;
    out.init = h.Init ?? false;
    out.workingDir = c.Config.WorkingDir;
    if ((h.CapAdd?.length ?? 0) > 0 || (h.CapDrop?.length ?? 0) > 0) out.capabilities = { adds: h.CapAdd ?? [], drops: h.CapDrop ?? [] };
    out.runtime = h.Runtime;
    out.tmpfs = h.Tmpfs ?? {};
    out.privileged = h.Privileged;
    out.memory = Math.trunc(h.Memory / 1048576);
    out.memoryReservation = h.MemoryReservation > 0 ? Math.trunc(h.MemoryReservation / 1048576) : h.MemoryReservation;
    out.memorySwap = h.MemorySwap > 0 ? Math.trunc(h.MemorySwap / 1048576) : h.MemorySwap;
    out.shmSize = Math.trunc(h.ShmSize / 1048576);
    if (h.NanoCpus > 0) out.cpus = nanoToDecimal(h.NanoCpus);
    out.cpuShares = h.CpuShares;
    out.cpuSet = h.CpusetCpus;
    out.logDriver = h.LogConfig.Type;
    // containerLogOptsForState: only when the program set log_opts.
    out.logOpts = given(inputs.logOpts) ? (h.LogConfig.Config ?? {}) : undefined;
    out.networkMode = h.NetworkMode;
    if (c.Config.Healthcheck) {
        const hc = c.Config.Healthcheck;
        out.healthcheck = {
            tests: hc.Test ?? [],
            interval: formatGoDuration(hc.Interval ?? 0),
            timeout: formatGoDuration(hc.Timeout ?? 0),
            startPeriod: formatGoDuration(hc.StartPeriod ?? 0),
            startInterval: formatGoDuration(hc.StartInterval ?? 0),
            retries: hc.Retries ?? 0,
        };
    }
    out.sysctls = h.Sysctls ?? {};
    out.ipcMode = h.IpcMode;
    out.tty = c.Config.Tty;
    out.stdinOpen = c.Config.OpenStdin;
    out.stopSignal = c.Config.StopSignal ?? "";
    out.stopTimeout = c.Config.StopTimeout ?? 0;
    return out;
}

async function inspectContainer(docker: Docker, id: string): Promise<ContainerInspect> {
    return (await docker.getContainer(id).inspect()) as unknown as ContainerInspect;
}

/**
 * resource_docker_container_funcs.go resourceDockerContainerCreate: findImage (pull when missing),
 * ContainerCreate, networks_advanced, uploads, ContainerStart unless start is false, then Read.
 * Errors after ContainerCreate leave the container (Terraform records it tainted).
 */
async function createContainer(docker: Docker, inputs: Properties): Promise<CreateResult> {
    const api = await apiVersion(docker);
    const image = str(inputs.image);
    try {
        await findImage(docker, image);
    } catch (err) {
        throw new Error(`Unable to create container with image ${image}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const request = containerCreateRequest(inputs, api);
    let container: Docker.Container;
    try {
        container = await docker.createContainer(request);
    } catch (err) {
        throw new Error(`Unable to create container: ${daemonMessage(err)}`, { cause: err });
    }
    const id = container.id;
    const partial = (message: string) => new DockerPartialCreateError(`${message} (container ${id} was created and is left in place, as the provider leaves it)`, id);

    // resourceDockerContainerCreate: with networks_advanced, NetworkDisconnect("bridge") (the container was
    // created in network_mode, default "bridge"), then NetworkConnect for each network, before uploads and start.
    if (given(inputs.networksAdvanced)) {
        try {
            await docker.getNetwork("bridge").disconnect({ Container: id, Force: false });
        } catch (err) {
            if (!ignorable(err, "is not connected to the network bridge")) throw partial(`Unable to disconnect the default network: ${daemonMessage(err)}`);
        }
        for (const n of objects(inputs.networksAdvanced)) {
            const endpoint: Obj = {
                Aliases: strings(n.aliases),
                IPAMConfig: { IPv4Address: str(n.ipv4Address), IPv6Address: str(n.ipv6Address), LinkLocalIPs: strings(n.linkLocalIps) },
                MacAddress: str(n.macAddress),
                // stringSetToMapStringString: "k=v" split at the first "=", entries without one dropped.
                DriverOpts: Object.fromEntries(
                    strings(n.driverOpts)
                        .map((o) => o.split(/=(.*)/s))
                        .filter((kv) => kv.length >= 2)
                        .map(([k, v]) => [k, v]),
                ),
            };
            if (given(n.gwPriority)) endpoint.GwPriority = int(n.gwPriority);
            try {
                await docker.getNetwork(str(n.name)).connect({ Container: id, EndpointConfig: endpoint });
            } catch (err) {
                throw partial(`Unable to connect to network '${str(n.name)}': ${daemonMessage(err)}`);
            }
        }
    }

    // resourceDockerContainerCreate: one tar per upload, CopyToContainer(id, "/", tar, {}) — no CopyUIDGID, so
    // the daemon chowns to the header's uid/gid (go-archive createTarFile: Lchown(hdr.Uid, hdr.Gid) after its
    // userns id mapping) and refuses "/" of a read-only rootfs (daemon archive containerExtractToDir).
    const now = new Date();
    for (const upload of objects(inputs.uploads)) {
        let archive: Buffer;
        try {
            archive = uploadArchive(upload, now);
        } catch (err) {
            throw partial(err instanceof Error ? err.message : String(err));
        }
        try {
            await container.putArchive(archive, { path: "/" });
        } catch (err) {
            throw partial(`Unable to upload volume content: ${daemonMessage(err)}`);
        }
    }

    if (inputs.start ?? true) {
        try {
            await container.start();
        } catch (err) {
            // 304 (already started) is a success for the Go client.
            if (apiError(err).statusCode !== 304) throw partial(`Unable to start container: ${daemonMessage(err)}`);
        }
    }
    return { id, outputs: { id, ...containerOutputs(inputs, await inspectContainer(docker, id)) } };
}

/** The attributes resourceDockerContainerUpdate sends through ContainerUpdate when any changed. */
const CONTAINER_UPDATE_ATTRS = ["restart", "maxRetryCount", "cpuShares", "memory", "memoryReservation", "cpuSet", "memorySwap"];

/** resource_docker_container_funcs.go resourceDockerContainerUpdate. */
async function updateContainer(docker: Docker, id: string, olds: Properties, news: Properties, oldOutputs: Properties): Promise<Properties> {
    const { changed } = diffDockerInputs(DOCKER_CONTAINER, olds, news);
    const container = docker.getContainer(id);
    if (changed.includes("mustRun") && (olds.mustRun ?? true) === false && (news.mustRun ?? true) === true && (news.start ?? true)) {
        try {
            await container.start();
        } catch (err) {
            if (apiError(err).statusCode !== 304) throw new Error(`Unable to start container: ${daemonMessage(err)}`, { cause: err });
        }
    }
    if (CONTAINER_UPDATE_ATTRS.some((a) => changed.includes(a))) {
        const MiB = 1024 * 1024;
        const update: Obj = {
            RestartPolicy: { Name: str(news.restart ?? "no"), MaximumRetryCount: int(news.maxRetryCount) },
            CpuShares: int(news.cpuShares),
            Memory: int(news.memory) * MiB,
            MemoryReservation: int(news.memoryReservation) * MiB,
            CpusetCpus: str(news.cpuSet),
        };
        if (given(news.memorySwap)) {
            const swap = int(news.memorySwap);
            update.MemorySwap = swap > 0 ? swap * MiB : swap;
        }
        try {
            await container.update(update);
        } catch (err) {
            throw new Error(`Unable to update a container: ${daemonMessage(err)}`, { cause: err });
        }
    }
    // Update returns without a Read: the state is the new configuration plus the prior computed values.
    const out: Properties = { ...oldOutputs };
    for (const [key, rule] of Object.entries(CONTAINER_RULES)) {
        const v = news[key] ?? rule.default;
        if (v !== undefined) out[key] = nestedDefaults(DOCKER_CONTAINER, key, v);
        else if (!rule.computed) delete out[key];
    }
    return out;
}

/** resource_docker_container_funcs.go resourceDockerContainerDelete: stop, remove with force, wait. */
async function deleteContainer(docker: Docker, id: string, inputs: Properties): Promise<void> {
    const container = docker.getContainer(id);
    // Stop first; destroy_grace_seconds unset means a timeout of 0 (SIGKILL right after the stop signal).
    const grace = int(inputs.destroyGraceSeconds);
    try {
        await container.stop({ t: grace > 0 ? grace : 0 });
    } catch (err) {
        // 304 (already stopped) is not an error for the Go client.
        if (apiError(err).statusCode !== 304 && !ignorable(err, "No such container")) throw new Error(`Error stopping container ${id}: ${daemonMessage(err)}`, { cause: err });
    }
    try {
        await container.remove({ v: inputs.removeVolumes ?? true, force: true });
    } catch (err) {
        if (!ignorable(err, "No such container", "is already in progress")) throw new Error(`Error deleting container ${id}: ${daemonMessage(err)}`, { cause: err });
    }
    try {
        await container.wait({ condition: bool(inputs.rm) ? "removed" : "not-running" });
    } catch (err) {
        if (!ignorable(err, "No such container", "is already in progress")) throw new Error(`Error waiting for container removal '${id}': ${daemonMessage(err)}`, { cause: err });
    }
}

// --- network ------------------------------------------------------------------------------------

interface NetworkInspect {
    Id: string;
    Name: string;
    Driver: string;
    Scope: string;
    Internal: boolean;
    Attachable: boolean;
    Ingress: boolean;
    EnableIPv6: boolean;
    Options: Record<string, string> | null;
    Labels: Record<string, string> | null;
    IPAM: {
        Driver: string;
        Options: Record<string, string> | null;
        Config: { Subnet?: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> }[] | null;
    };
}

/** resourceDockerNetworkReadRefreshFunc: what Read sets. */
function networkOutputs(inputs: Properties, n: NetworkInspect): Properties {
    return {
        ...inputs,
        id: n.Id,
        name: n.Name,
        labels: labelSet(n.Labels),
        driver: n.Driver,
        internal: n.Internal,
        attachable: n.Attachable,
        ingress: n.Ingress,
        ipv6: n.EnableIPv6,
        ipamDriver: n.IPAM.Driver,
        ipamOptions: n.IPAM.Options ?? {},
        scope: n.Scope,
        options: n.Options ?? {},
        // flattenIpamConfigSpec: only the non-empty fields.
        ipamConfigs: (n.IPAM.Config ?? []).map((c) => {
            const m: Obj = {};
            if (c.Subnet) m.subnet = c.Subnet;
            if (c.IPRange) m.ipRange = c.IPRange;
            if (c.Gateway) m.gateway = c.Gateway;
            if (c.AuxiliaryAddresses && Object.keys(c.AuxiliaryAddresses).length) m.auxAddress = c.AuxiliaryAddresses;
            return m;
        }),
    };
}

/** resource_docker_network_funcs.go resourceDockerNetworkCreate, then Read. */
async function createNetwork(docker: Docker, inputs: Properties): Promise<CreateResult> {
    const api = await apiVersion(docker);
    const request: Obj = { Name: str(inputs.name) };
    if (given(inputs.labels)) request.Labels = labelMap(inputs.labels);
    if (given(inputs.driver)) request.Driver = str(inputs.driver);
    if (given(inputs.options)) request.Options = stringMap(inputs.options);
    if (given(inputs.internal)) request.Internal = true;
    if (given(inputs.attachable)) request.Attachable = true;
    if (given(inputs.ingress)) request.Ingress = true;
    if (given(inputs.ipv6)) request.EnableIPv6 = true;
    // ipam_driver defaults to "default", so IPAM is always sent.
    const ipam: Obj = { Driver: str(inputs.ipamDriver ?? "default") || "default" };
    if (given(inputs.ipamConfigs)) {
        ipam.Config = objects(inputs.ipamConfigs).map((c) => {
            const m: Obj = {};
            if (str(c.subnet)) m.Subnet = str(c.subnet);
            if (str(c.ipRange)) m.IPRange = str(c.ipRange);
            if (str(c.gateway)) m.Gateway = str(c.gateway);
            if (given(c.auxAddress)) m.AuxiliaryAddresses = stringMap(c.auxAddress);
            return m;
        });
    }
    if (given(inputs.ipamOptions)) ipam.Options = stringMap(inputs.ipamOptions);
    request.IPAM = ipam;
    // The Go client (v28) asks for the duplicate check itself below API 1.44; later daemons always check.
    if (api < versionNumber("1.44")) request.CheckDuplicate = true;
    let id: string;
    try {
        id = (await docker.createNetwork(request as unknown as Docker.NetworkCreateOptions)).id;
    } catch (err) {
        throw new Error(`Unable to create network: ${daemonMessage(err)}`, { cause: err });
    }
    const n = (await docker.getNetwork(id).inspect()) as NetworkInspect;
    return { id, outputs: networkOutputs(inputs, n) };
}

/** retry.StateChangeConf as the network and volume deletes use it: wait Delay, refresh until removed or Timeout. */
async function retryRemoval(what: string, retry: { delayMs: number; pollMs: number; timeoutMs: number }, attempt: () => Promise<"removed" | "pending">): Promise<void> {
    const deadline = Date.now() + retry.timeoutMs;
    await sleep(retry.delayMs);
    for (;;) {
        if ((await attempt()) === "removed") return;
        if (Date.now() + retry.pollMs > deadline) {
            throw new Error(`timeout while waiting for state to become 'removed' (last state: 'pending', timeout: ${retry.timeoutMs / 1000}s): ${what}`);
        }
        await sleep(retry.pollMs);
    }
}

// --- volume ---------------------------------------------------------------------------------------

interface VolumeInspect {
    Name: string;
    Driver: string;
    Mountpoint: string;
    Labels: Record<string, string> | null;
    Options: Record<string, string> | null;
}

/** resource_docker_volume.go resourceDockerVolumeCreate (no cluster block here), then Read. */
async function createVolume(docker: Docker, inputs: Properties): Promise<CreateResult> {
    const request: Obj = {};
    if (given(inputs.name)) request.Name = str(inputs.name);
    if (given(inputs.labels)) request.Labels = labelMap(inputs.labels);
    if (given(inputs.driver)) request.Driver = str(inputs.driver);
    if (given(inputs.driverOpts)) request.DriverOpts = stringMap(inputs.driverOpts);
    let name: string;
    try {
        name = ((await docker.createVolume(request as unknown as Docker.VolumeCreateOptions)) as unknown as { name: string }).name;
    } catch (err) {
        throw new Error(`Unable to create volume: ${daemonMessage(err)}`, { cause: err });
    }
    const v = (await docker.getVolume(name).inspect()) as unknown as VolumeInspect;
    // resourceDockerVolumeRead
    return {
        id: v.Name,
        outputs: { ...inputs, id: v.Name, name: v.Name, labels: labelSet(v.Labels), driver: v.Driver, driverOpts: v.Options ?? {}, mountpoint: v.Mountpoint },
    };
}

// --- remote image --------------------------------------------------------------------------------

/** resource_docker_image_funcs.go resourceDockerImageCreate/Update (no build block here): findImage, then Read. */
async function readRemoteImage(docker: Docker, inputs: Properties): Promise<CreateResult> {
    const name = str(inputs.name);
    const found = await findImage(docker, name);
    const repoDigest = determineRepoDigest(name, found.RepoDigests ?? []);
    // The id upstream keeps: image id and name run together ("TODO mavogel: remove the appended name").
    const id = `${found.Id}${name}`;
    return { id, outputs: { ...inputs, id, imageId: found.Id, repoDigest } };
}

// --- the provider -------------------------------------------------------------------------------

/**
 * The Docker stand-in. `clientFor` gets the `docker.Provider`'s inputs (e.g. `{host}`; empty for the
 * default provider) and returns the dockerode client to use.
 */
export function dockerProvider(clientFor: (providerInputs: Record<string, unknown>) => Docker, options: DockerProviderOptions = {}): LiveProvider {
    const retry = options.removeRetry ?? DEFAULT_REMOVE_RETRY;
    const clients = new Map<string, Docker>();
    const client = (context: ProviderContext): Docker => {
        const key = JSON.stringify(context.provider ?? {});
        let c = clients.get(key);
        if (!c) {
            c = clientFor(context.provider ?? {});
            clients.set(key, c);
        }
        return c;
    };
    const requireName = (type: string, inputs: Properties) => {
        // The bridge would autoname (SetAutonaming(255, "-")); our program names everything, and a random
        // name would not survive in the inputs this engine keeps.
        if (!given(inputs.name)) throw new Error(`docker: ${type} needs an explicit name in this stand-in (the bridge would autoname it)`);
    };
    return {
        types: [DOCKER_CONTAINER, DOCKER_NETWORK, DOCKER_VOLUME, DOCKER_REMOTE_IMAGE],
        diff(type, olds, news) {
            return diffDockerInputs(type, olds, news);
        },
        async create(type, _name, inputs, context): Promise<CreateResult> {
            checkInputs(type, inputs);
            requireName(type, inputs);
            // Pulls send an empty auth config (pullImage: AuthConfigs.Configs[registry] or {}).
            if (given(context.provider?.registryAuth)) throw new Error("docker: the provider's registryAuth is not supported by this stand-in");
            const docker = client(context);
            switch (type) {
                case DOCKER_CONTAINER:
                    return createContainer(docker, inputs);
                case DOCKER_NETWORK:
                    return createNetwork(docker, inputs);
                case DOCKER_VOLUME:
                    return createVolume(docker, inputs);
                case DOCKER_REMOTE_IMAGE:
                    return readRemoteImage(docker, inputs);
                default:
                    throw new Error(`docker: this stand-in does not serve ${type}`);
            }
        },
        async update(type, id, olds, news, oldOutputs, context) {
            checkInputs(type, news);
            const docker = client(context);
            switch (type) {
                case DOCKER_CONTAINER:
                    return updateContainer(docker, id, olds, news, oldOutputs);
                case DOCKER_REMOTE_IMAGE:
                    // resourceDockerImageUpdate: findImage again (pulls if the image went missing), then Read.
                    return (await readRemoteImage(docker, news)).outputs;
                default: {
                    // Networks have no Update and every volume argument but cluster.availability is ForceNew.
                    const { changed } = diffDockerInputs(type, olds, news);
                    throw new Error(`docker: ${type} cannot be updated in place (changed: ${changed.join(", ")})`);
                }
            }
        },
        async delete(type, id, inputs, _outputs, context) {
            const docker = client(context);
            switch (type) {
                case DOCKER_CONTAINER:
                    return deleteContainer(docker, id, inputs);
                case DOCKER_NETWORK:
                    return retryRemoval(`network ${id}`, retry, async () => {
                        try {
                            await docker.getNetwork(id).inspect();
                        } catch {
                            return "removed";
                        }
                        try {
                            await docker.getNetwork(id).remove();
                            return "removed";
                        } catch (err) {
                            if (ignorable(err, "has active endpoints")) return "pending";
                            throw new Error(daemonMessage(err), { cause: err });
                        }
                    });
                case DOCKER_VOLUME:
                    return retryRemoval(`volume ${id}`, retry, async () => {
                        try {
                            await docker.getVolume(id).remove({ force: true });
                            return "removed";
                        } catch (err) {
                            if (ignorable(err, "volume is in use")) return "pending";
                            throw new Error(daemonMessage(err), { cause: err });
                        }
                    });
                case DOCKER_REMOTE_IMAGE: {
                    // removeImage: nothing when keep_locally; else remove by name if it is still there.
                    if (bool(inputs.keepLocally)) return;
                    const name = str(inputs.name);
                    if (name === "") throw new Error("Unable to remove Docker image: empty image name is not allowed");
                    if (!(await searchLocalImage(docker, name))) return;
                    try {
                        await docker.getImage(name).remove({ force: bool(inputs.forceRemove) });
                    } catch (err) {
                        throw new Error(`Unable to remove Docker image: ${daemonMessage(err)}`, { cause: err });
                    }
                    return;
                }
                default:
                    throw new Error(`docker: this stand-in does not serve ${type}`);
            }
        },
    };
}
