// The service provider's console (`#/jobs`): what a plumber or a home-care worker needs on
// a phone. Residents' open requests in the provider's categories (the description checked
// against its hash on chain) with an offer to make or change (`services.offer`, within the
// budget); the jobs the provider was chosen for (`services.requests` with the provider as
// party): the household to go to, the price held in escrow, and — as the contract allows a
// provider — giving a job back (`cancel`: the escrow goes back to the resident) or asking
// the committee to settle it (`dispute`); completed jobs with the points received; the
// provider's rating; the categories served (`register_provider`); and the property
// company's service contracts that name the provider. In the contract the resident
// accepts and confirms completion, so those arrive live (`/v1/ws`) rather than as buttons.

import { t, fmt } from '../i18n.js';
import { h, replace } from '../ui.js';
import { errorText } from '../errors.js';
import { sendTx } from '../txflow.js';
import { uploadText, fetchText } from '../blobs.js';
import { query, listAll, hexOf, blockTime, shortAddress, loading, empty } from '../pages/common.js';
import { input, form, fail } from '../pages/forms.js';
import { labels } from './shared.js';

const COMMON_CATEGORIES = ['水电维修', '家政保洁', '助老陪护', '家电维修', '其他'];
const MAX_CATEGORIES = 8;
const MAX_CATEGORY_CHARS = 32;
const MAX_OPEN = 50;
const MAX_JOBS = 100;
const MAX_REASON_CHARS = 2000;
const JOB_ORDER = ['accepted', 'disputed', 'completed', 'decided', 'cancelled', 'refunded'];

function notice(kind, text, testid) {
  return h('p', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : 'status', 'data-testid': testid }, text);
}

const stars = (x100) => `${Math.floor(Number(x100) / 100)}.${String(Number(x100) % 100).padStart(2, '0')}`;

function description(r) {
  const el = h('p', { class: 'doc-text' }, t('common.loading'));
  fetchText(hexOf(r.description_hash)).then((s) => replace(el, s))
    .catch(() => replace(el, h('span', { class: 'muted' }, t('console.jobs.text_unavailable'))));
  return el;
}

async function act(ctx, msg, method, args, what, done) {
  try {
    if (await sendTx(ctx, { contract: 'services', method, args, what })) {
      replace(msg, notice('ok', done, 'job-done'));
      ctx.app.route();
    }
  } catch (e) { replace(msg, notice('error', errorText(e))); }
}

// --- open requests, and the offer ------------------------------------------------------------

function openCard(ctx, r, mine) {
  const price = input('console.jobs.price', { type: 'number', min: 1, step: 1, inputmode: 'numeric',
    value: mine ? String(mine.price) : '', required: true, 'data-testid': `offer-price-${r.id}` });
  return h('article', { class: 'card', 'data-testid': `open-${r.id}` },
    h('div', { class: 'spread' }, h('h4', {}, t('console.jobs.request_title', { id: r.id, category: r.category })),
      mine ? h('span', { class: 'badge ok', 'data-testid': `my-offer-${r.id}` }, t('console.jobs.offered', { price: fmt.points(mine.price) })) : null),
    description(r),
    h('p', { class: 'muted' }, t('console.jobs.budget', { budget: fmt.points(r.budget) }), r.created ? ` · ${blockTime(r.created)}` : '',
      ' · ', t('console.jobs.offers_n', { n: fmt.count(r.offers || 0) })),
    form(mine ? 'console.jobs.change_offer' : 'console.jobs.make_offer',
      [...price.row, h('p', { class: 'hint' }, t('console.jobs.offer_hint'))], mine ? 'console.jobs.change_go' : 'console.jobs.offer_go', async (msg) => {
        const p = Number(price.el.value);
        if (!Number.isSafeInteger(p) || p <= 0) throw fail('bad_arg');
        if (BigInt(p) > BigInt(r.budget)) throw fail('over_budget');
        if (await sendTx(ctx, { contract: 'services', method: 'offer', args: [r.id, p],
          what: t('console.jobs.offer_what', { id: r.id, price: fmt.points(p) }) })) {
          replace(msg, notice('ok', t('console.jobs.offer_sent', { price: fmt.points(p) }), `offer-sent-${r.id}`));
          ctx.app.route();
        }
      }, { testid: `offer-go-${r.id}` }));
}

