// Stand-in for `hcloud.StorageBox` (@pulumi/hcloud, terraform-provider-hcloud):
// an SFTP account on a site's SFTP server (OpenSSH in the live host VM,
// chrooted, key-only, SFTP only), which is what the backup agent needs of a
// Storage Box. Follows the real resource where it matters to us:
//   - `sshKeys` and `location` cannot change: a change replaces the box
//     (the schema's documentation: "It is not possible to update the SSH Keys
//     through the API");
//   - `deleteProtection: true` refuses deletion (Hetzner's API does);
//   - outputs `server` (the host name restic connects to) and `username`.
import { randomInt } from "node:crypto";
import { changedKeys, type CreateResult, type LiveProvider, type Properties } from "./provider";

export const STORAGE_BOX = "hcloud:index/storageBox:StorageBox";

export interface StorageBoxSite {
    /** Address of the site's SFTP server, as backup agents reach it. */
    address: string;
    /** Runs a command as root on the machine that hosts the site's SFTP server. */
    run(command: string, stdin?: string): Promise<string>;
    /** The command that adds a box user with the public keys on stdin; `$USER` is the box user. */
    addBox(user: string): string;
    removeBox(user: string): string;
}

/** Sites by Hetzner location (hel1 → the Helsinki stand-in, fsn1 → Falkenstein's). */
export function storageBoxProvider(sites: Record<string, StorageBoxSite>): LiveProvider {
    const siteOf = (inputs: Properties): StorageBoxSite => {
        const site = sites[String(inputs.location)];
        if (!site) throw new Error(`no stand-in Storage Box site for location ${String(inputs.location)}`);
        return site;
    };
    return {
        types: [STORAGE_BOX],
        diff(_type, olds, news) {
            const changed = changedKeys(olds, news);
            return { changed, replaceKeys: changed.filter((k) => k === "sshKeys" || k === "location") };
        },
        async create(_type, _name, inputs): Promise<CreateResult> {
            const access = (inputs.accessSettings ?? {}) as Record<string, unknown>;
            if (access.sshEnabled !== true || access.reachableExternally !== true) {
                throw new Error("a Storage Box without sshEnabled and reachableExternally cannot be reached by SFTP from our host");
            }
            const id = String(100000 + randomInt(900000));
            const username = `u${id}`;
            const site = siteOf(inputs);
            await site.run(site.addBox(username), `${((inputs.sshKeys as string[]) ?? []).map((k) => k.trim()).join("\n")}\n`);
            return { id, outputs: { ...inputs, server: site.address, username, system: `LIVE-${String(inputs.location).toUpperCase()}` } };
        },
        async update(_type, _id, _olds, news, oldOutputs) {
            // Labels, access settings and delete protection change at Hetzner without touching the box's data.
            return { ...oldOutputs, ...news, server: oldOutputs.server, username: oldOutputs.username };
        },
        async delete(_type, id, inputs, outputs) {
            if (inputs.deleteProtection === true) throw new Error(`storage box ${id} is delete-protected; lift the protection first`);
            const site = siteOf(inputs);
            await site.run(site.removeBox(String(outputs.username)));
        },
    };
}
