// The console's front page: who is signed in (address, roles read from the chain), and a
// tile for every console page those roles open. A key without a console role never
// reaches it (the router sends it home).

import { t } from '../i18n.js';
import { h } from '../ui.js';
import { ROUTES, NAV } from '../routes.js';

export async function render(ctx) {
  const { main, app, wallet } = ctx;
  main.appendChild(h('h2', {}, t('console.title')));
  const roles = [...wallet.roles].map((r) => t(`role.${r}`));
  main.appendChild(h('section', { class: 'card' },
    h('p', {}, t('console.signed_in_as')),
    h('p', { class: 'mono', 'data-testid': 'console-address' }, wallet.address),
    h('p', { 'data-testid': 'console-roles' }, t('key.roles'), ' ', roles.join('、')),
    wallet.isUnlocked() ? null : h('p', { class: 'hint' }, t('console.unlock_hint'))));
  const pages = NAV.filter((n) => n.section === 'console' && n.route !== 'console' && app.visible(ROUTES[n.route]));
  main.appendChild(pages.length
    ? h('div', { class: 'grid two', 'data-testid': 'console-pages' },
      pages.map((n) => h('a', { class: 'tile', href: `#/${n.route}`, 'data-testid': `console-${n.route}` },
        h('div', { class: 'label' }, n.icon), h('div', { class: 'value small' }, t(ROUTES[n.route].title)))))
    : h('p', { class: 'muted' }, t('console.no_pages')));
}
