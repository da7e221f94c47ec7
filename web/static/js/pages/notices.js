// Notices: read the committee's notices (text checked against its hash) and acknowledge.

import { t } from '../i18n.js';
import { h, replace } from '../ui.js';
import { sendTx } from '../txflow.js';
import { fetchText } from '../blobs.js';
import { listAll, query, hexOf, blockTime, empty, loading } from './common.js';

export async function render(ctx) {
  const { main, wallet } = ctx;
  main.appendChild(h('h2', {}, t('nav.notices')));
  const wait = main.appendChild(loading());
  const items = await listAll('notices', 'notices', [''], 30);
  wait.remove();
  if (!items.length) main.appendChild(empty('notices.none'));
  for (const n of items) {
    const body = h('div', { class: 'doc-text' }, t('common.loading'));
    fetchText(hexOf(n.content_hash)).then((s) => replace(body, s)).catch(() => replace(body, h('span', { class: 'muted' }, t('votes.text_unavailable'))));
    const ack = h('div', {});
    const card = h('article', { class: 'card', 'data-testid': `notice-${n.id}` },
      h('h3', {}, n.title), h('p', { class: 'muted' }, blockTime(n.at), n.kind === 'news' ? ` · ${t('notices.news')}` : ''), body, ack);
    main.appendChild(card);
    if (wallet.hasKey()) {
      query('notices', 'acknowledged', [n.id, wallet.address]).then((done) => {
        replace(ack, done ? h('p', { class: 'badge ok' }, t('notices.read')) :
          h('button', { type: 'button', class: 'primary block', 'data-testid': `ack-${n.id}`, onclick: async () => {
            if (await sendTx(ctx, { contract: 'notices', method: 'acknowledge', args: [n.id], what: t('notices.ack_what', { title: n.title }) })) ctx.app.route();
          } }, t('notices.ack')));
      }).catch(() => {});
    }
  }
}
