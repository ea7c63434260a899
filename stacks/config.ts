// Stack configuration (stacks/Pulumi.<stack>.yaml), validated like tenant files.
import { z } from "zod";
import { isoDate, siteName } from "../tenants/schema";
import { MAX_DELETION_GRACE_DAYS, todayUtc } from "../components/lifecycle";

const NAMESPACE = "redoubt";

const country = z.string().regex(/^[A-Z]{2}$/, "must be an ISO 3166-1 alpha-2 country code such as IS, FI or DE");
const tenantNames = z.array(z.string().min(1)).optional().describe("Tenants this stack holds. Default: every tenant that belongs to the site.");
const common = {
    site: siteName.describe("The site's name. A backup stack's site is what tenants name in backups.sites and the primary's redoubt:backupSites lists."),
    country,
    tenants: tenantNames,
    tenantsDir: z.string().default("tenants").describe("Directory of tenant files, relative to the project."),
    asOf: isoDate
        .optional()
        .describe("The day the lifecycle is evaluated for; default today (UTC). A date before today is refused (it would stop the deletion clock); use REDOUBT_AS_OF for one run."),
    deletionGraceDays: z
        .number()
        .int()
        .min(0)
        .max(MAX_DELETION_GRACE_DAYS, `must be at most ${MAX_DELETION_GRACE_DAYS} (the privacy page promises deletion within 7 days)`)
        .default(MAX_DELETION_GRACE_DAYS),
};

/** A strict object whose unknown keys are refused naming the allowed ones: stack settings (`redoubt:key`) by default, or plain fields inside a setting's value. */
const strict = <T extends z.ZodRawShape>(shape: T, keys: "settings" | "fields" = "settings") =>
    z.strictObject(shape, {
        error: (issue) =>
            issue.code === "unrecognized_keys"
                ? `is not a known ${keys === "settings" ? "setting" : "field"}; allowed: ${Object.keys(shape)
                      .map((k) => (keys === "settings" ? `${NAMESPACE}:${k}` : k))
                      .join(", ")}`
                : undefined,
    });

/** The language of the registration terms' one translation (Tuwunel's `translations.<LANG>`). */
export const TERMS_LANGUAGE = "en";

/**
 * The documents a new user accepts when signing up (Tuwunel 1.9's
 * `[global.registration_terms.<ID>]`: any such block makes registration ask for
 * the m.login.terms stage, listing every document). The company's documents,
 * so one setting for every tenant on the site.
 */
export const RegistrationTermsSchema = z
    .record(
        z.string().regex(/^[a-z][a-z0-9_]{0,31}$/, "must be a document id: lower-case letters, digits and underscores, starting with a letter, e.g. privacy_policy"),
        strict(
            {
                name: z.string().regex(/^[^\p{Cc}]{1,80}$/u, "must name the document as users see it in 1 to 80 printable characters, e.g. Privacy policy"),
                version: z.string().regex(/^[A-Za-z0-9._-]{1,32}$/, "must be the document's version, e.g. 1.0 or 2026-11-01 (1 to 32 letters, digits, dots, hyphens, underscores)"),
                url: z.url({ protocol: /^https$/, error: "must be the https URL of the document's text, e.g. https://redoubt.example/privacy" }),
            },
            "fields",
        ),
        {
            error: (issue) =>
                issue.code === "invalid_key"
                    ? "is not a document id: lower-case letters, digits and underscores, starting with a letter, at most 32 (Tuwunel's <ID>), e.g. privacy_policy"
                    : issue.code === "invalid_type"
                      ? "must be a mapping of document id → {name, version, url}, e.g. {privacy_policy: {name: Privacy policy, version: '1.0', url: https://…}}"
                      : undefined,
        },
    )
    .refine((documents) => Object.keys(documents).length > 0, "must list at least one document (the privacy policy that sign-up asks users to accept)")
    .describe(
        "Document id → {name, version, url}: what a new user accepts at sign-up on every tenant that allows registration (Tuwunel's registration_terms, the m.login.terms stage). Raise a version when the text changes.",
    );
export type RegistrationTerms = z.infer<typeof RegistrationTermsSchema>;

