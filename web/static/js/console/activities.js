// The committee's activities: create one (approved at once), approve a resident's,
// open the check-in at the door — a fresh code shown as a QR code (the vendored
// qrcode-generator) and as digits, its SHA-256 on chain — and confirm the attendance of
// those who could not check in.

import qrcode from '/vendor/qrcode-generator/qrcode.js';
import { t, fmt } from '../i18n.js';
import { h, replace } from '../ui.js';
import { sendTx } from '../txflow.js';
import { uploadText, fetchText } from '../blobs.js';
import { sha256, utf8 } from '../bytes.js';
import { listAll, query, hexOf, blockTime, empty, loading } from '../pages/common.js';
import { input, select, form, fail } from '../pages/forms.js';
import { QR_PREFIX } from '../pages/activities.js';
import { ChainClock, shanghaiMs, shanghaiInput, labels, facts, heading, inBatches } from './shared.js';

const CODE_DIGITS = 8;
const CHECKIN_EARLY_S = 3600;       // the contract opens check-in an hour before the start
const MAX_CHECKIN_WINDOW_S = 14400; // and keeps a code at most 4 hours
const WINDOW_MARGIN_S = 120;        // the tx lands a little later than the clock read
const MAX_CONFIRM = 64;
const QR_SCALE = 8;
const QR_QUIET_MODULES = 4;
const CODES = 'hkchain.checkin_codes';

// A code of CODE_DIGITS uniform decimal digits from the browser's CSPRNG.
export function newCode() {
  const out = [];
  const buf = new Uint8Array(1);
  while (out.length < CODE_DIGITS) {
    crypto.getRandomValues(buf);
    if (buf[0] < 250) out.push(buf[0] % 10);  // 250 = 25 × 10: no bias
  }
  return out.join('');
}

// The codes this tab opened, so a reload still shows them (sessionStorage: this tab only).
function savedCode(id, nowS) {
  try {
    const all = JSON.parse(sessionStorage.getItem(CODES)) || {};
    const c = all[id];
    return c && c.until > nowS ? c : null;
  } catch { return null; }
}

function saveCode(id, code, until) {
  let all = {};
  try { all = JSON.parse(sessionStorage.getItem(CODES)) || {}; } catch { all = {}; }
  all[id] = { code, until };
  sessionStorage.setItem(CODES, JSON.stringify(all));
}

// The QR code of `text` drawn on a canvas (no HTML, no data URL).
export function qrCanvas(text, label) {
  const qr = qrcode(0, 'M');
  qr.addData(text);
  qr.make();
  const n = qr.getModuleCount();
  const size = (n + 2 * QR_QUIET_MODULES) * QR_SCALE;
  const canvas = h('canvas', { width: size, height: size, class: 'qr', role: 'img', 'aria-label': label, 'data-testid': 'checkin-qr' });
  const g = canvas.getContext('2d');
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, size, size);
  g.fillStyle = '#000000';
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < n; c++) {
      if (qr.isDark(r, c)) g.fillRect((c + QR_QUIET_MODULES) * QR_SCALE, (r + QR_QUIET_MODULES) * QR_SCALE, QR_SCALE, QR_SCALE);
    }
  }
  return canvas;
}

function createForm(ctx, clock) {
  const startDefault = clock.timeMs + 2 * 3600_000;
  const kind = select('console.activities.kind', ['volunteer', 'culture', 'other'].map((k) => [k, t(`activities.kind_${k}`)]));
  const title = input('console.activities.title', { maxlength: 100, required: true, 'data-testid': 'act-title' });
  const start = input('console.activities.start', { type: 'datetime-local', value: shanghaiInput(startDefault), 'data-testid': 'act-start' });
  const end = input('console.activities.end', { type: 'datetime-local', value: shanghaiInput(startDefault + 2 * 3600_000), 'data-testid': 'act-end' });
  const place = input('console.activities.place', { maxlength: 100, required: true, 'data-testid': 'act-place' });
  const capacity = input('console.activities.capacity', { type: 'number', min: 1, max: 512, value: 30, 'data-testid': 'act-capacity' });
  const text = input('console.activities.description', { tag: 'textarea', rows: 5, required: true, 'data-testid': 'act-text' });
  return h('details', { class: 'card' }, h('summary', {}, t('console.activities.new')),
    form('console.activities.new', [...kind.row, ...title.row, ...start.row, ...end.row, ...place.row, ...capacity.row, ...text.row],
      'console.activities.create', async () => {
        const s = shanghaiMs(start.el.value); const e = shanghaiMs(end.el.value);
        const cap = Number(capacity.el.value);
        const name = title.el.value.trim(); const where = place.el.value.trim(); const body = text.el.value.trim();
        if (s === null || e === null || e <= s || !name || !where || !body || !Number.isInteger(cap) || cap < 1 || cap > 512) throw fail('bad_arg');
        const hash = await uploadText(body);
        const receipt = await sendTx(ctx, { contract: 'activities', method: 'propose_details',
          args: [kind.el.value, name, Math.floor(s / 1000), Math.floor(e / 1000), where, hash, cap],
          what: t('console.activities.create_what', { title: name, time: fmt.time(s) }) });
        if (receipt) ctx.app.navigate(`organise/${receipt.result}`);
      }, { testid: 'act-create' }));
}

