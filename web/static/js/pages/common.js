// Pieces the pages share: the "no key yet" card, verified badges, paged lists, short
// addresses, Article 278 category names.

import { t, fmt } from '../i18n.js';
import { h } from '../ui.js';
import { rpc } from '../rpc.js';
import { errorText } from '../errors.js';

export function needKey(ctx) {
  if (ctx.wallet.hasKey()) return false;
  ctx.main.appendChild(h('section', { class: 'card' },
    h('p', {}, t('key.none')),
    h('a', { class: 'button', href: '#/me' }, t('key.go_create'))));
  return true;
}

// A badge for a value checked by a state proof (or why it could not be).
export function verifiedBadge(state) {
  if (state === 'verified') return h('span', { class: 'badge ok', 'data-testid': 'verified' }, '✓ ', t('verify.ok'));
  if (state === 'pending') return h('span', { class: 'badge warn' }, t('verify.checking'));
  return h('span', { class: 'badge bad', 'data-testid': 'unverified', title: state && state.code ? errorText(state) : '' }, t('verify.failed'));
}

// A value proved by the light client, shown with its badge; `show(value)` renders it.
export function provedValue(ctx, keyText, show, { testid } = {}) {
  const slot = h('span', { 'data-testid': testid }, t('common.loading'));
  const badge = h('span', {}, verifiedBadge('pending'));
  const el = h('span', { class: 'proved' }, slot, ' ', badge);
  ctx.light.prove(keyText).then((r) => {
    slot.replaceChildren(show(r.value));
    badge.replaceChildren(verifiedBadge('verified'));
  }).catch((e) => {
    console.warn('proof', keyText, e);
    slot.replaceChildren(t('verify.unknown'));
    badge.replaceChildren(verifiedBadge(e));
  });
  return el;
}

export async function query(contract, method, args = []) {
  return (await rpc.query(contract, method, args)).result;
}

// Every item of a paged list view (newest first), up to `max` items.
export async function listAll(contract, method, filters, max = 100) {
  const out = [];
  let cursor = 0;
  for (let guard = 0; guard < 20; guard++) {
    const page = await query(contract, method, [...filters, cursor, 50]);
    out.push(...page.items);
    if (!page.next || out.length >= max) break;
    cursor = page.next;
  }
  return out.slice(0, max);
}

export function shortAddress(a) { return a && a.length > 16 ? `${a.slice(0, 8)}…${a.slice(-6)}` : a || ''; }

export function categoryName(n) { return t(`art278.item${n}`); }

export function hexOf(v) { return typeof v === 'string' && v.startsWith('0x') ? v.slice(2) : v; }

// Block time in seconds (contract records) as a Shanghai time.
export function blockTime(sec) { return fmt.time(Number(sec) * 1000); }

export function loading() { return h('p', { class: 'muted' }, t('common.loading')); }

export function empty(key) { return h('p', { class: 'muted empty' }, t(key)); }
