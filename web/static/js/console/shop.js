// The merchant's console (`#/shop`): what a shopkeeper needs at the counter. The points
// residents paid at the shop — each receipt with its time in Shanghai, order number,
// customer, amount, the platform fee and what the shop received — arriving live, with the
// totals of today, this month, per day and per month, exported as CSV or XLSX; an order
// number checked against the chain with a state proof (a purchase is final on chain:
// there is no step for the shop to confirm, so checking is what the counter does); and
// the shop's listing (name, category, total sales), updated or featured.
//
// Receipts come from the shop's statement (`GET /v1/accounts/{address}/statement`: every
// committed tx that paid the shop) and each tx's receipt (`MerchantPaid{merchant, payer,
// amount, fee, order_ref}`); nothing is kept in the browser.

import { t, fmt } from '../i18n.js';
import { h, replace, technical } from '../ui.js';
import { rpc, getJson } from '../rpc.js';
import { errorText } from '../errors.js';
import { sendTx } from '../txflow.js';
import { query, shortAddress, loading, empty, verifiedBadge } from '../pages/common.js';
import { input, form, fail } from '../pages/forms.js';
import { writeCsv, download } from './bulk.js';
import { xlsx } from './xlsx.js';
import { inBatches } from './shared.js';
import { qrCanvas } from './activities.js';

const MAX_RECEIPTS = 500;
const STATEMENT_PAGE = 100;
const MAX_REF_CHARS = 64;
const MAX_NAME_CHARS = 64;
const MAX_CATEGORY_CHARS = 32;
const MAX_PROMOTE_DAYS = 90;
const DAYS_SHOWN = 31;
const MONTHS_SHOWN = 12;
const SHANGHAI_OFFSET_MS = 8 * 3600 * 1000;  // UTC+8, no daylight saving
const MAX_AMOUNT = 1_000_000_000_000;  // merchants.purchase's limit

export const RECEIPTS_HEADER = ['时间(北京时间)', '订单号', '顾客', '顾客地址', '金额(积分)', '平台服务费(积分)', '实收(积分)', '区块'];
export const DAYS_HEADER = ['日期', '笔数', '金额(积分)', '平台服务费(积分)', '实收(积分)'];

// "2026-12-01 09:05:33" in Shanghai, for files (one fixed form, whatever the language).
function stamp(ms) {
  const d = new Date(Number(ms) + SHANGHAI_OFFSET_MS);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}
const dayOf = (ms) => stamp(ms).slice(0, 10);
const monthOf = (ms) => stamp(ms).slice(0, 7);

function notice(kind, text, testid) {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status', 'data-testid': testid }, text);
}

// Display names residents published (names.names_of), else the short address; names
// already read are kept for the page's life, so a new payment asks only for its payer.
function customerNames() {
  const names = new Map();
  const label = (a) => (names.get(a) ? `${names.get(a)}（${shortAddress(a)}）` : shortAddress(a));
  label.learn = async (addresses) => {
    const unknown = [...new Set(addresses)].filter((a) => !names.has(a));
    for (let i = 0; i < unknown.length; i += 50) {
      const part = unknown.slice(i, i + 50);
      try {
        const got = await query('names', 'names_of', [part]);
        for (const a of part) names.set(a, got[a] || '');
      } catch { /* names are optional */ }
    }
  };
  return label;
}