function row(a, me) {
  return h('tr', { 'data-testid': `act-row-${a.id}` },
    h('td', {}, h('a', { href: `#/organise/${a.id}` }, a.title), h('div', { class: 'muted' }, t(`activities.kind_${a.kind}`))),
    h('td', {}, blockTime(a.start_time)),
    h('td', { class: 'num' }, `${fmt.count(a.attended)} / ${fmt.count(a.signed_up)} / ${fmt.count(a.capacity)}`),
    h('td', {}, !a.approved ? h('span', { class: 'badge warn' }, t('console.activities.awaiting'))
      : a.organiser === me ? h('span', { class: 'badge ok' }, t('console.activities.mine')) : h('span', { class: 'badge' }, t('console.activities.approved'))));
}

async function listPage(ctx) {
  const { main, wallet } = ctx;
  heading(ctx, 'console.activities.title_page');
  const wait = main.appendChild(loading());
  const [clock, items] = await Promise.all([ChainClock.read(), listAll('activities', 'activities', ['', ''], 100)]);
  wait.remove();
  main.appendChild(createForm(ctx, clock));
  const pending = items.filter((a) => !a.approved);
  main.appendChild(h('h3', {}, t('console.activities.to_approve')));
  if (!pending.length) main.appendChild(empty('console.activities.none_to_approve'));
  for (const a of pending) main.appendChild(approveCard(ctx, a));
  main.appendChild(h('h3', {}, t('console.activities.all')));
  if (!items.length) { main.appendChild(empty('activities.none')); return; }
  main.appendChild(h('div', { class: 'table-wrap' }, h('table', { class: 'compact' },
    h('thead', {}, h('tr', {}, h('th', {}, t('console.activities.col_title')), h('th', {}, t('console.activities.col_start')),
      h('th', { class: 'num' }, t('console.activities.col_people')), h('th', {}, t('console.activities.col_state')))),
    h('tbody', {}, items.map((a) => row(a, wallet.address))))));
}

function approveCard(ctx, a) {
  const text = h('div', { class: 'doc-text' });
  if (a.description_hash) {
    fetchText(hexOf(a.description_hash)).then((s) => replace(text, s)).catch(() => replace(text, h('span', { class: 'muted' }, t('votes.text_unavailable'))));
  }
  return h('article', { class: 'card', 'data-testid': `act-pending-${a.id}` },
    h('h4', {}, a.title), h('p', { class: 'muted' }, blockTime(a.start_time), a.place ? ` · ${a.place}` : ''), text,
    h('button', { type: 'button', class: 'primary', 'data-testid': `act-approve-${a.id}`, onclick: async () => {
      if (await sendTx(ctx, { contract: 'activities', method: 'approve', args: [a.id], what: t('console.activities.approve_what', { title: a.title }) })) ctx.app.route();
    } }, t('console.activities.approve')));
}

function checkInCard(ctx, a, clock, until) {
  const nowS = Math.floor(clock.timeMs / 1000);
  const box = h('section', { class: 'card', 'data-testid': 'checkin' }, h('h3', {}, t('console.activities.checkin')));
  const shown = savedCode(a.id, nowS);
  if (shown && until > nowS) {
    const text = `${QR_PREFIX}${a.id}:${shown.code}`;
    box.append(
      h('p', {}, t('console.activities.checkin_open_until', { time: blockTime(until) })),
      h('div', { class: 'qr-box' }, qrCanvas(text, t('console.activities.qr_label', { title: a.title }))),
      h('p', { class: 'checkin-code', 'data-testid': 'checkin-code' }, shown.code),
      h('p', { class: 'hint' }, t('console.activities.checkin_hint')));
  } else if (until > nowS) {
    box.append(h('p', {}, t('console.activities.checkin_open_elsewhere', { time: blockTime(until) })));
  }
  const latestOpen = a.start_time - CHECKIN_EARLY_S - MAX_CHECKIN_WINDOW_S + WINDOW_MARGIN_S;
  if (nowS < latestOpen) {
    box.append(h('p', { class: 'muted' }, t('console.activities.checkin_from', { time: blockTime(latestOpen) })));
    return box;
  }
  const end = a.end_time || a.start_time + 3 * 3600;
  const newUntil = Math.min(nowS + MAX_CHECKIN_WINDOW_S - WINDOW_MARGIN_S, Math.max(end, nowS + 1800));
  box.append(h('button', { type: 'button', class: 'primary block', 'data-testid': 'checkin-open', onclick: async () => {
    const code = newCode();
    const receipt = await sendTx(ctx, { contract: 'activities', method: 'open_check_in', args: [a.id, await sha256(utf8(code)), newUntil],
      what: t('console.activities.open_what', { title: a.title, time: blockTime(newUntil) }) });
    if (receipt) { saveCode(a.id, code, newUntil); ctx.app.route(); }
  } }, until > nowS ? t('console.activities.checkin_renew') : t('console.activities.checkin_start')));
  return box;
}

