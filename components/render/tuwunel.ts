// Tuwunel's configuration, rendered from the tenant spec. One file, and no
// TUWUNEL_* environment variables: env silently overrides the file, and a
// stray variable could undo a privacy setting.
import { TERMS_LANGUAGE } from "../../stacks/config";
import type { HomeserverSettings } from "../homeservers/flavor";

/** Where the homeserver reads its config, its registration tokens and keeps its data, inside its container. */
export const TUWUNEL_CONFIG_PATH = "/etc/tuwunel/tuwunel.toml";
export const TUWUNEL_TOKEN_PATH = "/etc/tuwunel/registration_token";
export const TUWUNEL_DATA_PATH = "/var/lib/tuwunel";
export const TUWUNEL_BACKUP_PATH = `${TUWUNEL_DATA_PATH}/backups`;
export const TUWUNEL_PORT = 8008;

/** The admin command that writes a consistent database backup to database_backup_path (src/admin/server). */
export const TUWUNEL_BACKUP_COMMAND = "server backup-database";

/**
 * The admin commands that delete every media file older than `days`, local
 * uploads included (there is no federation: all media are local). Tuwunel
 * 1.9's parser, src/admin/media/mod.rs (MediaCommand::DeleteRange): a
 * positional duration (cyborgtime, e.g. "30d"), exactly one of --older-than
 * or --newer-than, and --yes-i-want-to-delete-local-media, without which local
 * media are skipped. src/service/media/mod.rs (delete_range) ages a file by its
 * modification time on the storage provider (the upload time; restic restores
 * it) and deletes file and database entry together, avatars included (the
 * admin command has no keep_profiles).
 */
export function tuwunelMediaRetentionCommands(days: number): string[] {
    if (!Number.isInteger(days) || days < 1) throw new RangeError(`mediaRetentionDays must be a whole number of days, at least 1; got ${days}`);
    return [`media delete-range ${days}d --older-than --yes-i-want-to-delete-local-media`];
}

export type TuwunelConfigInput = HomeserverSettings;

/**
 * The sign-up terms as Tuwunel 1.9 reads them: one `[global.registration_terms.<ID>]`
 * table per document with its version, and its name and URL under
 * `translations.<LANG>` (tuwunel-example.toml). Any such table makes
 * registration ask for the m.login.terms stage. Only where registration is
 * open: a closed server has no sign-up to show them on.
 */
function registrationTermsTables(input: TuwunelConfigInput): string[] {
    if (input.registration !== "token") return [];
    return Object.entries(input.registrationTerms).flatMap(([id, document]) => [
        `[global.registration_terms.${id}]`,
        `version = ${tomlValue(document.version)}`,
        `[global.registration_terms.${id}.translations.${TERMS_LANGUAGE}]`,
        `name = ${tomlValue(document.name)}`,
        `url = ${tomlValue(document.url)}`,
        "",
    ]);
}

type TomlValue = string | number | boolean | string[];

function tomlValue(value: TomlValue): string {
    if (Array.isArray(value)) return `[${value.map((v) => JSON.stringify(v)).join(", ")}]`;
    // JSON string escapes are valid TOML basic-string escapes.
    return typeof value === "string" ? JSON.stringify(value) : String(value);
}

/**
 * The settings the privacy page depends on. Fixed: no tenant file can change
 * them, and the policy pack checks the rendered file for them.
 */
