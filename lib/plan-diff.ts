// Compares two offline plans (PlanDocument) resource by resource, per stack
// and tenant: added, changed (input path, old → new) and removed. Removing or
// replacing a protected or data-holding resource is reported separately as
// data loss, so it can be printed first and loudly.
import { SECRET_PLACEHOLDER, shortType, type PlanDiagnostic, type PlanDocument, type PlannedResource } from "./plan";

export interface FieldChange {
    path: string;
    /** undefined: the field is absent on that side. */
    before?: unknown;
    after?: unknown;
    /** The field holds a secret on either side; values are shown as [secret]. */
    secret?: boolean;
}

export type ChangeKind = "add" | "remove" | "change" | "replace";

export interface ResourceChange {
    kind: ChangeKind;
    stack: string;
    tenant?: string;
    urn: string;
    type: string;
    name: string;
    protect: { before?: boolean; after?: boolean };
    fields: FieldChange[];
    /** Why this change destroys data (removal or replacement of a protected/data resource). */
    dataLoss?: string;
}

export interface PlanDiff {
    changes: ResourceChange[];
    dataLoss: ResourceChange[];
    /** Diagnostics present after but not before, and gone after. */
    diagnostics: { added: (PlanDiagnostic & { stack: string })[]; resolved: (PlanDiagnostic & { stack: string })[] };
    /** Stacks present on only one side. */
    stacksOnlyBefore: string[];
    stacksOnlyAfter: string[];
}

const DATA_LABEL = "redoubt.data";

function labelsOf(r: PlannedResource): Record<string, string> {
    const raw = r.inputs["labels"];
    const out: Record<string, string> = {};
    if (Array.isArray(raw)) {
        for (const e of raw) if (e && typeof e === "object" && "label" in e) out[String((e as { label: unknown }).label)] = String((e as { value?: unknown }).value ?? "");
    } else if (raw && typeof raw === "object") {
        for (const [k, v] of Object.entries(raw)) out[k] = String(v);
    }
    return out;
}

/** Resources whose loss loses tenant data: protected ones, data volumes, Storage Boxes, LUKS containers and their keys. */
export function isDataResource(r: PlannedResource): boolean {
    return r.protect || labelsOf(r)[DATA_LABEL] === "true" || r.type === "hcloud:index/storageBox:StorageBox" || /-volume-(luks|key)$/.test(r.name);
}

/**
 * Inputs whose change makes the provider replace the resource (delete, then create),
 * for the data-holding types. Docker volumes: every input is ForceNew. random: every
 * input is ForceNew (a new key, so the LUKS container can no longer be opened).
 */
export function replacingFields(type: string, fields: FieldChange[]): FieldChange[] {
    const top = (f: FieldChange) => f.path.split(/[.[]/)[0];
    switch (type) {
        case "docker:index/volume:Volume":
        case "random:index/randomPassword:RandomPassword":
        case "random:index/randomBytes:RandomBytes":
            return fields;
        case "hcloud:index/storageBox:StorageBox":
            return fields.filter((f) => ["location", "name", "password", "sshKeys"].includes(top(f)) && !(top(f) === "password" && f.secret));
        case "command:remote:Command":
            return fields.filter((f) => top(f) === "triggers");
        default:
            return [];
    }
}

const KEY_FIELDS = ["label", "file", "name", "containerPath", "target", "path", "key"];

/** Flattens inputs to path → leaf. Arrays of objects with a unique key field are keyed by it (`labels[redoubt.status].value`). */
export function flatten(value: unknown, prefix = "", out: Map<string, unknown> = new Map()): Map<string, unknown> {
    if (Array.isArray(value)) {
        if (value.length === 0 || value.every((v) => v === null || typeof v !== "object")) {
            out.set(prefix, value);
            return out;
        }
        const keyField = KEY_FIELDS.find((k) => {
            const keys = value.map((v) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined));
            return keys.every((x) => typeof x === "string") && new Set(keys).size === keys.length;
        });
        value.forEach((v, i) => flatten(v, `${prefix}[${keyField ? String((v as Record<string, unknown>)[keyField]) : i}]`, out));
        return out;
    }
    if (value && typeof value === "object") {
        const entries = Object.entries(value);
        if (entries.length === 0) out.set(prefix, {});
        for (const [k, v] of entries) flatten(v, prefix ? `${prefix}.${k}` : k, out);
        return out;
    }
    out.set(prefix, value);
    return out;
}

