// Bills: what is due (with every line), pay with points, the history with receipts; a
// paid bill is shown as paid only once a state proof of the bill says so.

import { t, fmt } from '../i18n.js';
import { h } from '../ui.js';
import { stateKeys } from '../light.js';
import { sendTx } from '../txflow.js';
import { needKey, listAll, provedValue, blockTime, empty, loading } from './common.js';

function lines(bill) {
  return h('table', { class: 'lines' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('bills.item')), h('th', { scope: 'col', class: 'num' }, t('bills.amount')))),
    h('tbody', {}, bill.lines.map(([label, amount]) => h('tr', {}, h('td', {}, label), h('td', { class: 'num' }, fmt.points(amount))))),
    h('tfoot', {}, h('tr', {}, h('th', { scope: 'row' }, t('bills.total')), h('td', { class: 'num' }, h('strong', {}, fmt.points(bill.total))))));
}

function unpaidCard(ctx, bill) {
  return h('article', { class: 'card', 'data-testid': `bill-${bill.id}` },
    h('div', { class: 'spread' }, h('h3', {}, t('bills.period', { period: bill.period })), h('span', { class: 'badge warn' }, t('bills.unpaid'))),
    lines(bill),
    h('p', { class: 'muted elder-hide' }, t('bills.issued', { time: blockTime(bill.issued_at) })),
    h('button', { type: 'button', class: 'primary block', 'data-testid': `pay-${bill.id}`, onclick: async () => {
      const receipt = await sendTx(ctx, { contract: 'property', method: 'pay_bill', args: [bill.id],
        what: t('bills.pay_what', { period: bill.period, total: fmt.points(bill.total) }) });
      if (receipt) ctx.app.route();
    } }, t('bills.pay', { total: fmt.points(bill.total) })));
}

function paidCard(ctx, bill) {
  const proof = provedValue(ctx, stateKeys.bill(bill.id), (v) => (v && v.status === 'paid' ? t('bills.paid') : t('bills.unpaid')), { testid: `bill-proof-${bill.id}` });
  return h('article', { class: 'card', 'data-testid': `bill-${bill.id}` },
    h('div', { class: 'spread' }, h('h3', {}, t('bills.period', { period: bill.period })), proof),
    h('p', {}, fmt.points(bill.total), ' · ', t(bill.method === 'offchain' ? 'bills.method_offchain' : 'bills.method_points'),
      bill.paid_at ? ` · ${blockTime(bill.paid_at)}` : ''),
    bill.reference ? h('p', { class: 'muted' }, t('bills.reference', { ref: bill.reference })) : null,
    h('details', { class: 'elder-hide' }, h('summary', {}, t('bills.receipt')), lines(bill)));
}

export async function render(ctx) {
  const { main } = ctx;
  main.appendChild(h('h2', {}, t('nav.bills')));
  if (needKey(ctx)) return;
  const me = ctx.wallet.address;
  // Live: a bill issued to this household, or paid for it, shows at once.
  ctx.onLeave(ctx.live.on({ type: 'event', contract: 'property' }, (msg) => {
    if (msg.fields && msg.fields.household === me && !document.querySelector('dialog[open]')) ctx.app.route();
  }));
  const wait = main.appendChild(loading());
  const items = await listAll('property', 'bills', [me, '', ''], 100);
  wait.remove();
  const unpaid = items.filter((b) => b.status === 'unpaid');
  const paid = items.filter((b) => b.status !== 'unpaid');
  main.appendChild(h('h3', {}, t('bills.due')));
  if (!unpaid.length) main.appendChild(empty('bills.none_due'));
  for (const b of unpaid) main.appendChild(unpaidCard(ctx, b));
  main.appendChild(h('h3', {}, t('bills.history')));
  if (!paid.length) main.appendChild(empty('bills.no_history'));
  for (const b of paid) main.appendChild(paidCard(ctx, b));
}
