// The upgrade gate: before a tenant's homeserver runs a new image, a fresh
// backup of its data has reached every backup site. A new homeserver release
// may migrate the database on its first start, and a migration cannot be undone
// (Tuwunel restores only from its own database backups, TUWUNEL.md "Backups
// and restore"); the last nightly backup can be almost a day old.
//
// The host script runs in a command the homeserver container depends on, and
// that command is replaced (so run again) whenever the image changes: the
// container keeps its old image until the script has exited 0.
import { backupUnitName } from "../names";
import { BACKUP_SUCCESS_DIR, SCRIPTS_DIR } from "./host";

export interface UpgradeGateInput {
    tenant: string;
    homeserverContainer: string;
    /** Sites the backup must reach; each writes its success time (renderBackupTrigger). */
    sites: readonly string[];
}

/** Where the gate script is installed on the host. */
export function upgradeGatePath(tenant: string): string {
    return `${SCRIPTS_DIR}/${tenant}-upgrade-gate.sh`;
}

/**
 * The gate, called with the image the homeserver is about to run. Exit 0 when
 * nothing is at risk (no container yet: a first deploy; the same image) or when
 * the backup it started has reached every site; otherwise exit 1 saying why.
 */
export function renderUpgradeGate(input: UpgradeGateInput): string {
    const service = `${backupUnitName(input.tenant)}.service`;
    return `#!/bin/sh
# Rendered by redoubt: a fresh backup of tenant ${input.tenant} before its homeserver changes image.
set -eu
new_image=\${1:?usage: $0 <new image reference>}
container=${input.homeserverContainer}
service=${service}
success_dir=\${REDOUBT_BACKUP_SUCCESS_DIR:-${BACKUP_SUCCESS_DIR}}/${input.tenant}

fail() {
    echo "upgrade gate for ${input.tenant}: $*; the homeserver keeps its current image" >&2
    exit 1
}

if ! current=$(docker container inspect --format '{{.Config.Image}}' "$container" 2>/dev/null); then
    echo "upgrade gate for ${input.tenant}: no container $container yet (a first deploy): no data to back up"
    exit 0
fi
if [ "$current" = "$new_image" ]; then
    echo "upgrade gate for ${input.tenant}: $container already runs $new_image"
    exit 0
fi

started=$(date +%s)
echo "upgrade gate for ${input.tenant}: backing up before $current -> $new_image"
# A oneshot service: start waits for it to finish (and joins a run the timer already started).
systemctl start "$service" || fail "the backup ($service) failed; see journalctl -u $service"
# A start whose condition is unmet (the encrypted volume not mounted) exits 0 without running.
[ "$(systemctl show --property ConditionResult --value "$service")" = yes ] ||
    fail "the backup ($service) did not run: the tenant's data volume is not mounted (npm run tenant -- unlock ${input.tenant})"
for site in ${input.sites.join(" ")}; do
    at=$(cat "$success_dir/$site" 2>/dev/null || echo 0)
    [ "$at" -ge "$started" ] || fail "no backup reached $site since the gate started (last success: $at)"
done
echo "upgrade gate for ${input.tenant}: backed up to ${input.sites.join(", ")}"
`;
}
