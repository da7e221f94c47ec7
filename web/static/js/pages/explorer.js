// The chain explorer: the latest blocks, a block with its txs and receipts, and its commit
// certificate checked here by the light client (with the txs and receipts checked against
// the header's Merkle roots) before it is called verified; the validators with who signed
// the recent certificates, the evidence of equivocation, and this node's peers.
//
// What is shown of a block comes from its canonical bytes (header, txs, receipts), never
// from the JSON fields beside them, so what the badge vouches for is what is on screen.

import { t, fmt, has as hasMessage } from '../i18n.js';
import { h, replace, technical } from '../ui.js';
import { getJson, rpc } from '../rpc.js';
import { decode, encode } from '../codec.js';
import { addressOf } from '../bech32.js';
import { fromHex, toHex, equal, taggedHash, DOMAIN_TX } from '../bytes.js';
import { decodeHeader, merkleRoot, VerifyError } from '../verify.js';
import { errorText } from '../errors.js';
import { verifiedBadge, shortAddress, empty, loading } from './common.js';

const LATEST = 20;
const TAG_SIGNED_TX = 2;
const TAG_RECEIPT = 6;
const STATUS = ['ok', 'failed', 'invalid'];
// Event and argument fields that hold a time: shown in Shanghai, never as raw numbers.
const TIME_FIELD = /(^|_)(at|time|deadline|until|start|end|starts|ends|opens|closes|expires)(_ms)?$/;
const POINTS_FIELD = /(^|_)(amount|fee|points|price|reward|total|paid|balance)$/;

export async function render(ctx, params) {
  if (params.length && /^\d{1,12}$/.test(params[0])) return renderBlock(ctx, Number(params[0]));
  if (params[0] === 'upto' && /^\d{1,12}$/.test(params[1] || '')) return renderOverview(ctx, Number(params[1]));
  return renderOverview(ctx, null);
}

function names(status) {
  const m = new Map();
  for (const v of status.validators || []) m.set(v.public_key, v.name || shortAddress(v.address));
  return m;
}

function who(map, keyHex) { return map.get(keyHex) || `${keyHex.slice(0, 10)}…`; }

// --- overview ------------------------------------------------------------------------------

// The LATEST blocks up to `upto` (the head when null), with links to older and newer pages.
async function renderOverview(ctx, upto) {
  const { main } = ctx;
  main.appendChild(h('h2', {}, t('nav.explorer')));
  const wait = loading();
  main.appendChild(wait);
  const status = await rpc.status();
  const top = upto === null ? status.height : Math.min(upto, status.height);
  const from = Math.max(0, top - LATEST + 1);
  const [range, evidence] = await Promise.all([
    getJson(`/v1/blocks?from=${from}&limit=${top - from + 1}`), getJson('/v1/evidence?limit=20')]);
  wait.remove();
  const who_ = names(status);
  // A new validator set in force (the node's `validators` push) is shown at once.
  ctx.onLeave(ctx.live.on({ type: 'validators' }, (msg) => { if (msg.in_force) ctx.app.route(); }));
  const blocks = range.blocks.map((b) => ({ doc: b, header: decodeHeader(fromHex(b.header.encoded)) })).reverse();
  main.appendChild(h('p', { class: 'muted', 'data-testid': 'chain-head' },
    t('explorer.head', { height: fmt.count(status.height), node: status.node, time: fmt.time(status.latest_time_ms) })));
  main.appendChild(blocksCard(blocks, who_));
  main.appendChild(h('p', { class: 'row' },
    from > 0 ? h('a', { class: 'button secondary', href: `#/explorer/upto/${from - 1}`, 'data-testid': 'older' }, t('explorer.older')) : null,
    top < status.height ? h('a', { class: 'button secondary', href: '#/explorer', 'data-testid': 'newest' }, t('explorer.newest')) : null));
  main.appendChild(validatorsCard(status, blocks));
  main.appendChild(evidenceCard(evidence));
  main.appendChild(peersCard(status));
}

function blocksCard(blocks, who_) {
  const body = h('tbody', {}, blocks.map(({ doc, header }) => h('tr', { 'data-testid': `block-row-${header.height}` },
    h('td', { class: 'num' }, h('a', { href: `#/explorer/${header.height}` }, fmt.count(header.height))),
    h('td', {}, fmt.seconds(header.timestampMs)),
    h('td', { class: 'num' }, fmt.count(doc.txs.length)),
    h('td', { class: 'wide-col' }, header.height === 0 ? t('explorer.genesis') : who(who_, toHex(header.proposer))))));
  return h('section', { class: 'card' }, h('h3', {}, t('explorer.latest')),
    h('div', { class: 'table-wrap' }, h('table', { class: 'compact', 'data-testid': 'blocks' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col', class: 'num' }, t('explorer.height')), h('th', { scope: 'col' }, t('explorer.time')),
        h('th', { scope: 'col', class: 'num' }, t('explorer.txs')), h('th', { scope: 'col', class: 'wide-col' }, t('explorer.proposer')))),
      body)));
}

