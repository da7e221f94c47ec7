// The property company's month, and the committee's view of it: the fee schedule, a
// month's bills to every household (from a CSV or from the households billed before; the
// amounts come from the schedule on chain; idempotent, with progress), offline payments
// confirmed, arrears per household with their age and exports (CSV, XLSX) that update
// live as residents pay, and the service contracts with the residents' ratings.

import { t, fmt, has } from '../i18n.js';
import { h, replace } from '../ui.js';
import { rpc } from '../rpc.js';
import { errorText } from '../errors.js';
import { sendTx } from '../txflow.js';
import { upload } from '../blobs.js';
import { query, listAll, shortAddress, blockTime, loading, empty, hexOf } from '../pages/common.js';
import { input, select, form, fail } from '../pages/forms.js';
import { sendMany, confirmMany, progressBar, readTable, writeCsv, download, MAX_CSV_BYTES, MAX_CSV_ROWS } from './bulk.js';
import { xlsx } from './xlsx.js';

const AGE_LIMITS_DAYS = [30, 60, 90];
export const ARREARS_HEADER = ['房号', '地址', '未缴账单数', '欠费合计(积分)', '最早账期', '0-30天', '31-60天', '61-90天', '90天以上', '账单号'];
const BILL_COLUMNS = { address: ['地址', '账户地址', 'household'], extra_label: ['附加项目'], extra_amount: ['附加金额'] };
const MAX_LIST = 4096;

function err(msg, e) { replace(msg, h('p', { class: 'notice error', role: 'alert' }, errorText(e))); }

// The month in Shanghai as YYYY-MM.
function thisMonth() {
  const p = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit' }).formatToParts(new Date());
  return `${p.find((x) => x.type === 'year').value}-${p.find((x) => x.type === 'month').value}`;
}

// --- the fee schedule -------------------------------------------------------------------

function scheduleCard(ctx, sched, canSet) {
  const items = sched ? sched.items : [];
  const rows = h('tbody', {});
  const addRow = (it = ['', '', 'area', '']) => {
    const tr = h('tr', {},
      h('td', {}, h('input', { value: it[0], 'aria-label': t('console.property.code'), class: 'sched-code' })),
      h('td', {}, h('input', { value: it[1], 'aria-label': t('console.property.label'), class: 'sched-label' })),
      h('td', {}, h('select', { 'aria-label': t('console.property.basis'), class: 'sched-basis' },
        h('option', { value: 'area', selected: it[2] === 'area' }, t('console.property.basis_area')),
        h('option', { value: 'fixed', selected: it[2] === 'fixed' }, t('console.property.basis_fixed')))),
      h('td', {}, h('input', { value: String(it[3]), inputmode: 'numeric', 'aria-label': t('console.property.price'), class: 'sched-price' })),
      h('td', {}, h('button', { type: 'button', class: 'secondary small', onclick: () => tr.remove() }, t('console.property.remove_item'))));
    rows.appendChild(tr);
  };
  const view = h('div', { class: 'table-wrap' }, h('table', { class: 'compact', 'data-testid': 'schedule' },
    h('thead', {}, h('tr', {}, ['code', 'label', 'basis', 'price'].map((c) => h('th', { scope: 'col' }, t(`console.property.${c}`))))),
    h('tbody', {}, items.map((it) => h('tr', {}, h('td', { class: 'mono' }, it[0]), h('td', {}, it[1]),
      h('td', {}, t(`console.property.basis_${it[2]}`)),
      h('td', { class: 'num' }, it[2] === 'area' ? t('console.property.per_m2', { points: fmt.points(it[3]) }) : fmt.points(it[3])))))));
  const card = h('section', { class: 'card' }, h('h3', {}, t('console.property.schedule')),
    sched ? h('p', { class: 'muted' }, t('console.property.schedule_version', { v: sched.version, at: blockTime(sched.at) })) : empty('console.property.no_schedule'),
    items.length ? view : null);
  if (canSet) {
    for (const it of items) addRow(it);
    if (!items.length) addRow();
    const msg = h('div', { 'aria-live': 'polite' });
    card.appendChild(h('details', {}, h('summary', {}, t('console.property.edit_schedule')),
      h('div', { class: 'table-wrap' }, h('table', { class: 'compact' },
        h('thead', {}, h('tr', {}, ['code', 'label', 'basis', 'price', 'actions'].map((c) => h('th', { scope: 'col' }, t(`console.property.${c}`))))), rows)),
      h('div', { class: 'row' },
        h('button', { type: 'button', class: 'secondary', onclick: () => addRow() }, t('console.property.add_item')),
        h('button', { type: 'button', class: 'primary', 'data-testid': 'schedule-save', onclick: async () => {
          const next = [...rows.children].map((tr) => [tr.querySelector('.sched-code').value.trim(), tr.querySelector('.sched-label').value.trim(),
            tr.querySelector('.sched-basis').value, Number(tr.querySelector('.sched-price').value.trim())]);
          if (!next.length || next.some((it) => !it[0] || !it[1] || !Number.isSafeInteger(it[3]) || it[3] < 0)) {
            replace(msg, h('p', { class: 'notice error', role: 'alert' }, t('console.property.schedule_bad'))); return;
          }
          try {
            if (await sendTx(ctx, { contract: 'property', method: 'set_schedule', args: [next], what: t('console.property.schedule_what', { n: next.length }) })) ctx.app.route();
          } catch (e) { err(msg, e); }
        } }, t('console.property.save_schedule'))), msg));
  }
  return card;
}

