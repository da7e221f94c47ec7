// The committees' dashboard (#/dashboard, #/dashboard/<scope>): the figures of the
// analytics indexer as charts, each with its table and its exports. The node serves them
// from its stats API (GET /v1/stats/…, docs/ANALYTICS.md) when it runs the indexer in
// process; small cells (fewer than 5 households) arrive already hidden, and stay hidden
// here: a hidden row is drawn as a gap and shown as "hidden" in the table, never guessed.
// The charts are drawn by the vendored Chart.js (web/vendor/VENDORED.md) on canvas,
// loaded only when this page opens; the exports are the node's own CSV and XLSX files
// (GET /v1/stats/{figure}/export), the same as `hkchain stats --export`.

import { t, fmt, currentLocale, has as hasMessage } from '../i18n.js';
import { h, replace, notice } from '../ui.js';
import { getJson, rpc, RpcError } from '../rpc.js';
import { errorText } from '../errors.js';
import { shortAddress, categoryName, loading } from '../pages/common.js';

export const DASHBOARD_ROLES = ['committee', 'observer'];
const DISTRICT = '*';
const CHART_JS = '/vendor/chart.js/chart.umd.min.js';
const COLOURS = ['#9e1b1b', '#1f5f99', '#1d6b2f', '#8a4b00', '#5b3a8c', '#00727a', '#7a5c00', '#444444'];
const QUORUM_PERCENT = 200 / 3;  // Article 278: two thirds of the owners and of the area

// What each chart draws. x: the column (or function of a row) of its labels; series: one
// dataset per value column; or pivot: one dataset per value of a column, `value` its
// numbers. scale turns a figure's integer into the number drawn (per mille -> %, …).
const PERCENT = (v) => v / 10;
const SECTIONS = [
  { key: 'turnout', charts: [
    { figure: 'turnout', type: 'bar', x: (r) => `#${r.proposal_id} ${clip(r.title)}`, series: ['heads_permille', 'area_permille'],
      scale: PERCENT, unit: '%', quorum: true },
  ] },
  { key: 'fees', charts: [
    { figure: 'fee_collection', type: 'bar', x: 'month', pivot: 'estate', value: 'collection_permille', scale: PERCENT, unit: '%' },
    { figure: 'arrears', type: 'bar', x: 'bucket', pivot: 'estate', value: 'amount', unit: 'points' },
  ] },
  { key: 'satisfaction', charts: [
    { figure: 'satisfaction', type: 'line', x: 'month', pivot: (r) => `${r.kind}:${r.subject}`, value: 'avg_score_milli',
      scale: (v) => v / 1000 },
  ] },
  { key: 'services', charts: [
    { figure: 'service_requests', type: 'bar', x: 'category', series: ['requests', 'offered', 'completed', 'disputed'] },
  ] },
  { key: 'points', charts: [
    { figure: 'points', type: 'bar', x: 'month', series: ['minted', 'spent', 'at_merchants', 'burned'], unit: 'points' },
    { figure: 'points_by_source', type: 'bar', stacked: true, x: 'month', pivot: 'source', value: 'minted', unit: 'points' },
  ] },
  { key: 'activity', charts: [
    { figure: 'active_residents', type: 'line', x: 'week', series: ['active_residents'] },
    { figure: 'txs_by_kind', type: 'bar', stacked: true, x: 'day', pivot: 'kind', value: 'txs' },
    { figure: 'culture', type: 'bar', x: 'month', series: ['works', 'likes'] },
    { figure: 'notices', type: 'bar', x: (r) => `#${r.notice_id}`, series: ['read_permille'], scale: PERCENT, unit: '%' },
  ] },
];

// A label short enough for an axis (the table has the whole text).
function clip(text, chars = 14) {
  const cps = [...String(text ?? '')];
  return cps.length > chars ? `${cps.slice(0, chars - 1).join('')}…` : cps.join('');
}

let chartLib = null;

// Chart.js, once per page load: a script of this origin (the CSP allows nothing else).
function loadChartJs() {
  if (!chartLib) {
    chartLib = new Promise((resolve, reject) => {
      if (window.Chart) { resolve(window.Chart); return; }
      const s = document.createElement('script');
      s.src = CHART_JS;
      s.addEventListener('load', () => resolve(window.Chart));
      s.addEventListener('error', () => { chartLib = null; reject(new RpcError('chart_library', 'the chart library did not load')); });
      document.head.appendChild(s);
    });
  }
  return chartLib;
}

