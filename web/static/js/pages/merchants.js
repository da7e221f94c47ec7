// Merchants: browse the listings (featured first) and pay one in points, or pay what a shop
// asked for at its counter (its QR code opens #/merchants/pay/<shop>/<amount>/<order>).

import { t, fmt } from '../i18n.js';
import { h, replace } from '../ui.js';
import { errorText } from '../errors.js';
import { parseAddress } from '../bech32.js';
import { sendTx } from '../txflow.js';
import { query, shortAddress, empty, loading } from './common.js';
import { input, form, fail } from './forms.js';

function orderRef() {
  const b = crypto.getRandomValues(new Uint8Array(6));
  return 'web-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// A payment a shop asked for (its QR code or link: #/merchants/pay/<shop>/<amount>/<order>),
// checked against the chain — a listed shop, an order not paid yet — and paid with one yes.
async function payAsked(ctx, [shop, amountText, ref]) {
  const box = h('section', { class: 'card', 'data-testid': 'pay-asked' });
  const say = (kind, text, testid) => box.appendChild(h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status', 'data-testid': testid }, text));
  const amount = Number(amountText);
  if (!parseAddress(shop) || shop !== shop.toLowerCase() || !/^[1-9][0-9]{0,12}$/.test(amountText || '') || !ref || ref.length > 64) {
    say('error', t('merchants.asked_bad'), 'pay-asked-error');
    return box;
  }
  const [m, paid] = await Promise.all([query('merchants', 'listing', [shop]), query('merchants', 'payment', [shop, ref])]);
  if (!m) { say('error', t('merchants.asked_unknown'), 'pay-asked-error'); return box; }
  box.appendChild(h('h3', {}, t('merchants.asked_title')));
  box.appendChild(h('p', { class: 'lead' }, t('merchants.asked_line', { name: m.name, amount: fmt.points(amount), ref })));
  if (paid) { say('ok', t('merchants.asked_already', { time: fmt.time(Number(paid.at) * 1000) }), 'pay-asked-done'); return box; }
  if (!ctx.wallet.hasKey()) { box.appendChild(h('a', { class: 'button', href: '#/me' }, t('key.go_create'))); return box; }
  const msg = h('div', { 'aria-live': 'polite' });
  const go = h('button', { type: 'button', class: 'primary block', 'data-testid': 'pay-asked-go', onclick: async () => {
    go.disabled = true;
    try {
      if (await sendTx(ctx, { contract: 'merchants', method: 'purchase', args: [shop, amount, ref], what: t('merchants.pay_what', { amount: fmt.points(amount), name: m.name }) })) {
        go.remove();
        replace(msg, h('p', { class: 'notice ok', role: 'status', 'data-testid': 'pay-asked-done' }, t('merchants.asked_paid', { amount: fmt.points(amount), name: m.name })));
      }
    } catch (e) {
      replace(msg, h('p', { class: 'notice error', role: 'alert' }, errorText(e)));
    } finally { go.disabled = false; }
  } }, t('merchants.asked_go', { amount: fmt.points(amount) }));
  box.append(go, msg);
  return box;
}

export async function render(ctx, path = []) {
  const { main } = ctx;
  main.appendChild(h('h2', {}, t('nav.merchants')));
  if (path[0] === 'pay') main.appendChild(await payAsked(ctx, path.slice(1)));
  const wait = main.appendChild(loading());
  const [all, featured, params] = await Promise.all([query('merchants', 'merchants_all', []), query('merchants', 'featured', []), query('merchants', 'params', [])]);
  const order = [...featured, ...all.filter((a) => !featured.includes(a))];
  const listings = await Promise.all(order.map(async (a) => ({ address: a, ...(await query('merchants', 'listing', [a])) })));
  wait.remove();
  if (!listings.length) main.appendChild(empty('merchants.none'));
  for (const m of listings) {
    const amount = input('merchants.amount', { type: 'number', min: 1, step: 1, inputmode: 'numeric', required: true, 'data-testid': `amount-${m.address}` });
    main.appendChild(h('article', { class: 'card', 'data-testid': `merchant-${m.address}` },
      h('div', { class: 'spread' }, h('h3', {}, m.name), featured.includes(m.address) ? h('span', { class: 'badge ok' }, t('merchants.featured')) : null),
      h('p', { class: 'muted' }, m.category, ' · ', shortAddress(m.address)),
      ctx.wallet.hasKey() ? h('details', {}, h('summary', {}, t('merchants.pay')),
        form('merchants.pay', [...amount.row, h('p', { class: 'hint' }, t('merchants.fee_note', { pct: fmt.percent(params.platform_fee_bps, 10000) }))],
          'merchants.pay_button', async () => {
            const n = Number(amount.el.value);
            if (!Number.isSafeInteger(n) || n <= 0) throw fail('bad_arg');
            if (await sendTx(ctx, { contract: 'merchants', method: 'purchase', args: [m.address, n, orderRef()],
              what: t('merchants.pay_what', { amount: fmt.points(n), name: m.name }) })) ctx.app.route();
          })) : null));
  }
}
