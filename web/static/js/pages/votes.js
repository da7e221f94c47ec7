// Votes: the owners' matters (Civil Code Article 278) — the list, the text, the live
// tally by area and by heads against the quorum (2/3 of each) and the threshold (more
// than 1/2 of those voting; 3/4 for items 6, 7, 8), my vote (verified by a state proof),
// and casting or changing it. The tally moves as neighbours vote (/v1/ws).

import { t, fmt } from '../i18n.js';
import { h, replace } from '../ui.js';
import { stateKeys } from '../light.js';
import { sendTx } from '../txflow.js';
import { fetchText } from '../blobs.js';
import { listAll, query, provedValue, categoryName, hexOf, empty, loading } from './common.js';

const SPECIAL = new Set([6, 7, 8]);

function meter(part, whole, mark, label) {
  // Widths in whole per-mille, from integers: no floats reach the numbers shown.
  const w = whole > 0n ? Number((part * 1000n) / whole) : 0;
  const bar = h('span', {});
  bar.style.width = `${Math.min(1000, w) / 10}%`;
  const tick = h('i', {});
  tick.style.left = `${mark / 10}%`;
  return h('div', { class: 'meter', role: 'img', 'aria-label': label }, bar, tick);
}

// The live tally of an owners' matter (also the committees' console's).
export function tallyView(p, tally) {
  const T = (k) => BigInt(tally[k]);
  const voted = [T('voted_area_dm2'), T('voted_owners')];
  const yes = [T('yes_area_dm2'), T('yes_owners')];
  const no = [T('no_area_dm2'), T('no_owners')];
  const total = [T('total_area_dm2'), T('total_owners')];
  const special = SPECIAL.has(Number(p.category));
  const quorumOk = voted[0] * 3n >= total[0] * 2n && voted[1] * 3n >= total[1] * 2n;
  const agreed = special ? yes[0] * 4n >= voted[0] * 3n && yes[1] * 4n >= voted[1] * 3n
    : yes[0] * 2n > voted[0] && yes[1] * 2n > voted[1];
  const thresholdText = special ? t('votes.threshold_special') : t('votes.threshold_simple');
  const row = (labelKey, part, whole, mark, fmtFn) => h('div', { class: 'tally-row' },
    h('div', { class: 'spread' }, h('span', {}, t(labelKey)),
      h('span', { class: 'num' }, `${fmtFn(part)} / ${fmtFn(whole)} (${fmt.percent(part, whole)})`)),
    meter(part, whole, mark, `${t(labelKey)} ${fmt.percent(part, whole)}`));
  return h('div', { class: 'tally', 'data-testid': 'tally' },
    h('h4', {}, t('votes.turnout'), ' — ', t('votes.quorum_rule')),
    row('votes.area', voted[0], total[0], 667, fmt.area),
    row('votes.heads', voted[1], total[1], 667, (n) => t('votes.n_households', { n: fmt.count(n) })),
    h('h4', {}, t('votes.yes_share'), ' — ', thresholdText),
    row('votes.area', yes[0], voted[0], special ? 750 : 500, fmt.area),
    row('votes.heads', yes[1], voted[1], special ? 750 : 500, (n) => t('votes.n_households', { n: fmt.count(n) })),
    h('p', { class: 'muted elder-hide' }, t('votes.no_count', { area: fmt.area(no[0]), n: fmt.count(no[1]) })),
    h('p', { 'data-testid': 'tally-counts' }, t('votes.counts', { yes: fmt.count(yes[1]), no: fmt.count(no[1]), voted: fmt.count(voted[1]) })),
    h('p', { class: `badge ${quorumOk && agreed ? 'ok' : 'warn'}`, 'data-testid': 'outcome' },
      !quorumOk ? t('votes.no_quorum_yet') : agreed ? t('votes.would_pass') : t('votes.would_fail')));
}