// The scopes a key may look at: the district, and for a committee member the residents
// and households it registered (the chain knows a committee by its members' keys).
function scopes(wallet) {
  const out = [{ value: DISTRICT, label: t('console.dashboard.scope_district') }];
  if (wallet.roles.has('committee')) {
    out.push({ value: wallet.address, label: t('console.dashboard.scope_mine', { address: shortAddress(wallet.address) }) });
  }
  return out;
}

function scopeOf(params, wallet) {
  const wanted = params[0] === 'district' ? DISTRICT : params[0];
  const allowed = scopes(wallet).map((s) => s.value);
  if (wanted && allowed.includes(wanted)) return wanted;
  return allowed[allowed.length - 1];
}

export async function render(ctx, params) {
  const { main, wallet, app } = ctx;
  main.appendChild(h('h2', {}, t('console.dashboard.title')));
  const scope = scopeOf(params, wallet);
  const picker = h('select', { id: 'dashboard-scope', 'data-testid': 'dashboard-scope' },
    scopes(wallet).map((s) => h('option', { value: s.value, selected: s.value === scope }, s.label)));
  picker.addEventListener('change', () => app.navigate(`dashboard/${picker.value === DISTRICT ? 'district' : picker.value}`));
  const status = h('p', { class: 'muted', 'data-testid': 'dashboard-status' }, t('common.loading'));
  main.appendChild(h('section', { class: 'card' },
    h('label', { for: 'dashboard-scope' }, t('console.dashboard.scope')), picker,
    h('p', { class: 'hint' }, t('console.dashboard.suppression_rule')), status));
  const body = h('div', {}, loading());
  main.appendChild(body);

  let catalogue;
  try {
    catalogue = await getJson('/v1/stats');
  } catch (e) {
    replace(status);
    replace(body, notice('error', e.status === 404 ? t('console.dashboard.not_enabled') : errorText(e)));
    return;
  }
  const docs = await Promise.all(SECTIONS.flatMap((s) => s.charts).map((c) =>
    getJson(`/v1/stats/${c.figure}?committee=${encodeURIComponent(scope)}`).catch((e) => e)));
  const height = docs.map((d) => d.indexed_height).find((x) => Number.isInteger(x)) ?? catalogue.indexer.height;
  replace(status, indexerLine(height, catalogue.indexer.updated_ms));
  rpc.status().then((s) => {
    if (Number.isInteger(height) && s.height > height) status.appendChild(h('span', {}, ' ', t('console.dashboard.lag', { n: fmt.count(s.height - height) })));
  }).catch(() => { /* the lag is a courtesy; the figures stand without it */ });
  status.dataset.height = String(height ?? '');

  let Chart = null;
  try { Chart = await loadChartJs(); } catch (e) { console.error(e); }
  replace(body);
  let i = 0;
  for (const section of SECTIONS) {
    const cards = section.charts.map((spec) => figureCard(Chart, spec, docs[i++], scope, ctx));
    body.appendChild(h('section', { 'data-testid': `dashboard-section-${section.key}` },
      h('h3', { class: 'section-title' }, t(`console.dashboard.section.${section.key}`)), cards));
  }
}

function indexerLine(height, updatedMs) {
  if (!Number.isInteger(height)) return t('console.dashboard.not_indexed');
  return t('console.dashboard.indexed', { height: fmt.count(height), time: updatedMs ? fmt.time(updatedMs) : '—' });
}

// One figure: title, chart, a note on hidden rows, the table, the exports.
function figureCard(Chart, spec, doc, scope, ctx) {
  const title = t(`console.dashboard.fig.${spec.figure}`);
  const card = h('article', { class: 'card figure', 'data-testid': `figure-${spec.figure}` }, h('h4', {}, title));
  if (doc instanceof Error) {
    card.appendChild(notice('error', errorText(doc)));
    return card;
  }
  card.dataset.height = String(doc.indexed_height ?? '');  // the block its figures are at
  const names = doc.columns.map((c) => c.name);
  const records = doc.rows.map((row) => Object.fromEntries(names.map((n, k) => [n, row[k]])));
  const shown = records.filter((r) => r.suppressed !== 1);
  if (!records.length) {
    card.appendChild(h('p', { class: 'muted empty' }, t('console.dashboard.no_rows')));
  } else if (!shown.length) {
    card.appendChild(h('p', { class: 'muted' }, t('console.dashboard.all_hidden')));
  } else if (Chart) {
    const canvas = h('canvas', { role: 'img', 'aria-label': t('console.dashboard.chart_label', { title }),
      'data-testid': `chart-${spec.figure}` });
    card.appendChild(h('div', { class: 'chart-box' }, canvas));
    const chart = new Chart(canvas, chartConfig(spec, records));
    ctx.onLeave(() => chart.destroy());
  } else {
    card.appendChild(notice('error', t('console.dashboard.no_chart')));
  }
  if (doc.suppressed_rows > 0) {
    card.appendChild(h('p', { class: 'hint', 'data-testid': 'suppressed-note' },
      t('console.dashboard.hidden_rows', { n: fmt.count(doc.suppressed_rows), min: doc.min_households })));
  }
  if (records.length) card.appendChild(tableOf(spec, doc, records));
  card.appendChild(h('div', { class: 'row exports' },
    exportButton(spec.figure, scope, 'csv', t('console.dashboard.export_csv')),
    exportButton(spec.figure, scope, 'xlsx', t('console.dashboard.export_xlsx'))));
  return card;
}

