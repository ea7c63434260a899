// Backup schedule math: when each tenant's daily backup runs.

/** Window (UTC hours, end exclusive) in which default backup times fall: quiet hours in Europe. */
export const DEFAULT_BACKUP_WINDOW = { startHour: 1, endHour: 5 };
/** Minutes between two consecutive tenants' default start times. */
const STAGGER_MINUTES = 7;

export interface DailyTime {
    hour: number;
    minute: number;
}

export function parseDailyTime(hhmm: string): DailyTime {
    const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(hhmm);
    if (!match) throw new Error(`'${hhmm}' is not a time written HH:MM`);
    return { hour: Number(match[1]), minute: Number(match[2]) };
}

/**
 * A tenant's default backup time: spread over the window by id, so a host's
 * tenants do not all read their disks and upload at the same minute.
 */
export function defaultBackupTime(tenantId: number): DailyTime {
    const windowMinutes = (DEFAULT_BACKUP_WINDOW.endHour - DEFAULT_BACKUP_WINDOW.startHour) * 60;
    const offset = (tenantId * STAGGER_MINUTES) % windowMinutes;
    return { hour: DEFAULT_BACKUP_WINDOW.startHour + Math.floor(offset / 60), minute: offset % 60 };
}

/** The systemd OnCalendar= expression for a daily time in UTC. */
export function onCalendar(time: DailyTime): string {
    const two = (n: number) => String(n).padStart(2, "0");
    return `*-*-* ${two(time.hour)}:${two(time.minute)}:00 UTC`;
}

/** The backup time a tenant runs at: its own, or the staggered default. */
export function backupTime(tenantId: number, schedule: string | undefined): DailyTime {
    return schedule === undefined ? defaultBackupTime(tenantId) : parseDailyTime(schedule);
}

/**
 * How long a registration token is valid: a calendar quarter (UTC). The first
 * `up` on or after the next quarter's first day replaces it, so a token handed
 * out (or leaked) stops working within three months, and its replacement goes
 * only to whoever reads the stack output.
 */
export const REGISTRATION_TOKEN_MONTHS = 3;

/** The registration-token period a day falls in: from its first day, replaced on `rotatesOn`. Days are YYYY-MM-DD (UTC). */
export interface TokenPeriod {
    since: string;
    rotatesOn: string;
}

export function registrationTokenPeriod(asOf: string): TokenPeriod {
    const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(asOf);
    const month = Number(match?.[2]);
    if (!match || month < 1 || month > 12) throw new RangeError(`'${asOf}' is not a day written YYYY-MM-DD`);
    const year = Number(match[1]);
    const first = Math.floor((month - 1) / REGISTRATION_TOKEN_MONTHS) * REGISTRATION_TOKEN_MONTHS; // 0-based month
    const next = first + REGISTRATION_TOKEN_MONTHS;
    const day = (y: number, m0: number) => `${String(y).padStart(4, "0")}-${String(m0 + 1).padStart(2, "0")}-01`;
    return { since: day(year, first), rotatesOn: next >= 12 ? day(year + 1, next - 12) : day(year, next) };
}
