// Every page the key may open, as large links (the bottom bar holds only a few).

import { t } from '../i18n.js';
import { h } from '../ui.js';
import { ROUTES } from '../routes.js';

export async function render(ctx) {
  const { main, app } = ctx;
  main.appendChild(h('h2', {}, t('nav.more')));
  const items = Object.entries(ROUTES).filter(([name, r]) => name !== 'more' && app.visible(r));
  main.appendChild(h('div', { class: 'grid two' },
    items.map(([name, r]) => h('a', { class: 'tile', href: `#/${name}` }, h('span', { class: 'value' }, t(r.title))))));
}