function keyOf(spec, r) {
  return typeof spec.x === 'function' ? spec.x(r) : valueText(spec.figure, spec.x, r[spec.x]);
}

// Labels in the figure's key order (the API's), each once.
function labelsOf(spec, records) {
  const seen = new Set();
  for (const r of records) seen.add(keyOf(spec, r));
  return [...seen];
}

function chartConfig(spec, records) {
  const scale = spec.scale || ((v) => v);
  const labels = labelsOf(spec, records);
  const at = (list, col) => labels.map((label) => {
    const r = list.find((x) => keyOf(spec, x) === label);
    return r && r.suppressed !== 1 && r[col] !== null ? scale(r[col]) : null;
  });
  let datasets;
  if (spec.pivot) {
    const groupOf = typeof spec.pivot === 'function' ? spec.pivot : (r) => r[spec.pivot];
    const groups = [...new Set(records.map(groupOf))];
    datasets = groups.map((g) => ({ label: groupText(spec, g), data: at(records.filter((r) => groupOf(r) === g), spec.value) }));
  } else {
    datasets = spec.series.map((col) => ({ label: t(`console.dashboard.col.${col}`), data: at(records, col) }));
  }
  datasets.forEach((d, k) => {
    const colour = COLOURS[k % COLOURS.length];
    Object.assign(d, { backgroundColor: colour, borderColor: colour, spanGaps: false });
  });
  if (spec.quorum) {
    datasets.push({ type: 'line', label: t('console.dashboard.quorum_line'), data: labels.map(() => QUORUM_PERCENT),
      borderColor: '#1b1b1b', backgroundColor: '#1b1b1b', borderDash: [6, 4], pointRadius: 0 });
  }
  const unit = spec.unit === '%' ? '%' : spec.unit === 'points' ? ` ${t('console.dashboard.points_unit')}` : '';
  return {
    type: spec.type,
    data: { labels, datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      locale: currentLocale() === 'en' ? 'en-GB' : 'zh-CN',
      scales: {
        x: { stacked: !!spec.stacked },
        y: { stacked: !!spec.stacked, beginAtZero: true, max: spec.unit === '%' ? 100 : undefined,
             ticks: { callback: (v) => `${Number.isInteger(v) ? fmt.count(v) : v}${unit}` } },
      },
      plugins: { legend: { position: 'bottom' } },
    },
  };
}

function groupText(spec, g) {
  if (spec.figure === 'satisfaction') {
    const [kind, ...rest] = String(g).split(':');
    const subject = rest.join(':');
    return `${t(`console.dashboard.kind.${kind}`)} · ${subject.startsWith('hk1') ? shortAddress(subject) : subject}`;
  }
  return valueText(spec.figure, spec.pivot, g);
}

// The table of a figure: every row, hidden ones marked; raw values kept in data-raw.
function tableOf(spec, doc, records) {
  const cols = doc.columns.map((c) => c.name).filter((n) => n !== 'committee' && n !== 'suppressed');
  const numeric = (n) => !['week', 'day', 'kind', 'title', 'category', 'estate', 'month', 'bucket', 'subject', 'source', 'created_ms'].includes(n);
  const head = h('tr', {}, cols.map((n) => h('th', { scope: 'col', class: numeric(n) ? 'num' : '' }, t(`console.dashboard.col.${n}`))));
  const body = records.map((r) => h('tr', { class: r.suppressed === 1 ? 'suppressed' : '', 'data-suppressed': String(r.suppressed) },
    cols.map((n) => h('td', { class: numeric(n) ? 'num' : '', 'data-col': n, 'data-raw': JSON.stringify(r[n]) },
      r.suppressed === 1 && r[n] === null ? h('span', { class: 'muted' }, t('console.dashboard.hidden')) : cellText(spec.figure, n, r[n])))));
  return h('details', { class: 'figure-table' },
    h('summary', {}, t('console.dashboard.table', { n: fmt.count(records.length) })),
    h('div', { class: 'table-wrap' }, h('table', { class: 'compact', 'data-testid': `table-${spec.figure}` },
      h('thead', {}, head), h('tbody', {}, body))));
}

