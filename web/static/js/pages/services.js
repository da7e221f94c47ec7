// Services: ask for help with a description (kept off chain by hash), see the offers in
// the order of the matching rule, accept one (the price is held in escrow), confirm it is
// done (the escrow goes to the provider), rate it, or raise a dispute.

import { t, fmt } from '../i18n.js';
import { h, replace } from '../ui.js';
import { sendTx } from '../txflow.js';
import { uploadText, fetchText } from '../blobs.js';
import { needKey, listAll, query, hexOf, blockTime, shortAddress, empty, loading } from './common.js';
import { input, form, fail } from './forms.js';

const CATEGORIES = ['水电维修', '家政保洁', '助老陪护', '家电维修', '其他'];

async function act(ctx, method, args, whatKey, vars = {}) {
  if (await sendTx(ctx, { contract: 'services', method, args, what: t(whatKey, vars) })) ctx.app.route();
}

function offersBlock(ctx, r) {
  const box = h('div', {}, loading());
  query('services', 'ranking', [r.id]).then((list) => {
    replace(box, list.length ? h('ol', { class: 'offers' }, list.map((o, i) => h('li', { class: 'spread' },
      h('span', {}, shortAddress(o.provider), ' · ', fmt.points(o.price), ' · ', t('services.rating', { r: `${Math.floor(o.rating_x100 / 100)}.${String(o.rating_x100 % 100).padStart(2, '0')}` })),
      h('button', { type: 'button', class: i === 0 ? 'primary' : 'secondary', 'data-testid': `accept-${r.id}-${i}`,
        onclick: () => act(ctx, 'accept', [r.id, o.provider], 'services.accept_what', { price: fmt.points(o.price) }) }, t('services.accept')))))
      : h('p', { class: 'muted' }, t('services.no_offers')));
  }).catch(() => replace(box, t('verify.unknown')));
  return box;
}

function requestCard(ctx, r) {
  const desc = h('p', { class: 'doc-text' }, '…');
  fetchText(hexOf(r.description_hash)).then((s) => replace(desc, s)).catch(() => replace(desc, h('span', { class: 'muted' }, t('votes.text_unavailable'))));
  const mine = r.requester === ctx.wallet.address;
  const parts = [
    h('div', { class: 'spread' }, h('h3', {}, r.category), h('span', { class: 'badge', 'data-testid': `request-status-${r.id}` }, t(`services.status_${r.status}`))),
    desc,
    h('p', { class: 'muted' }, t('services.budget', { budget: fmt.points(r.budget) }), r.created ? ` · ${blockTime(r.created)}` : ''),
  ];
  if (r.provider) parts.push(h('p', {}, t('services.provider', { who: shortAddress(r.provider), price: fmt.points(r.price) })));
  if (mine && r.status === 'open') {
    parts.push(h('h4', {}, t('services.offers')), offersBlock(ctx, r),
      h('button', { type: 'button', class: 'secondary', onclick: () => act(ctx, 'cancel', [r.id], 'services.cancel_what') }, t('services.cancel')));
  }
  if (mine && r.status === 'accepted') {
    const reason = input('services.dispute_reason', { tag: 'textarea', maxlength: 2000 });
    parts.push(h('button', { type: 'button', class: 'primary block', 'data-testid': `complete-${r.id}`,
      onclick: () => act(ctx, 'complete', [r.id], 'services.complete_what', { price: fmt.points(r.price) }) }, t('services.complete')),
    h('details', { class: 'elder-hide' }, h('summary', {}, t('services.dispute')),
      form('services.dispute', reason.row, 'services.dispute_send', async () => {
        if (!reason.el.value.trim()) throw fail('bad_arg');
        const hash = await uploadText(reason.el.value.trim());
        await act(ctx, 'dispute', [r.id, hash], 'services.dispute_what');
      })));
  }
  if (mine && (r.status === 'completed' || r.status === 'decided') && !r.rated) {
    parts.push(h('p', {}, t('services.rate_ask')), h('div', { class: 'row stars' }, [1, 2, 3, 4, 5].map((n) =>
      h('button', { type: 'button', class: 'secondary', 'data-testid': `rate-${r.id}-${n}`, 'aria-label': t('services.stars', { n }),
        onclick: () => act(ctx, 'rate', [r.id, n], 'services.rate_what', { n }) }, '★'.repeat(n)))));
  }
  if (r.rated) parts.push(h('p', { class: 'badge ok' }, t('services.rated')));
  return h('article', { class: 'card', 'data-testid': `request-${r.id}` }, parts);
}

function newRequest(ctx) {
  const category = input('services.category', { list: 'service-categories', maxlength: 32, required: true, 'data-testid': 'request-category' });
  const datalist = h('datalist', { id: 'service-categories' }, CATEGORIES.map((c) => h('option', { value: c })));
  const desc = input('services.description', { tag: 'textarea', maxlength: 4000, required: true, 'data-testid': 'request-description' });
  const budget = input('services.budget_label', { type: 'number', min: 1, step: 1, inputmode: 'numeric', required: true, 'data-testid': 'request-budget' });
  return form('services.new', [...category.row, datalist, ...desc.row, ...budget.row], 'services.submit', async () => {
    const b = Number(budget.el.value);
    if (!Number.isSafeInteger(b) || b <= 0) throw fail('bad_arg');
    const hash = await uploadText(desc.el.value.trim());
    await act(ctx, 'request', [category.el.value.trim(), hash, b], 'services.request_what', { budget: fmt.points(b) });
  }, { testid: 'request-submit' });
}

export async function render(ctx) {
  const { main } = ctx;
  main.appendChild(h('h2', {}, t('nav.services')));
  if (needKey(ctx)) return;
  main.appendChild(newRequest(ctx));
  main.appendChild(h('h3', {}, t('services.mine')));
  const wait = main.appendChild(loading());
  const items = await listAll('services', 'requests', ['', '', ctx.wallet.address], 50);
  wait.remove();
  const mine = items.filter((r) => r.requester === ctx.wallet.address);
  if (!mine.length) main.appendChild(empty('services.none'));
  for (const r of mine) main.appendChild(requestCard(ctx, r));
}