async function listPage(ctx) {
  const { main } = ctx;
  main.appendChild(h('h2', {}, t('nav.votes')));
  const wait = main.appendChild(loading());
  const items = (await listAll('governance', 'proposals', [''], 50)).filter((p) => p.kind === 'owners');
  wait.remove();
  const open = items.filter((p) => p.status === 'open');
  const closed = items.filter((p) => p.status !== 'open');
  main.appendChild(h('h3', {}, t('votes.open')));
  if (!open.length) main.appendChild(empty('votes.none_open'));
  for (const p of open) {
    main.appendChild(h('a', { class: 'tile', href: `#/votes/${p.id}`, 'data-testid': `proposal-${p.id}` },
      h('div', { class: 'label' }, categoryName(p.category)), h('div', { class: 'value small' }, p.title)));
  }
  main.appendChild(h('h3', {}, t('votes.closed')));
  if (!closed.length) main.appendChild(empty('votes.none_closed'));
  for (const p of closed) {
    main.appendChild(h('a', { class: 'tile', href: `#/votes/${p.id}` },
      h('div', { class: 'label' }, categoryName(p.category), ' · ', t(`votes.status_${p.status}`)), h('div', { class: 'value small' }, p.title)));
  }
}

async function detailPage(ctx, pid) {
  const { main, wallet, live } = ctx;
  const p = await query('governance', 'proposal', [pid]);
  main.appendChild(h('p', {}, h('a', { href: '#/votes' }, '← ', t('nav.votes'))));
  main.appendChild(h('h2', {}, p.title));
  main.appendChild(h('p', {}, h('span', { class: 'badge' }, categoryName(p.category)), ' ',
    h('span', { class: `badge ${p.status === 'open' ? 'ok' : ''}` }, t(`votes.status_${p.status}`))));
  const text = h('div', { class: 'card doc' }, loading());
  main.appendChild(text);
  fetchText(hexOf(p.doc_hash)).then((s) => replace(text, h('h3', {}, t('votes.full_text')), h('p', { class: 'doc-text' }, s)))
    .catch(() => replace(text, h('p', { class: 'muted' }, t('votes.text_unavailable'))));
  const tallyBox = h('section', { class: 'card', 'aria-live': 'polite' }, loading());
  main.appendChild(tallyBox);
  const refresh = async () => {
    const tally = await query('governance', 'tally', [pid]);
    replace(tallyBox, h('h3', {}, t('votes.tally')), tallyView(p, tally));
  };
  await refresh();
  ctx.onLeave(live.on({ type: 'event', contract: 'governance' }, (msg) => {
    if (msg.type === 'event' && msg.fields && Number(msg.fields.id) !== pid) return;
    refresh().catch(() => {});
  }));
  if (!wallet.hasKey()) return;
  const mine = h('section', { class: 'card' },
    h('h3', {}, t('votes.my_vote')),
    h('p', {}, provedValue(ctx, stateKeys.vote(pid, wallet.address),
      (v) => (v ? t(`votes.choice_${v.choice}`) : t('votes.not_voted')), { testid: 'my-vote' })));
  main.appendChild(mine);
  if (p.status === 'open') {
    const cast = (choice) => async () => {
      const receipt = await sendTx(ctx, { contract: 'governance', method: 'vote', args: [pid, choice],
        what: t('votes.cast_what', { choice: t(`votes.choice_${choice}`), title: p.title }) });
      if (receipt) ctx.app.route();
    };
    main.appendChild(h('section', { class: 'card' },
      h('h3', {}, t('votes.cast')),
      h('div', { class: 'choices' },
        h('button', { type: 'button', class: 'primary block', 'data-testid': 'vote-yes', onclick: cast('yes') }, t('votes.choice_yes')),
        h('button', { type: 'button', class: 'secondary block', 'data-testid': 'vote-no', onclick: cast('no') }, t('votes.choice_no')),
        h('button', { type: 'button', class: 'secondary block', 'data-testid': 'vote-abstain', onclick: cast('abstain') }, t('votes.choice_abstain'))),
      h('p', { class: 'hint' }, t('votes.change_hint'))));
  }
}

export async function render(ctx, params) {
  if (params[0]) return detailPage(ctx, Number(params[0]));
  return listPage(ctx);
}
