// Activities: sign up (or give the place back) before the start, and check in at the
// door with the code the organiser shows — scanned from its QR code or typed.

import { t, fmt } from '../i18n.js';
import { h, replace } from '../ui.js';
import { sendTx } from '../txflow.js';
import { listAll, query, blockTime, empty, loading } from './common.js';
import { input, form, fail } from './forms.js';

export const QR_PREFIX = 'hkchain-checkin:';

// The code in a scanned QR text "hkchain-checkin:<activity id>:<code>", if it is this
// activity's.
export function codeFromQr(text, activityId) {
  if (typeof text !== 'string' || !text.startsWith(QR_PREFIX)) return null;
  const [id, code] = text.slice(QR_PREFIX.length).split(':');
  return Number(id) === activityId && code ? code : null;
}

function loadJsQr() {
  if (globalThis.jsQR) return Promise.resolve(globalThis.jsQR);
  return new Promise((resolve, reject) => {
    const s = h('script', { src: '/vendor/jsqr/jsQR.js' });
    s.onload = () => resolve(globalThis.jsQR);
    s.onerror = () => reject(fail('camera_unavailable'));
    document.head.appendChild(s);
  });
}

// Scan with the camera until a code of this activity is seen; resolves to the code.
async function scan(box, activityId, onLeave) {
  const jsQR = await loadJsQr();
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
  } catch { throw fail('camera_unavailable'); }
  const video = h('video', { playsinline: true, muted: true, 'aria-label': t('activities.camera') });
  video.srcObject = stream;
  replace(box, video);
  await video.play();
  const canvas = document.createElement('canvas');
  const g = canvas.getContext('2d', { willReadFrequently: true });
  const stop = () => stream.getTracks().forEach((tr) => tr.stop());
  onLeave(stop);
  return new Promise((resolve) => {
    const tick = () => {
      if (!stream.active) return;
      canvas.width = video.videoWidth; canvas.height = video.videoHeight;
      if (canvas.width) {
        g.drawImage(video, 0, 0);
        const found = jsQR(g.getImageData(0, 0, canvas.width, canvas.height).data, canvas.width, canvas.height);
        const code = found && codeFromQr(found.data, activityId);
        if (code) { stop(); replace(box); resolve(code); return; }
      }
      requestAnimationFrame(tick);
    };
    tick();
  });
}

function checkInBlock(ctx, a) {
  const code = input('activities.code', { inputmode: 'numeric', autocomplete: 'off', maxlength: 64, 'data-testid': `code-${a.id}` });
  const cam = h('div', { class: 'camera' });
  const send = async (value) => {
    if (!value || value.length < 4) throw fail('bad_arg');
    if (await sendTx(ctx, { contract: 'activities', method: 'check_in', args: [a.id, value], what: t('activities.check_in_what', { title: a.title }) })) ctx.app.route();
  };
  return h('div', {},
    h('button', { type: 'button', class: 'secondary block', 'data-testid': `scan-${a.id}`, onclick: async () => {
      try { await send(await scan(cam, a.id, ctx.onLeave)); } catch (e) { replace(cam, h('p', { class: 'notice error', role: 'alert' }, t('error.camera_unavailable'))); }
    } }, t('activities.scan')), cam,
    form('activities.type_code', code.row, 'activities.check_in', () => send(code.el.value.trim()), { testid: `check-in-${a.id}` }));
}

function card(ctx, a, state) {
  const now = Date.now() / 1000;
  const started = now >= a.start_time;
  const parts = [
    h('div', { class: 'spread' }, h('h3', {}, a.title), h('span', { class: 'badge' }, t(`activities.kind_${a.kind}`))),
    h('p', {}, t('activities.when', { time: blockTime(a.start_time) })),
    h('p', { class: 'muted' }, t('activities.places', { n: fmt.count(a.signed_up), cap: fmt.count(a.capacity) })),
  ];
  if (state.attended) parts.push(h('p', { class: 'badge ok', 'data-testid': `attended-${a.id}` }, t('activities.attended')));
  else if (state.signedUp) {
    parts.push(h('p', { class: 'badge ok' }, t('activities.signed_up')));
    if (state.checkInOpen) parts.push(checkInBlock(ctx, a));
    else if (!started) {
      parts.push(h('button', { type: 'button', class: 'secondary', onclick: async () => {
        if (await sendTx(ctx, { contract: 'activities', method: 'withdraw', args: [a.id], what: t('activities.withdraw_what', { title: a.title }) })) ctx.app.route();
      } }, t('activities.withdraw')));
    }
  } else if (!started && a.approved && a.signed_up < a.capacity) {
    parts.push(h('button', { type: 'button', class: 'primary block', 'data-testid': `sign-up-${a.id}`, onclick: async () => {
      if (await sendTx(ctx, { contract: 'activities', method: 'sign_up', args: [a.id], what: t('activities.sign_up_what', { title: a.title }) })) ctx.app.route();
    } }, t('activities.sign_up')));
  }
  return h('article', { class: 'card', 'data-testid': `activity-${a.id}` }, parts);
}

export async function render(ctx) {
  const { main, wallet } = ctx;
  main.appendChild(h('h2', {}, t('nav.activities')));
  const wait = main.appendChild(loading());
  const items = await listAll('activities', 'activities', ['', ''], 30);
  const states = await Promise.all(items.map(async (a) => {
    if (!wallet.hasKey()) return {};
    const [people, attended, until] = await Promise.all([
      query('activities', 'participants', [a.id]), query('activities', 'attended', [a.id, wallet.address]),
      query('activities', 'check_in_until', [a.id])]);
    return { signedUp: people.includes(wallet.address), attended, checkInOpen: until * 1000 > Date.now() };
  }));
  wait.remove();
  if (!items.length) main.appendChild(empty('activities.none'));
  items.forEach((a, i) => main.appendChild(card(ctx, a, states[i])));
}
