// A clerk's many calls at once (the CLI's cli/apps/bulk.py, in the browser): one dry run
// of the first call shows the fee, one yes covers them all, then they are signed with the
// key's next nonces and sent in order, in batches of 50 (inside the mempool's nonce
// window), and followed to their commit with progress. A refusal stops the run at that
// call, so no later nonce is left waiting behind a gap; what was done stays done, and the
// callers skip it on a re-run (every bulk action here is idempotent).
// Also: CSV in (RFC 4180, UTF-8 with or without BOM) and out (UTF-8 with BOM, as the CLI).

import { t, fmt } from '../i18n.js';
import { h, replace } from '../ui.js';
import { rpc, RpcError } from '../rpc.js';
import { txValue, signTx } from '../tx.js';
import { askUnlock } from '../txflow.js';
import { errorText } from '../errors.js';

export const BATCH = 50;
const GAS_LIMIT = 50_000;
const EXPIRY_MARGIN = 200;
const POLL_MS = 300;
const COMMIT_TIMEOUT_MS = 120_000;

async function maxFee() {
  const { result } = await rpc.query('fees', 'gas_price_milli', []);
  return Math.ceil((GAS_LIMIT * (Number.isSafeInteger(result) ? result : 1)) / 1000);
}

async function signAll(key, calls, nonce) {
  const [status, fee] = await Promise.all([rpc.status(), maxFee()]);
  const out = [];
  for (let i = 0; i < calls.length; i++) {
    const c = calls[i];
    const tx = txValue({ chainId: status.chain_id, sender: key.publicKey, nonce: nonce + i, contract: c.contract,
      method: c.method, args: c.args, maxFee: fee, expiryHeight: status.height + EXPIRY_MARGIN });
    out.push(await signTx(tx, key.privateKey));
  }
  return out;
}

// The fee the first call would cost (0 when sponsored), or the refusal of its dry run.
export async function dryRunFirst(key, call) {
  const account = await rpc.account(key.address);
  const [signed] = await signAll(key, [call], account.pending_nonce ?? account.nonce);
  const doc = await rpc.simulate(signed.hex);
  const r = doc.receipt || doc;
  if (r.status !== 0) throw new RpcError(r.error_code || 'failed', r.error_message || '');
  let fee = r.fee ?? 0;
  for (const ev of r.events || []) if (ev.contract === 'token' && ev.name === 'Fee' && ev.fields && ev.fields.payer !== key.address) fee = 0;
  return fee;
}

