// What the committees' console pages share: the chain's clock (a height beside its
// Shanghai time, and a Shanghai time turned into the height a vote closes at), households
// and display names beside addresses, and small layout pieces.

import { t, fmt } from '../i18n.js';
import { h } from '../ui.js';
import { rpc } from '../rpc.js';
import { query, shortAddress } from '../pages/common.js';

const RATE_WINDOW_BLOCKS = 100;
const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000;  // UTC+8, no daylight saving
const MAX_NAMES_PER_QUERY = 50;
const QUERIES_AT_ONCE = 8;  // the node limits how many queries one client has running

// The head's height and time and the recent milliseconds per block (as the CLI's
// `gov propose --closes` does), to put a time beside a height and back.
export class ChainClock {
  constructor(height, timeMs, msPerBlock) {
    this.height = height; this.timeMs = timeMs; this.msPerBlock = Math.max(1, msPerBlock);
  }

  static async read() {
    const head = await rpc.block('latest');
    const height = Number(head.height);
    const timeMs = Number(head.header.timestamp_ms);
    if (height <= 1) return new ChainClock(height, timeMs, 1000);
    const older = await rpc.block(Math.max(1, height - RATE_WINDOW_BLOCKS));
    const oh = Number(older.height); const ot = Number(older.header.timestamp_ms);
    const rate = height > oh && timeMs > ot ? Math.floor((timeMs - ot) / (height - oh)) : 1000;
    return new ChainClock(height, timeMs, rate);
  }

  // The (estimated, for a future height) time of block `height`, in ms.
  timeOf(height) { return this.timeMs + (height - this.height) * this.msPerBlock; }

  // The first height expected at or after `ms`.
  heightAt(ms) {
    const ahead = ms - this.timeMs;
    return ahead <= 0 ? this.height : this.height + Math.ceil(ahead / this.msPerBlock);
  }

  // "block 1,234 (≈ 2026-12-20 18:00)"; a past height says it was reached.
  heightText(height) {
    const time = fmt.time(this.timeOf(height));
    return height <= this.height ? t('console.clock.reached', { height: fmt.count(height), time })
      : t('console.clock.ahead', { height: fmt.count(height), time });
  }
}

// A `datetime-local` value ("2026-12-20T18:00") read as Shanghai time, in ms; null if malformed.
export function shanghaiMs(value) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})$/.exec(value || '');
  if (!m) return null;
  const [y, mo, d, hh, mm] = m.slice(1).map(Number);
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mm > 59) return null;
  return Date.UTC(y, mo - 1, d, hh, mm) - SHANGHAI_OFFSET_MS;
}

// The `datetime-local` value of `ms` in Shanghai time (minutes rounded up).
export function shanghaiInput(ms) {
  const d = new Date(Math.ceil(ms / 60_000) * 60_000 + SHANGHAI_OFFSET_MS);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}T${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

// fn(item) for every item, a few at a time; the results in order.
export async function inBatches(items, fn) {
  const out = [];
  for (let i = 0; i < items.length; i += QUERIES_AT_ONCE) out.push(...await Promise.all(items.slice(i, i + QUERIES_AT_ONCE).map(fn)));
  return out;
}

// address -> "T3-12B · 王阿姨" (the unit of the household register and the display name
// its holder published), or the short address when there is neither.
export async function labels(addresses) {
  const unique = [...new Set(addresses.filter(Boolean))];
  const names = {};
  for (let i = 0; i < unique.length; i += MAX_NAMES_PER_QUERY) {
    try {
      Object.assign(names, await query('names', 'names_of', [unique.slice(i, i + MAX_NAMES_PER_QUERY)]));
    } catch { /* names are optional */ }
  }
  const units = await inBatches(unique, (a) => query('households', 'record', [a]).then((r) => (r ? r.unit : null)).catch(() => null));
  const out = new Map();
  unique.forEach((a, i) => {
    const parts = [units[i], names[a]].filter(Boolean);
    out.set(a, parts.length ? parts.join(' · ') : shortAddress(a));
  });
  return out;
}

// Label/value pairs.
export function facts(pairs) {
  return h('dl', { class: 'facts stacked' }, pairs.filter(Boolean).flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

// A meter of part/whole with the count and percentage beside it.
export function share(label, part, whole, text, testid) {
  const p = BigInt(part); const w = BigInt(whole);
  const bar = h('span', {});
  bar.style.width = `${w > 0n ? Number((p > w ? w : p) * 1000n / w) / 10 : 0}%`;
  return h('div', { class: 'tally-row', 'data-testid': testid },
    h('div', { class: 'spread' }, h('span', {}, label), h('span', { class: 'num' }, `${text} (${fmt.percent(p, w)})`)),
    h('div', { class: 'meter', role: 'img', 'aria-label': `${label} ${fmt.percent(p, w)}` }, bar));
}

// The page's heading with a line saying whose key signs.
export function heading(ctx, titleKey) {
  ctx.main.appendChild(h('h2', {}, t(titleKey)));
  if (ctx.wallet.address) {
    ctx.main.appendChild(h('p', { class: 'muted' }, t('console.signed_as', { address: shortAddress(ctx.wallet.address) })));
  }
}
