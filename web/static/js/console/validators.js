// Validators: the set in force, and changing it by a chain vote — a validator proposes
// adding a committee's node (its public key and name) or removing one, the validators of
// the set at the proposal vote yes or no, each vote shown with its state proof, and a
// change that passes (yes from at least 2/3) applies two blocks after the closing height.
// The node pushes a `validators` message when a change is decided and again when it is in
// force (docs/RPC.md), and the page reads the set again on each: no reload needed.

import { t, fmt } from '../i18n.js';
import { h, replace } from '../ui.js';
import { rpc } from '../rpc.js';
import { sendTx } from '../txflow.js';
import { stateKeys } from '../light.js';
import { fromHex, toHex } from '../bytes.js';
import { listAll, query, provedValue, shortAddress, empty, loading } from '../pages/common.js';
import { input, select, form, fail } from '../pages/forms.js';
import { ChainClock, facts, share, heading } from './shared.js';

const KINDS = new Set(['add_validator', 'remove_validator']);
const MAX_NAME_CHARS = 64;

// The last set the node said is in force while the app is open: {height, keys}.
let lastInForce = null;

function sameKeys(validators, keys) {
  return validators.length === keys.length && validators.every((v, i) => v.public_key === keys[i]);
}

function keyHex(v) { return typeof v === 'string' ? v.replace(/^0x/, '') : toHex(v); }

function describe(p, names) {
  const a = p.action || [];
  if (a[0] === 'add_validator') return t('console.validators.add_line', { name: a[2], key: keyHex(a[1]).slice(0, 16) });
  if (a[0] === 'remove_validator') {
    const k = keyHex(a[1]);
    return t('console.validators.remove_line', { name: names.get(k) || k.slice(0, 16) });
  }
  return t('console.validators.other_line', { kind: a[0] || '?' });
}

function proposeCard(ctx, status) {
  const kind = select('console.validators.change', [['add_validator', t('console.validators.add')], ['remove_validator', t('console.validators.remove')]],
    { 'data-testid': 'val-kind' });
  const name = input('console.validators.name', { maxlength: MAX_NAME_CHARS, 'data-testid': 'val-name' });
  const key = input('console.validators.public_key', { autocomplete: 'off', spellcheck: 'false', class: 'mono', 'data-testid': 'val-key' });
  const who = select('console.validators.which', status.validators.map((v) => [v.public_key, `${v.name || ''} ${shortAddress(v.address)}`]),
    { 'data-testid': 'val-remove' });
  const addRows = h('div', {}, name.row, key.row, h('p', { class: 'hint' }, t('console.validators.key_hint')));
  const removeRows = h('div', { hidden: true }, who.row);
  kind.el.addEventListener('change', () => {
    addRows.hidden = kind.el.value !== 'add_validator';
    removeRows.hidden = kind.el.value === 'add_validator';
  });
  return h('details', { class: 'card', open: true }, h('summary', {}, t('console.validators.propose_title')),
    form('console.validators.propose_title', [...kind.row, addRows, removeRows], 'console.validators.propose', async () => {
      let action; let title;
      if (kind.el.value === 'add_validator') {
        const hex = key.el.value.trim().toLowerCase().replace(/^0x/, '');
        const label = name.el.value.trim();
        if (!/^[0-9a-f]{64}$/.test(hex)) throw fail('bad_public_key');
        if (!label) throw fail('bad_arg');
        if (status.validators.some((v) => v.public_key === hex)) throw fail('exists');
        action = ['add_validator', fromHex(hex), label];
        title = t('console.validators.add_title', { name: label });
      } else {
        const v = status.validators.find((x) => x.public_key === who.el.value);
        if (!v) throw fail('bad_arg');
        action = ['remove_validator', fromHex(v.public_key)];
        title = t('console.validators.remove_title', { name: v.name || shortAddress(v.address) });
      }
      const receipt = await sendTx(ctx, { contract: 'governance', method: 'propose_chain', args: [action, title.slice(0, 200)],
        what: t('console.validators.propose_what', { title }) });
      if (receipt) ctx.app.navigate(`validators/${receipt.result}`);
    }, { testid: 'val-propose' }));
}

function proposalCard(ctx, p, tally, clock, names, me) {
  const n = p.validators.length;
  const needed = Math.ceil((2 * n) / 3);
  const parts = [
    h('div', { class: 'spread' }, h('h4', {}, h('a', { href: `#/validators/${p.id}` }, `#${p.id} ${p.title}`)),
      h('span', { class: `badge ${p.status === 'passed' ? 'ok' : p.status === 'open' ? '' : 'warn'}` }, t(`votes.status_${p.status}`))),
    h('p', {}, describe(p, names)),
    share(t('console.validators.yes'), tally.yes, n, t('console.validators.yes_of', { yes: fmt.count(tally.yes), n: fmt.count(n), needed: fmt.count(needed) }),
      `val-tally-${p.id}`),
    h('p', { class: 'muted' }, p.status === 'open' ? t('console.validators.closes', { when: clock.heightText(p.closes) })
      : p.status === 'passed' ? t('console.validators.applies', { height: fmt.count((p.closed_at || p.closes) + 2) })
        : t('console.validators.closed', { when: clock.heightText(p.closed_at || p.closes) })),
  ];
  return h('article', { class: 'card', 'data-testid': `val-proposal-${p.id}` }, parts,
    p.status === 'open' && p.validators.includes(me) ? h('div', { class: 'row' },
      ['yes', 'no'].map((c) => h('button', { type: 'button', class: c === 'yes' ? 'primary' : 'secondary', 'data-testid': `val-vote-${c}-${p.id}`,
        onclick: async () => {
          if (await sendTx(ctx, { contract: 'governance', method: 'vote', args: [p.id, c],
            what: t('console.validators.vote_what', { choice: t(`votes.choice_${c}`), title: p.title }) })) ctx.app.route();
        } }, t(`votes.choice_${c}`)))) : null);
}