export const PrimaryStackConfigSchema = strict({
    role: z.literal("primary"),
    ...common,
    dockerHost: z.string().regex(/^ssh:\/\/[a-z_][a-z0-9_-]*@[a-z0-9.-]+(:\d+)?$/, "must be ssh://user@host[:port] (the Docker host, reached over SSH)"),
    sshHostKey: z
        .string()
        .regex(
            /^(ssh-ed25519|ecdsa-sha2-nistp(256|384|521)|ssh-rsa) [A-Za-z0-9+/=]+$/,
            "must be the Docker host's public host key, e.g. the second and third fields of `ssh-keyscan -t ed25519 <host>` (verify it out of band)",
        )
        .describe("The Docker host's SSH host key; host commands (which carry volume keys) refuse any other host."),
    publicAddress: z.ipv4("must be the IPv4 address the edge publishes port 443 on").describe("The host address the SNI edge binds."),
    acmeEmail: z.email("must be an email address for the ACME account"),
    maxTenants: z
        .number()
        .int()
        .min(1, "must be a whole number of tenants, at least 1")
        .optional()
        .describe("How many tenants this stack's Docker host holds (the tenants it declares, cancelled ones until their data is gone); the plan refuses more. Default: no limit."),
    registrationTerms: RegistrationTermsSchema,
    acmeDirectory: z
        .url({ protocol: /^https$/, error: "must be the https URL of an ACME directory, e.g. https://acme-staging-v02.api.letsencrypt.org/directory" })
        .optional()
        .describe("The ACME CA public tenants' certificates come from. Default: Let's Encrypt (Caddy's default)."),
    acmeDirectoryCa: z
        .string()
        .regex(/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n?$/, "must be a PEM certificate (the CA that signs the ACME directory's HTTPS endpoint)")
        .optional()
        .describe("Only for a private ACME CA: the certificate its directory's HTTPS endpoint is signed by."),
    imageCatalog: z
        .string()
        .regex(/^[A-Za-z0-9_./-]+\.ya?ml$/, "must be a path to a YAML image catalog, relative to the project")
        .default("images.yaml")
        .describe("The image catalog the host pulls from (e.g. a site's own registry mirror)."),
    backupSites: z
        .record(
            siteName,
            strict(
                {
                    stack: z.string().regex(/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+){0,2}$/, "must be a stack name, optionally org/project/stack"),
                    country,
                },
                "fields",
            ),
            {
                error: (issue) =>
                    issue.code === "invalid_key"
                        ? "is not a site name: 2 to 32 lower-case letters, digits or inner hyphens, starting with a letter (the redoubt:site of a backup stack), e.g. helsinki"
                        : issue.code === "invalid_type"
                          ? "must be a mapping of backup site name → {stack, country}, e.g. {helsinki: {stack: backup-helsinki, country: FI}}"
                          : undefined,
            },
        )
        .describe(
            "Backup site name → the backup stack holding its storage boxes (its redoubt:site must be that name) and the site's country. A tenant may name only sites listed here (checked across files by lib/stack-set.ts).",
        ),
});

/**
 * Hetzner Storage Box locations and the country each is in. The location is
 * where the data is; the country a stack claims is checked against it, so a
 * label can never say FI while the boxes are in Falkenstein.
 */
export const STORAGE_BOX_LOCATIONS = { fsn1: "DE", nbg1: "DE", hel1: "FI" } as const;
export type StorageBoxLocation = keyof typeof STORAGE_BOX_LOCATIONS;
const LOCATION_NAMES = Object.keys(STORAGE_BOX_LOCATIONS) as [StorageBoxLocation, ...StorageBoxLocation[]];

export const BackupStackConfigSchema = strict({
    role: z.literal("backup"),
    ...common,
    location: z.enum(LOCATION_NAMES, {
        error: `must be a Hetzner Storage Box location: ${Object.entries(STORAGE_BOX_LOCATIONS)
            .map(([l, c]) => `${l} (${c})`)
            .join(", ")}`,
    }),
});

/** The location decides the country: a backup stack may not claim another. */
function checkLocationCountry(config: z.infer<typeof BackupStackConfigSchema>, ctx: z.RefinementCtx): void {
    const actual = STORAGE_BOX_LOCATIONS[config.location];
    if (config.country !== actual) {
        ctx.addIssue({
            code: "custom",
            path: ["country"],
            message: `is ${config.country}, but location ${config.location} is in ${actual}; set redoubt:country to ${actual} or choose a location in ${config.country}`,
        });
    }
}

/**
 * Where the promise of geographically separate backups is first checked: no
 * backup site is in the primary's country. Two sites may share a country
 * (falkenstein and nuremberg are both DE); what the promise needs is that each
 * tenant's own sites are in different countries, which lib/stack-set.ts checks
 * per tenant (and the backup-sites policy on every backup agent).
 */
function checkBackupCountries(config: z.infer<typeof PrimaryStackConfigSchema>, ctx: z.RefinementCtx): void {
    for (const [site, { country }] of Object.entries(config.backupSites)) {
        if (country === config.country) {
            ctx.addIssue({
                code: "custom",
                path: ["backupSites", site, "country"],
                message: `is ${country}, the primary site's own country; backups must be kept in another country`,
            });
        }
    }
}

export const StackConfigSchema = z.discriminatedUnion(
    "role",
    [PrimaryStackConfigSchema.superRefine(checkBackupCountries), BackupStackConfigSchema.superRefine(checkLocationCountry)],
    {
        error: (issue) => (issue.code === "invalid_union" ? `${NAMESPACE}:role must be primary or backup` : undefined),
    },
);
export type PrimaryStackConfig = z.infer<typeof PrimaryStackConfigSchema>;
export type BackupStackConfig = z.infer<typeof BackupStackConfigSchema>;
export type StackConfig = z.infer<typeof StackConfigSchema>;

