// The committee's votes (Civil Code Article 278): open a vote with its full text (kept
// in the blob store, its SHA-256 on chain) and its closing time, put residents' drafts to
// the vote, follow the live tally against the quorum with the electorate as fixed at
// opening, and once the chain has closed the vote at its closing height, publish the
// result as a notice.

import { t, fmt } from '../i18n.js';
import { h, replace, technical } from '../ui.js';
import { sendTx } from '../txflow.js';
import { uploadText, fetchText } from '../blobs.js';
import { listAll, query, categoryName, hexOf, empty, loading } from '../pages/common.js';
import { input, select, form, fail } from '../pages/forms.js';
import { tallyView } from '../pages/votes.js';
import { ChainClock, shanghaiMs, shanghaiInput, labels, facts, heading } from './shared.js';

export const MAX_DOC_BYTES = 256 * 1024;   // the CLI's limit for a proposal's text
const MAX_TITLE_CHARS = 200;
const LIVE_FEED_MAX = 50;
const INCLUSION_MARGIN_BLOCKS = 30;
const DRAFT_KEY = 'hkchain.console.vote_draft';

function categoryOptions() {
  return Array.from({ length: 9 }, (_, i) => [String(i + 1), `${i + 1}. ${categoryName(i + 1)}`]);
}

function textOk(s) {
  if (!s) throw fail('bad_arg');
  if (new TextEncoder().encode(s).length > MAX_DOC_BYTES) throw fail('too_large');
  return s;
}

function openForm(ctx, clock, votingBlocks) {
  const earliest = clock.timeOf(clock.height + votingBlocks + INCLUSION_MARGIN_BLOCKS);
  const cat = select('console.governance.category', categoryOptions(), { 'data-testid': 'gov-category' });
  const title = input('console.governance.title', { maxlength: MAX_TITLE_CHARS, required: true, 'data-testid': 'gov-title' });
  const text = input('console.governance.text', { tag: 'textarea', required: true, rows: 10, 'data-testid': 'gov-text' });
  // Empty: the chain's voting period from the block the tx lands in (as the CLI's default).
  const closes = input('console.governance.closes', { type: 'datetime-local', min: shanghaiInput(earliest), 'data-testid': 'gov-closes' });
  // The draft is kept in this browser (not on chain, not on the node) until the vote opens.
  const fields = { category: cat.el, title: title.el, text: text.el, closes: closes.el };
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(DRAFT_KEY)) || {}; } catch { saved = {}; }
  for (const [k, el] of Object.entries(fields)) {
    if (typeof saved[k] === 'string' && saved[k]) el.value = saved[k];
    el.addEventListener('input', () => {
      localStorage.setItem(DRAFT_KEY, JSON.stringify(Object.fromEntries(Object.entries(fields).map(([n, e]) => [n, e.value]))));
    });
  }
  const hint = h('p', { class: 'hint' }, t('console.governance.closes_hint', {
    time: fmt.time(clock.timeOf(clock.height + votingBlocks)), blocks: fmt.count(votingBlocks) }), ' ', t('console.governance.draft_kept'));
  return h('details', { class: 'card', open: true }, h('summary', {}, t('console.governance.open_new')),
    form('console.governance.open_new', [...cat.row, ...title.row, ...text.row, ...closes.row, hint], 'console.governance.open', async () => {
      const body = textOk(text.el.value.trim());
      const name = title.el.value.trim();
      if (!name) throw fail('bad_arg');
      const now = await ChainClock.read();
      const category = Number(cat.el.value);
      let call;
      if (closes.el.value) {
        const at = shanghaiMs(closes.el.value);
        if (at === null) throw fail('bad_arg');
        if (now.heightAt(at) < now.height + votingBlocks) throw fail('closes_too_soon');
        // The tx lands a few blocks from now: keep the contract's minimum period from there.
        const height = Math.max(now.heightAt(at), now.height + votingBlocks + INCLUSION_MARGIN_BLOCKS);
        call = { method: 'propose_owners_closing', extra: [height], time: now.timeOf(height) };
      } else {
        call = { method: 'propose_owners', extra: [], time: now.timeOf(now.height + 1 + votingBlocks) };
      }
      const hash = await uploadText(body);
      const receipt = await sendTx(ctx, { contract: 'governance', method: call.method,
        args: [category, name, hash, ...call.extra],
        what: t('console.governance.open_what', { title: name, category: categoryName(category), time: fmt.time(call.time) }) });
      if (receipt) { localStorage.removeItem(DRAFT_KEY); ctx.app.navigate(`governance/${receipt.result}`); }
    }, { testid: 'gov-open' }));
}

