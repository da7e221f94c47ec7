// The committee's households: register one, or many from a CSV (checked row by row and
// shown before anything is signed, with progress, safe to run again), the list of the
// register with each household's personal data opened only on purpose (and logged),
// update, removal from the chain's register, erasure on request, and the access log.
//
// Personal data is sealed in this browser to the committee members' keys (sealed.js) and
// stored on the committee's node (register.js); the chain gets the unit, the area and the
// commitment only. Order of work, as the CLI's: sealed record first, chain second; a
// registration the chain refused leaves no record behind.

import { t, fmt } from '../i18n.js';
import { h, replace } from '../ui.js';
import { errorText } from '../errors.js';
import { askUnlock, sendTx } from '../txflow.js';
import { fromHex, toHex } from '../bytes.js';
import { query, shortAddress, loading, empty } from '../pages/common.js';
import { input, select, form } from '../pages/forms.js';
import { identity, newCard, sealCard, openCard, cardFile, IdentityError } from './sealed.js';
import { register, allRecords, sealingKeys } from './register.js';
import { sendMany, confirmMany, progressBar, readTable, writeCsv, download, areaDm2, MAX_CSV_BYTES, MAX_CSV_ROWS } from './bulk.js';
import { zip } from './xlsx.js';
import { generateSeed, keyFile } from '../keys.js';

const MAX_UNIT_CHARS = 32;
export const HOUSEHOLD_COLUMNS = {
  unit: ['房号', '户号', '单元'],
  area: ['面积', '建筑面积', '面积m2'],
  name: ['姓名', '业主姓名'],
  id_number: ['证件号码', '身份证号', '身份证号码'],
  phone: ['手机号', '手机', '电话'],
  id_type: ['证件类型'],
  address: ['地址', '账户地址'],
};
const REQUIRED = ['unit', 'area', 'name', 'id_number', 'phone'];
const RESIDENT_ID_WORDS = ['', 'resident', '身份证', '居民身份证'];
const OTHER_ID_WORDS = ['other', '其他', '护照', '港澳通行证', '台湾居民来往大陆通行证', '回乡证'];

const msgOf = (err) => (err instanceof IdentityError ? t(`console.households.err.${err.code}`) : errorText(err));

function isAddress(a) { return typeof a === 'string' && /^hk1[02-9ac-hj-np-z]{38}$/.test(a); }

// One CSV row checked: {line, unit, area_dm2, ident, address} or {line, error}.
export function checkRow(r, seenUnits, seenAddresses) {
  const line = r._line;
  try {
    const unit = String(r.unit || '').normalize('NFC').trim();
    if (!unit || [...unit].length > MAX_UNIT_CHARS) throw new IdentityError('unit', 'unit');
    if (seenUnits.has(unit)) throw new IdentityError('unit_twice', 'unit');
    const area = areaDm2(r.area);
    if (area === null) throw new IdentityError('area', 'area');
    const kind = String(r.id_type || '').trim().toLowerCase();
    if (!RESIDENT_ID_WORDS.includes(kind) && !OTHER_ID_WORDS.includes(kind)) throw new IdentityError('id_type', 'id_type');
    const ident = identity(r.name, r.id_number, r.phone, RESIDENT_ID_WORDS.includes(kind) ? 'resident' : 'other');
    // No address: the household has no key yet; the clerk creates one here (keysFor).
    const address = String(r.address || '').trim();
    if (address && !isAddress(address)) throw new IdentityError('address', 'address');
    if (address && seenAddresses.has(address)) throw new IdentityError('address_twice', 'address');
    seenUnits.add(unit); if (address) seenAddresses.add(address);
    return { line, unit, area_dm2: area, ident, address, status: address ? undefined : 'needs_key' };
  } catch (err) {
    return { line, unit: r.unit || '', address: r.address || '', error: msgOf(err) };
  }
}

// --- register one and many -------------------------------------------------------------

