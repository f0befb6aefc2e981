/**
 * Local-time context of every UTC hour in the generated range: the traffic
 * follows the office's clock (diurnal rhythm, Fri/Sat weekend in Asia/Jerusalem).
 */

export const HOUR_MS = 3_600_000;
export const HOUR_US = 3_600_000_000;
export const DAY_MS = 86_400_000;

/** ISO weekday numbers of the weekend (FEATURES.md §4.4 default: Fri and Sat). */
export const WEEKEND_ISO_DAYS: ReadonlySet<number> = new Set([5, 6]);

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

export interface HourTable {
  /** Number of UTC hours covered. */
  hours: number;
  /** Local hour 0..23 of each UTC hour. */
  localHour: Uint8Array;
  /** ISO weekday 1..7 (Mon..Sun) of the local date of each UTC hour. */
  isoDow: Uint8Array;
  /** 1 when the local date is a weekend day. */
  weekend: Uint8Array;
}

export function hourTable(startMs: number, hours: number, timezone: string): HourTable {
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat('en-US', { timeZone: timezone, hourCycle: 'h23', hour: '2-digit', weekday: 'short' });
  } catch (cause) {
    throw new Error(`synth: unknown timezone '${timezone}'`, { cause });
  }
  const localHour = new Uint8Array(hours);
  const isoDow = new Uint8Array(hours);
  const weekend = new Uint8Array(hours);
  for (let h = 0; h < hours; h++) {
    let hour = 0;
    let dow = 1;
    for (const part of fmt.formatToParts(new Date(startMs + h * HOUR_MS))) {
      if (part.type === 'hour') hour = Number(part.value) % 24;
      else if (part.type === 'weekday') dow = WEEKDAYS[part.value] ?? 1;
    }
    localHour[h] = hour;
    isoDow[h] = dow;
    weekend[h] = WEEKEND_ISO_DAYS.has(dow) ? 1 : 0;
  }
  return { hours, localHour, isoDow, weekend };
}

/** Parse YYYY-MM-DD as midnight UTC (epoch ms), strictly. */
export function parseDay(day: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
  if (!m) throw new Error(`synth: start must be YYYY-MM-DD, got '${day}'`);
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (new Date(ms).toISOString().slice(0, 10) !== day) throw new Error(`synth: start is not a calendar date: '${day}'`);
  return ms;
}

export function dayString(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
