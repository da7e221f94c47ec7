// Every page the key may open, as large links (the bottom bar holds only a few).

import { t } from '../i18n.js';
import { h } from '../ui.js';
import { ROUTES } from '../routes.js';

export async function render(ctx) {
  const { main, app } = ctx;
  main.appendChild(h('h2', {}, t('nav.more')));
  const items = Object.entries(ROUTES).filter(([name, r]) => name !== 'more' && app.visible(r));
  const tile = ([name, r]) => h('a', { class: 'tile', href: `#/${name}` }, h('span', { class: 'value' }, t(r.title)));
  main.appendChild(h('div', { class: 'grid two' }, items.filter(([, r]) => !r.roles).map(tile)));
  // The committees' console: the pages this key's roles open, under their own heading.
  const console = items.filter(([, r]) => r.roles);
  if (console.length) {
    main.appendChild(h('h3', { class: 'section-title', 'data-testid': 'more-console' }, t('nav.console_section')));
    main.appendChild(h('div', { class: 'grid two' }, console.map(tile)));
  }
}