function attendanceCard(ctx, a, people, attended, names, mine, started) {
  const boxes = [];
  const rows = people.map((who, i) => {
    const id = `att-${i}`;
    const cb = attended[i] || !mine ? null : h('input', { type: 'checkbox', id, value: who, 'data-testid': `att-${who}` });
    if (cb) boxes.push(cb);
    return h('li', { class: 'row' }, cb, h('label', { for: cb ? id : undefined, class: 'inline' }, names.get(who)),
      attended[i] ? h('span', { class: 'badge ok' }, t('activities.attended')) : null);
  });
  return h('section', { class: 'card', 'data-testid': 'attendance' },
    h('h3', {}, t('console.activities.attendance')),
    h('p', {}, t('console.activities.attendance_line', { n: fmt.count(a.attended), m: fmt.count(a.signed_up) })),
    people.length ? h('ul', { class: 'plain' }, rows) : empty('console.activities.nobody'),
    mine && started && boxes.length ? form('console.activities.confirm_title', [], 'console.activities.confirm', async () => {
      const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
      if (!chosen.length) throw fail('bad_arg');
      if (chosen.length > MAX_CONFIRM) throw fail('too_many_attendees');
      if (await sendTx(ctx, { contract: 'activities', method: 'confirm_attendance', args: [a.id, chosen],
        what: t('console.activities.confirm_what', { n: fmt.count(chosen.length), title: a.title }) })) ctx.app.route();
    }, { testid: 'att-confirm' }) : null,
    mine && !started ? h('p', { class: 'hint' }, t('console.activities.confirm_after_start')) : null);
}

async function detailPage(ctx, id) {
  const { main, wallet, live } = ctx;
  main.appendChild(h('p', {}, h('a', { href: '#/organise' }, '← ', t('console.activities.title_page'))));
  const [a, clock, people, until] = await Promise.all([query('activities', 'activity', [id]), ChainClock.read(),
    query('activities', 'participants', [id]), query('activities', 'check_in_until', [id])]);
  if (!a) { main.appendChild(empty('console.activities.not_found')); return; }
  const attended = await inBatches(people, (p) => query('activities', 'attended', [id, p]));
  const names = await labels([a.organiser, ...people]);
  const nowS = Math.floor(clock.timeMs / 1000);
  main.appendChild(h('h2', {}, a.title));
  main.appendChild(h('section', { class: 'card' }, facts([
    [t('console.activities.kind'), t(`activities.kind_${a.kind}`)],
    [t('console.activities.start'), blockTime(a.start_time)],
    a.end_time ? [t('console.activities.end'), blockTime(a.end_time)] : null,
    a.place ? [t('console.activities.place'), a.place] : null,
    [t('console.activities.organiser'), names.get(a.organiser)],
    [t('console.activities.col_people'), t('console.activities.people_line', {
      attended: fmt.count(a.attended), signed: fmt.count(a.signed_up), cap: fmt.count(a.capacity) })],
  ])));
  if (a.description_hash) {
    const text = main.appendChild(h('section', { class: 'card doc-text' }, loading()));
    fetchText(hexOf(a.description_hash)).then((s) => replace(text, s)).catch(() => replace(text, h('span', { class: 'muted' }, t('votes.text_unavailable'))));
  }
  if (!a.approved) { main.appendChild(approveCard(ctx, a)); return; }
  const mine = a.organiser === wallet.address;
  if (!mine) main.appendChild(h('p', { class: 'notice info' }, t('console.activities.not_organiser')));
  else main.appendChild(checkInCard(ctx, a, clock, until));
  main.appendChild(attendanceCard(ctx, a, people, attended, names, mine, nowS >= a.start_time));
  ctx.onLeave(live.on({ type: 'event', contract: 'activities' }, (msg) => {
    if (msg.type === 'event' && msg.fields && Number(msg.fields.id) !== id) return;
    if (msg.type === 'event' && ['AttendanceConfirmed', 'SignedUp', 'Withdrew'].includes(msg.name)) ctx.app.route();
  }));
}

export async function render(ctx, params) {
  if (params[0]) return detailPage(ctx, Number(params[0]));
  return listPage(ctx);
}
