// The committee's notices: publish a notice or community news with its text (kept in
// the blob store, its SHA-256 on chain), and see who has read each one — the count
// against the register's households and the readers, latest first, as they acknowledge
// (over the websocket).

import { t, fmt } from '../i18n.js';
import { h, replace, technical } from '../ui.js';
import { sendTx } from '../txflow.js';
import { uploadText, fetchText } from '../blobs.js';
import { listAll, query, hexOf, blockTime, empty, loading } from '../pages/common.js';
import { input, select, form, fail } from '../pages/forms.js';
import { labels, facts, share, heading } from './shared.js';
import { MAX_DOC_BYTES } from './governance.js';

const MAX_TITLE_CHARS = 100;
const READERS_PAGE = 50;
const READERS_MAX = 100;  // the latest; the count covers them all

function publishForm(ctx) {
  const kind = select('console.notices.kind', [['notice', t('console.notices.kind_notice')], ['news', t('notices.news')]],
    { 'data-testid': 'notice-kind' });
  const title = input('console.notices.title', { maxlength: MAX_TITLE_CHARS, required: true, 'data-testid': 'notice-title' });
  const text = input('console.notices.text', { tag: 'textarea', rows: 8, required: true, 'data-testid': 'notice-text' });
  return h('details', { class: 'card', open: true }, h('summary', {}, t('console.notices.new')),
    form('console.notices.new', [...kind.row, ...title.row, ...text.row], 'console.notices.publish', async () => {
      const body = text.el.value.trim();
      const name = title.el.value.trim();
      if (!body || !name) throw fail('bad_arg');
      if (new TextEncoder().encode(body).length > MAX_DOC_BYTES) throw fail('too_large');
      const hash = await uploadText(body);
      const receipt = await sendTx(ctx, { contract: 'notices', method: 'publish', args: [kind.el.value, name, hash],
        what: t('console.notices.publish_what', { title: name }) });
      if (receipt) ctx.app.navigate(`noticeboard/${receipt.result}`);
    }, { testid: 'notice-publish' }));
}

function readLine(n, households) {
  return share(t('console.notices.read'), n.acks, households,
    t('console.notices.read_of', { n: fmt.count(n.acks), total: fmt.count(households) }), `notice-read-${n.id}`);
}

async function listPage(ctx) {
  const { main, live } = ctx;
  heading(ctx, 'console.notices.title_page');
  main.appendChild(publishForm(ctx));
  main.appendChild(h('h3', {}, t('console.notices.published')));
  const box = main.appendChild(h('div', {}, loading()));
  const show = async () => {
    const [items, totals] = await Promise.all([listAll('notices', 'notices', [''], 30), query('households', 'totals', [])]);
    if (!items.length) { replace(box, empty('notices.none')); return; }
    replace(box, items.map((n) => h('article', { class: 'card', 'data-testid': `notice-card-${n.id}` },
      h('div', { class: 'spread' }, h('h4', {}, h('a', { href: `#/noticeboard/${n.id}` }, n.title)),
        h('span', { class: 'badge' }, n.kind === 'news' ? t('notices.news') : t('console.notices.kind_notice'))),
      h('p', { class: 'muted' }, blockTime(n.at)),
      readLine(n, totals[1]))));
  };
  await show();
  ctx.onLeave(live.on({ type: 'event', contract: 'notices' }, () => { show().catch(() => {}); }));
}

async function readersOf(id) {
  const out = [];
  let cursor = 0;
  do {
    const page = await query('notices', 'readers', [id, cursor, READERS_PAGE]);
    out.push(...page.items);
    cursor = page.next;
  } while (cursor && out.length < READERS_MAX);
  return out;
}

async function detailPage(ctx, id) {
  const { main, live } = ctx;
  main.appendChild(h('p', {}, h('a', { href: '#/noticeboard' }, '← ', t('console.notices.title_page'))));
  const n = await query('notices', 'notice', [id]);
  if (!n) { main.appendChild(empty('console.notices.not_found')); return; }
  const by = await labels([n.by]);
  main.appendChild(h('h2', {}, n.title));
  main.appendChild(h('section', { class: 'card' }, facts([
    [t('console.notices.kind'), n.kind === 'news' ? t('notices.news') : t('console.notices.kind_notice')],
    [t('console.notices.published_at'), blockTime(n.at)],
    [t('console.notices.by'), by.get(n.by)],
  ])));
  const text = h('section', { class: 'card doc' }, loading());
  main.appendChild(text);
  const hashHex = hexOf(n.content_hash);
  fetchText(hashHex).then((s) => replace(text, h('p', { class: 'doc-text', 'data-testid': 'notice-text-shown' }, s),
    h('p', { class: 'hint' }, t('console.governance.text_checked'), ' ', technical(hashHex))))
    .catch(() => replace(text, h('p', { class: 'muted' }, t('votes.text_unavailable'))));

  const receipts = h('section', { class: 'card', 'aria-live': 'polite', 'data-testid': 'notice-receipts' }, loading());
  main.appendChild(receipts);
  const show = async () => {
    const [fresh, totals, readers] = await Promise.all([query('notices', 'notice', [id]), query('households', 'totals', []), readersOf(id)]);
    const names = await labels(readers.map((r) => r.address));
    replace(receipts, h('h3', {}, t('console.notices.receipts')), readLine(fresh, totals[1]),
      readers.length < fresh.acks ? h('p', { class: 'hint' }, t('console.notices.older_readers', { n: fmt.count(fresh.acks - readers.length) })) : null,
      readers.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'compact', 'data-testid': 'notice-readers' },
        h('thead', {}, h('tr', {}, h('th', {}, t('console.notices.reader')), h('th', {}, t('console.notices.read_at')))),
        h('tbody', {}, readers.map((r) => h('tr', {}, h('td', {}, names.get(r.address)), h('td', {}, blockTime(r.at)))))))
        : empty('console.notices.no_readers'));
  };
  await show();
  ctx.onLeave(live.on({ type: 'event', contract: 'notices', name: 'NoticeAcknowledged' }, (msg) => {
    if (msg.type === 'event' && msg.fields && Number(msg.fields.id) !== id) return;
    show().catch(() => {});
  }));
}

export async function render(ctx, params) {
  if (params[0]) return detailPage(ctx, Number(params[0]));
  return listPage(ctx);
}
