// Culture: a gallery of the community's works (each picture or text checked against the
// hash registered on chain), likes that reward the creator, and uploading a work.

import { t, fmt } from '../i18n.js';
import { h, replace } from '../ui.js';
import { sendTx } from '../txflow.js';
import { rpc } from '../rpc.js';
import { upload, fetchVerified, imageType, shownImageType } from '../blobs.js';
import { fromUtf8, utf8 } from '../bytes.js';
import { listAll, query, hexOf, shortAddress, empty, loading } from './common.js';
import { input, select, form, fail } from './forms.js';

const KINDS = ['calligraphy', 'photography', 'writing'];

function workCard(ctx, w, params) {
  const media = h('div', { class: 'work-media' }, loading());
  fetchVerified(hexOf(w.content_hash)).then((bytes) => {
    const type = shownImageType(bytes);
    if (type) {
      const url = URL.createObjectURL(new Blob([bytes], { type }));
      replace(media, h('img', { src: url, alt: w.title, loading: 'lazy' }));
      ctx.onLeave(() => URL.revokeObjectURL(url));
    } else {
      let text = '';
      try { text = fromUtf8(bytes); } catch { text = t('culture.not_shown'); }
      replace(media, h('p', { class: 'doc-text' }, text.slice(0, 2000)));
    }
  }).catch(() => replace(media, h('p', { class: 'muted' }, t('votes.text_unavailable'))));
  const like = h('div', {});
  if (ctx.wallet.hasKey()) {
    query('culture', 'liked', [w.id, ctx.wallet.address]).then((done) => {
      replace(like, done ? h('span', { class: 'badge ok' }, t('culture.liked')) :
        h('button', { type: 'button', class: 'primary', 'data-testid': `like-${w.id}`, onclick: async () => {
          if (await sendTx(ctx, { contract: 'culture', method: 'like', args: [w.id], what: t('culture.like_what', { title: w.title }) })) ctx.app.route();
        } }, '♥ ', t('culture.like')));
    }).catch(() => {});
  }
  return h('article', { class: 'card work', 'data-testid': `work-${w.id}` },
    media,
    h('h3', {}, w.title),
    h('p', { class: 'muted' }, t(`culture.kind_${w.kind}`), ' · ', shortAddress(w.creator)),
    h('div', { class: 'spread' }, h('span', { 'data-testid': `likes-${w.id}` }, t('culture.likes', { n: fmt.count(w.likes) })), like),
    h('p', { class: 'hint elder-hide' }, t('culture.reward', { n: fmt.points(params.like_reward) })));
}

function uploadForm(ctx) {
  const title = input('culture.title', { maxlength: 100, required: true, 'data-testid': 'work-title' });
  const kind = select('culture.kind', KINDS.map((k) => [k, t(`culture.kind_${k}`)]), { 'data-testid': 'work-kind' });
  const file = input('culture.file', { type: 'file', accept: 'image/jpeg,image/png,image/gif,image/webp', 'data-testid': 'work-file' });
  const text = input('culture.text', { tag: 'textarea', maxlength: 20000, 'data-testid': 'work-text' });
  return h('details', { class: 'card' }, h('summary', {}, t('culture.upload')),
    form('culture.upload', [...title.row, ...kind.row, ...file.row, h('p', { class: 'hint' }, t('culture.file_or_text')), ...text.row],
      'culture.submit', async () => {
        let bytes;
        const f = file.el.files && file.el.files[0];
        if (f) {
          bytes = new Uint8Array(await f.arrayBuffer());
          if (!imageType(bytes)) throw fail('not_an_image');
        } else if (text.el.value.trim()) {
          bytes = utf8(text.el.value.trim());
        } else throw fail('bad_arg');
        const hash = await upload(bytes);
        if (await sendTx(ctx, { contract: 'culture', method: 'register_work', args: [hash, title.el.value.trim(), kind.el.value, bytes.length],
          what: t('culture.upload_what', { title: title.el.value.trim() }) })) ctx.app.route();
      }, { testid: 'work-submit' }));
}

export async function render(ctx) {
  const { main } = ctx;
  main.appendChild(h('h2', {}, t('nav.culture')));
  if (ctx.wallet.hasKey()) {
    // Rewards: what my works earned today (likes, capped per day by the contract).
    const earned = h('p', { class: 'card', 'data-testid': 'earned-today' }, t('common.loading'));
    main.appendChild(earned);
    rpc.status().then(async (st) => {
      const day = Math.floor(Number(st.latest_time_ms) / 86_400_000);
      const n = await query('culture', 'earned', [ctx.wallet.address, day]);
      earned.textContent = t('culture.earned_today', { n: fmt.points(n) });
    }).catch(() => earned.remove());
    main.appendChild(uploadForm(ctx));
  }
  const wait = main.appendChild(loading());
  const [items, params] = await Promise.all([listAll('culture', 'works', [''], 30), query('culture', 'params', [])]);
  wait.remove();
  if (!items.length) main.appendChild(empty('culture.none'));
  main.appendChild(h('div', { class: 'grid two gallery' }, items.map((w) => workCard(ctx, w, params))));
}