// --- a month's bills ----------------------------------------------------------------------

// What a household's bill will be from the schedule and its area (as property.issue_bill).
function billTotal(sched, areaDm2, extras) {
  let total = 0n;
  for (const [, , basis, price] of sched.items) total += basis === 'area' ? (BigInt(price) * BigInt(areaDm2)) / 100n : BigInt(price);
  for (const [, amount] of extras) total += BigInt(amount);
  return total;
}

function issueCard(ctx, sched) {
  const period = input('console.property.period', { value: thisMonth(), 'data-testid': 'bills-period', pattern: '[0-9]{4}-[0-9]{2}' });
  const source = select('console.property.source', [['csv', t('console.property.source_csv')], ['previous', t('console.property.source_previous')]],
    { 'data-testid': 'bills-source' });
  const prev = input('console.property.previous_period', { 'data-testid': 'bills-previous' });
  const file = h('input', { type: 'file', id: 'bills-csv', accept: '.csv,text/csv', 'data-testid': 'bills-csv' });
  const out = h('div', { 'aria-live': 'polite' });
  const prepare = async () => {
    replace(out, loading());
    const p = period.el.value.trim();
    if (!/^[0-9]{4}-(0[1-9]|1[0-2])$/.test(p)) throw fail('bad_period');
    let targets = [];
    if (source.el.value === 'csv') {
      const f = file.files && file.files[0];
      if (!f) throw fail('choose_csv');
      if (f.size > MAX_CSV_BYTES) throw fail('csv_too_large');
      const { rows, missing } = readTable(await f.text(), BILL_COLUMNS, ['address']);
      if (missing.length) throw fail('csv_no_address');
      if (rows.length > MAX_CSV_ROWS) throw fail('csv_too_large');
      const seen = new Set();
      for (const r of rows) {
        const extras = [];
        if (r.extra_label || r.extra_amount) {
          const amount = Number(r.extra_amount);
          if (!r.extra_label || !Number.isSafeInteger(amount) || amount <= 0) { targets.push({ line: r._line, address: r.address, error: t('console.property.err_extra') }); continue; }
          extras.push([r.extra_label, amount]);
        }
        if (seen.has(r.address)) { targets.push({ line: r._line, address: r.address, error: t('console.property.err_twice') }); continue; }
        seen.add(r.address);
        targets.push({ line: r._line, address: r.address, extras });
      }
    } else {
      const before = prev.el.value.trim();
      if (!/^[0-9]{4}-(0[1-9]|1[0-2])$/.test(before)) throw fail('bad_period');
      const bills = await listAll('property', 'bills', ['', '', before], MAX_LIST);
      const seen = new Set();
      let line = 0;
      for (const b of bills.reverse()) if (!seen.has(b.household)) { seen.add(b.household); targets.push({ line: ++line, address: b.household, extras: [] }); }
    }
    // What the chain has: the household's record, and whether it is billed for the period.
    for (let i = 0; i < targets.length; i += 8) {
      await Promise.all(targets.slice(i, i + 8).map(async (x) => {
        if (x.error) return;
        const rec = await query('households', 'record', [x.address]).catch(() => null);
        if (!rec) { x.error = t('console.property.err_not_household'); return; }
        x.unit = rec.unit;
        x.total = billTotal(sched, rec.area_dm2, x.extras);
        const page = await query('property', 'bills', [x.address, '', p, 0, 1]);
        x.status = page.items.length ? 'already' : 'todo';
        if (page.items.length) x.bill = page.items[0].id;
      }));
    }
    return { p, targets };
  };
  const show = ({ p, targets }) => {
    const todo = targets.filter((x) => x.status === 'todo');
    const errors = targets.filter((x) => x.error);
    const total = todo.reduce((a, x) => a + x.total, 0n);
    const go = h('button', { type: 'button', class: 'primary block', 'data-testid': 'bills-go', disabled: todo.length === 0,
      onclick: () => issue(ctx, p, todo, targets, out) }, t('console.property.issue_go', { n: fmt.count(todo.length), period: p }));
    replace(out,
      h('p', { 'data-testid': 'bills-summary' }, t('console.property.issue_summary', { todo: fmt.count(todo.length),
        already: fmt.count(targets.filter((x) => x.status === 'already').length), errors: fmt.count(errors.length), total: fmt.points(total) })),
      errors.length ? h('p', { class: 'notice error', role: 'alert' }, t('console.property.issue_skip_errors')) : null,
      billsTable(targets), go);
  };
  const check = h('button', { type: 'button', class: 'secondary block', 'data-testid': 'bills-check', onclick: async () => {
    try { show(await prepare()); } catch (e) {
      replace(out, h('p', { class: 'notice error', role: 'alert', 'data-testid': 'bills-error' },
        e.code && has(`console.property.err.${e.code}`) ? t(`console.property.err.${e.code}`) : errorText(e)));
    }
  } }, t('console.property.check'));
  return h('section', { class: 'card' },
    h('h3', {}, t('console.property.issue_title')),
    h('p', {}, t('console.property.issue_why')),
    period.row, source.row, prev.row,
    h('label', { for: 'bills-csv' }, t('console.csv.file')), file,
    h('p', { class: 'hint' }, t('console.property.csv_hint')), check, out);
}