// Liveness as far as the RPC tells: who signed the certificates of the recent blocks, and
// who proposed them.
function validatorsCard(status, blocks) {
  const certified = blocks.filter(({ doc }) => doc.certificate);
  const signed = new Map(); const last = new Map(); const proposed = new Map();
  for (const { doc, header } of certified) {
    const p = toHex(header.proposer);
    proposed.set(p, (proposed.get(p) || 0) + 1);
    for (const s of doc.certificate.signatures) {
      signed.set(s.validator, (signed.get(s.validator) || 0) + 1);
      if (!last.has(s.validator)) last.set(s.validator, header.height);
    }
  }
  const rows = (status.validators || []).map((v) => {
    const n = signed.get(v.public_key) || 0;
    // A certificate needs only a quorum, so a live validator's late signatures may be left
    // out: having signed any recent certificate is what shows it live.
    const state = certified.length === 0 ? 'unknown' : n > 0 ? 'live' : 'silent';
    return h('tr', { 'data-testid': 'validator-row' },
      h('td', {}, v.name || shortAddress(v.address), h('div', { class: 'hint mono' }, shortAddress(v.address))),
      h('td', {}, h('span', { class: `badge ${state === 'live' ? 'ok' : state === 'silent' ? 'bad' : 'warn'}`, 'data-testid': `liveness-${state}` }, t(`explorer.live.${state}`))),
      h('td', { class: 'num' }, t('explorer.signed_of', { n: fmt.count(n), of: fmt.count(certified.length) })),
      h('td', { class: 'num wide-col' }, last.has(v.public_key) ? fmt.count(last.get(v.public_key)) : '—'),
      h('td', { class: 'num wide-col' }, fmt.count(proposed.get(v.public_key) || 0)));
  });
  return h('section', { class: 'card', 'data-testid': 'validators' }, h('h3', {}, t('explorer.validators')),
    h('p', { class: 'hint' }, t('explorer.liveness_hint', { n: fmt.count(certified.length) })),
    h('div', { class: 'table-wrap' }, h('table', { class: 'compact' },
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, t('explorer.validator')), h('th', { scope: 'col' }, t('explorer.liveness')),
        h('th', { scope: 'col', class: 'num' }, t('explorer.signed')),
        h('th', { scope: 'col', class: 'num wide-col' }, t('explorer.last_signed')),
        h('th', { scope: 'col', class: 'num wide-col' }, t('explorer.proposed')))),
      h('tbody', {}, rows))));
}

function evidenceCard(doc) {
  const card = h('section', { class: 'card', 'data-testid': 'evidence' }, h('h3', {}, t('explorer.evidence')));
  if (!doc.evidence.length) { card.appendChild(empty('explorer.evidence_none')); return card; }
  card.appendChild(h('p', { class: 'hint' }, t('explorer.evidence_count', { n: fmt.count(doc.count) })));
  card.appendChild(h('ul', { class: 'plain' }, doc.evidence.map((e) => h('li', {},
    h('strong', {}, e.validator_name || shortAddress(e.validator_address)), ' ',
    t('explorer.equivocated', {
      kind: hasMessage(`explorer.kind.${e.kind}`) ? t(`explorer.kind.${e.kind}`) : e.kind,
      height: fmt.count(e.height), view: fmt.count(e.view),
    }),
    h('div', { class: 'hint' }, t('explorer.seen_at', { time: fmt.time(e.seen_at_ms) }))))));
  return card;
}

function peersCard(status) {
  const card = h('section', { class: 'card', 'data-testid': 'peers' }, h('h3', {}, t('explorer.peers', { node: status.node })));
  if (!status.peers.length) { card.appendChild(empty('explorer.peers_none')); return card; }
  card.appendChild(h('div', { class: 'table-wrap' }, h('table', { class: 'compact' },
    h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('explorer.peer')),
      h('th', { scope: 'col', class: 'num' }, t('explorer.height')), h('th', { scope: 'col' }, t('explorer.direction')))),
    h('tbody', {}, status.peers.map((p) => h('tr', {},
      h('td', {}, p.name || `${p.public_key.slice(0, 10)}…`),
      h('td', { class: 'num' }, fmt.count(p.height)),
      h('td', {}, t(p.direction === 'out' ? 'explorer.dir_out' : 'explorer.dir_in'))))))));
  card.appendChild(h('p', { class: 'muted' }, t('explorer.peers_height_note')));
  return card;
}