function draftCard(ctx, d, minCosigners) {
  const text = h('div', { class: 'doc-text' }, t('common.loading'));
  fetchText(hexOf(d.doc_hash)).then((s) => replace(text, s)).catch(() => replace(text, h('span', { class: 'muted' }, t('votes.text_unavailable'))));
  return h('article', { class: 'card', 'data-testid': `gov-draft-${d.id}` },
    h('div', { class: 'spread' }, h('h4', {}, d.title), h('span', { class: 'badge' }, categoryName(d.category))),
    h('p', { class: 'muted' }, t('proposals.cosigners', { n: fmt.count(d.cosigners.length), min: fmt.count(minCosigners) })),
    h('details', {}, h('summary', {}, t('console.governance.read_text')), text),
    h('button', { type: 'button', class: 'secondary', 'data-testid': `gov-sponsor-${d.id}`, onclick: async () => {
      const receipt = await sendTx(ctx, { contract: 'assembly', method: 'sponsor', args: [d.id],
        what: t('console.governance.sponsor_what', { title: d.title }) });
      if (receipt) ctx.app.navigate(`governance/${receipt.result}`);
    } }, t('console.governance.sponsor')));
}

function proposalRow(p, clock, tally) {
  const turnout = tally ? `${fmt.count(tally.voted_owners)} / ${fmt.count(tally.total_owners)} (${fmt.percent(tally.voted_owners, tally.total_owners)})` : '—';
  const when = p.status === 'open' ? clock.heightText(p.closes) : clock.heightText(p.closed_at || p.closes);
  return h('tr', { 'data-testid': `gov-row-${p.id}` },
    h('td', {}, h('a', { href: `#/governance/${p.id}` }, `#${p.id} ${p.title}`), h('div', { class: 'muted' }, categoryName(p.category))),
    h('td', {}, p.status === 'open' ? turnout : t(`votes.status_${p.status}`)),
    h('td', { class: 'wide-col' }, when));
}

async function listPage(ctx) {
  const { main } = ctx;
  heading(ctx, 'console.governance.title_page');
  const wait = main.appendChild(loading());
  const [clock, items, drafts, assembly, settings] = await Promise.all([
    ChainClock.read(), listAll('governance', 'proposals', [''], 100), listAll('assembly', 'drafts', ['drafting'], 50),
    query('assembly', 'params', []), query('governance', 'settings', [])]);
  const owners = items.filter((p) => p.kind === 'owners');
  const open = owners.filter((p) => p.status === 'open');
  const tallies = await Promise.all(open.map((p) => query('governance', 'tally', [p.id]).catch(() => null)));
  wait.remove();
  main.appendChild(openForm(ctx, clock, settings.owners_voting_blocks));

  main.appendChild(h('h3', {}, t('console.governance.drafts')));
  main.appendChild(h('p', { class: 'hint' }, t('console.governance.drafts_hint', { min: fmt.count(assembly.min_cosigners) })));
  if (!drafts.length) main.appendChild(empty('console.governance.no_drafts'));
  for (const d of drafts) main.appendChild(draftCard(ctx, d, assembly.min_cosigners));

  const table = (rows, testid) => h('div', { class: 'table-wrap' }, h('table', { class: 'compact', 'data-testid': testid },
    h('thead', {}, h('tr', {}, h('th', {}, t('console.governance.col_matter')), h('th', {}, t('console.governance.col_state')),
      h('th', { class: 'wide-col' }, t('console.governance.col_closes')))),
    h('tbody', {}, rows)));
  main.appendChild(h('h3', {}, t('votes.open')));
  if (!open.length) main.appendChild(empty('votes.none_open'));
  else main.appendChild(table(open.map((p, i) => proposalRow(p, clock, tallies[i])), 'gov-open-list'));
  const closed = owners.filter((p) => p.status !== 'open');
  main.appendChild(h('h3', {}, t('votes.closed')));
  if (!closed.length) main.appendChild(empty('votes.none_closed'));
  else main.appendChild(table(closed.map((p) => proposalRow(p, clock, null)), 'gov-closed-list'));
}

