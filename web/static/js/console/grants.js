// Roles (route #/grants, #/grants/<address>): who holds each role of the community
// (roles.holders), an address's roles, and granting or revoking the roles this key may
// grant (the grant rules are on chain: roles.grant_rule; committee, observer and validator
// are granted by a chain vote). After a grant or a revoke the page shows that address
// again, read back from the chain, with a line saying what was done.

import { t, fmt } from '../i18n.js';
import { h, replace } from '../ui.js';
import { sendTx } from '../txflow.js';
import { query, empty, loading } from '../pages/common.js';
import { input, select, form, fail } from '../pages/forms.js';
import { labels, heading } from './shared.js';

export const ROLES = ['committee', 'resident', 'property_company', 'merchant', 'service_provider', 'observer', 'validator'];
const HOLDERS_PAGE = 50;
const ADDRESS_RE = /^hk1[02-9ac-hj-np-z]{20,90}$/;

// What the last grant or revoke did, shown once on the page it returns to (the page is
// drawn again from the chain, so the list and the counts are the chain's).
let done = null;

// The roles the signing key may grant: those whose rule names a role it holds.
async function grantable(wallet) {
  const rules = await Promise.all(ROLES.map((r) => query('roles', 'grant_rule', [r])));
  return new Set(ROLES.filter((r, i) => rules[i].some((g) => g !== 'governance' && wallet.roles.has(g))));
}

function roleName(r) { return t(`role.${r}`); }

// An address from what the clerk typed: an hk1… address, or a unit of the register.
async function resolve(text) {
  const v = text.trim();
  if (ADDRESS_RE.test(v)) return v;
  if (!v) throw fail('bad_arg');
  const holder = await query('households', 'unit_holder', [v]);
  if (!holder) throw fail('unknown_unit');
  return holder;
}

function change(ctx, method, address, role, label) {
  return async () => {
    const vars = { role: roleName(role), who: label };
    const what = t(method === 'grant' ? 'console.roles.grant_what' : 'console.roles.revoke_what', vars);
    if (!(await sendTx(ctx, { contract: 'roles', method, args: [address, role], what }))) return;
    done = { address, text: t(method === 'grant' ? 'console.roles.granted' : 'console.roles.revoked', vars) };
    if (location.hash === `#/grants/${address}`) ctx.app.route(); else ctx.app.navigate(`grants/${address}`);
  };
}

function lookupCard(ctx, mayGrant, start) {
  const who = input('console.roles.who', { autocomplete: 'off', 'data-testid': 'roles-who' });
  const out = h('div', { 'aria-live': 'polite' });
  const role = select('console.roles.role', [...mayGrant].map((r) => [r, roleName(r)]), { 'data-testid': 'roles-role' });
  const show = async (address, flash) => {
    const [held, names] = await Promise.all([query('roles', 'roles_of', [address]), labels([address])]);
    const label = names.get(address);
    replace(out,
      flash ? h('p', { class: 'notice ok', role: 'status', 'data-testid': 'roles-done' }, flash) : null,
      h('section', { class: 'card' },
        h('p', {}, label),
        h('p', { class: 'mono', 'data-testid': 'roles-address' }, address),
        held.length ? h('ul', { class: 'plain', 'data-testid': 'roles-held' }, held.map((r) => h('li', { class: 'spread' },
          h('span', {}, roleName(r)),
          mayGrant.has(r) ? h('button', { type: 'button', class: 'secondary', 'data-testid': `revoke-${r}`, onclick: change(ctx, 'revoke', address, r, label) },
            t('console.roles.revoke')) : h('span', { class: 'muted' }, t('console.roles.by_vote')))))
          : empty('console.roles.none_held')),
      mayGrant.size ? form('console.roles.grant_title', role.row, 'console.roles.grant', async () => {
        const r = role.el.value;
        if (held.includes(r)) throw fail('exists');
        await change(ctx, 'grant', address, r, label)();
      }, { testid: 'roles-grant' }) : null);
  };
  if (start) {
    who.el.value = start.address;
    show(start.address, start.flash).catch(() => replace(out, empty('error.unknown')));
  }
  return h('section', {},
    form('console.roles.lookup', [...who.row, h('p', { class: 'hint' }, t('console.roles.who_hint'))], 'console.roles.show', async () => {
      await show(await resolve(who.el.value), null);
    }, { testid: 'roles-lookup' }), out);
}

function holdersCard(ctx, role, count, mayGrant) {
  const list = h('div', {}, loading());
  let loaded = false;
  const load = async () => {
    const page = await query('roles', 'holders', [role, 0, HOLDERS_PAGE]);
    const names = await labels(page.items);
    replace(list, page.items.length ? h('ul', { class: 'plain' }, page.items.map((a) => h('li', { class: 'spread' },
      h('span', {}, names.get(a)),
      mayGrant.has(role) ? h('button', { type: 'button', class: 'secondary', 'data-testid': `holder-revoke-${role}-${a}`,
        onclick: change(ctx, 'revoke', a, role, names.get(a)) }, t('console.roles.revoke')) : null)))
      : empty('console.roles.nobody'),
    page.next ? h('p', { class: 'hint' }, t('console.roles.more_holders', { n: fmt.count(count - page.items.length) })) : null);
  };
  return h('details', { class: 'card', 'data-testid': `holders-${role}`, ontoggle: (e) => {
    if (e.target.open && !loaded) { loaded = true; load().catch(() => replace(list, empty('error.unknown'))); }
  } }, h('summary', {}, t('console.roles.holders_line', { role: roleName(role), n: fmt.count(count) })),
  mayGrant.has(role) ? null : h('p', { class: 'hint' }, t('console.roles.by_vote_hint')), list);
}

export async function render(ctx, params) {
  const { main, wallet } = ctx;
  const address = params[0] && ADDRESS_RE.test(params[0]) ? params[0] : null;
  const flash = done && done.address === address ? done.text : null;
  done = null;
  heading(ctx, 'console.roles.title_page');
  const wait = main.appendChild(loading());
  const [mayGrant, counts] = await Promise.all([grantable(wallet),
    Promise.all(ROLES.map((r) => query('roles', 'holders', [r, 0, 1]).then((p) => p.count)))]);
  wait.remove();
  main.appendChild(lookupCard(ctx, mayGrant, address ? { address, flash } : null));
  main.appendChild(h('h3', {}, t('console.roles.holders')));
  ROLES.forEach((r, i) => main.appendChild(holdersCard(ctx, r, counts[i], mayGrant)));
}