async function openSection(ctx, me, provider) {
  const box = h('section', { class: 'card' }, h('h3', {}, t('console.jobs.open')));
  if (!provider) { box.appendChild(empty('console.jobs.register_first')); return box; }
  const lists = await Promise.all(provider.categories.map((c) => listAll('services', 'requests', ['open', c, ''], MAX_OPEN)));
  const byId = new Map();
  for (const r of lists.flat()) if (r.requester !== me) byId.set(r.id, r);
  const open = [...byId.values()].sort((a, b) => b.id - a.id);
  const offers = await Promise.all(open.map((r) => query('services', 'offers', [r.id]).catch(() => [])));
  box.appendChild(h('p', { class: 'hint' }, t('console.jobs.open_why', { categories: provider.categories.join('、') })));
  if (!open.length) box.appendChild(empty('console.jobs.no_open'));
  open.forEach((r, i) => box.appendChild(openCard(ctx, r, offers[i].find((o) => o.provider === me))));
  return box;
}

// --- my jobs -----------------------------------------------------------------------------------

function jobCard(ctx, r, who) {
  const msg = h('div', { 'aria-live': 'polite' });
  const parts = [
    h('div', { class: 'spread' }, h('h4', {}, t('console.jobs.request_title', { id: r.id, category: r.category })),
      h('span', { class: `badge ${r.status === 'completed' ? 'ok' : r.status === 'accepted' ? 'warn' : ''}`, 'data-testid': `job-status-${r.id}` },
        t(`console.jobs.status_${r.status}`))),
    description(r),
    h('dl', { class: 'facts stacked' },
      h('dt', {}, t('console.jobs.household')), h('dd', { 'data-testid': `job-household-${r.id}` }, who.get(r.requester) || shortAddress(r.requester)),
      h('dt', {}, t('console.jobs.price_short')), h('dd', {}, fmt.points(r.price)),
      r.accepted_at ? [h('dt', {}, t('console.jobs.accepted_at')), h('dd', {}, blockTime(r.accepted_at))] : null,
      r.status === 'accepted' ? [h('dt', {}, t('console.jobs.escrow')), h('dd', {}, t('console.jobs.escrow_text', { amount: fmt.points(r.escrow) }))] : null,
      r.status === 'completed' ? [h('dt', {}, t('console.jobs.received')), h('dd', { 'data-testid': `job-received-${r.id}` }, fmt.points(r.price))] : null,
      r.decision ? [h('dt', {}, t('console.jobs.decision')), h('dd', {}, t('console.jobs.decision_text',
        { mine: fmt.points(r.decision.provider_amount), back: fmt.points(r.decision.refund) }))] : null,
      ['completed', 'decided'].includes(r.status) ? [h('dt', {}, t('console.jobs.rating')),
        h('dd', { 'data-testid': `job-rated-${r.id}` }, t(r.rated ? 'console.jobs.rated' : 'console.jobs.not_rated'))] : null),
  ];
  if (r.status === 'accepted') {
    const reason = input('console.jobs.dispute_reason', { tag: 'textarea', maxlength: MAX_REASON_CHARS, 'data-testid': `dispute-reason-${r.id}` });
    parts.push(h('p', { class: 'hint' }, t('console.jobs.accepted_hint')),
      h('details', {}, h('summary', { 'data-testid': `job-more-${r.id}` }, t('console.jobs.cannot_do')),
        h('p', {}, t('console.jobs.cancel_why', { amount: fmt.points(r.escrow) })),
        h('button', { type: 'button', class: 'secondary block', 'data-testid': `job-cancel-${r.id}`,
          onclick: () => act(ctx, msg, 'cancel', [r.id], t('console.jobs.cancel_what', { id: r.id, amount: fmt.points(r.escrow) }), t('console.jobs.cancelled', { id: r.id })) },
        t('console.jobs.cancel')),
        form('console.jobs.dispute', reason.row, 'console.jobs.dispute_go', async () => {
          const text = reason.el.value.trim();
          if (!text) throw fail('bad_arg');
          const hash = await uploadText(text);
          await act(ctx, msg, 'dispute', [r.id, hash], t('console.jobs.dispute_what', { id: r.id }), t('console.jobs.disputed', { id: r.id }));
        }, { testid: `dispute-go-${r.id}` })));
  }
  parts.push(msg);
  return h('article', { class: 'card', 'data-testid': `job-${r.id}` }, parts);
}