function secretPathOf(path: string, digests: Record<string, string> | undefined): string | undefined {
    if (!digests) return undefined;
    return Object.keys(digests).find((p) => path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`));
}

/** Field by field differences of two resources' inputs. */
export function diffInputs(before: PlannedResource, after: PlannedResource): FieldChange[] {
    const a = flatten(before.inputs);
    const b = flatten(after.inputs);
    const changes: FieldChange[] = [];
    for (const path of new Set([...a.keys(), ...b.keys()])) {
        const x = a.get(path);
        const y = b.get(path);
        const sa = secretPathOf(path, before.secretDigests);
        const sb = secretPathOf(path, after.secretDigests);
        if (sa !== undefined || sb !== undefined) {
            // Both "[secret]": changed only when the digests differ.
            const da = sa !== undefined ? before.secretDigests![sa] : undefined;
            const db = sb !== undefined ? after.secretDigests![sb] : undefined;
            if (da === db && JSON.stringify(x) === JSON.stringify(y)) continue;
            changes.push({ path, before: x === undefined ? undefined : SECRET_PLACEHOLDER, after: y === undefined ? undefined : SECRET_PLACEHOLDER, secret: true });
            continue;
        }
        if (JSON.stringify(x) !== JSON.stringify(y)) changes.push({ path, before: x, after: y });
    }
    return changes.sort((p, q) => p.path.localeCompare(q.path));
}

function diagnosticKey(d: PlanDiagnostic): string {
    return `${d.policy}\0${d.urn ?? ""}\0${d.message}`;
}

export function diffPlans(before: PlanDocument, after: PlanDocument): PlanDiff {
    const changes: ResourceChange[] = [];
    const diagnostics: PlanDiff["diagnostics"] = { added: [], resolved: [] };
    const beforeStacks = new Map(before.stacks.map((s) => [s.stack, s]));
    const afterStacks = new Map(after.stacks.map((s) => [s.stack, s]));
    for (const s of after.stacks) {
        const old = beforeStacks.get(s.stack);
        const oldResources = new Map((old?.resources ?? []).map((r) => [r.urn, r]));
        const newResources = new Map(s.resources.map((r) => [r.urn, r]));
        for (const r of s.resources) {
            const o = oldResources.get(r.urn);
            if (!o) {
                changes.push({ kind: "add", stack: s.stack, tenant: r.tenant, urn: r.urn, type: r.type, name: r.name, protect: { after: r.protect }, fields: [] });
                continue;
            }
            const fields = diffInputs(o, r);
            if (o.protect !== r.protect) fields.unshift({ path: "(protect)", before: o.protect, after: r.protect });
            if (fields.length === 0) continue;
            const replacing = replacingFields(r.type, fields);
            const replace = replacing.length > 0;
            const change: ResourceChange = {
                kind: replace ? "replace" : "change",
                stack: s.stack,
                tenant: r.tenant ?? o.tenant,
                urn: r.urn,
                type: r.type,
                name: r.name,
                protect: { before: o.protect, after: r.protect },
                fields,
            };
            if (replace && isDataResource(o))
                change.dataLoss = `${s.stack}: ${shortType(r.type)} ${r.name}${o.protect ? " (protected)" : ""} of tenant ${change.tenant ?? "(shared)"} would be REPLACED (deleted, then created empty): ${replacing.map((f) => f.path).join(", ")} changed`;
            changes.push(change);
        }
        for (const o of old?.resources ?? []) {
            if (newResources.has(o.urn)) continue;
            const change: ResourceChange = { kind: "remove", stack: s.stack, tenant: o.tenant, urn: o.urn, type: o.type, name: o.name, protect: { before: o.protect }, fields: [] };
            if (isDataResource(o))
                change.dataLoss = `${s.stack}: ${shortType(o.type)} ${o.name}${o.protect ? " (protected)" : ""} of tenant ${o.tenant ?? "(shared)"} would be DELETED`;
            changes.push(change);
        }
        const oldDiags = new Set((old?.diagnostics ?? []).map(diagnosticKey));
        const newDiags = new Set(s.diagnostics.map(diagnosticKey));
        for (const d of s.diagnostics) if (!oldDiags.has(diagnosticKey(d))) diagnostics.added.push({ ...d, stack: s.stack });
        for (const d of old?.diagnostics ?? []) if (!newDiags.has(diagnosticKey(d))) diagnostics.resolved.push({ ...d, stack: s.stack });
    }
    return {
        changes,
        dataLoss: changes.filter((c) => c.dataLoss),
        diagnostics,
        stacksOnlyBefore: before.stacks.filter((s) => !afterStacks.has(s.stack)).map((s) => s.stack),
        stacksOnlyAfter: after.stacks.filter((s) => !beforeStacks.has(s.stack)).map((s) => s.stack),
    };
}

function show(v: unknown): string {
    if (v === undefined) return "(absent)";
    const text = typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v);
    return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** Changed lines of two multi-line strings (a compact line diff). */
function lineDiff(a: string, b: string, indent: string): string[] {
    const x = a.split("\n");
    const y = b.split("\n");
    const setX = new Set(x);
    const setY = new Set(y);
    const out: string[] = [];
    for (const l of x) if (!setY.has(l)) out.push(`${indent}- ${l}`);
    for (const l of y) if (!setX.has(l)) out.push(`${indent}+ ${l}`);
    return out.slice(0, 40);
}

function renderField(f: FieldChange, indent: string): string[] {
    if (f.secret)
        return [
            `${indent}${f.path}: ${f.before === undefined ? "(absent)" : SECRET_PLACEHOLDER} → ${f.after === undefined ? "(absent)" : SECRET_PLACEHOLDER}${f.before !== undefined && f.after !== undefined ? " (changed)" : ""}`,
        ];
    if (typeof f.before === "string" && typeof f.after === "string" && (f.before.includes("\n") || f.after.includes("\n"))) {
        return [`${indent}${f.path}: (text changed)`, ...lineDiff(f.before, f.after, `${indent}    `)];
    }
    return [`${indent}${f.path}: ${show(f.before)} → ${show(f.after)}`];
}

export function renderDiff(diff: PlanDiff, label: { before: string; after: string }): string {
    const lines: string[] = [];
    if (diff.dataLoss.length > 0) {
        lines.push(`!!! DATA LOSS: ${diff.dataLoss.length} resource${diff.dataLoss.length === 1 ? "" : "s"} holding tenant data would be deleted or replaced:`);
        for (const c of diff.dataLoss) lines.push(`!!! DATA LOSS: ${c.dataLoss}`);
        lines.push("!!! Protected resources make `pulumi up` stop; check that this is a cancelled tenant past its deadline before unprotecting anything.");
        lines.push("");
    }
    lines.push(`Plan diff ${label.before} → ${label.after}`);
    for (const s of diff.stacksOnlyAfter) lines.push(`  stack ${s}: not planned at ${label.before}`);
    for (const s of diff.stacksOnlyBefore) lines.push(`  stack ${s}: not planned at ${label.after}`);
    if (diff.changes.length === 0) lines.push("  no resource changes");
    const stacks = [...new Set(diff.changes.map((c) => c.stack))];
    for (const stack of stacks) {
        lines.push(`stack ${stack}:`);
        const inStack = diff.changes.filter((c) => c.stack === stack);
        const tenants = [...new Set(inStack.map((c) => c.tenant ?? ""))].sort((a, b) => (a === "" ? 1 : b === "" ? -1 : a.localeCompare(b)));
        for (const tenant of tenants) {
            const cs = inStack.filter((c) => (c.tenant ?? "") === tenant);
            const n = (k: ChangeKind) => cs.filter((c) => c.kind === k).length;
            lines.push(
                `  ${tenant ? `tenant ${tenant}` : "shared (no tenant)"}: ${n("add")} to add, ${n("change")} to change, ${n("replace")} to replace, ${n("remove")} to remove`,
            );
            // Removals and replacements first: they are the dangerous ones.
            for (const c of cs.filter((c) => c.kind === "remove"))
                lines.push(`    - ${shortType(c.type)} ${c.name}${c.protect.before ? " [protected]" : ""}${c.dataLoss ? "  !!! DATA LOSS" : ""}`);
            for (const c of cs.filter((c) => c.kind === "replace")) {
                lines.push(`    +- ${shortType(c.type)} ${c.name} (replace)${c.dataLoss ? "  !!! DATA LOSS" : ""}`);
                for (const f of c.fields) lines.push(...renderField(f, "        "));
            }
            for (const c of cs.filter((c) => c.kind === "change")) {
                lines.push(`    ~ ${shortType(c.type)} ${c.name}`);
                for (const f of c.fields) lines.push(...renderField(f, "        "));
            }
            for (const c of cs.filter((c) => c.kind === "add")) lines.push(`    + ${shortType(c.type)} ${c.name}${c.protect.after ? " [protected]" : ""}`);
        }
    }
    const { added, resolved } = diff.diagnostics;
    if (added.length || resolved.length) {
        lines.push("policy diagnostics:");
        for (const d of added) lines.push(`  new      [${d.level}] ${d.stack} ${d.policy}${d.tenant ? ` (tenant ${d.tenant})` : ""}: ${d.message.split("\n").slice(-1)[0]}`);
        for (const d of resolved) lines.push(`  resolved [${d.level}] ${d.stack} ${d.policy}${d.tenant ? ` (tenant ${d.tenant})` : ""}`);
    }
    return lines.join("\n");
}