// --- one block -----------------------------------------------------------------------------

function decodeTx(bytes) {
  const v = decode(bytes);
  if (!Array.isArray(v) || v[0] !== TAG_SIGNED_TX || !Array.isArray(v[1])) throw new VerifyError('bad_tx', 'not a signed tx');
  const [, chainId, sender, nonce, contract, method, args, maxFee, expiryHeight] = v[1];
  return { tx: v[1], chainId, sender, nonce, contract, method, args, maxFee, expiryHeight };
}

function decodeReceipt(bytes) {
  const v = decode(bytes);
  if (!Array.isArray(v) || v[0] !== TAG_RECEIPT) throw new VerifyError('bad_receipt', 'not a receipt');
  const [, txHash, status, gasUsed, fee, result = null, events = [], errorCode = '', errorContract = '', errorLine = 0] = v;
  return {
    txHash, status: Number(status), gasUsed, fee, result, errorCode, errorContract, errorLine,
    events: events.map(([, contract, name, fields]) => ({ contract, name, fields })),
  };
}

// The certificate by the light client, then the txs and receipts against the header's roots.
async function check(ctx, doc, header, txHashes) {
  await ctx.light.start();
  await ctx.light.believe(doc);
  if (!equal(await merkleRoot(txHashes), header.txRoot)) throw new VerifyError('bad_tx_root', 'the txs do not match the header');
  const receipts = (doc.receipts || []).map((r) => fromHex(r.encoded));
  if (!equal(await merkleRoot(receipts), header.receiptsRoot)) throw new VerifyError('bad_receipts_root', 'the receipts do not match the header');
}

async function renderBlock(ctx, height) {
  const { main } = ctx;
  main.appendChild(h('p', {}, h('a', { href: '#/explorer' }, '← ', t('explorer.back'))));
  main.appendChild(h('h2', {}, t('explorer.block', { height: fmt.count(height) })));
  const wait = loading();
  main.appendChild(wait);
  const [range, status] = await Promise.all([getJson(`/v1/blocks?from=${height}&limit=1`), rpc.status()]);
  wait.remove();
  const doc = range.blocks[0];
  if (!doc || doc.height !== height) { main.appendChild(empty('explorer.no_block')); return; }
  const header = decodeHeader(fromHex(doc.header.encoded));
  const who_ = names(status);
  const txs = doc.txs.map((x) => decodeTx(fromHex(x.encoded)));
  // A tx's hash is over the unsigned tx's canonical bytes, cut out of the signed tx.
  const txHashes = await Promise.all(txs.map((x) => taggedHash(DOMAIN_TX, encode(x.tx))));
  for (const x of txs) x.senderAddress = await addressOf(x.sender);
  const receipts = new Map();
  for (const r of doc.receipts || []) {
    const d = decodeReceipt(fromHex(r.encoded));
    receipts.set(toHex(d.txHash), { ...d, message: r.error_message });
  }

  const badge = h('span', { 'data-testid': 'certificate' }, verifiedBadge('pending'));
  const why = h('p', { class: 'hint', 'data-testid': 'certificate-why' });
  const signers = doc.certificate ? doc.certificate.signatures.map((s) => who(who_, s.validator)) : [];
  main.appendChild(h('section', { class: 'card', 'data-testid': 'block-header' },
    h('dl', { class: 'facts' },
      h('dt', {}, t('explorer.time')), h('dd', {}, fmt.seconds(header.timestampMs)),
      h('dt', {}, t('explorer.proposer')), h('dd', {}, height === 0 ? t('explorer.genesis') : who(who_, toHex(header.proposer))),
      h('dt', {}, t('explorer.view')), h('dd', {}, fmt.count(header.view)),
      h('dt', {}, t('explorer.hash')), h('dd', {}, technical(doc.hash)),
      h('dt', {}, t('explorer.certificate')), h('dd', {}, badge,
        doc.certificate ? h('div', { class: 'hint' }, t('explorer.signed_by', { n: fmt.count(signers.length), names: signers.join(t('explorer.name_sep')) })) : null,
        why))));

  const list = h('section', { class: 'card', 'data-testid': 'block-txs' }, h('h3', {}, t('explorer.txs_title', { n: fmt.count(txs.length) })));
  if (!txs.length) list.appendChild(empty('explorer.no_txs'));
  txs.forEach((x, i) => list.appendChild(txView(x, toHex(txHashes[i]), receipts.get(toHex(txHashes[i])))));
  main.appendChild(list);

  check(ctx, doc, header, txHashes).then(() => {
    replace(badge, verifiedBadge('verified'));
    replace(why, t('explorer.verified_why'));
  }).catch((e) => {
    console.warn('certificate', height, e);
    replace(badge, verifiedBadge(e));
    replace(why, t('explorer.unverified_why', { why: errorText(e) }));
  });
}

