// My statement: every committed tx that moved my points, newest first, from the node's
// index (GET /v1/accounts/{address}/statement), with my balance verified by a proof.

import { t, fmt, has as hasMessage } from '../i18n.js';
import { h } from '../ui.js';
import { getJson } from '../rpc.js';
import { stateKeys } from '../light.js';
import { needKey, provedValue, empty } from './common.js';

export async function render(ctx) {
  const { main, wallet } = ctx;
  main.appendChild(h('h2', {}, t('nav.statement')));
  if (needKey(ctx)) return;
  main.appendChild(h('section', { class: 'card' }, h('p', {}, t('home.balance'), '：',
    provedValue(ctx, stateKeys.balance(wallet.address), (v) => fmt.points(v ?? 0), { testid: 'balance' }))));
  const body = h('tbody', {});
  const table = h('table', { class: 'compact', 'data-testid': 'statement' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('statement.time')), h('th', { scope: 'col' }, t('statement.what')),
      h('th', { scope: 'col', class: 'num' }, t('statement.in')), h('th', { scope: 'col', class: 'num' }, t('statement.out')),
      h('th', { scope: 'col', class: 'num elder-hide wide-col' }, t('statement.fee')))), body);
  main.appendChild(h('section', { class: 'card' }, h('div', { class: 'table-wrap' }, table)));
  const more = h('button', { type: 'button', class: 'secondary block' }, t('statement.more'));
  let cursor = '';
  const load = async () => {
    const doc = await getJson(`/v1/accounts/${wallet.address}/statement?limit=20${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const e of doc.items) {
      body.appendChild(h('tr', {}, h('td', {}, fmt.date(e.time_ms)), h('td', {}, describe(e)),
        h('td', { class: 'num' }, e.points_in ? fmt.points(e.points_in) : ''),
        h('td', { class: 'num' }, e.points_out ? fmt.points(e.points_out) : ''),
        h('td', { class: 'num elder-hide wide-col' }, e.fee ? fmt.points(e.fee) : t('statement.free'))));
    }
    if (!body.children.length) main.appendChild(empty('statement.none'));
    cursor = doc.next;
    more.hidden = !cursor;
  };
  more.addEventListener('click', () => load());
  main.appendChild(more);
  await load();
}

function describe(e) {
  if (e.bill) return t('statement.bill', { period: e.bill.period });
  const key = `statement.m.${e.contract}.${e.method}`;
  return hasMessage(key) ? t(key) : `${e.contract}.${e.method}`;
}