// Remove sealed records of a household the chain does not use (an earlier attempt that
// did not reach the chain), so a re-run leaves exactly one record per household.
async function dropUnused(key, address) {
  const recs = await allRecords(key, address);
  for (const r of recs) {
    if (r.erased_at) continue;
    const used = await query('households', 'verify', [address, fromHex(r.commitment)]);
    if (!used) await register.remove(key, r.commitment);
  }
}

async function sealAndStore(key, members, row) {
  await dropUnused(key, row.address);
  const card = newCard(row.address, row.area_dm2, row.ident);
  const record = await sealCard(card, members.map(fromHex));
  await register.put(key, record);
  return record;
}

function registerOneForm(ctx) {
  const address = input('console.households.address', { 'data-testid': 'hh-address', autocomplete: 'off', placeholder: 'hk1…' });
  const unit = input('console.households.unit', { 'data-testid': 'hh-unit', autocomplete: 'off' });
  const area = input('console.households.area', { 'data-testid': 'hh-area', inputmode: 'decimal' });
  const name = input('console.households.name', { 'data-testid': 'hh-name', autocomplete: 'off' });
  const idType = select('console.households.id_type', [['resident', t('console.households.id_resident')], ['other', t('console.households.id_other')]]);
  const idNumber = input('console.households.id_number', { 'data-testid': 'hh-id', autocomplete: 'off' });
  const phone = input('console.households.phone', { 'data-testid': 'hh-phone', autocomplete: 'off', inputmode: 'tel' });
  return form('console.households.register_one', [address.row, unit.row, area.row, name.row, idType.row, idNumber.row, phone.row,
    h('p', { class: 'hint' }, t('console.households.private_hint'))], 'console.households.register', async (msg) => {
    const row = checkRow({ _line: 1, address: address.el.value, unit: unit.el.value, area: area.el.value, name: name.el.value,
      id_type: idType.el.value === 'other' ? 'other' : '', id_number: idNumber.el.value, phone: phone.el.value }, new Set(), new Set());
    if (!row.error && !row.address) row.error = t('console.households.err.address');
    if (row.error) { replace(msg, h('p', { class: 'notice error', role: 'alert' }, row.error)); return; }
    if (!(await askUnlock(ctx.wallet))) return;
    const key = ctx.wallet.unlocked;
    if (await query('households', 'unit_holder', [row.unit])) throw Object.assign(new Error('exists'), { code: 'exists' });
    const record = await sealAndStore(key, await sealingKeys(key), row);
    let ok = false;
    try {
      if (!(await query('roles', 'holds', [row.address, 'resident']))) {
        if (!(await sendTx(ctx, { contract: 'roles', method: 'grant', args: [row.address, 'resident'],
          what: t('console.households.grant_what', { address: shortAddress(row.address) }) }))) return;
      }
      ok = !!(await sendTx(ctx, { contract: 'households', method: 'register',
        args: [row.address, row.unit, row.area_dm2, fromHex(record.commitment)],
        what: t('console.households.register_what', { unit: row.unit, area: fmt.area(row.area_dm2) }) }));
    } finally {
      if (!ok) await register.remove(key, record.commitment).catch(() => {});
    }
    if (ok) {
      replace(msg, h('p', { class: 'notice ok', role: 'status', 'data-testid': 'hh-registered' }, t('console.households.registered_one', { unit: row.unit })));
      ctx.app.route();
    }
  }, { testid: 'hh-register' });
}