function billsTable(targets) {
  return h('div', { class: 'table-wrap' }, h('table', { class: 'compact', 'data-testid': 'bills-preview' },
    h('thead', {}, h('tr', {}, ['unit', 'address', 'total', 'status'].map((c) => h('th', { scope: 'col', class: c === 'total' ? 'num' : c === 'address' ? 'wide-col' : '' }, t(`console.property.col.${c}`))))),
    h('tbody', {}, targets.map((x) => h('tr', { class: x.error ? 'row-error' : '' },
      h('td', {}, x.unit || ''), h('td', { class: 'mono wide-col' }, shortAddress(x.address)),
      h('td', { class: 'num' }, x.total !== undefined ? fmt.points(x.total) : ''),
      h('td', { 'data-testid': `bill-row-${x.line}` }, x.error || t(`console.property.status.${x.status}`, { id: x.bill ?? '' })))))));
}

async function issue(ctx, period, todo, all, out) {
  const calls = todo.map((x) => ({ contract: 'property', method: 'issue_bill', args: [x.address, period, x.extras] }));
  const key = await confirmMany(ctx, { what: t('console.property.issue_what', { n: fmt.count(todo.length), period }), first: calls[0], count: calls.length });
  if (!key) return;
  const bar = progressBar('bills-progress');
  replace(out, bar.el);
  const results = await sendMany(key, calls, (d, n) => bar.update(d, n, t('console.property.step_issue')));
  todo.forEach((x, i) => {
    if (results[i].ok) { x.status = 'issued'; x.bill = results[i].result; } else x.error = errorText(results[i]);
  });
  const ok = todo.filter((x) => x.status === 'issued').length;
  replace(out,
    h('p', { class: ok === todo.length ? 'notice ok' : 'notice error', role: 'status', 'data-testid': 'bills-done' },
      t('console.property.issue_done', { ok: fmt.count(ok), failed: fmt.count(todo.length - ok), period })),
    billsTable(all),
    h('button', { type: 'button', class: 'secondary', onclick: () => download(`bills-${period}.csv`, writeCsv(['unit', 'household', 'status', 'bill', 'total'],
      all.map((x) => [x.unit || '', x.address, x.error ? `error: ${x.error}` : x.status, x.bill ?? '', x.total !== undefined ? String(x.total) : ''])), 'text/csv') },
    t('console.property.report')));
}

