// Secrets never travel in plain sight: not in container environment variables
// (visible to anyone who can `docker inspect`), not inlined into remote
// command scripts (logged by the command provider and kept in state as
// plain inputs), and generated strongly enough.
//
// Not visible in resources: whether an upload or an input is a Pulumi secret.
// The policy analyzer hands every policy plaintext (the secret marker is
// removed before validateResource runs), so "secret uploads are Pulumi
// secrets" is checked by the component unit tests under mocks, where the
// secret marker is visible, not here.
import type { ResourceValidationPolicy } from "@pulumi/policy";
import { T, asArray, configOf, describe } from "./common";

/** Env var names that hold a secret value (a *_FILE pointer is fine). */
export const SECRET_ENV_NAME = /(PASSWORD|PASSWD|PASSPHRASE|TOKEN|SECRET|PRIVATE_?KEY|API_?KEY|(^|_)KEY)$/i;

export function secretEnvProblems(where: string, envs: unknown): string[] {
    const out: string[] = [];
    for (const env of asArray(envs)) {
        if (typeof env !== "string") continue;
        const eq = env.indexOf("=");
        const key = eq < 0 ? env : env.slice(0, eq);
        const value = eq < 0 ? "" : env.slice(eq + 1);
        if (/PUBLIC/i.test(key) || /_FILE$/i.test(key)) continue;
        if (SECRET_ENV_NAME.test(key) && value.length > 0) {
            out.push(
                `The ${where} passes the secret ${key} in an environment variable, readable with docker inspect; upload it as a file from a Pulumi secret and pass ${key}_FILE=<path> instead.`,
            );
        }
    }
    return out;
}

export const noSecretsInEnv: ResourceValidationPolicy = {
    name: "no-secrets-in-env",
    description: "No container passes a password, token or key in an environment variable; secrets are uploaded files.",
    validateResource: (args, report) => {
        if (args.type !== T.container) return;
        for (const p of secretEnvProblems(describe(args.type, args.name), args.props["envs"])) report(p);
    },
};

const INLINE_SECRET = [
    { re: /-----BEGIN [A-Z ]*PRIVATE KEY-----/, what: "a private key" },
    { re: /\b[A-Za-z_]*(PASSWORD|PASSPHRASE|TOKEN|SECRET)=(?![$"'\s])\S+/, what: "a password or token" },
];

export const noInlineSecretsInCommands: ResourceValidationPolicy = {
    name: "no-inline-secrets-in-commands",
    description: "Remote commands take secrets through stdin or environment (from Pulumi secrets), never inlined in the script text.",
    validateResource: (args, report) => {
        if (args.type !== T.command) return;
        const where = describe(args.type, args.name);
        for (const field of ["create", "update", "delete"]) {
            const text = args.props[field];
            if (typeof text !== "string") continue;
            for (const { re, what } of INLINE_SECRET) {
                if (re.test(text)) report(`The ${where} inlines ${what} in its ${field} script; pass it through stdin or environment from a Pulumi secret instead.`);
            }
        }
    },
};

export const randomPasswordStrength: ResourceValidationPolicy = {
    name: "random-password-strength",
    description: "Generated secrets (RandomPassword) are at least minPasswordLength characters; RandomString is not used for secrets.",
    configSchema: {
        properties: {
            minPasswordLength: { type: "integer", minimum: 8, default: 24 },
        },
    },
    validateResource: (args, report) => {
        const where = describe(args.type, args.name);
        if (args.type === T.randomPassword) {
            const { minPasswordLength } = configOf(args, { minPasswordLength: 24 });
            const length = Number(args.props["length"]);
            if (!(length >= minPasswordLength)) report(`The ${where} is ${length} characters long; set length to at least ${minPasswordLength}.`);
        } else if (args.type === T.randomString && /(password|token|secret|key|passphrase)/i.test(args.name)) {
            report(`The ${where} looks like a secret, but a RandomString's result is also its id, stored in plain text; use RandomPassword instead.`);
        }
    },
};

export const secretsPolicies = [noSecretsInEnv, noInlineSecretsInCommands, randomPasswordStrength];
