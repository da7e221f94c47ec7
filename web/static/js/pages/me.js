// Me: language, elder mode, and (with the wallet) the key.

import { t, currentLocale } from '../i18n.js';
import { h } from '../ui.js';

export async function render(ctx) {
  const { main, app } = ctx;
  main.appendChild(h('h2', {}, t('nav.me')));
  const lang = h('select', { id: 'lang', 'data-testid': 'lang-select',
    onchange: (e) => app.setLanguage(e.target.value) },
  h('option', { value: 'zh-CN', selected: currentLocale() === 'zh-CN', lang: 'zh-CN' }, '中文（简体）'),
  h('option', { value: 'en', selected: currentLocale() === 'en', lang: 'en' }, 'English'));
  const elder = h('input', { type: 'checkbox', id: 'elder', checked: app.prefs.elder,
    onchange: (e) => app.setElder(e.target.checked) });
  main.appendChild(h('section', { class: 'card' },
    h('h3', {}, t('settings.title')),
    h('label', { for: 'lang' }, t('settings.language')), lang,
    h('label', { for: 'elder', class: 'row' }, elder, t('settings.elder')),
    h('p', { class: 'hint' }, t('settings.elder_hint'))));
}