export const PRIVACY_SETTINGS = {
    // No federation, from day one (the admin room's federation flag is fixed at creation).
    allow_federation: false,
    federate_created_rooms: false,
    federate_admin_room: false,
    // No key servers: matrix.org would learn which servers we talk about.
    trusted_servers: [] as string[],
    query_trusted_key_servers_first: false,
    allow_public_room_directory_over_federation: false,
    allow_public_room_directory_without_auth: false,
    allow_device_name_federation: false,
    // No URL previews fetched from outside.
    url_preview_domain_contains_allowlist: [] as string[],
    url_preview_domain_explicit_allowlist: [] as string[],
    url_preview_url_contains_allowlist: [] as string[],
    // Presence is metadata; the three must be set together.
    allow_local_presence: false,
    allow_incoming_presence: false,
    allow_outgoing_presence: false,
    // The default keeps the original text of redacted messages for 60 days.
    save_unredacted_events: false,
    // The default trusts a client-supplied X-Forwarded-For.
    ip_source: "connect_info",
    log_colors: false,
    log_guest_registrations: false,
    sentry: false,
    allow_guest_registration: false,
    // Names and avatars only for signed-in users: public and tor tenants would otherwise answer
    // GET /_matrix/client/v3/profile/{userId} to anyone (profile scraping).
    require_auth_for_profile_requests: true,
    // New rooms end-to-end encrypted by default (the default, "none", leaves it to each client).
    encryption_enabled_by_default_for_room_type: "all",
    // Admin commands capture logs into the admin room; the default captures info.
    admin_log_capture: "warn",
    // The default appends an emoji to every new user's display name.
    new_user_displayname_suffix: "",
    // Federation-only features, on by default: stated off (allow_federation = false already
    // stops them; saying so keeps a later federation flag from switching them on unseen).
    allow_incoming_read_receipts: false,
    allow_outgoing_read_receipts: false,
    allow_incoming_typing: false,
    allow_outgoing_typing: false,
    allow_inbound_profile_lookup_federation_requests: false,
    // No tracing exporters, no span events in the log lines.
    allow_jaeger: false,
    tracing_flame: false,
    log_span_events: "none",
    // RocksDB's own log: errors only. Tuwunel hands RocksDB a logger (the tracing callback, or
    // stderr with rocksdb_log_stderr), so RocksDB writes no LOG files into the database directory
    // and its lines go to the container log, inside the journald retention (tuwunel
    // src/database/engine: set_callback_logger / set_stderr_logger).
    rocksdb_log_level: "error",
    // A typo in this file must stop start-up, not be ignored.
    error_on_unknown_config_opts: true,
} as const;

export function renderTuwunelConfig(input: TuwunelConfigInput): string {
    const global: Record<string, TomlValue> = {
        server_name: input.serverName,
        database_path: TUWUNEL_DATA_PATH,
        address: ["0.0.0.0"],
        port: TUWUNEL_PORT,
        log: input.logLevel,
        ...PRIVACY_SETTINGS,
        allow_registration: input.registration === "token",
        ...(input.registration === "token" ? { registration_token_file: TUWUNEL_TOKEN_PATH } : {}),
        grant_admin_to_first_user: true,
        // Consistent database backups on SIGUSR2, which the host's backup timer sends daily.
        database_backup_path: TUWUNEL_BACKUP_PATH,
        database_backups_to_keep: 1,
        // Media retention first, then the backup (src/service/admin/execute.rs: signal_execute runs the list in
        // order, each command to its end). The backup's marker is written last, so the trigger starts restic only
        // once the expired media are gone: no snapshot races the deletion, and the database backup names no media
        // the snapshot lacks. A failing deletion stops the list (admin_execute_errors_ignore is false): no new
        // backup, and the trigger fails loudly after its wait.
        admin_signal_execute: [...tuwunelMediaRetentionCommands(input.mediaRetentionDays), TUWUNEL_BACKUP_COMMAND],
    };
    const lines = [
        "# Rendered by redoubt from the tenant file; do not edit on the host.",
        "[global]",
        ...Object.entries(global).map(([key, value]) => `${key} = ${tomlValue(value)}`),
        // No [global.well_known]: the tenant's proxy answers /.well-known/matrix/client itself and never passes
        // that path on (render/caddy.ts PROXIED_PATHS), so the file holds nothing that is known only once the
        // tenant exists (a tor tenant's onion name), and every policy can read it in a first preview.
        "",
        ...registrationTermsTables(input),
        // Only the push gateways go through the proxy; anything else has no route out of the services network.
        ...(input.pushProxy
            ? ["[global.proxy]", "[[global.proxy.by_domain]]", `url = ${tomlValue(input.pushProxy.url)}`, `include = ${tomlValue(input.pushProxy.gateways)}`, ""]
            : []),
    ];
    return lines.join("\n");
}