function votersCard(ctx, p, status) {
  const byAddress = new Map(status.validators.map((v) => [v.address, v.name]));
  return h('section', { class: 'card' }, h('h3', {}, t('console.validators.votes')),
    h('ul', { class: 'plain', 'data-testid': 'val-voters' }, p.validators.map((a) => h('li', { class: 'spread' },
      h('span', {}, byAddress.get(a) || shortAddress(a)),
      provedValue(ctx, stateKeys.vote(p.id, a), (v) => (v ? t(`votes.choice_${v.choice}`) : t('votes.not_voted')))))));
}

export async function render(ctx, params) {
  const { main, wallet, live } = ctx;
  heading(ctx, 'console.validators.title_page');
  const wait = main.appendChild(loading());
  const [status, clock, all] = await Promise.all([rpc.status(), ChainClock.read(), listAll('governance', 'proposals', [''], 100)]);
  const pid = params[0] ? Number(params[0]) : null;
  const chain = all.filter((p) => p.kind === 'chain' && KINDS.has((p.action || [])[0]) && (pid === null || p.id === pid));
  const tallies = await Promise.all(chain.map((p) => query('governance', 'tally', [p.id])));
  const names = new Map(status.validators.map((v) => [v.public_key, v.name || shortAddress(v.address)]));
  wait.remove();
  if (pid !== null) main.appendChild(h('p', {}, h('a', { href: '#/validators' }, '← ', t('console.validators.title_page'))));
  else {
    // A passed change not yet in force (the status lists the set of the next height), and
    // since when the set shown is (when the node said so).
    const pending = all.filter((p) => p.kind === 'chain' && KINDS.has((p.action || [])[0]) && p.status === 'passed'
      && (p.closed_at || p.closes) + 2 > status.height + 1);
    const since = lastInForce && sameKeys(status.validators, lastInForce.keys) ? lastInForce.height : null;
    main.appendChild(h('section', { class: 'card', 'data-testid': 'val-set' }, h('h3', {}, t('console.validators.set', { n: fmt.count(status.validators.length) })),
      since !== null ? h('p', { class: 'notice ok', 'data-testid': 'val-since' }, t('console.validators.in_force_since', { height: fmt.count(since) })) : null,
      pending.map((p) => h('p', { class: 'notice info', 'data-testid': 'val-pending' },
        t('console.validators.pending', { change: describe(p, names), height: fmt.count((p.closed_at || p.closes) + 2) }))),
      facts(status.validators.map((v) => [v.name || '—', h('span', { class: 'mono', 'data-testid': 'val-member' }, v.address)]))));
    const mine = status.validators.some((v) => v.address === wallet.address);
    main.appendChild(mine ? proposeCard(ctx, status) : h('p', { class: 'notice info' }, t('console.validators.not_validator')));
  }
  const open = chain.filter((p) => p.status === 'open');
  const closed = chain.filter((p) => p.status !== 'open');
  const box = h('div', { 'aria-live': 'polite' });
  main.appendChild(box);
  replace(box,
    h('h3', {}, t('console.validators.open')),
    open.length ? open.map((p) => proposalCard(ctx, p, tallies[chain.indexOf(p)], clock, names, wallet.address)) : empty('console.validators.none_open'),
    pid === null ? h('h3', {}, t('console.validators.closed_list')) : null,
    pid === null ? (closed.length ? closed.map((p) => proposalCard(ctx, p, tallies[chain.indexOf(p)], clock, names, wallet.address)) : empty('console.validators.none_closed'))
      : closed.map((p) => proposalCard(ctx, p, tallies[chain.indexOf(p)], clock, names, wallet.address)));
  if (pid !== null && chain.length) main.appendChild(votersCard(ctx, chain[0], status));
  ctx.onLeave(live.on({ type: 'event', contract: 'governance' }, (msg) => {
    if (msg.type !== 'event' || !msg.fields) return;
    if (chain.some((p) => p.id === Number(msg.fields.id)) || msg.name === 'ProposalCreated') ctx.app.route();
  }));
  // A change decided (the vote closed: passed) or in force (the new set signs): read again.
  ctx.onLeave(live.on({ type: 'validators' }, (msg) => {
    if (msg.type !== 'validators') return;
    if (msg.in_force) lastInForce = { height: msg.effective_height, keys: (msg.validators || []).map((v) => v.public_key) };
    ctx.app.route();
  }));
}