async function jobsSection(me) {
  const items = (await listAll('services', 'requests', ['', '', me], MAX_JOBS)).filter((r) => r.provider === me);
  items.sort((a, b) => JOB_ORDER.indexOf(a.status) - JOB_ORDER.indexOf(b.status) || b.id - a.id);
  const who = await labels(items.map((r) => r.requester));
  return { items, who };
}

// --- who I am: rating, categories, contracts ------------------------------------------------

function categoriesForm(ctx, provider) {
  const current = provider ? provider.categories : [];
  const boxes = COMMON_CATEGORIES.map((c) => {
    const id = `cat-${c}`;
    return { c, el: h('input', { type: 'checkbox', id, value: c, checked: current.includes(c), 'data-testid': `category-${c}` }), id };
  });
  const extra = input('console.jobs.other_categories', { value: current.filter((c) => !COMMON_CATEGORIES.includes(c)).join('、'),
    maxlength: 300, 'data-testid': 'categories-other' });
  return form(provider ? 'console.jobs.change_categories' : 'console.jobs.register', [
    h('div', { class: 'checks' }, boxes.map((b) => h('label', { for: b.id, class: 'check' }, b.el, ' ', b.c))),
    ...extra.row, h('p', { class: 'hint' }, t('console.jobs.categories_hint'))],
  'console.jobs.categories_go', async (msg) => {
    const others = extra.el.value.split(/[、,，;；\n]/).map((s) => s.trim()).filter(Boolean);
    const list = [...new Set([...boxes.filter((b) => b.el.checked).map((b) => b.c), ...others])];
    if (!list.length || list.length > MAX_CATEGORIES || list.some((c) => c.length > MAX_CATEGORY_CHARS)) throw fail('bad_categories');
    if (await sendTx(ctx, { contract: 'services', method: 'register_provider', args: [list], what: t('console.jobs.categories_what', { list: list.join('、') }) })) {
      replace(msg, notice('ok', t('console.jobs.categories_saved'), 'categories-saved'));
      ctx.app.route();
    }
  }, { testid: 'categories-go' });
}

function aboutCard(ctx, provider) {
  const card = h('section', { class: 'card', 'data-testid': 'provider-about' }, h('h3', {}, t('console.jobs.about')));
  if (!provider) {
    card.appendChild(notice('info', t('console.jobs.not_registered')));
    card.appendChild(categoriesForm(ctx, null));
    return card;
  }
  card.appendChild(h('dl', { class: 'facts stacked' },
    h('dt', {}, t('console.jobs.my_rating')),
    h('dd', { 'data-testid': 'provider-rating' }, Number(provider.rating_count) > 0
      ? t('console.jobs.rating_text', { r: stars(provider.rating_x100), n: fmt.count(provider.rating_count) }) : t('console.jobs.no_rating')),
    h('dt', {}, t('console.jobs.categories')), h('dd', { 'data-testid': 'provider-categories' }, provider.categories.join('、'))));
  card.appendChild(h('details', {}, h('summary', {}, t('console.jobs.change_categories')), categoriesForm(ctx, provider)));
  return card;
}

async function contractsCard(me) {
  const names = await query('names', 'names_of', [[me]]).catch(() => ({}));
  const mine = (await listAll('property', 'contracts', [], 100)).filter((c) => c.counterparty === me || (names[me] && c.counterparty === names[me]));
  return h('section', { class: 'card' }, h('h3', {}, t('console.jobs.contracts')),
    mine.length ? h('ul', { class: 'plain', 'data-testid': 'provider-contracts' }, mine.map((c) => h('li', {},
      t('console.jobs.contract_line', { id: c.id, from: fmt.date(Number(c.start_time) * 1000), to: fmt.date(Number(c.end_time) * 1000), amount: fmt.points(c.amount) }))))
      : empty('console.jobs.no_contracts'));
}

// --- the page, kept live -----------------------------------------------------------------------