function txView(x, hashHex, r) {
  // A call or event with no words in the catalogue shows as its protocol name, marked
  // translate="no": it is an identifier, like the tx hash, not a message.
  const named = hasMessage(`statement.m.${x.contract}.${x.method}`);
  const what = named ? t(`statement.m.${x.contract}.${x.method}`) : `${x.contract}.${x.method}`;
  const head = h('div', { class: 'spread' }, h('strong', { translate: named ? null : 'no' }, what), r ? statusBadge(r) : h('span', { class: 'badge warn' }, t('explorer.no_receipt')));
  const facts = h('dl', { class: 'facts' },
    h('dt', {}, t('explorer.sender')), h('dd', { class: 'mono' }, shortAddress(x.senderAddress)),
    h('dt', {}, t('explorer.call')), h('dd', { class: 'mono', translate: 'no' }, `${x.contract}.${x.method}`),
    h('dt', {}, t('explorer.args')), h('dd', {}, showValue('', x.args)),
    h('dt', {}, t('explorer.tx_hash')), h('dd', { class: 'mono' }, shortAddress(hashHex)));
  if (r) {
    facts.append(
      h('dt', {}, t('explorer.gas')), h('dd', {}, fmt.count(r.gasUsed)),
      h('dt', {}, t('explorer.fee')), h('dd', {}, BigInt(r.fee) === 0n ? t('explorer.free') : fmt.points(r.fee)));
    if (r.errorCode) {
      facts.append(h('dt', {}, t('explorer.error')), h('dd', { 'data-testid': 'receipt-error' },
        h('span', { class: 'mono' }, r.errorCode), ' ',
        hasMessage(`error.${r.errorCode}`) ? t(`error.${r.errorCode}`) : r.message || ''));
    }
  }
  const events = r && r.events.length ? h('div', {}, h('h4', {}, t('explorer.events')), h('ul', { class: 'plain events' },
    r.events.map((e) => h('li', { 'data-testid': 'event' },
      hasMessage(`explorer.event.${e.contract}.${e.name}`) ? h('strong', {}, t(`explorer.event.${e.contract}.${e.name}`))
        : h('strong', { class: 'mono', translate: 'no' }, `${e.contract}.${e.name}`),
      h('dl', { class: 'facts' }, Object.keys(e.fields).sort().map((k) => [h('dt', {}, fieldName(k)), h('dd', {}, showValue(k, e.fields[k]))])))))) : null;
  return h('article', { class: 'tx', 'data-testid': 'tx' }, head, facts, events);
}

function fieldName(k) { return hasMessage(`explorer.field.${k}`) ? t(`explorer.field.${k}`) : k; }

function statusBadge(r) {
  const name = STATUS[r.status] || String(r.status);
  return h('span', { class: `badge ${r.status === 0 ? 'ok' : 'bad'}`, 'data-testid': 'receipt-status' }, t(`explorer.status.${name}`));
}

// A value as a person reads it: times in Shanghai, points with their unit, bytes and
// addresses shortened, lists and maps laid out.
function showValue(key, v) {
  if (v === null || v === undefined) return '—';
  if (v instanceof Uint8Array) return h('span', { class: 'mono', title: toHex(v) }, shortAddress(toHex(v)));
  if (typeof v === 'boolean') return t(v ? 'explorer.yes' : 'explorer.no');
  if (typeof v === 'number' || typeof v === 'bigint') {
    if (TIME_FIELD.test(key)) return fmt.time(/_ms$/.test(key) ? Number(v) : Number(v) * 1000);
    if (POINTS_FIELD.test(key)) return fmt.points(v);
    return fmt.count(v);
  }
  if (typeof v === 'string') return /^hk1[0-9a-z]{20,}$/.test(v) ? h('span', { class: 'mono', title: v }, shortAddress(v)) : v;
  if (Array.isArray(v)) {
    if (!v.length) return '—';
    return h('ul', { class: 'plain' }, v.map((x) => h('li', {}, showValue(key, x))));
  }
  if (typeof v === 'object') {
    return h('dl', { class: 'facts' }, Object.keys(v).sort().map((k) => [h('dt', {}, k), h('dd', {}, showValue(k, v[k]))]));
  }
  return String(v);
}
