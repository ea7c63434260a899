import { noInlineSecretsInCommands, noSecretsInEnv, randomPasswordStrength } from "../../policies/secrets";
import { container, luks } from "./fixtures";
import { runResource } from "./helpers";

describe("no-secrets-in-env", () => {
    it("accepts file pointers and public keys", async () => {
        const c = container("acme", "backup-agent", { envs: ["RESTIC_PASSWORD_FILE=/run/secrets/restic", "WG_PUBLIC_KEY=abc", "TZ=UTC"] });
        expect(await runResource(noSecretsInEnv, c)).toEqual([]);
    });
    it("refuses a password, a token and a key in env", async () => {
        const c = container("acme", "backup-agent", { envs: ["RESTIC_PASSWORD=hunter2", "REGISTRATION_TOKEN=abc", "SSH_KEY=xyz"] });
        const msgs = await runResource(noSecretsInEnv, c);
        expect(msgs).toHaveLength(3);
        expect(msgs[0]).toMatch(/pass RESTIC_PASSWORD_FILE=<path> instead/);
    });
});

describe("no-inline-secrets-in-commands", () => {
    it("accepts a key through stdin", async () => {
        expect(await runResource(noInlineSecretsInCommands, luks("acme"))).toEqual([]);
    });
    it("refuses an inlined private key or password", async () => {
        const cmd = { ...luks("acme"), props: { create: "echo '-----BEGIN OPENSSH PRIVATE KEY-----' > k; RESTIC_PASSWORD=abc restic init" } };
        expect(await runResource(noInlineSecretsInCommands, cmd)).toEqual([expect.stringMatching(/a private key/), expect.stringMatching(/a password or token/)]);
    });
    it("allows a password taken from a variable", async () => {
        const cmd = { ...luks("acme"), props: { create: 'RESTIC_PASSWORD="$PW" restic init' } };
        expect(await runResource(noInlineSecretsInCommands, cmd)).toEqual([]);
    });
});

describe("random-password-strength", () => {
    const pw = (length: number) => ({ type: "random:index/randomPassword:RandomPassword", name: "acme-registration-token", props: { length } });
    it("accepts 32 and refuses 12", async () => {
        expect(await runResource(randomPasswordStrength, pw(32))).toEqual([]);
        expect(await runResource(randomPasswordStrength, pw(12))).toEqual([expect.stringMatching(/set length to at least 24/)]);
    });
    it("refuses a RandomString used for a secret", async () => {
        const s = { type: "random:index/randomString:RandomString", name: "acme-luks-key", props: { length: 64 } };
        expect(await runResource(randomPasswordStrength, s)).toEqual([expect.stringMatching(/use RandomPassword instead/)]);
    });
});