const POINTS = new Set(['billed', 'paid', 'amount', 'minted', 'spent', 'at_merchants', 'burned', 'fees', 'volume', 'circulating']);
const DURATIONS = new Set(['avg_to_first_offer_ms', 'avg_to_completion_ms', 'time_to_quorum_ms']);

function cellText(figure, col, v) {
  if (v === null || v === undefined) return '—';
  if (col.endsWith('_permille')) return fmt.percent(v, 1000);
  if (col.endsWith('_dm2')) return fmt.area(v);
  if (POINTS.has(col)) return fmt.points(v);
  if (DURATIONS.has(col)) return duration(v);
  if (col === 'created_ms') return fmt.time(v);
  if (col === 'avg_score_milli') return `${Math.trunc(v / 1000)}.${String(v % 1000).padStart(3, '0')}`;
  if (col === 'quorum_reached') return v ? t('console.dashboard.yes') : t('console.dashboard.no');
  if (typeof v === 'number') return fmt.count(v);
  const text = valueText(figure, col, v);
  // An identifier shown as it is (a call with no words, a category, an address) is marked
  // translate="no": it is not a message of the catalogues.
  return text === String(v) || col === 'subject' ? h('span', { translate: 'no' }, text) : text;
}

// Key values in words where the catalogue has them; identifiers (a tx's kind, a service
// category, an address) as they are, marked translate="no".
function valueText(figure, col, v) {
  if (v === null || v === undefined) return '—';
  if (v === DISTRICT && (col === 'estate' || col === 'category')) return t(`console.dashboard.all_${col}`);
  if (col === 'category' && figure === 'turnout') return categoryName(v);
  if (col === 'bucket') return t('console.dashboard.bucket', { days: v });
  if (col === 'kind' && figure === 'satisfaction') return t(`console.dashboard.kind.${v}`);
  if (col === 'kind' && hasMessage(`statement.m.${v}`)) return t(`statement.m.${v}`);
  if (col === 'source') {
    if (v === 'culture:like') return t('console.dashboard.source.like');
    if (String(v).startsWith('activities:')) return t('console.dashboard.source.activity', { kind: String(v).slice(11) });
  }
  if (typeof v === 'string' && v.startsWith('hk1')) return shortAddress(v);
  return String(v);
}

function duration(ms) {
  const minutes = Math.round(ms / 60000);
  if (minutes < 60) return t('console.dashboard.minutes', { n: minutes });
  const tenthsOfHours = Math.round(ms / 360000);
  if (tenthsOfHours < 480) return t('console.dashboard.hours', { n: `${Math.trunc(tenthsOfHours / 10)}.${tenthsOfHours % 10}` });
  const tenthsOfDays = Math.round(ms / 8640000);
  return t('console.dashboard.days', { n: `${Math.trunc(tenthsOfDays / 10)}.${tenthsOfDays % 10}` });
}

// Download the node's export of one figure; a refusal is said in words, not saved as a file.
function exportButton(figure, scope, format, label) {
  const out = h('span', { role: 'status' });
  const button = h('button', { type: 'button', class: 'secondary', 'data-testid': `export-${format}` }, label);
  button.addEventListener('click', async () => {
    button.disabled = true;
    replace(out);
    try {
      const resp = await fetch(`/v1/stats/${figure}/export?format=${format}&committee=${encodeURIComponent(scope)}`,
        { credentials: 'omit', cache: 'no-store' });
      if (!resp.ok) {
        let err = { code: `http_${resp.status}`, message: resp.statusText };
        try { err = (await resp.json()).error || err; } catch { /* not JSON */ }
        throw new RpcError(err.code, err.message, resp.status);
      }
      const blob = await resp.blob();
      const named = /filename="([^"]+)"/.exec(resp.headers.get('Content-Disposition') || '');
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: named ? named[1] : `hkchain-${figure}.${format}`, hidden: true });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (e) {
      replace(out, notice('error', errorText(e)));
    } finally {
      button.disabled = false;
    }
  });
  return h('span', {}, button, out);
}