// What still lacks for the quorum (2/3 of the electorate's households AND of its area).
function quorumGap(tally) {
  const T = (k) => BigInt(tally[k]);
  const needOwners = (T('total_owners') * 2n + 2n) / 3n - T('voted_owners');
  const needArea = (T('total_area_dm2') * 2n + 2n) / 3n - T('voted_area_dm2');
  if (needOwners <= 0n && needArea <= 0n) return t('console.governance.quorum_reached');
  return t('console.governance.quorum_gap', {
    n: fmt.count(needOwners > 0n ? needOwners : 0n), area: fmt.area(needArea > 0n ? needArea : 0n) });
}

function resultText(p, tally) {
  const abstain = BigInt(tally.voted_owners) - BigInt(tally.yes_owners) - BigInt(tally.no_owners);
  return t('console.governance.result_text', {
    title: p.title, item: p.category, category: categoryName(p.category), height: fmt.count(p.closed_at || p.closes),
    voted: fmt.count(tally.voted_owners), total: fmt.count(tally.total_owners),
    voted_area: fmt.area(tally.voted_area_dm2), total_area: fmt.area(tally.total_area_dm2),
    yes: fmt.count(tally.yes_owners), yes_area: fmt.area(tally.yes_area_dm2),
    no: fmt.count(tally.no_owners), no_area: fmt.area(tally.no_area_dm2), abstain: fmt.count(abstain),
    outcome: t(`console.governance.outcome_${p.status}`),
    quorum: p.quorum ? t('console.governance.had_quorum') : t('console.governance.no_quorum'),
  });
}

function publishResult(ctx, p, tally) {
  const title = input('console.notices.title', { maxlength: 100, value: t('console.governance.result_title', { title: p.title }).slice(0, 100),
    'data-testid': 'gov-result-title' });
  const text = input('console.notices.text', { tag: 'textarea', rows: 10, 'data-testid': 'gov-result-text' });
  text.el.value = resultText(p, tally);
  return form('console.governance.publish_result', [...title.row, ...text.row], 'console.governance.publish', async () => {
    const body = textOk(text.el.value.trim());
    const name = title.el.value.trim();
    if (!name) throw fail('bad_arg');
    const hash = await uploadText(body);
    const receipt = await sendTx(ctx, { contract: 'notices', method: 'publish', args: ['notice', name, hash],
      what: t('console.notices.publish_what', { title: name }) });
    if (receipt) ctx.app.navigate(`noticeboard/${receipt.result}`);
  }, { testid: 'gov-publish-result' });
}