function importCard(ctx) {
  const file = h('input', { type: 'file', id: 'hh-csv', accept: '.csv,text/csv', 'data-testid': 'hh-csv' });
  const out = h('div', { 'aria-live': 'polite' });
  let checked = [];
  const preview = async () => {
    replace(out);
    const f = file.files && file.files[0];
    if (!f) return;
    if (f.size > MAX_CSV_BYTES) { replace(out, h('p', { class: 'notice error', role: 'alert' }, t('console.csv.too_large'))); return; }
    const { rows, missing } = readTable(await f.text(), HOUSEHOLD_COLUMNS, REQUIRED);
    if (missing.length) {
      replace(out, h('p', { class: 'notice error', role: 'alert', 'data-testid': 'hh-csv-error' },
        t('console.csv.missing_columns', { cols: missing.map((c) => t(`console.households.col.${c}`)).join('、') })));
      return;
    }
    if (rows.length > MAX_CSV_ROWS) { replace(out, h('p', { class: 'notice error', role: 'alert' }, t('console.csv.too_many', { n: fmt.count(MAX_CSV_ROWS) }))); return; }
    const units = new Set(); const addresses = new Set();
    checked = rows.map((r) => checkRow(r, units, addresses));
    replace(out, loading());
    await checkChain(checked);
    showPreview();
  };
  const showPreview = () => {
    const errors = checked.filter((r) => r.error);
    const todo = checked.filter((r) => r.status === 'todo');
    const already = checked.filter((r) => r.status === 'already');
    const keyless = checked.filter((r) => !r.error && r.status === 'needs_key');
    const go = h('button', { type: 'button', class: 'primary block', 'data-testid': 'hh-import-go',
      disabled: errors.length > 0 || keyless.length > 0 || todo.length === 0,
      onclick: () => runImport(ctx, todo, out, checked) }, t('console.households.import_go', { n: fmt.count(todo.length) }));
    const makeKeys = keyless.length ? h('div', { class: 'notice info' },
      h('p', {}, t('console.households.keys_needed', { n: fmt.count(keyless.length) })),
      h('button', { type: 'button', class: 'secondary', 'data-testid': 'hh-make-keys', onclick: async (e) => {
        e.currentTarget.disabled = true;
        try {
          await keysFor(keyless, checked);
          await checkChain(keyless);
          showPreview();
        } catch (err) { replace(out, h('p', { class: 'notice error', role: 'alert' }, msgOf(err))); }
      } }, t('console.households.make_keys', { n: fmt.count(keyless.length) }))) : null;
    replace(out,
      h('p', { 'data-testid': 'hh-preview-summary' }, t('console.households.preview_summary', {
        rows: fmt.count(checked.length), todo: fmt.count(todo.length), already: fmt.count(already.length), errors: fmt.count(errors.length) })),
      errors.length ? h('p', { class: 'notice error', role: 'alert' }, t('console.households.fix_first')) : null,
      makeKeys,
      previewTable(checked),
      go);
  };
  file.addEventListener('change', () => preview().catch((err) => replace(out, h('p', { class: 'notice error', role: 'alert' }, errorText(err)))));
  return h('section', { class: 'card' },
    h('h3', {}, t('console.households.import_title')),
    h('p', {}, t('console.households.import_why')),
    h('p', { class: 'hint' }, t('console.households.import_columns')),
    h('label', { for: 'hh-csv' }, t('console.csv.file')), file, out);
}

// What the chain already has: skipped, or a row that contradicts it.
async function checkChain(checked) {
  for (const r of checked) {
    if (r.error || !r.address) continue;
      const holder = await query('households', 'unit_holder', [r.unit]);
      if (holder === r.address) r.status = 'already';
      else if (holder) r.error = t('console.households.err.unit_taken', { unit: r.unit });
      else if (await query('households', 'record', [r.address])) r.error = t('console.households.err.address_taken');
      else r.status = 'todo';
  }
}

// Keys for households that have none, made here as the CLI makes them (its key files, to
// hand to each resident, who imports theirs on "me" under a passphrase of their own):
// downloaded at once as one ZIP, with the CSV again with every address filled in, so an
// interrupted import is resumed from that CSV and no key is made twice.
async function keysFor(rows, all) {
  const files = {};
  const enc = new TextEncoder();
  for (const r of rows) {
    const seed = await generateSeed();
    const doc = await keyFile(seed);
    seed.fill(0);
    r.address = doc.address;
    files[`${fileSafe(r.unit)}.key`] = enc.encode(JSON.stringify(doc, null, 2) + '\n');
  }
  download('household-keys.zip', zip(files));
  download('households-with-addresses.csv', writeCsv(['房号', '面积', '姓名', '证件号码', '手机号', '证件类型', '地址'],
    all.filter((r) => !r.error).map((r) => [r.unit, fmt.area(r.area_dm2).replace(/[^0-9.]/g, ''), r.ident.name, r.ident.id_number,
      r.ident.phone, /^[0-9]{17}[0-9X]$/.test(r.ident.id_number) ? '身份证' : '其他', r.address])), 'text/csv');
}

