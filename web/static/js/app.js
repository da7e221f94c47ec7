// The app's shell: top bar, navigation, the hash router and the settings (language, elder
// mode). Pages are modules listed in routes.js; each has a path, a title key, the roles
// that see it (resident pages for everyone, committee pages for the roles of issue 16's
// console) and render(ctx, params) that fills the main element.

import { setLocale, t, currentLocale, DEFAULT_LOCALE } from './i18n.js';
import { h, replace } from './ui.js';
import { ROUTES, NAV } from './routes.js';

const SETTINGS_KEY = 'hkchain.settings';

export const settings = {
  load() {
    try { return JSON.parse(localStorage.getItem(SETTINGS_KEY)) || {}; } catch { return {}; }
  },
  save(s) { localStorage.setItem(SETTINGS_KEY, JSON.stringify(s)); },
};

export class App {
  constructor(root) {
    this.root = root;
    this.prefs = { lang: DEFAULT_LOCALE, elder: false, ...settings.load() };
    this.main = null;
    this.cleanup = [];
    this.services = {};  // filled by main.js: wallet, light client, live updates
  }

  async start() {
    await setLocale(this.prefs.lang);
    this.applyElder();
    window.addEventListener('hashchange', () => this.route());
    await this.route();
    this.root.removeAttribute('aria-busy');
  }

  applyElder() { document.body.classList.toggle('elder', !!this.prefs.elder); }

  async setLanguage(lang) {
    this.prefs.lang = lang; settings.save(this.prefs);
    await setLocale(lang);
    await this.route();
  }

  async setElder(on) {
    this.prefs.elder = on; settings.save(this.prefs);
    this.applyElder();
    await this.route();
  }

  roles() { return this.services.wallet ? this.services.wallet.roles : new Set(); }

  visible(route) {
    if (!route.roles || route.roles.length === 0) return true;
    const mine = this.roles();
    return route.roles.some((r) => mine.has(r));
  }

  parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const [pathPart] = raw.split('?');
    const parts = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
    return { name: parts[0] || 'home', params: parts.slice(1) };
  }

  navigate(path) { location.hash = '#/' + path; }

  topbar(name) {
    const other = currentLocale() === 'en' ? 'zh-CN' : 'en';
    return h('header', { class: 'topbar' },
      h('h1', {}, t('app.title')),
      h('button', {
        type: 'button', lang: other, title: t('settings.switch_language'),
        onclick: () => this.setLanguage(other), 'data-testid': 'lang-switch',
      }, other === 'en' ? 'English' : '中文'),
      h('button', {
        type: 'button', 'aria-pressed': this.prefs.elder ? 'true' : 'false',
        onclick: () => this.setElder(!this.prefs.elder), 'data-testid': 'elder-switch',
      }, t('settings.elder_short')),
    );
  }

  nav(current) {
    const items = NAV.filter((n) => this.visible(ROUTES[n.route]) && (!this.prefs.elder || n.elder));
    const link = (n) => h('a', {
      href: `#/${n.route}`,
      class: n.where === 'wide' ? 'wide-only' : n.where === 'narrow' ? 'narrow-only' : '',
      'aria-current': current === n.route ? 'page' : undefined,
    }, h('span', { class: 'icon', 'aria-hidden': 'true' }, n.icon), h('span', {}, t(ROUTES[n.route].title)));
    const resident = items.filter((n) => n.section !== 'console');
    const console = items.filter((n) => n.section === 'console');
    // The console's pages under their own heading (sidebar only; on a phone they are on
    // the "more" page), for a key whose roles open any of them.
    return h('nav', { class: 'nav', 'aria-label': t('nav.label') },
      resident.map(link),
      console.length ? h('p', { class: 'nav-section wide-only', 'data-testid': 'nav-console' }, t('nav.console_section')) : null,
      console.map(link));
  }

  async route() {
    for (const fn of this.cleanup.splice(0)) { try { fn(); } catch (e) { console.error(e); } }
    const { name, params } = this.parseHash();
    let route = ROUTES[name];
    if (!route || !this.visible(route)) route = ROUTES.home;
    const routeName = Object.keys(ROUTES).find((k) => ROUTES[k] === route);
    this.main = h('main', { id: 'main', tabindex: '-1' });
    replace(this.root, this.topbar(routeName), h('div', { class: 'shell' }, this.nav(routeName), this.main));
    document.title = `${t(route.title)} · ${t('app.title')}`;
    const ctx = { app: this, t, main: this.main, params, onLeave: (fn) => this.cleanup.push(fn), ...this.services };
    try {
      await route.render(ctx, params);
    } catch (e) {
      console.error(e);
      const { showError } = await import('./errors.js');
      showError(this.main, e);
    }
  }
}