// Every payment to `me`, newest first: {timeMs, height, ref, payer, amount, fee, net}.
export async function readReceipts(me) {
  const entries = [];
  let cursor = '';
  for (let scanned = 0; scanned < 20 && entries.length < MAX_RECEIPTS; scanned++) {
    const q = `limit=${STATEMENT_PAGE}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const page = await getJson(`/v1/accounts/${encodeURIComponent(me)}/statement?${q}`);
    for (const e of page.items) if (e.contract === 'merchants' && e.method === 'purchase' && e.status === 0) entries.push(e);
    if (!page.next) break;
    cursor = page.next;
  }
  const found = await inBatches(entries.slice(0, MAX_RECEIPTS), async (e) => {
    const doc = await rpc.tx(e.tx_hash);
    const ev = ((doc.receipt && doc.receipt.events) || []).find((x) => x.contract === 'merchants' && x.name === 'MerchantPaid' && x.fields.merchant === me);
    if (!ev) return null;  // a purchase this key made at another shop
    const amount = BigInt(ev.fields.amount); const fee = BigInt(ev.fields.fee);
    return { timeMs: Number(e.time_ms), height: Number(e.height), ref: String(ev.fields.order_ref), payer: ev.fields.payer, amount, fee, net: amount - fee };
  });
  return found.filter(Boolean);
}

// {key -> {count, amount, fee, net}} newest key first.
function totalsBy(receipts, keyOf) {
  const by = new Map();
  for (const r of receipts) {
    const k = keyOf(r.timeMs);
    const s = by.get(k) || { key: k, count: 0, amount: 0n, fee: 0n, net: 0n };
    s.count += 1; s.amount += r.amount; s.fee += r.fee; s.net += r.net;
    by.set(k, s);
  }
  return [...by.values()].sort((a, b) => (a.key < b.key ? 1 : -1));
}

// A table that may scroll sideways on a phone (large text): reachable by keyboard, named.
function scroller(labelKey, table) {
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': t(labelKey) }, table);
}

function totalsTable(rows, testid, keyLabel, titleKey) {
  return scroller(titleKey, h('table', { class: 'compact', 'data-testid': testid },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t(keyLabel)),
      ['count', 'amount', 'net'].map((c) => h('th', { scope: 'col', class: 'num' }, t(`console.shop.col.${c}`))))),
    h('tbody', {}, rows.map((s) => h('tr', { 'data-key': s.key }, h('td', {}, s.key),
      h('td', { class: 'num' }, fmt.count(s.count)), h('td', { class: 'num' }, fmt.points(s.amount)), h('td', { class: 'num' }, fmt.points(s.net)))))));
}

function receiptsTable(receipts, who) {
  return scroller('console.shop.receipts', h('table', { class: 'compact', 'data-testid': 'shop-receipts' },
    h('thead', {}, h('tr', {}, ['time', 'ref', 'customer', 'amount', 'fee', 'net'].map((c) =>
      h('th', { scope: 'col', class: ['amount', 'fee', 'net'].includes(c) ? 'num' : c === 'customer' || c === 'fee' ? 'wide-col' : '' }, t(`console.shop.col.${c}`))))),
    h('tbody', {}, receipts.map((r) => h('tr', { 'data-order': r.ref },
      h('td', {}, fmt.time(r.timeMs)), h('td', { class: 'mono' }, r.ref), h('td', { class: 'wide-col' }, who(r.payer)),
      h('td', { class: 'num' }, fmt.points(r.amount)), h('td', { class: 'num wide-col' }, fmt.points(r.fee)), h('td', { class: 'num' }, fmt.points(r.net)))))));
}

// --- the receipts, live ------------------------------------------------------------------

function receiptsCard(ctx, me, waiting) {
  const summary = h('div', { class: 'grid two', 'data-testid': 'shop-summary' }, loading());
  const body = h('div', {}, loading());
  const feed = h('ul', { class: 'plain feed', 'data-testid': 'shop-feed', 'aria-live': 'polite' }, h('li', { class: 'muted' }, t('console.shop.feed_empty')));
  let current = [];
  const who = customerNames();
  const show = async () => {
    const receipts = current;
    await who.learn(receipts.map((r) => r.payer));
    const status = await rpc.status();
    const now = Number(status.latest_time_ms);
    const today = totalsBy(receipts, dayOf).find((s) => s.key === dayOf(now));
    const month = totalsBy(receipts, monthOf).find((s) => s.key === monthOf(now));
    const tile = (label, s, testid) => h('div', { class: 'tile', 'data-testid': testid },
      h('div', { class: 'label' }, label),
      h('div', { class: 'value' }, fmt.points(s ? s.net : 0)),
      h('div', { class: 'muted' }, t('console.shop.tile_count', { n: fmt.count(s ? s.count : 0) })));
    replace(summary, tile(t('console.shop.today', { day: dayOf(now) }), today, 'shop-today'), tile(t('console.shop.this_month', { month: monthOf(now) }), month, 'shop-month'));
    replace(body,
      receipts.length ? [
        h('p', { 'data-testid': 'shop-receipts-summary' }, t('console.shop.receipts_summary', { n: fmt.count(receipts.length),
          total: fmt.points(receipts.reduce((a, r) => a + r.net, 0n)) })),
        receiptsTable(receipts, who),
        h('h4', {}, t('console.shop.by_day')), totalsTable(totalsBy(receipts, dayOf).slice(0, DAYS_SHOWN), 'shop-days', 'console.shop.col.day', 'console.shop.by_day'),
        h('h4', {}, t('console.shop.by_month')), totalsTable(totalsBy(receipts, monthOf).slice(0, MONTHS_SHOWN), 'shop-months', 'console.shop.col.month', 'console.shop.by_month'),
      ] : empty('console.shop.no_receipts'));
  };
  const showError = (e) => replace(body, notice('error', errorText(e)));
  // One update at a time, in the order the events came.
  let queue = Promise.resolve();
  const then = (fn) => { queue = queue.then(fn).catch(showError); };
  // An order asked for at the counter is marked paid once its payment is among the receipts.
  const settle = () => { for (const r of current) if (waiting.has(r.ref)) { waiting.get(r.ref)(r); waiting.delete(r.ref); } };
  const readAll = async () => { current = await readReceipts(me); settle(); await show(); };
  // A payment as it arrives: its block's time, added to what is shown (no re-read).
  const add = async (msg) => {
    const f = msg.fields;
    if (current.some((r) => r.ref === String(f.order_ref))) return;
    const block = await rpc.block(msg.height);
    const amount = BigInt(f.amount); const fee = BigInt(f.fee);
    const r = { timeMs: Number(block.header.timestamp_ms), height: Number(msg.height), ref: String(f.order_ref), payer: f.payer, amount, fee, net: amount - fee };
    current = [r, ...current];
    settle();
    await show();
  };
  ctx.onLeave(ctx.live.on({ type: 'event', contract: 'merchants', name: 'MerchantPaid' }, (msg) => {
    if (msg.type === 'connected') { then(readAll); return; }  // after a reconnect: what was missed
    const f = msg.fields || {};
    if (msg.type !== 'event' || f.merchant !== me) return;
    for (const li of feed.querySelectorAll('li.muted')) li.remove();
    feed.prepend(h('li', { 'data-order': String(f.order_ref) }, t('console.shop.feed_line',
      { amount: fmt.points(f.amount ?? 0), ref: String(f.order_ref), who: who(f.payer) })));
    while (feed.children.length > 20) feed.lastChild.remove();
    then(() => add(msg));
  }));
  then(readAll);
  const rowOf = (r) => [stamp(r.timeMs), r.ref, who(r.payer), r.payer, Number(r.amount), Number(r.fee), Number(r.net), r.height];
  const dayRow = (s) => [s.key, s.count, Number(s.amount), Number(s.fee), Number(s.net)];
  const today = () => dayOf(Date.now());
  return [
    h('section', { class: 'card' }, h('h3', {}, t('console.shop.summary')), summary,
      h('h4', {}, t('console.shop.live')), feed),
    h('section', { class: 'card' },
      h('h3', {}, t('console.shop.receipts')),
      h('p', { class: 'hint' }, t('console.shop.receipts_why')),
      body,
      h('div', { class: 'row exports' },
        h('button', { type: 'button', class: 'secondary', 'data-testid': 'shop-csv', onclick: () =>
          download(`shop-receipts-${today()}.csv`, writeCsv(RECEIPTS_HEADER, current.map(rowOf)), 'text/csv') }, t('console.shop.export_csv')),
        h('button', { type: 'button', class: 'secondary', 'data-testid': 'shop-xlsx', onclick: () =>
          download(`shop-receipts-${today()}.xlsx`, xlsx('收款明细', RECEIPTS_HEADER, current.map(rowOf))) }, t('console.shop.export_xlsx')),
        h('button', { type: 'button', class: 'secondary', 'data-testid': 'shop-days-csv', onclick: () =>
          download(`shop-days-${today()}.csv`, writeCsv(DAYS_HEADER, totalsBy(current, dayOf).map(dayRow)), 'text/csv') }, t('console.shop.export_days')))),
  ];
}

// --- a payment asked for at the counter ------------------------------------------------------

// The link a resident's phone opens to pay this shop `amount` points for order `ref`
// (pages/merchants.js shows it as one confirmation); shown as a QR code and as text.
export function payLink(shop, amount, ref) {
  return `${location.origin}/#/merchants/pay/${encodeURIComponent(shop)}/${amount}/${encodeURIComponent(ref)}`;
}

// A fresh order number: the Shanghai date and six digits from the browser's CSPRNG.
function newRef(nowMs) {
  const n = crypto.getRandomValues(new Uint32Array(1))[0] % 1_000_000;
  return `${dayOf(nowMs).replaceAll('-', '')}-${String(n).padStart(6, '0')}`;
}

function askCard(ctx, me, listing, waiting) {
  const amount = input('console.shop.ask_amount', { type: 'number', min: 1, step: 1, inputmode: 'numeric', required: true, 'data-testid': 'shop-ask-amount' });
  const shown = h('div', { 'aria-live': 'polite' });
  return form('console.shop.ask_title', [h('p', { class: 'hint' }, t('console.shop.ask_why')), ...amount.row, shown], 'console.shop.ask_go', async () => {
    const n = Number(amount.el.value);
    if (!Number.isSafeInteger(n) || n <= 0 || n > MAX_AMOUNT) throw fail('bad_arg');
    const ref = newRef(Date.now());
    const link = payLink(me, n, ref);
    const canvas = qrCanvas(link, t('console.shop.ask_qr_label', { amount: fmt.points(n), ref }));
    canvas.setAttribute('data-testid', 'shop-qr');
    const status = h('p', { class: 'notice info', role: 'status', 'data-testid': 'shop-ask-status' }, t('console.shop.ask_waiting'));
    // The live listener of the receipts marks it paid when this order's payment lands.
    waiting.set(ref, (paid) => {
      replace(status, '✓ ', t('console.shop.ask_paid', { amount: fmt.points(paid.amount), ref, net: fmt.points(paid.net) }));
      status.className = 'notice ok';
    });
    replace(shown, h('div', { class: 'card', 'data-testid': 'shop-ask' },
      h('p', { class: 'lead' }, t('console.shop.ask_line', { name: listing.name, amount: fmt.points(n) })),
      h('p', {}, t('console.shop.ask_ref'), ' ', h('span', { class: 'mono', 'data-testid': 'shop-ask-ref' }, ref)),
      h('div', { class: 'qr-box' }, canvas),
      h('p', { class: 'hint' }, t('console.shop.ask_link')),
      h('p', {}, technical(link, { 'data-testid': 'shop-pay-link' })),
      status));
  }, { testid: 'shop-ask-go' });
}

// --- an order checked with a state proof ---------------------------------------------------

function checkCard(ctx, me) {
  const ref = input('console.shop.order_ref', { maxlength: MAX_REF_CHARS, autocomplete: 'off', 'data-testid': 'shop-check-ref' });
  return form('console.shop.check_title', [h('p', { class: 'hint' }, t('console.shop.check_why')), ...ref.row], 'console.shop.check_go', async (msg) => {
    const r = ref.el.value.trim();
    if (!r || r.length > MAX_REF_CHARS) throw fail('bad_arg');
    replace(msg, loading());
    const proved = await ctx.light.prove(`c/merchants/s/o:${me}:${r}`);
    const v = proved.value;
    if (!v) { replace(msg, notice('error', t('console.shop.check_none', { ref: r }), 'shop-check-result')); return; }
    const who = customerNames();
    await who.learn([v.payer]);
    const amount = BigInt(v.amount); const fee = BigInt(v.fee);
    replace(msg, h('div', { class: 'notice ok', role: 'status', 'data-testid': 'shop-check-result' },
      h('p', {}, t('console.shop.check_paid', { ref: r, amount: fmt.points(amount) }), ' ', verifiedBadge('verified')),
      h('p', {}, t('console.shop.check_detail', { time: fmt.time(Number(v.at) * 1000), who: who(v.payer), net: fmt.points(amount - fee), fee: fmt.points(fee) }))));
  }, { testid: 'shop-check-go' });
}

// --- the listing -----------------------------------------------------------------------------

function listingCard(ctx, listing, params) {
  const name = input('console.shop.name', { maxlength: MAX_NAME_CHARS, value: listing ? listing.name : '', required: true, 'data-testid': 'shop-name' });
  const category = input('console.shop.category', { maxlength: MAX_CATEGORY_CHARS, value: listing ? listing.category : '', required: true, 'data-testid': 'shop-category' });
  const edit = form(listing ? 'console.shop.update' : 'console.shop.register', [...name.row, ...category.row],
    listing ? 'console.shop.update_go' : 'console.shop.register_go', async (msg) => {
      const n = name.el.value.trim(); const c = category.el.value.trim();
      if (!n || n.length > MAX_NAME_CHARS || !c || c.length > MAX_CATEGORY_CHARS) throw fail('bad_arg');
      if (await sendTx(ctx, { contract: 'merchants', method: 'register', args: [n, c], what: t('console.shop.register_what', { name: n, category: c }) })) {
        replace(msg, notice('ok', t('console.shop.saved', { name: n }), 'shop-saved'));
        ctx.app.route();
      }
    }, { testid: 'shop-register' });
  if (!listing) {
    return h('section', { class: 'card' }, h('h3', {}, t('console.shop.listing')),
      notice('info', t('console.shop.not_listed')), edit);
  }
  const now = Date.now();
  const featured = Number(listing.featured_until) * 1000 > now;
  const days = input('console.shop.days', { type: 'number', min: 1, max: MAX_PROMOTE_DAYS, step: 1, inputmode: 'numeric', value: '7', 'data-testid': 'shop-days' });
  const perDay = BigInt(params.promotion_fee_per_day);
  const promote = form('console.shop.promote', [h('p', { class: 'hint' }, t('console.shop.promote_why', { fee: fmt.points(perDay) })), ...days.row],
    'console.shop.promote_go', async (msg) => {
      const d = Number(days.el.value);
      if (!Number.isSafeInteger(d) || d < 1 || d > MAX_PROMOTE_DAYS) throw fail('bad_arg');
      const receipt = await sendTx(ctx, { contract: 'merchants', method: 'promote', args: [d], what: t('console.shop.promote_what', { days: d, fee: fmt.points(perDay * BigInt(d)) }) });
      if (receipt) replace(msg, notice('ok', t('console.shop.promoted', { until: fmt.time(Number(receipt.result) * 1000) }), 'shop-promoted'));
    }, { testid: 'shop-promote' });
  return h('section', { class: 'card', 'data-testid': 'shop-listing' },
    h('h3', {}, t('console.shop.listing')),
    h('dl', { class: 'facts stacked' },
      h('dt', {}, t('console.shop.name')), h('dd', { 'data-testid': 'shop-listing-name' }, listing.name),
      h('dt', {}, t('console.shop.category_short')), h('dd', {}, listing.category),
      h('dt', {}, t('console.shop.sales')), h('dd', { 'data-testid': 'shop-sales' }, fmt.points(listing.sales)),
      h('dt', {}, t('console.shop.featured')), h('dd', {}, featured ? t('console.shop.featured_until', { time: fmt.time(Number(listing.featured_until) * 1000) }) : t('console.shop.not_featured')),
      h('dt', {}, t('console.shop.fee_rate')), h('dd', {}, t('console.shop.fee_rate_text', { pct: fmt.percent(params.platform_fee_bps, 10000) }))),
    h('details', {}, h('summary', {}, t('console.shop.update')), edit),
    h('details', {}, h('summary', { 'data-testid': 'shop-promote-open' }, t('console.shop.promote')), promote));
}

export async function render(ctx) {
  const { main, wallet } = ctx;
  const me = wallet.address;
  main.appendChild(h('h2', {}, t('console.shop.title')));
  const wait = main.appendChild(loading());
  const [listing, params] = await Promise.all([query('merchants', 'listing', [me]), query('merchants', 'params', [])]);
  wait.remove();
  if (listing) main.appendChild(h('p', { class: 'muted' }, t('console.shop.signed_as', { name: listing.name, address: shortAddress(me) })));
  if (!listing) main.appendChild(listingCard(ctx, listing, params));
  // At the counter: the takings first, then checking a customer's order, then the list.
  const waiting = new Map();  // order number -> what to do when it is paid
  const [takings, receipts] = receiptsCard(ctx, me, waiting);
  if (listing) main.append(askCard(ctx, me, listing, waiting));
  main.append(takings, checkCard(ctx, me), receipts);
  if (listing) main.appendChild(listingCard(ctx, listing, params));
}
