// Me: my key (create, import the CLI's key file, unlock, lock, save a backup, forget),
// language and elder mode.

import { t, fmt, currentLocale } from '../i18n.js';
import { rpc } from '../rpc.js';
import { h, replace } from '../ui.js';
import { errorText } from '../errors.js';
import { askUnlock } from '../txflow.js';
import { MIN_PASSPHRASE_CHARS } from '../wallet.js';
import { KeyError } from '../keys.js';
import { hasConsoleRole } from '../console/roles.js';

function field(id, labelKey, attrs = {}) {
  const input = h('input', { id, ...attrs });
  return [h('label', { for: id }, t(labelKey)), input];
}

function createForm(ctx) {
  const [l1, pass] = field('new-pass', 'key.passphrase', { type: 'password', autocomplete: 'new-password', 'data-testid': 'new-passphrase' });
  const [l2, again] = field('new-pass2', 'key.passphrase_again', { type: 'password', autocomplete: 'new-password', 'data-testid': 'new-passphrase-again' });
  const msg = h('div', { 'aria-live': 'polite' });
  const go = h('button', { type: 'submit', class: 'primary block', 'data-testid': 'create-key' }, t('key.create'));
  return h('form', { class: 'card', onsubmit: async (e) => {
    e.preventDefault();
    if (pass.value !== again.value) { replace(msg, h('p', { class: 'notice error', role: 'alert' }, t('key.mismatch'))); return; }
    go.disabled = true;
    replace(msg, h('p', { class: 'muted' }, t('key.working')));
    try {
      await ctx.wallet.create(pass.value);
    } catch (err) {
      replace(msg, h('p', { class: 'notice error', role: 'alert' }, errorText(err)));
      go.disabled = false;
    }
  } },
  h('h3', {}, t('key.create_title')),
  h('p', {}, t('key.create_why')),
  l1, pass, h('p', { class: 'hint' }, t('key.passphrase_hint', { n: MIN_PASSPHRASE_CHARS })), l2, again, msg, go);
}

function importForm(ctx) {
  const file = h('input', { type: 'file', id: 'key-file', accept: '.key,.json,application/json', 'data-testid': 'import-file' });
  const [l2, pass] = field('import-pass', 'key.passphrase', { type: 'password', autocomplete: 'current-password', 'data-testid': 'import-passphrase' });
  const msg = h('div', { 'aria-live': 'polite' });
  const go = h('button', { type: 'submit', class: 'secondary block', 'data-testid': 'import-key' }, t('key.import'));
  return h('form', { class: 'card', onsubmit: async (e) => {
    e.preventDefault();
    const f = file.files && file.files[0];
    if (!f) { replace(msg, h('p', { class: 'notice error', role: 'alert' }, t('key.choose_file'))); return; }
    go.disabled = true;
    replace(msg, h('p', { class: 'muted' }, t('key.working')));
    try {
      let doc;
      try { doc = JSON.parse(await f.text()); } catch { throw new KeyError('bad_key_file'); }
      await ctx.wallet.importFile(doc, pass.value);
    } catch (err) {
      replace(msg, h('p', { class: 'notice error', role: 'alert' }, errorText(err)));
      go.disabled = false;
    }
  } },
  h('h3', {}, t('key.import_title')),
  h('p', {}, t('key.import_why')),
  h('label', { for: 'key-file' }, t('key.file')), file, l2, pass,
  h('p', { class: 'hint' }, t('key.import_hint')), msg, go);
}

function keyCard(ctx) {
  const { wallet } = ctx;
  const address = wallet.address;
  const backup = () => {
    const text = wallet.exportFile();
    const url = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
    const a = h('a', { href: url, download: `${address}.key` });
    document.body.appendChild(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  };
  const roles = [...wallet.roles].map((r) => t(`role.${r}`));
  const household = h('p', { 'data-testid': 'my-household' });
  rpc.query('households', 'record', [address]).then(({ result }) => {
    household.textContent = result ? t('key.household', { unit: result.unit, area: fmt.area(result.area_dm2) }) : t('key.no_household');
  }).catch(() => {});
  return h('section', { class: 'card' },
    h('h3', {}, t('key.mine')),
    h('p', {}, t('key.address')),
    h('p', { class: 'mono', 'data-testid': 'my-address' }, address),
    h('p', {}, t('key.roles'), ' ', roles.length ? roles.join('、') : t('key.no_roles')),
    household,
    hasConsoleRole(wallet.roles) ? h('p', {}, h('a', { class: 'button', href: '#/console', 'data-testid': 'open-console' }, t('console.open'))) : null,
    h('p', { 'data-testid': 'lock-state' }, wallet.isUnlocked() ? t('key.unlocked') : t('key.locked')),
    h('div', { class: 'row' },
      wallet.isUnlocked()
        ? h('button', { type: 'button', class: 'secondary', onclick: () => wallet.lock() }, t('key.lock'))
        : h('button', { type: 'button', class: 'primary', 'data-testid': 'unlock', onclick: () => askUnlock(wallet) }, t('key.unlock')),
      h('button', { type: 'button', class: 'secondary', 'data-testid': 'backup', onclick: backup }, t('key.backup'))),
    h('p', { class: 'hint' }, t('key.backup_hint')));
}

function otherKeys(ctx) {
  const { wallet } = ctx;
  const others = wallet.records.filter((r) => r.address !== wallet.address);
  return h('section', { class: 'card elder-hide' },
    h('h3', {}, t('key.all')),
    others.length === 0 ? h('p', { class: 'muted' }, t('key.only_one')) : null,
    others.map((r) => h('div', { class: 'spread' }, h('span', { class: 'mono' }, r.address),
      h('button', { type: 'button', class: 'secondary', onclick: () => wallet.use(r.address) }, t('key.use')))),
    h('details', {}, h('summary', {}, t('key.forget_title')),
      h('p', {}, t('key.forget_warning')),
      h('button', { type: 'button', class: 'secondary', onclick: async () => {
        if (confirm(t('key.forget_confirm'))) await wallet.forget(wallet.address);
      } }, t('key.forget'))));
}

function settingsCard(ctx) {
  const { app } = ctx;
  const lang = h('select', { id: 'lang', 'data-testid': 'lang-select', onchange: (e) => app.setLanguage(e.target.value) },
    h('option', { value: 'zh-CN', selected: currentLocale() === 'zh-CN', lang: 'zh-CN' }, '中文（简体）'),
    h('option', { value: 'en', selected: currentLocale() === 'en', lang: 'en' }, 'English'));
  const elder = h('input', { type: 'checkbox', id: 'elder', checked: app.prefs.elder, onchange: (e) => app.setElder(e.target.checked) });
  return h('section', { class: 'card' },
    h('h3', {}, t('settings.title')),
    h('label', { for: 'lang' }, t('settings.language')), lang,
    h('label', { for: 'elder', class: 'row' }, elder, t('settings.elder')),
    h('p', { class: 'hint' }, t('settings.elder_hint')));
}

export async function render(ctx) {
  const { main, wallet } = ctx;
  main.appendChild(h('h2', {}, t('nav.me')));
  if (wallet.hasKey()) {
    main.appendChild(keyCard(ctx));
    main.appendChild(otherKeys(ctx));
    main.appendChild(h('details', { class: 'card elder-hide' }, h('summary', {}, t('key.add_another')), createForm(ctx), importForm(ctx)));
  } else {
    main.appendChild(h('p', {}, t('key.welcome')));
    main.appendChild(createForm(ctx));
    main.appendChild(importForm(ctx));
  }
  main.appendChild(settingsCard(ctx));
}