async function detailPage(ctx, pid) {
  const { main, live } = ctx;
  main.appendChild(h('p', {}, h('a', { href: '#/governance' }, '← ', t('console.governance.title_page'))));
  const [p, clock, now] = await Promise.all([query('governance', 'proposal', [pid]), ChainClock.read(),
    query('households', 'electorate', []).catch(() => null)]);
  if (p.kind !== 'owners') { ctx.app.navigate(`validators/${pid}`); return; }
  const who = await labels([p.proposer]);
  main.appendChild(h('h2', {}, p.title));
  main.appendChild(h('p', {}, h('span', { class: 'badge' }, `${p.category}. ${categoryName(p.category)}`), ' ',
    h('span', { class: `badge ${p.status === 'open' ? 'ok' : p.status === 'passed' ? 'ok' : 'warn'}`, 'data-testid': 'gov-status' },
      t(`votes.status_${p.status}`))));
  main.appendChild(h('section', { class: 'card' }, facts([
    [t('console.governance.number'), `#${p.id}`],
    [t('console.governance.proposer'), who.get(p.proposer)],
    [t('console.governance.opened'), clock.heightText(p.created)],
    p.status === 'open' ? [t('console.governance.closes_at'), h('span', { 'data-testid': 'gov-closes-at' }, clock.heightText(p.closes))]
      : [t('console.governance.closed_at'), clock.heightText(p.closed_at || p.closes)],
    [t('console.governance.electorate'), h('span', { 'data-testid': 'gov-electorate' }, t('console.governance.electorate_line', {
      n: fmt.count(p.total_owners), area: fmt.area(p.total_area), version: fmt.count(p.electorate) }))],
    now ? [t('console.governance.register_now'), t('console.governance.electorate_line', {
      n: fmt.count(now[2]), area: fmt.area(now[1]), version: fmt.count(now[0]) })] : null,
  ]), p.status === 'open' ? h('p', { class: 'hint' }, t('console.governance.closes_by_chain')) : null));
  const text = h('section', { class: 'card doc' }, loading());
  main.appendChild(text);
  const hashHex = hexOf(p.doc_hash);
  fetchText(hashHex).then((s) => replace(text, h('h3', {}, t('votes.full_text')), h('p', { class: 'doc-text', 'data-testid': 'gov-text-shown' }, s),
    h('p', { class: 'hint' }, t('console.governance.text_checked'), ' ', technical(hashHex))))
    .catch(() => replace(text, h('p', { class: 'muted' }, t('votes.text_unavailable'))));

  const tallyBox = h('section', { class: 'card', 'aria-live': 'polite' }, loading());
  main.appendChild(tallyBox);
  let last = null;
  const refresh = async () => {
    last = await query('governance', 'tally', [pid]);
    replace(tallyBox, h('h3', {}, p.status === 'open' ? t('console.governance.live_tally') : t('console.governance.final_tally')),
      tallyView(p, last), h('p', { 'data-testid': 'gov-quorum-gap' }, quorumGap(last)));
  };
  await refresh();

  const feed = h('ul', { class: 'plain', 'data-testid': 'gov-feed' });
  if (p.status === 'open') {
    main.appendChild(h('section', { class: 'card' }, h('h3', {}, t('console.governance.feed')),
      h('p', { class: 'hint' }, t('console.governance.feed_hint')), feed));
  }
  ctx.onLeave(live.on({ type: 'event', contract: 'governance' }, (msg) => {
    if (msg.type === 'connected') { refresh().catch(() => {}); return; }
    if (msg.type !== 'event' || !msg.fields || Number(msg.fields.id) !== pid) return;
    if (msg.name === 'ProposalClosed') { ctx.app.route(); return; }
    refresh().catch(() => {});
    if (msg.name === 'Voted') {
      labels([msg.fields.voter]).then((names) => {
        feed.prepend(h('li', {}, t('console.governance.feed_line', {
          who: names.get(msg.fields.voter), choice: t(`votes.choice_${msg.fields.choice}`), height: fmt.count(msg.height) })));
        while (feed.children.length > LIVE_FEED_MAX) feed.lastChild.remove();
      }).catch(() => {});
    }
  }));

  if (p.status === 'open') {
    // The chain closes the vote at the start of its closing block: re-read it then (the
    // closing itself may carry no event a subscriber sees).
    let checking = false;
    ctx.onLeave(live.on({ type: 'block' }, (msg) => {
      if (msg.type !== 'block' || Number(msg.height) < p.closes || checking) return;
      checking = true;
      query('governance', 'proposal', [pid]).then((now) => { if (now.status !== 'open') ctx.app.route(); })
        .catch(() => {}).finally(() => { checking = false; });
    }));
  }
  if (p.status !== 'open') {
    main.appendChild(h('section', { class: 'card', 'data-testid': 'gov-result' },
      h('h3', {}, t('console.governance.result')),
      h('p', { class: `badge ${p.status === 'passed' ? 'ok' : 'warn'}` }, t(`console.governance.outcome_${p.status}`)),
      h('p', {}, p.quorum ? t('console.governance.had_quorum') : t('console.governance.no_quorum'))));
    main.appendChild(publishResult(ctx, p, last));
  }
}

export async function render(ctx, params) {
  if (params[0]) return detailPage(ctx, Number(params[0]));
  return listPage(ctx);
}
