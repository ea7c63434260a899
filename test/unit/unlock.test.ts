// What `npm run tenant -- unlock` reads from a state: the real stack program
// realized by the live engine with recording stand-ins for the host (so the
// state has real outputs: keys, component outputs), then the unlock plan and
// the commands it sends.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { luksScriptPath } from "../../components/encryptedVolume";
import { containerName, EDGE_CONTAINER } from "../../components/names";
import { runLive } from "../../lib/live/engine";
import { GENERATED_SECRET_OUTPUTS, randomProvider, tlsProvider } from "../../lib/live/generated";
import { changedKeys, type LiveProvider } from "../../lib/live/provider";
import { readState, SECRET_SIGNATURE, SECRET_SIGNATURE_KEY, type LiveState } from "../../lib/live/state";
import { PROJECT, PROJECT_DIR, readStackConfigFile } from "../../lib/mock-run";
import { plaintext, unlock, unlockPlan, UnlockError } from "../../lib/unlock";
import { defineStack } from "../../stacks/program";
import { AS_OF } from "../e2e/stack-helpers";

/** Answers every host resource as created, echoing its inputs (what the engine then records). */
function hostStandIn(types: string[]): LiveProvider {
    let n = 0;
    return {
        types,
        diff: (_t, olds, news) => ({ changed: changedKeys(olds, news), replaceKeys: [] }),
        create: async (type, name, inputs) => ({
            id: `${name}-${++n}`,
            outputs: type === "hcloud:index/storageBox:StorageBox" ? { ...inputs, server: `u${n}.example`, username: `u${n}` } : { ...inputs, repoDigest: inputs.name },
        }),
        update: async (_t, _id, _o, news) => news,
        delete: async () => undefined,
    };
}

const HOST_TYPES = [
    "docker:index/container:Container",
    "docker:index/network:Network",
    "docker:index/volume:Volume",
    "docker:index/remoteImage:RemoteImage",
    "command:remote:Command",
    "hcloud:index/storageBox:StorageBox",
];

/** An ed25519 public key in OpenSSH's encoding (length-prefixed type, then the 32-byte key). */
const STAND_IN_HOST_KEY = (() => {
    const type = Buffer.from("ssh-ed25519");
    const key = Buffer.alloc(32, 7);
    const blob = Buffer.concat([Buffer.from([0, 0, 0, type.length]), type, Buffer.from([0, 0, 0, 32]), key]);
    return `ssh-ed25519 ${blob.toString("base64")}`;
})();

let state: LiveState;

beforeAll(async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redoubt-unlock-"));
    const references: Record<string, Record<string, unknown>> = {};
    for (const stack of ["backup-helsinki", "backup-falkenstein", "iceland"]) {
        const file = path.join(dir, `${stack}.json`);
        const result = await runLive(
            () => defineStack({ projectDir: PROJECT_DIR, asOf: AS_OF }),
            {
                project: PROJECT,
                stack,
                state: readState(file, stack),
                statePath: file,
                providers: [hostStandIn(HOST_TYPES), randomProvider(), tlsProvider()],
                secretOutputs: GENERATED_SECRET_OUTPUTS,
                stackReferences: references,
            },
            // A deployment refuses the example's placeholder host key; this host is a stand-in with its own.
            { ...readStackConfigFile(stack), ...(stack === "iceland" ? { "redoubt:sshHostKey": STAND_IN_HOST_KEY } : {}) },
        );
        references[stack] = result.outputs;
        state = result.state;
    }
}, 120_000);

describe("unlock plan", () => {
    it("finds every tenant's volume, its key and script, and the containers that run", () => {
        const plan = unlockPlan(state.resources);
        expect(plan.tenants.map((t) => t.tenant)).toEqual(["acme", "harbor", "nightowl"]);
        const acme = plan.tenants.find((t) => t.tenant === "acme")!;
        expect(acme.scriptPath).toBe(luksScriptPath("acme"));
        expect(acme.key).toMatch(/^[A-Za-z0-9]{64}$/);
        // The homeserver and proxy run; the one-shot backup agent and the config carriers do not.
        expect(acme.containers.sort()).toEqual([containerName("acme", "homeserver"), containerName("acme", "proxy"), containerName("acme", "push-proxy")].sort());
        expect(plan.tenants.find((t) => t.tenant === "nightowl")!.containers).toContain(containerName("nightowl", "tor"));
        expect(plan.shared).toEqual([EDGE_CONTAINER]);
    });

    it("unlocks only the tenants asked for, and refuses a tenant with no volume in the state", () => {
        expect(unlockPlan(state.resources, ["harbor"]).tenants.map((t) => t.tenant)).toEqual(["harbor"]);
        expect(() => unlockPlan(state.resources, ["nobody"])).toThrow(UnlockError);
        expect(() => unlockPlan(state.resources, ["nobody"])).toThrow(/no encrypted volume in the state for nobody \(volumes: acme, harbor, nightowl\)/);
    });

    it("reads secrets as the CLI's --show-secrets export writes them, and refuses encrypted ones", () => {
        expect(plaintext({ [SECRET_SIGNATURE_KEY]: SECRET_SIGNATURE, plaintext: JSON.stringify("k3y") })).toBe("k3y");
        expect(plaintext({ [SECRET_SIGNATURE_KEY]: SECRET_SIGNATURE, value: "k3y" })).toBe("k3y");
        expect(() => plaintext({ [SECRET_SIGNATURE_KEY]: SECRET_SIGNATURE, ciphertext: "AAAA" })).toThrow(/--show-secrets/);
    });

    it("opens each volume with its key on stdin (never in the command), then starts its containers, then the edge", async () => {
        const plan = unlockPlan(state.resources, ["acme"]);
        const sent: { command: string; stdin?: string }[] = [];
        await unlock(plan, async (command, stdin) => {
            sent.push({ command, stdin });
            return "";
        });
        expect(sent[0]).toEqual({ command: `${luksScriptPath("acme")} open`, stdin: `${plan.tenants[0].key}\n` });
        expect(sent.map((s) => s.command).join("\n")).not.toContain(plan.tenants[0].key);
        expect(sent[1].command).toMatch(/^docker start .*redoubt-acme-homeserver/);
        expect(sent[2].command).toBe(`docker start ${EDGE_CONTAINER} >/dev/null`);
    });
});