function fileSafe(text) { return [...text].map((c) => (/[\p{L}\p{N}_-]/u.test(c) ? c : '_')).join('').slice(0, 40) || 'household'; }

function statusText(r) {
  if (r.error) return r.error;
  return t(`console.households.status.${r.status}`);
}

function previewTable(rows) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'compact', 'data-testid': 'hh-preview' },
    h('thead', {}, h('tr', {}, ['line', 'unit', 'area', 'address', 'status'].map((c) =>
      h('th', { scope: 'col', class: c === 'address' ? 'wide-col' : c === 'area' ? 'num' : '' }, t(`console.households.col.${c}`))))),
    h('tbody', {}, rows.map((r) => h('tr', { 'data-line': r.line, class: r.error ? 'row-error' : '' },
      h('td', {}, String(r.line)), h('td', {}, r.unit), h('td', { class: 'num' }, r.area_dm2 ? fmt.area(r.area_dm2) : ''),
      h('td', { class: 'mono wide-col' }, shortAddress(r.address)),
      h('td', { 'data-testid': `hh-row-${r.line}` }, statusText(r)))))));
}

async function runImport(ctx, todo, out, all) {
  const calls = [];
  const grants = [];
  for (const r of todo) if (!(await query('roles', 'holds', [r.address, 'resident']))) grants.push(r);
  const first = grants.length ? { contract: 'roles', method: 'grant', args: [grants[0].address, 'resident'] }
    : { contract: 'households', method: 'register', args: [todo[0].address, todo[0].unit, todo[0].area_dm2, new Uint8Array(32)] };
  const key = await confirmMany(ctx, { what: t('console.households.import_what', { n: fmt.count(todo.length) }), first, count: grants.length + todo.length });
  if (!key) return;
  const bar = progressBar('hh-progress');
  replace(out, bar.el);
  // 1. Seal every card in this browser and store it on the committee's node.
  const members = await sealingKeys(key);
  const records = new Map();
  let n = 0;
  for (const r of todo) {
    try {
      records.set(r.address, await sealAndStore(key, members, r));
    } catch (err) {
      r.error = msgOf(err);
    }
    bar.update(++n, todo.length, t('console.households.step_seal'));
  }
  const sealed = todo.filter((r) => !r.error);
  // 2. The resident role, then the households, on chain.
  const needRole = grants.filter((r) => !r.error);
  const granted = await sendMany(key, needRole.map((r) => ({ contract: 'roles', method: 'grant', args: [r.address, 'resident'] })),
    (d, total) => bar.update(d, total, t('console.households.step_grant')));
  needRole.forEach((r, i) => { if (!granted[i].ok) r.error = t('console.households.err.grant', { why: errorText(granted[i]) }); });
  const ready = sealed.filter((r) => !r.error);
  for (const r of ready) calls.push({ contract: 'households', method: 'register',
    args: [r.address, r.unit, r.area_dm2, fromHex(records.get(r.address).commitment)] });
  const done = await sendMany(key, calls, (d, total) => bar.update(d, total, t('console.households.step_register')));
  ready.forEach((r, i) => {
    r.tx = done[i].hash || '';
    if (done[i].ok) r.status = 'registered'; else r.error = errorText(done[i]);
  });
  // 3. What the chain does not have leaves no sealed record behind.
  for (const r of todo) {
    if (r.error && records.has(r.address)) await register.remove(key, records.get(r.address).commitment).catch(() => {});
  }
  const ok = todo.filter((r) => r.status === 'registered').length;
  const failed = todo.filter((r) => r.error).length;
  const report = () => download('households-import-report.csv', writeCsv(
    ['line', 'unit', 'address', 'status', 'tx'],
    all.map((r) => [r.line, r.unit, r.address, r.error ? `error: ${r.error}` : r.status === 'todo' ? 'not sent' : r.status, r.tx || ''])), 'text/csv');
  replace(out,
    h('p', { class: failed ? 'notice error' : 'notice ok', role: 'status', 'data-testid': 'hh-import-done' },
      t('console.households.import_done', { ok: fmt.count(ok), failed: fmt.count(failed) })),
    failed ? h('p', { class: 'hint' }, t('console.households.import_again')) : null,
    previewTable(all),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'secondary', 'data-testid': 'hh-report', onclick: report }, t('console.households.report')),
      h('button', { type: 'button', class: 'secondary', onclick: () => ctx.app.route() }, t('console.households.refresh'))));
}