// --- payments confirmed off chain ----------------------------------------------------------

function confirmCard(ctx, isConfirmer, isCommittee) {
  const bill = input('console.property.bill_id', { inputmode: 'numeric', 'data-testid': 'confirm-bill' });
  const ref = input('console.property.reference', { 'data-testid': 'confirm-ref', autocomplete: 'off' });
  const card = h('section', { class: 'card' }, h('h3', {}, t('console.property.confirm_title')));
  if (isConfirmer) {
    card.appendChild(form('console.property.confirm_form', [bill.row, ref.row, h('p', { class: 'hint' }, t('console.property.reference_hint'))],
      'console.property.confirm_go', async (msg) => {
        const id = Number(bill.el.value.trim());
        if (!Number.isSafeInteger(id) || id <= 0) throw fail('bad_arg');
        const b = await query('property', 'bill', [id]).catch(() => null);
        if (!b) throw fail('not_found');
        if (await sendTx(ctx, { contract: 'property', method: 'confirm_payment', args: [id, ref.el.value.trim()],
          what: t('console.property.confirm_what', { id, total: fmt.points(b.total), period: b.period }) })) {
          replace(msg, h('p', { class: 'notice ok', role: 'status', 'data-testid': 'confirmed' }, t('console.property.confirmed', { id })));
        }
      }, { testid: 'confirm-go' }));
  } else {
    card.appendChild(h('p', { class: 'muted' }, t('console.property.not_confirmer')));
  }
  if (isCommittee) {
    const who = input('console.property.confirmer_address', { placeholder: 'hk1…', autocomplete: 'off' });
    const on = select('console.property.confirmer_enabled', [['1', t('console.property.enable')], ['0', t('console.property.disable')]]);
    card.appendChild(form('console.property.confirmers', [who.row, on.row], 'console.property.confirmer_go', async (msg) => {
      const address = who.el.value.trim();
      if (await sendTx(ctx, { contract: 'property', method: 'set_confirmer', args: [address, on.el.value === '1'],
        what: t(on.el.value === '1' ? 'console.property.confirmer_on' : 'console.property.confirmer_off', { address: shortAddress(address) }) })) {
        replace(msg, h('p', { class: 'notice ok', role: 'status' }, t('console.property.saved')));
      }
    }));
  }
  return card;
}

// --- arrears ------------------------------------------------------------------------------

export async function arrearsRows() {
  const bills = await listAll('property', 'bills', ['', 'unpaid', ''], MAX_LIST);
  const status = await rpc.status();
  const now = Math.floor(Number(status.latest_time_ms) / 1000);
  const by = new Map();
  for (const b of bills) { if (!by.has(b.household)) by.set(b.household, []); by.get(b.household).push(b); }
  const rows = [];
  const entries = [...by.entries()];
  for (let i = 0; i < entries.length; i += 8) {
    await Promise.all(entries.slice(i, i + 8).map(async ([household, list]) => {
      const rec = await query('households', 'record', [household]).catch(() => null);
      const ages = [0n, 0n, 0n, 0n];
      for (const b of list) {
        const days = Math.floor(Math.max(0, now - Number(b.issued_at || now)) / 86400);
        const k = AGE_LIMITS_DAYS.findIndex((limit) => days <= limit);
        ages[k < 0 ? 3 : k] += BigInt(b.total);
      }
      list.sort((a, b) => (a.period < b.period ? -1 : a.period > b.period ? 1 : a.id - b.id));
      rows.push({ unit: rec ? rec.unit : '', household, count: list.length, total: list.reduce((a, b) => a + BigInt(b.total), 0n),
        oldest: list[0].period, ages, ids: list.map((b) => b.id) });
    }));
  }
  rows.sort((a, b) => (a.unit < b.unit ? -1 : a.unit > b.unit ? 1 : a.household < b.household ? -1 : 1));
  return { rows, height: status.height };
}

const exportRow = (r) => [r.unit, r.household, r.count, Number(r.total), r.oldest, ...r.ages.map(Number), r.ids.join(' ')];

