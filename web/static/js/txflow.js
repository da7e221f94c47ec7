// Sending a tx the way a resident expects: unlock if needed, build and sign in the
// browser, dry-run it on the node (POST /v1/txs/simulate) to show what it will cost and
// whether it would fail, ask for a clear yes, submit, and wait until it is committed.
// Every refusal is shown in the user's language from its code.

import { t, fmt } from './i18n.js';
import { h, replace } from './ui.js';
import { rpc, RpcError } from './rpc.js';
import { errorText } from './errors.js';
import { txValue, signTx } from './tx.js';

const DEFAULT_GAS_LIMIT = 50_000;
const EXPIRY_MARGIN = 100;
const COMMIT_TIMEOUT_MS = 60_000;
const POLL_MS = 400;

function dialog(title) {
  const body = h('div', { class: 'dialog-body' });
  const el = h('dialog', { class: 'dialog', 'aria-labelledby': 'dialog-title' },
    h('h2', { id: 'dialog-title' }, title), body);
  document.body.appendChild(el);
  el.showModal();
  return { el, body, close: () => { el.close(); el.remove(); } };
}

// Ask for the passphrase until the key opens or the user gives up; true if unlocked.
export function askUnlock(wallet) {
  if (wallet.isUnlocked()) return Promise.resolve(true);
  return new Promise((resolve) => {
    const d = dialog(t('unlock.title'));
    const input = h('input', { type: 'password', id: 'unlock-pass', autocomplete: 'current-password', 'data-testid': 'unlock-passphrase' });
    const msg = h('div', { 'aria-live': 'polite' });
    const ok = h('button', { type: 'submit', class: 'primary', 'data-testid': 'unlock-ok' }, t('unlock.ok'));
    const cancel = h('button', { type: 'button', class: 'secondary', onclick: () => { d.close(); resolve(false); } }, t('common.cancel'));
    const form = h('form', { onsubmit: async (e) => {
      e.preventDefault();
      ok.disabled = true;
      replace(msg, h('p', { class: 'muted' }, t('unlock.working')));
      try {
        await wallet.unlock(input.value);
        d.close(); resolve(true);
      } catch (err) {
        replace(msg, h('p', { class: 'notice error', role: 'alert' }, errorText(err)));
        ok.disabled = false;
      }
    } },
    h('p', {}, t('unlock.why')),
    h('label', { for: 'unlock-pass' }, t('key.passphrase')), input, msg,
    h('div', { class: 'row actions' }, ok, cancel));
    d.body.appendChild(form);
    d.el.addEventListener('cancel', () => resolve(false));
    input.focus();
  });
}

async function maxFee() {
  try {
    const { result } = await rpc.query('fees', 'gas_price_milli', []);
    if (Number.isSafeInteger(result) && result >= 0) return Math.ceil((DEFAULT_GAS_LIMIT * result) / 1000);
  } catch { /* fall through */ }
  return Math.ceil(DEFAULT_GAS_LIMIT / 1000);
}

async function build(wallet, contract, method, args) {
  const key = wallet.unlocked;
  const [status, account, fee] = await Promise.all([rpc.status(), rpc.account(key.address), maxFee()]);
  const tx = txValue({
    chainId: status.chain_id, sender: key.publicKey, nonce: account.pending_nonce ?? account.nonce,
    contract, method, args, maxFee: fee, expiryHeight: status.height + EXPIRY_MARGIN,
  });
  return { signed: await signTx(tx, key.privateKey), maxFee: fee, balance: account.balance };
}

// The dry run: {fee (what the sender pays), ok, code} or null when the node offers none.
// A fee the treasury sponsors shows in the token's Fee event with another payer.
async function dryRun(hex, address) {
  let doc;
  try {
    doc = await rpc.simulate(hex);
  } catch (e) {
    if (e instanceof RpcError && (e.status === 404 || e.status === 405)) return null;
    throw e;
  }
  const r = doc.receipt || doc;
  let fee = r.fee ?? null;
  for (const ev of r.events || []) {
    if (ev.contract === 'token' && ev.name === 'Fee' && ev.fields && ev.fields.payer !== address) fee = 0;
  }
  return { fee, ok: r.status === 0, code: r.error_code || '' };
}

async function waitCommitted(hashHex) {
  const deadline = Date.now() + COMMIT_TIMEOUT_MS;
  while (Date.now() < deadline) {
    let doc = null;
    try { doc = await rpc.tx(hashHex); } catch (e) {
      if (!(e instanceof RpcError && e.status === 404)) throw e;  // 404: not seen yet
    }
    if (doc && doc.status === 'committed') return doc;
    if (doc && (doc.status === 'rejected' || doc.status === 'expired')) {
      throw new RpcError((doc.error && doc.error.code) || doc.status, '');
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
  throw new RpcError('commit_timeout', '');
}

// Run one call. `what` is the sentence shown to confirm (in the user's language).
// Resolves to the receipt of a committed, successful tx, or null if the user stopped.
export async function sendTx(ctx, { contract, method, args = [], what }) {
  const { wallet } = ctx;
  if (!wallet.hasKey()) { ctx.app.navigate('me'); return null; }
  if (!(await askUnlock(wallet))) return null;
  const d = dialog(t('tx.confirm_title'));
  const done = (v) => { d.close(); return v; };
  replace(d.body, h('p', { 'aria-live': 'polite' }, t('tx.checking')));
  let built; let sim;
  try {
    built = await build(wallet, contract, method, args);
    sim = await dryRun(built.signed.hex, wallet.unlocked.address);
  } catch (err) {
    return showFailure(d, err, done);
  }
  if (sim && !sim.ok) return showFailure(d, { code: sim.code || 'failed' }, done);
  const feeLine = sim === null ? t('tx.fee_at_most', { fee: fmt.points(built.maxFee) })
    : sim.fee === 0 ? t('tx.fee_free') : t('tx.fee', { fee: fmt.points(sim.fee) });
  const decision = await new Promise((resolve) => {
    replace(d.body,
      h('p', { class: 'what' }, what),
      h('p', { 'data-testid': 'tx-fee' }, feeLine),
      sim === null ? h('p', { class: 'hint' }, t('tx.no_dry_run')) : null,
      h('div', { class: 'row actions' },
        h('button', { type: 'button', class: 'primary', 'data-testid': 'tx-confirm', onclick: () => resolve(true) }, t('tx.confirm')),
        h('button', { type: 'button', class: 'secondary', onclick: () => resolve(false) }, t('common.cancel'))));
    d.el.addEventListener('cancel', () => resolve(false));
  });
  if (!decision) return done(null);
  replace(d.body, h('p', { 'aria-live': 'polite', 'data-testid': 'tx-progress' }, t('tx.sending')));
  try {
    await rpc.submit(built.signed.hex);
    replace(d.body, h('p', { 'aria-live': 'polite', 'data-testid': 'tx-progress' }, t('tx.waiting')));
    const doc = await waitCommitted(built.signed.hashHex);
    const receipt = doc.receipt || {};
    if (receipt.status !== 0) return showFailure(d, { code: receipt.error_code || 'failed' }, done);
    done(null);
    return receipt;
  } catch (err) {
    return showFailure(d, err, done);
  }
}

function showFailure(d, err, done) {
  return new Promise((resolve) => {
    replace(d.body,
      h('p', { class: 'notice error', role: 'alert', 'data-testid': 'tx-error' }, errorText(err)),
      h('div', { class: 'row actions' },
        h('button', { type: 'button', class: 'primary', onclick: () => resolve(done(null)) }, t('common.close'))));
  });
}
