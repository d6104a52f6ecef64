// Beijing time for every date the pages show (the campaign's clock, whatever the browser's zone):
// China keeps UTC+8 all year, so a fixed offset is exact.
const OFFSET_MS = 8 * 3600 * 1000;
const pad = (n: number) => String(n).padStart(2, '0');

/** "2026-12-01 14:05" in Beijing time; "—" for a missing or unreadable time. */
export function beijing(t?: string | number | Date | null): string {
  if (t === undefined || t === null || t === '') {
    return '—';
  }
  const ms = new Date(t).getTime();
  if (Number.isNaN(ms)) {
    return '—';
  }
  const d = new Date(ms + OFFSET_MS);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

export interface Countdown {
  text: string;
  overdue: boolean;
}

/** Time left to a deadline, or how long it is overdue: "剩 1天3小时 / 1d 3h left", "超期 5小时 / 5h overdue". */
export function countdown(due: string | undefined, now: number): Countdown | undefined {
  const ms = due ? new Date(due).getTime() : NaN;
  if (Number.isNaN(ms)) {
    return undefined;
  }
  const diff = ms - now;
  const mins = Math.floor(Math.abs(diff) / 60000);
  const d = Math.floor(mins / 1440);
  const h = Math.floor((mins % 1440) / 60);
  const m = mins % 60;
  const zh = d > 0 ? `${d}天${h}小时` : h > 0 ? `${h}小时${m}分` : `${m}分`;
  const en = d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : `${m}m`;
  return diff >= 0 ? { text: `剩 ${zh} / ${en} left`, overdue: false } : { text: `超期 ${zh} / ${en} overdue`, overdue: true };
}

/** ISO week "YYYY-Www" of an instant, counted in Beijing time. */
export function isoWeek(ms: number): string {
  const d = new Date(ms + OFFSET_MS);
  const day = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const dow = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - dow); // the Thursday of this week names its year
  const year = day.getUTCFullYear();
  const week = Math.ceil(((day.getTime() - Date.UTC(year, 0, 1)) / 86400000 + 1) / 7);
  return `${year}-W${pad(week)}`;
}

/** The last n complete ISO weeks before now, newest first (the meeting reviews the week just ended). */
export function recentWeeks(now: number, n = 8): string[] {
  const out: string[] = [];
  for (let i = 1; i <= n; i++) {
    out.push(isoWeek(now - i * 7 * 86400000));
  }
  return out;
}
