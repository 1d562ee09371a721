// Money and dates through Intl, Indian English and INR first (docs/web.md).
export const LOCALE = 'en-IN';

const fractionDigits = new Map<string, number>();
function digits(currency: string): number {
  let d = fractionDigits.get(currency);
  if (d === undefined) {
    try {
      d = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      d = 2;
    }
    fractionDigits.set(currency, d);
  }
  return d;
}

/** `unitPriceMinor` in `currency`, e.g. 249900 INR → "₹2,499.00". */
export function money(minor: number, currency = 'INR', locale = LOCALE): string {
  const d = digits(currency);
  try {
    return new Intl.NumberFormat(locale, { style: 'currency', currency, minimumFractionDigits: d, maximumFractionDigits: d }).format(minor / 10 ** d);
  } catch {
    return `${(minor / 10 ** d).toFixed(d)} ${currency}`;
  }
}

/** Minor units from a decimal amount typed by a person ("2499.50" INR → 249950). */
export function toMinor(amount: string, currency = 'INR'): number {
  return Math.round(Number(amount) * 10 ** digits(currency));
}

export function count(n: number, locale = LOCALE): string {
  return new Intl.NumberFormat(locale).format(n);
}

export function dateTime(iso: string | null | undefined, locale = LOCALE): string {
  if (!iso) return '—';
  return new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(new Date(iso));
}

/** "in 3 days", "2 hours ago". */
export function relative(iso: string | null | undefined, now = Date.now(), locale = LOCALE): string {
  if (!iso) return '';
  const seconds = (new Date(iso).getTime() - now) / 1000;
  const units: [Intl.RelativeTimeFormatUnit, number][] = [
    ['day', 86400],
    ['hour', 3600],
    ['minute', 60],
    ['second', 1],
  ];
  const rtf = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === 'second') return rtf.format(Math.round(seconds / size), unit);
  }
  return '';
}

export function percent(part: number, whole: number): number {
  if (!whole) return 0;
  return Math.max(0, Math.min(100, Math.round((part / whole) * 100)));
}
