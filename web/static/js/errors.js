// An error in the user's language: the RPC's and the contracts' stable codes map to
// catalogue messages (error.<code>); anything else is shown as a general failure with its
// code, never as a stack trace.

import { t, has } from './i18n.js';
import { notice } from './ui.js';

export function errorText(err) {
  const code = err && err.code ? String(err.code) : '';
  if (code && has(`error.${code}`)) return t(`error.${code}`);
  if (code) return t('error.unknown_code', { code });
  return t('error.unknown');
}

export function errorNotice(err) {
  return notice('error', errorText(err));
}

export function showError(el, err) {
  el.appendChild(errorNotice(err));
}
