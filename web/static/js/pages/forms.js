// Small form builders shared by the pages: labelled inputs, and a submit that uploads a
// text to the blob store (its hash goes on chain) before the tx.

import { t } from '../i18n.js';
import { h, replace } from '../ui.js';
import { errorText } from '../errors.js';

let seq = 0;

export function input(labelKey, attrs = {}) {
  const id = `f${++seq}`;
  const el = h(attrs.tag || 'input', { id, ...attrs, tag: undefined });
  return { el, row: [h('label', { for: id }, t(labelKey)), el] };
}

export function select(labelKey, options, attrs = {}) {
  const id = `f${++seq}`;
  const el = h('select', { id, ...attrs }, options.map(([v, text]) => h('option', { value: v }, text)));
  return { el, row: [h('label', { for: id }, t(labelKey)), el] };
}

// A form whose submit runs `action()`; errors show in the user's language under it.
export function form(titleKey, rows, buttonKey, action, attrs = {}) {
  const msg = h('div', { 'aria-live': 'polite' });
  const go = h('button', { type: 'submit', class: 'primary block', 'data-testid': attrs.testid }, t(buttonKey));
  return h('form', { class: 'card', onsubmit: async (e) => {
    e.preventDefault();
    go.disabled = true;
    replace(msg);
    try {
      await action(msg);
    } catch (err) {
      console.warn(err);
      replace(msg, h('p', { class: 'notice error', role: 'alert' }, errorText(err)));
    } finally {
      go.disabled = false;
    }
  } }, h('h3', {}, t(titleKey)), rows, msg, go);
}

export function fail(code) { return Object.assign(new Error(code), { code }); }
