// `pulumi up` of the real stacks onto a real host, through the live engine:
// the backup stacks first (their Storage Boxes are SFTP accounts on the
// host's stand-in sites), then the primary stack, which reads their outputs
// as StackReferences, exactly as the CLI run order (README "Stacks") has it.
import * as fs from "node:fs";
import * as path from "node:path";
import Docker from "dockerode";
import { defineStack } from "../../stacks/program";
import { PROJECT, PROJECT_DIR } from "../mock-run";
import { commandProvider } from "./command";
import { dockerProvider } from "./docker";
import { runLive, type LiveRunResult } from "./engine";
import { GENERATED_SECRET_OUTPUTS, randomProvider, tlsProvider } from "./generated";
import type { Properties } from "./provider";
import { readState } from "./state";
import { SshConnection, type SshTarget } from "./ssh";
import { storageBoxProvider } from "./storage-box";

/** Everything the live run needs to know about the host it deploys to. */
export interface LiveHostAccess {
    /** SSH to the Docker host as root, host key pinned (the key also goes into the stack's secret config, for host commands). */
    ssh: SshTarget & { privateKey: string };
    /** The address the edge publishes 443 (and WireGuard its ports) on. */
    publicAddress: string;
    /** The image catalog whose images the host's registry holds (a separate file, never images.yaml). */
    catalogFile: string;
    /** A private ACME CA for public tenants' certificates, and the CA its directory's HTTPS is signed by. */
    acme: { directory: string; directoryCa: string };
    /** The stand-in Storage Box sites, by Hetzner location: the address backup agents reach, and how to add a box. */
    sites: Record<"hel1" | "fsn1", { site: "helsinki" | "falkenstein"; address: string }>;
}

export interface LiveUpOptions {
    host: LiveHostAccess;
    tenantsDir: string;
    /** Where each stack's state file lives (kept between runs: the second run updates and deletes). */
    stateDir: string;
    /** The run's lifecycle day, given explicitly as REDOUBT_AS_OF gives it to a CLI run; default today. */
    asOf?: string;
    log?: (line: string) => void;
}

export const LIVE_STACKS = { helsinki: "backup-helsinki", falkenstein: "backup-falkenstein", primary: "iceland" } as const;

/** The stacks' config as Pulumi hands it to the program: `namespace:key` → string (structured values as JSON). */
export function liveStackConfigs(options: LiveUpOptions): Record<string, Record<string, string>> {
    const { host } = options;
    const common = { "redoubt:tenantsDir": options.tenantsDir };
    return {
        [LIVE_STACKS.helsinki]: { ...common, "redoubt:role": "backup", "redoubt:site": "helsinki", "redoubt:country": "FI", "redoubt:location": "hel1" },
        [LIVE_STACKS.falkenstein]: { ...common, "redoubt:role": "backup", "redoubt:site": "falkenstein", "redoubt:country": "DE", "redoubt:location": "fsn1" },
        [LIVE_STACKS.primary]: {
            ...common,
            "redoubt:role": "primary",
            "redoubt:site": "iceland",
            "redoubt:country": "IS",
            "redoubt:dockerHost": `ssh://${host.ssh.user}@${host.ssh.host}:${host.ssh.port}`,
            "redoubt:sshHostKey": host.ssh.hostKey.split(/\s+/).slice(0, 2).join(" "),
            "redoubt:publicAddress": host.publicAddress,
            "redoubt:acmeEmail": "hostmaster@live.test",
            "redoubt:registrationTerms": JSON.stringify({ privacy_policy: { name: "Privacy policy", version: "1.0", url: "https://live.test/privacy" } }),
            "redoubt:acmeDirectory": host.acme.directory,
            "redoubt:acmeDirectoryCa": host.acme.directoryCa,
            "redoubt:imageCatalog": host.catalogFile,
            "redoubt:backupSites": JSON.stringify({ helsinki: { stack: LIVE_STACKS.helsinki, country: "FI" }, falkenstein: { stack: LIVE_STACKS.falkenstein, country: "DE" } }),
            // A secret in real stacks (pulumi config set --secret); the host commands use it.
            "redoubt:sshPrivateKey": host.ssh.privateKey,
        },
    };
}

export function statePath(stateDir: string, stack: string): string {
    return path.join(stateDir, `${stack}.json`);
}

/**
 * Brings every stack up on the live host, backups first. Returns each stack's
 * run (steps and outputs). Throws at the first stack that fails; what was
 * done stays in its state file.
 */
export async function liveUp(options: LiveUpOptions): Promise<Record<string, LiveRunResult>> {
    const { host } = options;
    const ssh = new SshConnection(host.ssh);
    // The Docker provider reaches the Engine API as `docker -H ssh://…` does: `docker system dial-stdio` over SSH.
    const docker = dockerProvider(() => new Docker({ protocol: "http", host: "docker", port: 80, agent: ssh.dockerAgent() } as Docker.DockerOptions));
    const command = commandProvider();
    const sites = Object.fromEntries(
        Object.entries(host.sites).map(([location, { site, address }]) => [
            location,
            {
                address,
                run: (cmd: string, stdin?: string) => ssh.run(cmd, { stdin }),
                addBox: (user: string) => `/usr/local/sbin/redoubt-site-box add ${site} ${user}`,
                removeBox: (user: string) => `/usr/local/sbin/redoubt-site-box remove ${site} ${user}`,
            },
        ]),
    );
    const providers = [docker, command, randomProvider(), tlsProvider(), storageBoxProvider(sites)];
    const configs = liveStackConfigs(options);
    fs.mkdirSync(options.stateDir, { recursive: true, mode: 0o700 });
    const results: Record<string, LiveRunResult> = {};
    const references: Record<string, Properties> = {};
    try {
        for (const stack of [LIVE_STACKS.helsinki, LIVE_STACKS.falkenstein, LIVE_STACKS.primary]) {
            const file = statePath(options.stateDir, stack);
            options.log?.(`== live up: ${stack}`);
            const result = await runLive(
                () => defineStack({ projectDir: PROJECT_DIR, asOf: options.asOf }),
                {
                    project: PROJECT,
                    stack,
                    state: readState(file, stack),
                    statePath: file,
                    providers,
                    secretOutputs: GENERATED_SECRET_OUTPUTS,
                    stackReferences: references,
                    log: options.log,
                },
                configs[stack],
                ["redoubt:sshPrivateKey"],
            );
            results[stack] = result;
            references[stack] = result.outputs;
        }
    } finally {
        command.close();
        ssh.close();
    }
    return results;
}