async function waitAll(pending, results, onDone) {
  const deadline = Date.now() + COMMIT_TIMEOUT_MS;
  let i = 0;
  while (i < pending.length) {
    if (Date.now() > deadline) {
      for (; i < pending.length; i++) results[pending[i].index] = { ok: false, code: 'commit_timeout', hash: pending[i].hash };
      return;
    }
    const p = pending[i];
    let doc = null;
    try { doc = await rpc.tx(p.hash); } catch (e) { if (!(e instanceof RpcError && e.status === 404)) throw e; }
    if (doc && doc.status === 'committed') {
      const r = doc.receipt || {};
      results[p.index] = r.status === 0 ? { ok: true, hash: p.hash, result: r.result, events: r.events }
        : { ok: false, code: r.error_code || 'failed', hash: p.hash };
      onDone(p.index); i++;
    } else if (doc && (doc.status === 'rejected' || doc.status === 'expired')) {
      results[p.index] = { ok: false, code: (doc.error && doc.error.code) || doc.status, hash: p.hash };
      onDone(p.index); i++;
    } else {
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }
}

// Send `calls` ({contract, method, args}); `progress(done, total)` after each commit.
// Returns one result per call: {ok, hash, result} or {ok: false, code} (code 'not_sent'
// for calls after a refusal).
export async function sendMany(key, calls, progress = () => {}) {
  const results = new Array(calls.length).fill(null);
  let done = 0;
  const tick = () => { done++; progress(done, calls.length); };
  for (let start = 0; start < calls.length; start += BATCH) {
    const chunk = calls.slice(start, start + BATCH);
    const account = await rpc.account(key.address);
    const signed = await signAll(key, chunk, account.pending_nonce ?? account.nonce);
    const pending = [];
    let refused = null;
    for (let i = 0; i < signed.length; i++) {
      try {
        await rpc.submit(signed[i].hex);
        pending.push({ index: start + i, hash: signed[i].hashHex });
      } catch (e) {
        refused = { index: start + i, code: e.code || 'failed' };
        break;
      }
    }
    await waitAll(pending, results, tick);
    if (refused) {
      results[refused.index] = { ok: false, code: refused.code };
      for (let j = refused.index + 1; j < calls.length; j++) results[j] = { ok: false, code: 'not_sent' };
      progress(calls.length, calls.length);
      return results;
    }
  }
  return results;
}

// Ask once for many calls: unlock, dry-run the first, show what and the fee, confirm.
// Resolves to the key to sign with, or null if the clerk stopped (or the dry run refused:
// then `onRefused(err)` is called).
export async function confirmMany(ctx, { what, first, count }) {
  const { wallet } = ctx;
  if (!(await askUnlock(wallet))) return null;
  const key = wallet.unlocked;
  const el = h('dialog', { class: 'dialog', 'aria-labelledby': 'bulk-title' });
  const body = h('div', { class: 'dialog-body' });
  el.append(h('h2', { id: 'bulk-title' }, t('tx.confirm_title')), body);
  document.body.appendChild(el);
  el.showModal();
  const close = () => { el.close(); el.remove(); };
  replace(body, h('p', { 'aria-live': 'polite' }, t('tx.checking')));
  let fee;
  try {
    fee = await dryRunFirst(key, first);
  } catch (err) {
    return new Promise((resolve) => {
      replace(body, h('p', { class: 'notice error', role: 'alert', 'data-testid': 'tx-error' }, errorText(err)),
        h('div', { class: 'row actions' }, h('button', { type: 'button', class: 'primary', onclick: () => { close(); resolve(null); } }, t('common.close'))));
    });
  }
  return new Promise((resolve) => {
    replace(body,
      h('p', { class: 'what' }, what),
      h('p', { 'data-testid': 'tx-fee' }, fee === 0 ? t('tx.fee_free') : t('console.bulk.fee_each', { fee: fmt.points(fee), n: fmt.count(count) })),
      h('div', { class: 'row actions' },
        h('button', { type: 'button', class: 'primary', 'data-testid': 'tx-confirm', onclick: () => { close(); resolve(key); } }, t('tx.confirm')),
        h('button', { type: 'button', class: 'secondary', onclick: () => { close(); resolve(null); } }, t('common.cancel'))));
    el.addEventListener('cancel', () => { close(); resolve(null); });
  });
}

// A progress bar with words: update(done, total, label).
export function progressBar(testid) {
  const bar = h('progress', { max: '1', value: '0', 'data-testid': testid });
  const text = h('p', { 'aria-live': 'polite', 'data-testid': `${testid}-text` });
  const el = h('div', { class: 'progress' }, bar, text);
  return {
    el,
    update(done, total, label) {
      bar.max = String(Math.max(total, 1)); bar.value = String(done);
      text.textContent = t('console.bulk.progress', { done: fmt.count(done), total: fmt.count(total), what: label });
    },
  };
}

// --- CSV -------------------------------------------------------------------------------

export const MAX_CSV_BYTES = 4 * 1024 * 1024;
export const MAX_CSV_ROWS = 5000;

// Rows of a CSV text (RFC 4180: quotes, doubled quotes, CRLF or LF), BOM dropped.
export function parseCsv(text) {
  const s = text.replace(/^\uFEFF/, '');
  const rows = [];
  let row = []; let field = ''; let quoted = false; let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') { field += '"'; i += 2; continue; }
        quoted = false; i++; continue;
      }
      field += c; i++; continue;
    }
    if (c === '"' && field === '') { quoted = true; i++; continue; }
    if (c === ',') { row.push(field); field = ''; i++; continue; }
    if (c === '\r' || c === '\n') {
      row.push(field); field = '';
      rows.push(row); row = [];
      if (c === '\r' && s[i + 1] === '\n') i++;
      i++; continue;
    }
    field += c; i++;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  return rows.filter((r) => r.some((f) => f.trim() !== ''));
}

// Rows as objects by the column names of `columns` ({name: [header words]}): the first
// row is the header, matched case-insensitively on the name or any of its words. Returns
// {rows: [{_line, name: value}], missing: [names]}.
export function readTable(text, columns, required) {
  const all = parseCsv(text);
  if (!all.length) return { rows: [], missing: [...required] };
  const header = all[0].map((x) => x.trim().toLowerCase());
  const index = {};
  for (const [name, words] of Object.entries(columns)) {
    const i = header.findIndex((x) => x === name || words.some((w) => w.toLowerCase() === x));
    if (i >= 0) index[name] = i;
  }
  const missing = required.filter((n) => !(n in index));
  const rows = all.slice(1).map((r, k) => {
    const o = { _line: k + 2 };
    for (const [name, i] of Object.entries(index)) o[name] = (r[i] ?? '').trim();
    return o;
  });
  return { rows, missing };
}

function csvField(v) {
  const s = v === null || v === undefined ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function writeCsv(header, rows) {
  return '\uFEFF' + [header, ...rows].map((r) => r.map(csvField).join(',')).join('\r\n') + '\r\n';
}

export function download(name, data, type) {
  const url = URL.createObjectURL(data instanceof Blob ? data : new Blob([data], { type }));
  const a = h('a', { href: url, download: name });
  document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

// An area in m² as typed ("89.57", "89.5", "90") in 0.01 m², without floats; null if not.
export function areaDm2(text) {
  const m = /^([0-9]{1,7})(?:\.([0-9]{1,2}))?$/.exec(String(text).trim());
  if (!m) return null;
  const v = Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
  return v > 0 ? v : null;
}
