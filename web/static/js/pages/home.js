// Home: what a resident checks first — my points (verified), bills due, open votes,
// unread notices — as four large tiles, and the chain the numbers come from.

import { t, fmt } from '../i18n.js';
import { h } from '../ui.js';
import { rpc } from '../rpc.js';
import { stateKeys } from '../light.js';
import { provedValue, query, listAll } from './common.js';

function tile(href, label, value, testid) {
  return h('a', { class: 'tile', href, 'data-testid': testid },
    h('div', { class: 'label' }, label), h('div', { class: 'value' }, value));
}

async function countOpenVotes() {
  const items = await listAll('governance', 'proposals', ['open'], 50);
  return items.filter((p) => p.kind === 'owners').length;
}

async function unreadNotices(address) {
  const items = await listAll('notices', 'notices', [''], 20);
  let n = 0;
  for (const item of items) if (!(await query('notices', 'acknowledged', [item.id, address]))) n++;
  return n;
}

export async function render(ctx) {
  const { main, wallet, light } = ctx;
  main.appendChild(h('h2', {}, t('home.title')));
  if (!wallet.hasKey()) {
    main.appendChild(h('section', { class: 'card' },
      h('p', { class: 'lead' }, t('home.welcome')),
      h('a', { class: 'button', href: '#/me', 'data-testid': 'start' }, t('key.go_create'))));
  } else {
    const address = wallet.address;
    const bills = h('span', {}, '…');
    const votes = h('span', {}, '…');
    const notices = h('span', {}, '…');
    const balance = provedValue(ctx, stateKeys.balance(address), (v) => fmt.points(v ?? 0), { testid: 'balance' });
    main.appendChild(h('div', { class: 'grid two' },
      tile('#/statement', t('home.balance'), balance, 'tile-balance'),
      tile('#/bills', t('home.bills_due'), bills, 'tile-bills'),
      tile('#/votes', t('home.open_votes'), votes, 'tile-votes'),
      tile('#/notices', t('home.unread_notices'), notices, 'tile-notices')));
    listAll('property', 'bills', [address, 'unpaid', ''], 50).then((items) => {
      const total = items.reduce((a, b) => a + BigInt(b.total), 0n);
      bills.textContent = items.length ? t('home.bills_line', { n: items.length, total: fmt.points(total) }) : t('home.none_due');
    }).catch(() => { bills.textContent = '—'; });
    countOpenVotes().then((n) => { votes.textContent = fmt.count(n); }).catch(() => { votes.textContent = '—'; });
    unreadNotices(address).then((n) => { notices.textContent = fmt.count(n); }).catch(() => { notices.textContent = '—'; });
  }
  if (wallet.hasKey()) {
    // Live: points in or out, a bill issued or paid, a notice posted: show it at once.
    const me = wallet.address;
    ctx.onLeave(ctx.live.on({ type: 'event' }, (msg) => {
      const f = msg.fields || {};
      const mine = Object.values(f).includes(me);
      if (document.querySelector('dialog[open]')) return;
      if (mine || (msg.contract === 'notices' && msg.name === 'NoticePosted') ||
          (msg.contract === 'governance' && msg.name === 'ProposalCreated')) ctx.app.route();
    }));
  }
  const chain = h('p', { class: 'muted', 'data-testid': 'chain-line' }, t('common.loading'));
  const trust = h('p', { class: 'muted elder-hide', 'data-testid': 'trust-line' });
  main.appendChild(h('section', { class: 'card', 'aria-label': t('home.chain') }, chain, trust));
  const status = await rpc.status();
  chain.textContent = t('home.chain_line', { height: fmt.count(status.height), time: fmt.time(status.latest_time_ms) });
  light.header('latest').then((hd) => {
    trust.textContent = t(light.firstUse ? 'home.trust_first_use' : 'home.trust_pinned', { height: fmt.count(hd.height) });
  }).catch((e) => { trust.textContent = t('home.trust_failed', { code: e.code || 'error' }); });
}
