// Merchants: browse the listings (featured first) and pay one in points.

import { t, fmt } from '../i18n.js';
import { h } from '../ui.js';
import { sendTx } from '../txflow.js';
import { query, shortAddress, empty, loading } from './common.js';
import { input, form, fail } from './forms.js';

function orderRef() {
  const b = crypto.getRandomValues(new Uint8Array(6));
  return 'web-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export async function render(ctx) {
  const { main } = ctx;
  main.appendChild(h('h2', {}, t('nav.merchants')));
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