// --- the register: list, open on purpose, update, remove, erase --------------------------

const PURPOSES = ['check', 'update', 'resident_request', 'card'];

function purposeDialog() {
  return new Promise((resolve) => {
    const sel = h('select', { id: 'purpose', 'data-testid': 'purpose' }, PURPOSES.map((p) => h('option', { value: p }, t(`console.households.purpose.${p}`))));
    const el = h('dialog', { class: 'dialog', 'aria-labelledby': 'purpose-title' },
      h('h2', { id: 'purpose-title' }, t('console.households.purpose_title')),
      h('p', {}, t('console.households.purpose_why')),
      h('label', { for: 'purpose' }, t('console.households.purpose_label')), sel,
      h('div', { class: 'row actions' },
        h('button', { type: 'button', class: 'primary', 'data-testid': 'purpose-ok', onclick: () => { el.close(); el.remove(); resolve(t(`console.households.purpose.${sel.value}`)); } }, t('console.households.open')),
        h('button', { type: 'button', class: 'secondary', onclick: () => { el.close(); el.remove(); resolve(null); } }, t('common.cancel'))));
    document.body.appendChild(el);
    el.showModal();
    el.addEventListener('cancel', () => resolve(null));
  });
}

function detail(ctx, hh, slot) {
  const key = ctx.wallet.unlocked;
  const live = hh.records.filter((r) => !r.erased_at);
  const current = live.find((r) => hh.chain && hexOf(hh.chain.commitment) === r.commitment) || live[0];
  const actions = h('div', { class: 'row' });
  const body = h('div', {});
  const show = async () => {
    const purpose = await purposeDialog();
    if (!purpose) return;
    const rec = await register.read(key, current.commitment, purpose);
    const card = await openCard(rec, key);
    replace(body, h('dl', { class: 'facts', 'data-testid': 'hh-card' },
      h('dt', {}, t('console.households.name')), h('dd', {}, card.identity.name),
      h('dt', {}, t('console.households.id_number')), h('dd', { class: 'mono' }, card.identity.id_number),
      h('dt', {}, t('console.households.phone')), h('dd', { class: 'mono' }, card.identity.phone),
      h('dt', {}, t('console.households.area')), h('dd', {}, fmt.area(card.area_dm2))),
    h('div', { class: 'row' },
      h('button', { type: 'button', class: 'secondary', onclick: async () => {
        download(`household-${hh.chain ? hh.chain.unit : 'card'}.card.json`, JSON.stringify(await cardFile(card), null, 2) + '\n', 'application/json');
        await register.note(key, t('console.households.purpose.card'), current.commitment).catch(() => {});
      } }, t('console.households.download_card')),
      hh.chain ? h('button', { type: 'button', class: 'secondary', 'data-testid': 'hh-update', onclick: () => replace(body, updateForm(ctx, hh, card, current)) }, t('console.households.update')) : null));
  };
  const guard = (fn) => async () => {
    try { await fn(); } catch (err) { replace(body, h('p', { class: 'notice error', role: 'alert' }, msgOf(err))); }
  };
  if (current) actions.append(h('button', { type: 'button', class: 'primary', 'data-testid': 'hh-show', onclick: guard(show) }, t('console.households.show')));
  if (hh.chain) {
    actions.append(h('button', { type: 'button', class: 'secondary', 'data-testid': 'hh-remove', onclick: guard(async () => {
      if (await sendTx(ctx, { contract: 'households', method: 'remove', args: [hh.address],
        what: t('console.households.remove_what', { unit: hh.chain.unit }) })) ctx.app.route();
    }) }, t('console.households.remove')));
  }
  if (live.length) {
    actions.append(h('button', { type: 'button', class: 'secondary', 'data-testid': 'hh-erase', onclick: guard(async () => {
      if (!confirm(t('console.households.erase_confirm'))) return;
      for (const r of live) await register.erase(key, r.commitment);
      ctx.app.route();
    }) }, t('console.households.erase')));
  }
  replace(slot, h('div', { class: 'card inset' }, actions, body));
}

