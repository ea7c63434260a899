// Helpers for reading what a mocked stack run declared.
import { isSecretValue, type CapturedResource, type StackRun } from "../../lib/mock-run";

export const CONTAINER = "docker:index/container:Container";
export const NETWORK = "docker:index/network:Network";
export const VOLUME = "docker:index/volume:Volume";
export const STORAGE_BOX = "hcloud:index/storageBox:StorageBox";
/** A fixed "today" so plans are reproducible. */
export const AS_OF = "2026-11-23";

export const pinnedAsOf = (asOf: string = AS_OF) => ({
    iceland: { "redoubt:asOf": asOf },
    "backup-helsinki": { "redoubt:asOf": asOf },
    "backup-falkenstein": { "redoubt:asOf": asOf },
});

export function ofType(run: StackRun, type: string): CapturedResource[] {
    return run.resources.filter((r) => r.type === type);
}

/** The value with a secret marker removed (policies and the engine see through it too). */
export function plain<T = unknown>(value: unknown): T {
    return (isSecretValue(value) ? value.value : value) as T;
}

export function labelsOf(resource: CapturedResource): Record<string, string> {
    const labels = plain<{ label: string; value: string }[] | Record<string, string> | undefined>(resource.inputs.labels);
    if (Array.isArray(labels)) return Object.fromEntries(labels.map((l) => [l.label, l.value]));
    return labels ?? {};
}

/** The tenant a resource belongs to: its component's name prefix (every child is named `${tenant}-<part>`). */
export function tenantOf(resource: CapturedResource, tenants: string[]): string | undefined {
    return tenants.find((t) => resource.name === t || resource.name.startsWith(`${t}-`));
}

export function networksOf(container: CapturedResource): string[] {
    return plain<{ name: string }[]>(container.inputs.networksAdvanced ?? []).map((n) => n.name);
}

export interface Upload {
    file: string;
    content?: string;
    contentBase64?: string;
}

export function uploadsOf(container: CapturedResource): Upload[] {
    return plain<Upload[]>(container.inputs.uploads ?? []);
}

export function uploadContent(container: CapturedResource, file: string): string {
    const upload = uploadsOf(container).find((u) => u.file === file);
    if (!upload?.content) throw new Error(`${container.name} has no upload ${file}`);
    return upload.content;
}

/** Every string inside a value, with whether it sits under a secret marker. */
export function stringsIn(value: unknown, secret = false): { value: string; secret: boolean }[] {
    if (isSecretValue(value)) return stringsIn(value.value, true);
    if (typeof value === "string") return [{ value, secret }];
    if (Array.isArray(value)) return value.flatMap((v) => stringsIn(v, secret));
    if (value && typeof value === "object") return Object.values(value).flatMap((v) => stringsIn(v, secret));
    return [];
}