function arrearsTable(rows) {
  const ageCols = ['0-30', '31-60', '61-90', '90+'];
  return h('div', { class: 'table-wrap' }, h('table', { class: 'compact', 'data-testid': 'arrears' },
    h('thead', {}, h('tr', {},
      h('th', { scope: 'col' }, t('console.property.col.unit')), h('th', { scope: 'col', class: 'wide-col' }, t('console.property.col.address')),
      h('th', { scope: 'col', class: 'num' }, t('console.property.col.bills')), h('th', { scope: 'col', class: 'num' }, t('console.property.col.total')),
      h('th', { scope: 'col' }, t('console.property.col.oldest')),
      ageCols.map((a) => h('th', { scope: 'col', class: 'num wide-col' }, t('console.property.col.age', { days: a }))))),
    h('tbody', {}, rows.map((r) => h('tr', { 'data-household': r.household },
      h('td', {}, r.unit), h('td', { class: 'mono wide-col' }, shortAddress(r.household)),
      h('td', { class: 'num' }, fmt.count(r.count)), h('td', { class: 'num' }, fmt.points(r.total)), h('td', {}, r.oldest),
      r.ages.map((v) => h('td', { class: 'num wide-col' }, v ? fmt.count(v) : '—')))))));
}

function arrearsCard(ctx) {
  const body = h('div', {}, loading());
  const feed = h('ul', { class: 'plain feed', 'data-testid': 'pay-feed', 'aria-live': 'polite' },
    h('li', { class: 'muted' }, t('console.property.no_payments_yet')));
  let current = [];
  const draw = async () => {
    const { rows } = await arrearsRows();
    current = rows;
    const total = rows.reduce((a, r) => a + r.total, 0n);
    replace(body,
      h('p', { 'data-testid': 'arrears-summary' }, t('console.property.arrears_summary', { n: fmt.count(rows.length),
        bills: fmt.count(rows.reduce((a, r) => a + r.count, 0)), total: fmt.points(total) })),
      rows.length ? arrearsTable(rows) : empty('console.property.no_arrears'));
  };
  let timer = null;
  const redraw = () => { clearTimeout(timer); timer = setTimeout(() => draw().catch((e) => console.warn(e)), 300); };
  // Live: a payment (in points or confirmed off chain) or a new bill shows at once.
  ctx.onLeave(ctx.live.on({ type: 'event', contract: 'property' }, (msg) => {
    if (msg.name === 'BillPaid') {
      const f = msg.fields || {};
      for (const li of feed.querySelectorAll('li.muted')) li.remove();
      feed.prepend(h('li', { 'data-bill': String(f.id) }, t(f.method === 'offchain' ? 'console.property.paid_offchain' : 'console.property.paid_points',
        { id: f.id, amount: fmt.points(f.amount ?? 0), household: shortAddress(f.household) })));
      while (feed.children.length > 20) feed.lastChild.remove();
      redraw();
    } else if (msg.name === 'BillIssued') redraw();
  }));
  ctx.onLeave(() => clearTimeout(timer));
  draw().catch((e) => err(body, e));
  const stamp = () => new Date().toISOString().slice(0, 10);
  return h('section', { class: 'card' },
    h('h3', {}, t('console.property.arrears')),
    h('p', { class: 'hint' }, t('console.property.arrears_why')),
    h('h4', {}, t('console.property.payments_live')), feed,
    body,
    h('div', { class: 'row exports' },
      h('button', { type: 'button', class: 'secondary', 'data-testid': 'arrears-csv', onclick: () =>
        download(`arrears-${stamp()}.csv`, writeCsv(ARREARS_HEADER, current.map(exportRow)), 'text/csv') }, t('console.property.export_csv')),
      h('button', { type: 'button', class: 'secondary', 'data-testid': 'arrears-xlsx', onclick: () =>
        download(`arrears-${stamp()}.xlsx`, xlsx('欠费', ARREARS_HEADER, current.map(exportRow))) }, t('console.property.export_xlsx'))));
}

// --- service contracts and ratings ----------------------------------------------------------

