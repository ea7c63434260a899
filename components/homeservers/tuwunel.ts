// Tuwunel (1.9), the default homeserver: ../../../shared/reference/TUWUNEL.md
// has the facts, ../render/tuwunel.ts the configuration.
import * as path from "node:path";
import {
    renderTuwunelConfig,
    TUWUNEL_BACKUP_PATH,
    TUWUNEL_CONFIG_PATH,
    TUWUNEL_DATA_PATH,
    TUWUNEL_PORT,
    TUWUNEL_TOKEN_PATH,
    tuwunelMediaRetentionCommands,
} from "../render/tuwunel";
import type { HomeserverFlavor } from "./flavor";

export const TUWUNEL: HomeserverFlavor = {
    name: "tuwunel",
    port: TUWUNEL_PORT,
    data: {
        subdir: "tuwunel",
        mountPath: TUWUNEL_DATA_PATH,
        backups: path.posix.relative(TUWUNEL_DATA_PATH, TUWUNEL_BACKUP_PATH),
        // RocksDB's BackupEngine writes meta/ after the backup's files.
        backupMarker: `${path.posix.relative(TUWUNEL_DATA_PATH, TUWUNEL_BACKUP_PATH)}/meta`,
        media: "media",
    },
    // admin_signal_execute (render/tuwunel.ts) runs on SIGUSR2: the media retention commands, then
    // "server backup-database".
    backupSignal: "USR2",
    mediaRetentionCommands: tuwunelMediaRetentionCommands,
    configDir: path.posix.dirname(TUWUNEL_CONFIG_PATH),
    configFiles: (settings, { registrationToken, owner }) => [
        { path: TUWUNEL_CONFIG_PATH, content: renderTuwunelConfig(settings), permissions: "0444" },
        ...(registrationToken ? [{ path: TUWUNEL_TOKEN_PATH, content: registrationToken, permissions: "0400", owner }] : []),
    ],
    container: {
        // Only the path of the one config file: any other TUWUNEL_* variable would silently override it. The
        // path goes in the environment, not `-c`, because `tuwunel --health-check` (run by Docker without our
        // arguments) reads its config from the same sources (src/main/health.rs: config_sources(args)).
        envs: [`TUWUNEL_CONFIG=${TUWUNEL_CONFIG_PATH}`],
        healthcheck: ["CMD", "tuwunel", "--health-check"],
    },
};