function hexOf(v) { return typeof v === 'string' ? v.replace(/^0x/, '') : v instanceof Uint8Array ? toHex(v) : ''; }

function updateForm(ctx, hh, card, current) {
  const area = input('console.households.area', { value: fmt.area(card.area_dm2).replace(/[^0-9.]/g, ''), 'data-testid': 'hh-new-area' });
  const name = input('console.households.name', { value: card.identity.name });
  const idNumber = input('console.households.id_number', { value: card.identity.id_number });
  const idType = select('console.households.id_type', [['resident', t('console.households.id_resident')], ['other', t('console.households.id_other')]]);
  if (!/^[0-9]{17}[0-9X]$/.test(card.identity.id_number)) idType.el.value = 'other';
  const phone = input('console.households.phone', { value: card.identity.phone, 'data-testid': 'hh-new-phone' });
  return form('console.households.update_title', [area.row, name.row, idType.row, idNumber.row, phone.row], 'console.households.update_go', async (msg) => {
    const row = checkRow({ _line: 1, address: hh.address, unit: hh.chain.unit, area: area.el.value, name: name.el.value,
      id_type: idType.el.value === 'other' ? 'other' : '', id_number: idNumber.el.value, phone: phone.el.value }, new Set(), new Set());
    if (row.error) { replace(msg, h('p', { class: 'notice error', role: 'alert' }, row.error)); return; }
    const key = ctx.wallet.unlocked;
    const next = newCard(hh.address, row.area_dm2, row.ident);
    const record = await sealCard(next, (await sealingKeys(key)).map(fromHex));
    await register.put(key, record);
    const ok = await sendTx(ctx, { contract: 'households', method: 'update', args: [hh.address, row.area_dm2, fromHex(record.commitment)],
      what: t('console.households.update_what', { unit: hh.chain.unit }) });
    if (!ok) { await register.remove(key, record.commitment).catch(() => {}); return; }
    // The chain has the new commitment: the old record is no longer used.
    await register.remove(key, current.commitment).catch(() => {});
    ctx.app.route();
  }, { testid: 'hh-update-go' });
}

async function registerList(ctx, slot) {
  const key = ctx.wallet.unlocked;
  const recs = await allRecords(key);
  const byHousehold = new Map();
  for (const r of recs) {
    if (!byHousehold.has(r.household)) byHousehold.set(r.household, { address: r.household, records: [] });
    byHousehold.get(r.household).records.push(r);
  }
  const list = [...byHousehold.values()];
  // The chain's record of each (a few at a time: the node bounds a client's queries).
  for (let i = 0; i < list.length; i += 8) {
    await Promise.all(list.slice(i, i + 8).map(async (hh) => { hh.chain = await query('households', 'record', [hh.address]); }));
  }
  list.sort((a, b) => String(a.chain ? a.chain.unit : '~').localeCompare(String(b.chain ? b.chain.unit : '~')));
  const filter = h('input', { id: 'hh-filter', type: 'search', 'data-testid': 'hh-filter' });
  const tbody = h('tbody', {});
  const draw = () => {
    const f = filter.value.trim();
    replace(tbody, list.filter((hh) => !f || (hh.chain && hh.chain.unit.includes(f)) || hh.address.includes(f)).slice(0, 300).map((hh) => {
      const slotRow = h('tr', { hidden: true }, h('td', { colspan: '5' }));
      const erased = hh.records.every((r) => r.erased_at);
      return [h('tr', { 'data-testid': `hh-${hh.address}` },
        h('td', {}, hh.chain ? hh.chain.unit : '—'),
        h('td', { class: 'num' }, hh.chain ? fmt.area(hh.chain.area_dm2) : ''),
        h('td', { class: 'mono wide-col' }, shortAddress(hh.address)),
        h('td', {}, t(hh.chain ? 'console.households.on_chain' : 'console.households.not_on_chain'), ' · ',
          t(erased ? 'console.households.erased' : 'console.households.sealed')),
        h('td', {}, h('button', { type: 'button', class: 'secondary small', 'aria-expanded': 'false', onclick: (e) => {
          const open = slotRow.hidden;
          slotRow.hidden = !open;
          e.currentTarget.setAttribute('aria-expanded', String(open));
          if (open) detail(ctx, hh, slotRow.firstChild);
        } }, t('console.households.manage')))), slotRow];
    }));
  };
  filter.addEventListener('input', draw);
  draw();
  replace(slot,
    h('label', { for: 'hh-filter' }, t('console.households.filter')), filter,
    list.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'compact', 'data-testid': 'hh-list' },
      h('thead', {}, h('tr', {}, ['unit', 'area', 'address', 'state', 'actions'].map((c) =>
        h('th', { scope: 'col', class: c === 'address' ? 'wide-col' : c === 'area' ? 'num' : '' }, t(`console.households.col.${c}`))))),
      tbody)) : empty('console.households.none'));
}

