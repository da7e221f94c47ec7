// Message catalogues (zh-CN first, then en) and the formats of times, points and areas.
// Every string the user reads comes from a catalogue: t(key, vars). Times are always shown
// in Asia/Shanghai, whatever the device's zone; amounts always carry their unit.

export const LOCALES = ['zh-CN', 'en'];
export const DEFAULT_LOCALE = 'zh-CN';
export const TIME_ZONE = 'Asia/Shanghai';

let locale = DEFAULT_LOCALE;
let messages = {};
let fallback = {};

async function fetchCatalogue(name) {
  const resp = await fetch(`/static/i18n/${name}.json`, { credentials: 'omit' });
  if (!resp.ok) throw new Error(`catalogue ${name}: HTTP ${resp.status}`);
  return resp.json();
}

export async function setLocale(name) {
  if (!LOCALES.includes(name)) name = DEFAULT_LOCALE;
  if (!Object.keys(fallback).length) fallback = await fetchCatalogue(DEFAULT_LOCALE);
  messages = name === DEFAULT_LOCALE ? fallback : await fetchCatalogue(name);
  locale = name;
  document.documentElement.lang = name;
}

export function currentLocale() { return locale; }

export function has(key) { return key in messages || key in fallback; }

// The message of `key` with {name} placeholders filled from `vars`.
export function t(key, vars = {}) {
  let text = messages[key] ?? fallback[key];
  if (text === undefined) {
    console.warn(`missing message ${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in vars ? String(vars[name]) : m));
}

function intl() { return locale === 'en' ? 'en-GB' : 'zh-CN'; }

function group(n) {
  // Thousands separators for ints and BigInts alike, without floats.
  const s = (typeof n === 'bigint' ? n : BigInt(n)).toString();
  const neg = s.startsWith('-');
  const digits = neg ? s.slice(1) : s;
  const out = digits.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return neg ? '-' + out : out;
}

export const fmt = {
  // Community points (积分): whole numbers, with the unit.
  points(n) { return t('unit.points', { n: group(n) }); },
  count(n) { return group(n); },
  // Floor area kept in 0.01 m² (dm²) units: shown in m² with two decimals.
  area(dm2) {
    const v = BigInt(dm2);
    const whole = v / 100n; const cents = (v < 0n ? -v : v) % 100n;
    return t('unit.area', { n: `${group(whole)}.${cents.toString().padStart(2, '0')}` });
  },
  // A time in milliseconds since the epoch, in Shanghai.
  time(ms) {
    return new Intl.DateTimeFormat(intl(), {
      timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
    }).format(new Date(Number(ms)));
  },
  // To the second, where order within a minute matters (blocks in the explorer).
  seconds(ms) {
    return new Intl.DateTimeFormat(intl(), {
      timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
      hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23',
    }).format(new Date(Number(ms)));
  },
  date(ms) {
    return new Intl.DateTimeFormat(intl(), {
      timeZone: TIME_ZONE, year: 'numeric', month: 'long', day: 'numeric',
    }).format(new Date(Number(ms)));
  },
  // A ratio as a percentage with one decimal, in integer arithmetic.
  percent(num, den) {
    const n = BigInt(num); const d = BigInt(den);
    if (d === 0n) return '—';
    const tenths = (n * 1000n + d / 2n) / d;
    return `${tenths / 10n}.${tenths % 10n}%`;
  },
};
