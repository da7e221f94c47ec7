// Home: what a resident checks first — points, bills due, open votes, unread notices —
// and the state of the chain the numbers come from.

import { t, fmt } from '../i18n.js';
import { h } from '../ui.js';
import { rpc } from '../rpc.js';

export async function render(ctx) {
  const { main } = ctx;
  main.appendChild(h('h2', {}, t('home.title')));
  const chain = h('p', { class: 'muted', 'data-testid': 'chain-line' }, t('common.loading'));
  main.appendChild(h('section', { class: 'card', 'aria-label': t('home.chain') }, chain));
  const status = await rpc.status();
  chain.textContent = t('home.chain_line', {
    height: fmt.count(status.height), time: fmt.time(status.latest_time_ms),
  });
}
