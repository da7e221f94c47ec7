// Proposals: residents' drafts (assembly) — read, co-sign, comment, and draft a new one;
// a draft goes to the Article 278 vote once enough households co-sign.

import { t, fmt } from '../i18n.js';
import { h, replace } from '../ui.js';
import { sendTx } from '../txflow.js';
import { uploadText, fetchText } from '../blobs.js';
import { needKey, listAll, query, categoryName, hexOf, blockTime, shortAddress, empty, loading } from './common.js';
import { input, select, form, fail } from './forms.js';

function draftCard(ctx, d, minCosigners) {
  const me = ctx.wallet.address;
  const text = h('div', { class: 'doc-text' });
  fetchText(hexOf(d.doc_hash)).then((s) => replace(text, s)).catch(() => replace(text, h('span', { class: 'muted' }, t('votes.text_unavailable'))));
  const comments = h('div', {});
  const showComments = async () => {
    const list = await query('assembly', 'comments', [d.id]);
    replace(comments, list.length ? list.map((c) => {
      const body = h('span', {}, '…');
      fetchText(hexOf(c.hash)).then((s) => replace(body, s)).catch(() => replace(body, t('votes.text_unavailable')));
      return h('p', { class: 'comment' }, h('span', { class: 'muted' }, `${shortAddress(c.by)} · ${blockTime(c.at)}：`), body);
    }) : h('p', { class: 'muted' }, t('proposals.no_comments')));
  };
  const commentBox = input('proposals.your_comment', { tag: 'textarea', maxlength: 2000 });
  const signed = d.cosigners.includes(me);
  return h('article', { class: 'card', 'data-testid': `draft-${d.id}` },
    h('div', { class: 'spread' }, h('h3', {}, d.title), h('span', { class: 'badge' }, t(`proposals.status_${d.status}`))),
    h('p', { class: 'muted' }, categoryName(d.category)),
    text,
    h('p', {}, t('proposals.cosigners', { n: fmt.count(d.cosigners.length), min: fmt.count(minCosigners) })),
    d.pid ? h('a', { class: 'button', href: `#/votes/${d.pid}` }, t('proposals.to_vote')) : null,
    d.status === 'drafting' && !signed ? h('button', { type: 'button', class: 'primary block', 'data-testid': `cosign-${d.id}`, onclick: async () => {
      if (await sendTx(ctx, { contract: 'assembly', method: 'cosign', args: [d.id], what: t('proposals.cosign_what', { title: d.title }) })) ctx.app.route();
    } }, t('proposals.cosign')) : null,
    signed ? h('p', { class: 'badge ok' }, t('proposals.you_signed')) : null,
    h('details', { class: 'elder-hide', ontoggle: (e) => { if (e.target.open) showComments(); } },
      h('summary', {}, t('proposals.comments', { n: fmt.count(d.comments || 0) })), comments,
      form('proposals.add_comment', commentBox.row, 'proposals.send_comment', async () => {
        if (!commentBox.el.value.trim()) throw fail('bad_arg');
        const hash = await uploadText(commentBox.el.value.trim());
        if (await sendTx(ctx, { contract: 'assembly', method: 'comment', args: [d.id, hash], what: t('proposals.comment_what') })) ctx.app.route();
      })));
}

function newDraft(ctx) {
  const cat = select('proposals.category', Array.from({ length: 9 }, (_, i) => [String(i + 1), `${i + 1}. ${categoryName(i + 1)}`]));
  const title = input('proposals.title', { maxlength: 200, required: true, 'data-testid': 'draft-title' });
  const text = input('proposals.text', { tag: 'textarea', maxlength: 20000, required: true, 'data-testid': 'draft-text' });
  return h('details', { class: 'card' }, h('summary', {}, t('proposals.new')),
    form('proposals.new', [...cat.row, ...title.row, ...text.row], 'proposals.submit', async () => {
      const hash = await uploadText(text.el.value.trim());
      const category = Number(cat.el.value);
      if (await sendTx(ctx, { contract: 'assembly', method: 'draft', args: [category, title.el.value.trim(), hash, []],
        what: t('proposals.draft_what', { title: title.el.value.trim() }) })) ctx.app.route();
    }, { testid: 'draft-submit' }));
}

export async function render(ctx) {
  const { main } = ctx;
  main.appendChild(h('h2', {}, t('nav.proposals')));
  if (needKey(ctx)) return;
  main.appendChild(h('p', { class: 'muted' }, t('proposals.intro')));
  main.appendChild(newDraft(ctx));
  const wait = main.appendChild(loading());
  const [items, params] = await Promise.all([listAll('assembly', 'drafts', [''], 50), query('assembly', 'params', [])]);
  wait.remove();
  if (!items.length) main.appendChild(empty('proposals.none'));
  for (const d of items) main.appendChild(draftCard(ctx, d, params.min_cosigners));
}