function contractsCard(ctx, canRegister) {
  const body = h('div', {}, loading());
  listAll('property', 'contracts', [], 100).then((items) => {
    replace(body, items.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'compact', 'data-testid': 'contracts' },
      h('thead', {}, h('tr', {}, ['counterparty', 'period', 'amount', 'doc'].map((c) => h('th', { scope: 'col', class: c === 'amount' ? 'num' : c === 'doc' ? 'wide-col' : '' }, t(`console.property.contract.${c}`))))),
      h('tbody', {}, items.map((c) => h('tr', {}, h('td', {}, c.counterparty),
        h('td', {}, `${fmt.date(Number(c.start_time) * 1000)} – ${fmt.date(Number(c.end_time) * 1000)}`),
        h('td', { class: 'num' }, fmt.points(c.amount)), h('td', { class: 'mono wide-col' }, String(hexOf(c.doc_hash)).slice(0, 16) + '…'))))))
      : empty('console.property.no_contracts'));
  }).catch((e) => err(body, e));
  const card = h('section', { class: 'card' }, h('h3', {}, t('console.property.contracts')), body);
  if (canRegister) {
    const doc = h('input', { type: 'file', id: 'contract-doc', 'data-testid': 'contract-doc' });
    const party = input('console.property.contract.counterparty', { autocomplete: 'off', 'data-testid': 'contract-party' });
    const start = input('console.property.contract.start', { type: 'date', 'data-testid': 'contract-start' });
    const end = input('console.property.contract.end', { type: 'date', 'data-testid': 'contract-end' });
    const amount = input('console.property.contract.amount', { inputmode: 'numeric', 'data-testid': 'contract-amount' });
    card.appendChild(h('details', {}, h('summary', { 'data-testid': 'contract-open' }, t('console.property.contract.register')),
      form('console.property.contract.register', [h('label', { for: 'contract-doc' }, t('console.property.contract.doc')), doc, party.row, start.row, end.row, amount.row],
        'console.property.contract.register_go', async () => {
          const f = doc.files && doc.files[0];
          if (!f) throw fail('bad_arg');
          const s = Date.parse(`${start.el.value}T00:00:00+08:00`) / 1000;
          const e = Date.parse(`${end.el.value}T00:00:00+08:00`) / 1000;
          const amt = Number(amount.el.value.trim());
          if (!Number.isSafeInteger(s) || !Number.isSafeInteger(e) || e <= s || !Number.isSafeInteger(amt) || amt < 0) throw fail('bad_arg');
          const hash = await upload(new Uint8Array(await f.arrayBuffer()));
          if (await sendTx(ctx, { contract: 'property', method: 'register_contract', args: [hash, party.el.value.trim(), s, e, amt],
            what: t('console.property.contract.what', { party: party.el.value.trim(), amount: fmt.points(amt) }) })) ctx.app.route();
        }, { testid: 'contract-go' })));
  }
  return card;
}

function ratingsCard() {
  const body = h('div', {}, loading());
  // The periods residents rate are the billing periods: the latest six that were billed.
  listAll('property', 'bills', ['', '', ''], 200).then((bills) => {
    const months = [...new Set(bills.map((b) => b.period))].sort().reverse().slice(0, 6);
    return Promise.all(months.map((p) => query('property', 'rating', [p]).then((r) => [p, r])));
  }).then((list) => {
    replace(body, !list.length ? empty('console.property.no_ratings') : h('table', { class: 'compact', 'data-testid': 'ratings' },
      h('thead', {}, h('tr', {}, ['period', 'count', 'average'].map((c) => h('th', { scope: 'col', class: c === 'period' ? '' : 'num' }, t(`console.property.rating.${c}`))))),
      h('tbody', {}, list.map(([p, r]) => h('tr', {}, h('td', {}, p), h('td', { class: 'num' }, fmt.count(r ? r.count : 0)),
        h('td', { class: 'num' }, r && r.count ? `${Math.floor(r.average_x100 / 100)}.${String(r.average_x100 % 100).padStart(2, '0')} / 5` : '—'))))));
  }).catch((e) => err(body, e));
  return h('section', { class: 'card' }, h('h3', {}, t('console.property.ratings')), body);
}

export async function render(ctx) {
  const { main, wallet } = ctx;
  main.appendChild(h('h2', {}, t('console.property.title')));
  const me = wallet.address;
  const isCompany = wallet.roles.has('property_company');
  const isCommittee = wallet.roles.has('committee');
  const [sched, isConfirmer] = await Promise.all([query('property', 'schedule', []), query('property', 'is_confirmer', [me])]);
  main.appendChild(scheduleCard(ctx, sched, isCompany));
  if (isCompany) main.appendChild(sched ? issueCard(ctx, sched) : h('p', { class: 'notice info' }, t('console.property.schedule_first')));
  main.appendChild(arrearsCard(ctx));
  main.appendChild(confirmCard(ctx, !!isConfirmer, isCommittee));
  main.appendChild(contractsCard(ctx, isCompany));
  main.appendChild(ratingsCard());
}