/** The mark of the example stack's host key (stacks/Pulumi.iceland.yaml): fine to preview, refused for a deployment. */
export const PLACEHOLDER_HOST_KEY_MARK = "PLACEHOLDER";

/** A deployment to a host whose key is the shipped placeholder would trust nothing real: refused before anything connects. */
export function placeholderHostKeyProblem(config: StackConfig): { field: string; message: string } | undefined {
    if (config.role !== "primary" || !config.sshHostKey.includes(PLACEHOLDER_HOST_KEY_MARK)) return undefined;
    return {
        field: `${NAMESPACE}:sshHostKey`,
        message: "is the example's placeholder; set the Docker host's real key (ssh-keyscan -t ed25519 <host>, checked against the host's console) before deploying",
    };
}

/** Secret settings, read with getSecret and never validated into plain objects. */
export const SECRET_KEYS = ["sshPrivateKey"] as const;

export class StackConfigError extends Error {
    constructor(
        readonly file: string,
        readonly problems: { field: string; message: string }[],
    ) {
        super(`${file} is invalid:\n${problems.map((p) => `  ${file}: ${p.field}: ${p.message}`).join("\n")}`);
        this.name = "StackConfigError";
    }
}

/**
 * Validates the `redoubt:*` settings of a stack. `raw` maps full keys
 * (`redoubt:dockerHost`) to values as Pulumi stores them: strings, with
 * structured values as JSON text.
 */
export function parseStackConfig(raw: Record<string, string>, file: string): StackConfig {
    const values: Record<string, unknown> = {};
    for (const [key, text] of Object.entries(raw)) {
        if (!key.startsWith(`${NAMESPACE}:`)) continue;
        const name = key.slice(NAMESPACE.length + 1);
        if ((SECRET_KEYS as readonly string[]).includes(name)) continue;
        values[name] = parseValue(text);
    }
    const parsed = StackConfigSchema.safeParse(values);
    if (!parsed.success) {
        throw new StackConfigError(
            file,
            parsed.error.issues.flatMap((issue) => {
                if (issue.code === "unrecognized_keys") return issue.keys.map((k) => ({ field: `${NAMESPACE}:${[...issue.path, k].join(".")}`, message: issue.message }));
                const field = issue.path.length ? `${NAMESPACE}:${issue.path.join(".")}` : `${NAMESPACE}:role`;
                // A setting, or a field inside a setting's value, that is not there at all.
                const missing = issue.path.length > 0 && valueAt(values, issue.path) === undefined;
                const message = !missing ? issue.message : issue.message.startsWith("Invalid input") ? "is required" : `is required (${issue.message})`;
                return [{ field, message }];
            }),
        );
    }
    return parsed.data;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
    return path.reduce<unknown>((node, key) => (typeof node === "object" && node !== null ? (node as Record<PropertyKey, unknown>)[key] : undefined), root);
}

function parseValue(text: string): unknown {
    // Pulumi hands structured values (lists, maps) and numbers over as JSON text.
    if (/^[[{]/.test(text) || /^-?\d+(\.\d+)?$/.test(text) || text === "true" || text === "false") {
        try {
            return JSON.parse(text);
        } catch {
            return text;
        }
    }
    return text;
}

/**
 * The environment variable that sets the lifecycle date for one run, for the
 * program and the policy pack alike (the CLI starts both with its
 * environment). It is the explicit, per-run way to evaluate another day; a
 * date left in the stack file is not (see stalePinProblem).
 */
export const AS_OF_ENV = "REDOUBT_AS_OF";

/** The run's date from REDOUBT_AS_OF, when set; a malformed value is an error, never ignored. */
export function runAsOf(env: NodeJS.ProcessEnv = process.env): string | undefined {
    const value = env[AS_OF_ENV];
    if (value === undefined || value === "") return undefined;
    if (!isoDate.safeParse(value).success) {
        throw new StackConfigError(`the environment`, [{ field: AS_OF_ENV, message: `is '${value}'; it must be a real calendar date written YYYY-MM-DD, or unset for today` }]);
    }
    return value;
}

/**
 * A `redoubt:asOf` before today left in a stack's config freezes the deletion
 * clock for the program: cancelled tenants would never reach their deadline.
 */
export function stalePinProblem(asOf: string | undefined, today: string = todayUtc()): { field: string; message: string } | undefined {
    if (asOf === undefined || asOf >= today) return undefined;
    return {
        field: `${NAMESPACE}:asOf`,
        message: `is ${asOf}, before today (${today}): a date left in the stack config stops the deletion clock. Remove it (pulumi config rm ${NAMESPACE}:asOf); to evaluate another day for one run, set ${AS_OF_ENV}=<date> or use npm run plan -- --as-of <date>`,
    };
}

/** The day this run evaluates lifecycles for: the run's explicit date, else the stack's pin (today or later), else today. */
export function asOfDate(config: StackConfig, explicit: string | undefined = runAsOf()): string {
    return explicit ?? config.asOf ?? todayUtc();
}