export async function render(ctx) {
  const { main, wallet } = ctx;
  const me = wallet.address;
  main.appendChild(h('h2', {}, t('console.jobs.title')));
  const feed = h('ul', { class: 'plain feed', 'data-testid': 'jobs-feed', 'aria-live': 'polite' }, h('li', { class: 'muted' }, t('console.jobs.feed_empty')));
  const about = h('div', {}, loading());
  const jobs = h('section', { class: 'card' }, h('h3', {}, t('console.jobs.mine')), loading());
  const open = h('div', {}, loading());
  const contracts = h('div', {});
  main.append(h('section', { class: 'card' }, h('h3', {}, t('console.jobs.live')), feed), jobs, open, about, contracts);
  let provider = null;
  const shown = new Set();  // the requests on the page: their events redraw it
  const myJobs = new Set();
  const draw = async () => {
    provider = await query('services', 'provider_of', [me]);
    const [{ items, who }, openBox] = await Promise.all([jobsSection(me), openSection(ctx, me, provider)]);
    shown.clear(); myJobs.clear();
    for (const r of items) { shown.add(r.id); myJobs.add(r.id); }
    for (const el of openBox.querySelectorAll('[data-testid^="open-"]')) shown.add(Number(el.dataset.testid.slice(5)));
    const todo = items.filter((r) => r.status === 'accepted').length;
    replace(jobs, h('h3', {}, t('console.jobs.mine')),
      h('p', { 'data-testid': 'jobs-summary' }, t('console.jobs.summary', { todo: fmt.count(todo),
        done: fmt.count(items.filter((r) => r.status === 'completed').length),
        earned: fmt.points(items.filter((r) => r.status === 'completed').reduce((a, r) => a + BigInt(r.price), 0n)) })),
      items.length ? items.map((r) => jobCard(ctx, r, who)) : empty('console.jobs.no_jobs'));
    replace(open, openBox);
    replace(about, aboutCard(ctx, provider));
  };
  const showError = (e) => replace(open, notice('error', errorText(e)));
  let timer = null;
  const redraw = () => { clearTimeout(timer); timer = setTimeout(() => draw().catch(showError), 300); };
  const say = (text, id) => {
    for (const li of feed.querySelectorAll('li.muted')) li.remove();
    feed.prepend(h('li', { 'data-request': String(id) }, text));
    while (feed.children.length > 20) feed.lastChild.remove();
  };
  ctx.onLeave(ctx.live.on({ type: 'event', contract: 'services' }, (msg) => {
    if (msg.type === 'connected') { redraw(); return; }
    if (msg.type !== 'event') return;
    const f = msg.fields || {};
    const mineNow = f.provider === me;
    const myJob = myJobs.has(f.id);
    const inMyCategory = msg.name === 'Requested' && provider && provider.categories.includes(f.category);
    if (inMyCategory) say(t('console.jobs.feed_requested', { id: f.id, category: f.category, budget: fmt.points(f.budget ?? 0) }), f.id);
    else if (msg.name === 'Accepted' && mineNow) say(t('console.jobs.feed_accepted', { id: f.id, price: fmt.points(f.price ?? 0) }), f.id);
    else if (msg.name === 'Accepted' && shown.has(f.id)) say(t('console.jobs.feed_taken', { id: f.id }), f.id);
    else if (msg.name === 'Completed' && mineNow) say(t('console.jobs.feed_completed', { id: f.id, amount: fmt.points(f.amount ?? 0) }), f.id);
    else if (msg.name === 'ProviderRated' && mineNow) say(t('console.jobs.feed_rated', { id: f.id, n: f.score }), f.id);
    else if (msg.name === 'Disputed' && myJob && f.by !== me) say(t('console.jobs.feed_disputed', { id: f.id }), f.id);
    else if (msg.name === 'Decided' && myJob) say(t('console.jobs.feed_decided', { id: f.id, amount: fmt.points(f.provider_amount ?? 0) }), f.id);
    else if (msg.name === 'Refunded' && myJob) say(t('console.jobs.feed_refunded', { id: f.id }), f.id);
    else if (msg.name === 'Cancelled' && shown.has(f.id) && f.by !== me) say(t('console.jobs.feed_withdrawn', { id: f.id }), f.id);
    if (inMyCategory || mineNow || shown.has(f.id)) redraw();
  }));
  ctx.onLeave(() => clearTimeout(timer));
  try { await draw(); } catch (e) { showError(e); }
  contractsCard(me).then((el) => replace(contracts, el)).catch(() => replace(contracts));
}