async function accessLog(ctx, slot) {
  const { entries, total } = await register.log(ctx.wallet.unlocked, { limit: 100 });
  replace(slot, entries.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'compact', 'data-testid': 'hh-log' },
    h('thead', {}, h('tr', {}, ['at', 'by', 'household', 'purpose'].map((c) => h('th', { scope: 'col', class: c === 'household' ? 'wide-col' : '' }, t(`console.households.log.${c}`))))),
    h('tbody', {}, entries.map((e) => h('tr', {},
      h('td', {}, fmt.time(Number(e.at) * 1000)), h('td', { class: 'mono' }, shortAddress(e.by)),
      h('td', { class: 'mono wide-col' }, shortAddress(e.household || '—')), h('td', {}, e.purpose))))))
    : empty('console.households.log_empty'),
  total > entries.length ? h('p', { class: 'hint' }, t('console.households.log_more', { n: fmt.count(total) })) : null);
}

export async function render(ctx) {
  const { main, wallet } = ctx;
  main.appendChild(h('h2', {}, t('console.households.title')));
  const totals = h('p', { 'data-testid': 'hh-totals' }, t('common.loading'));
  main.appendChild(h('section', { class: 'card' }, totals, h('p', { class: 'hint' }, t('console.households.privacy'))));
  query('households', 'totals', []).then(([area, n]) => {
    totals.textContent = t('console.households.totals', { n: fmt.count(n), area: fmt.area(area) });
  }).catch(() => { totals.textContent = '—'; });
  // Everything below reads or writes the sealed register: requests signed with the
  // unlocked key (unlocking re-draws the page, so it comes first).
  if (!wallet.isUnlocked()) {
    main.appendChild(h('section', { class: 'card' }, h('p', {}, t('console.households.unlock_to_read')),
      h('button', { type: 'button', class: 'primary', 'data-testid': 'hh-unlock', onclick: () => askUnlock(wallet) }, t('key.unlock'))));
    return;
  }
  main.appendChild(importCard(ctx));
  main.appendChild(h('details', { class: 'card' }, h('summary', {}, t('console.households.register_one')), registerOneForm(ctx)));
  const listSlot = h('div', {});
  const logSlot = h('div', {});
  main.appendChild(h('section', { class: 'card' }, h('h3', {}, t('console.households.list')), listSlot));
  main.appendChild(h('section', { class: 'card' }, h('h3', {}, t('console.households.access_log')), logSlot));
  replace(listSlot, loading());
  replace(logSlot, loading());
  await Promise.all([
    registerList(ctx, listSlot).catch((err) => replace(listSlot, h('p', { class: 'notice error', role: 'alert' }, errorText(err)))),
    accessLog(ctx, logSlot).catch((err) => replace(logSlot, h('p', { class: 'notice error', role: 'alert' }, errorText(err)))),
  ]);
}

