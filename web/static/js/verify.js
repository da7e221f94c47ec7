// Trust no node: the checks a light client makes before it believes what a node says
// (PROTOCOL.md sections 6, 8 and 9).
//
// - a header is believed when its certificate carries COMMIT signatures of a quorum of
//   the validator set that certifies that height, and hashes to the certified block hash;
// - the validator set of a height comes from genesis (pinned by the genesis block's hash)
//   and from its governed changes, read with a state proof of sys/validators against the
//   state root of a header already believed;
// - a value is believed when its state proof verifies against a believed header's
//   state root.

import { decode, encode } from './codec.js';
import { concat, equal, sha256, taggedHash, toHex, fromHex, utf8, DOMAIN_HEADER, DOMAIN_VOTE, DOMAIN_VALSET } from './bytes.js';
import { verify as verifySignature } from './keys.js';

export const TAG_HEADER = 3;
export const TAG_VALIDATOR = 9;
export const TAG_VALIDATOR_SET = 10;
export const TAG_CERTIFICATE = 8;
export const VOTE_COMMIT = 2;
const LEAF_TAG = 0x10;
const NODE_TAG = 0x11;
const ZERO = new Uint8Array(32);
let emptyRoot = null;

export class VerifyError extends Error {
  constructor(code, message) { super(message || code); this.code = code; }
}

const isBytes = (v, n) => v instanceof Uint8Array && (n === undefined || v.length === n);
const isInt = (v) => typeof v === 'number' ? Number.isSafeInteger(v) && v >= 0 : typeof v === 'bigint' && v >= 0n;

// --- records -----------------------------------------------------------------------------

export function decodeHeader(bytes) {
  const v = decode(bytes);
  if (!Array.isArray(v) || v.length !== 11 || v[0] !== TAG_HEADER) throw new VerifyError('bad_header', 'not a header');
  const [, chainId, height, prevHash, txRoot, stateRoot, receiptsRoot, proposer, view, timestampMs, validatorSetHash] = v;
  if (typeof chainId !== 'string' || !isInt(height) || !isBytes(prevHash, 32) || !isBytes(txRoot, 32) ||
      !isBytes(stateRoot, 32) || !isBytes(receiptsRoot, 32) || !isBytes(proposer, 32) || !isInt(view) ||
      !isInt(timestampMs) || !isBytes(validatorSetHash, 32)) throw new VerifyError('bad_header', 'header fields');
  return { chainId, height: Number(height), prevHash, txRoot, stateRoot, receiptsRoot, proposer, view, timestampMs: Number(timestampMs), validatorSetHash };
}

export function decodeCertificate(bytes) {
  const v = decode(bytes);
  if (!Array.isArray(v) || v.length !== 6 || v[0] !== TAG_CERTIFICATE) throw new VerifyError('bad_certificate', 'not a certificate');
  const [, chainId, height, view, blockHash, sigs] = v;
  if (typeof chainId !== 'string' || !isInt(height) || !isInt(view) || !isBytes(blockHash, 32) || !Array.isArray(sigs) || sigs.length > 256) {
    throw new VerifyError('bad_certificate', 'certificate fields');
  }
  for (const p of sigs) if (!Array.isArray(p) || p.length !== 2 || !isBytes(p[0], 32) || !isBytes(p[1], 64)) throw new VerifyError('bad_certificate', 'signature pair');
  return { chainId, height: Number(height), view, blockHash, signatures: sigs };
}

// A validator set: [{publicKey, name}] in order.
export function validatorSetValue(validators) {
  return [TAG_VALIDATOR_SET, validators.map((x) => [TAG_VALIDATOR, x.publicKey, x.name])];
}

export function validatorSetHash(validators) { return taggedHash(DOMAIN_VALSET, encode(validatorSetValue(validators))); }

export function quorum(n) { return Math.floor((2 * n) / 3) + 1; }

export function voteSigningBytes(kind, chainId, height, view, blockHash) {
  return concat(DOMAIN_VOTE, encode([kind, chainId, height, view, blockHash]));
}

// Throws VerifyError unless `cert` carries COMMITs of a quorum of `validators` for `chainId`.
export async function verifyCertificate(cert, chainId, validators) {
  if (cert.chainId !== chainId) throw new VerifyError('wrong_chain', 'certificate of another chain');
  const keys = cert.signatures.map((p) => toHex(p[0]));
  for (let i = 1; i < keys.length; i++) if (!(keys[i - 1] < keys[i])) throw new VerifyError('bad_certificate', 'signers not sorted and unique');
  const members = new Set(validators.map((x) => toHex(x.publicKey)));
  const msg = voteSigningBytes(VOTE_COMMIT, chainId, cert.height, cert.view, cert.blockHash);
  let good = 0;
  for (const [key, sig] of cert.signatures) {
    if (!members.has(toHex(key))) throw new VerifyError('bad_certificate', 'signed by a non-validator');
    if (!(await verifySignature(key, msg, sig))) throw new VerifyError('bad_signature', 'a certificate signature does not verify');
    good++;
  }
  if (good < quorum(validators.length)) throw new VerifyError('no_quorum', `${good} signatures, quorum is ${quorum(validators.length)}`);
}

// --- the state tree ------------------------------------------------------------------------

function nibble(h, d) { const b = h[d >> 1]; return d & 1 ? b & 15 : b >> 4; }
function popcount(x) { let n = 0; while (x) { n += x & 1; x >>>= 1; } return n; }

export function decodeStateProof(bytes) {
  const v = decode(bytes);
  if (!Array.isArray(v) || v.length !== 4) throw new VerifyError('bad_proof', 'expected [kind, levels, key hash, value hash]');
  const [kind, levels, okh, ovh] = v;
  if (![0, 1, 2].includes(kind) || !Array.isArray(levels) || levels.length > 64) throw new VerifyError('bad_proof', 'kind or levels');
  for (const l of levels) {
    if (!Array.isArray(l) || l.length !== 2 || typeof l[0] !== 'number' || l[0] < 0 || l[0] >= 65536 ||
        !Array.isArray(l[1]) || l[1].length !== popcount(l[0]) || !l[1].every((x) => isBytes(x, 32))) throw new VerifyError('bad_proof', 'level');
  }
  const want = kind === 2 ? 32 : 0;
  if (!isBytes(okh, want) || !isBytes(ovh, want)) throw new VerifyError('bad_proof', 'other-leaf hashes');
  return { kind, levels, otherKeyHash: okh, otherValueHash: ovh };
}

// True iff `proof` shows that under `root` the state maps `key` to `value` (null: absent).
export async function verifyStateProof(root, key, value, proof) {
  if (!emptyRoot) emptyRoot = await sha256(utf8('hkchain/state/empty'));
  const { kind, levels } = proof;
  if (levels.length > 64) return false;
  const kh = await sha256(key);
  let h;
  if (kind === 0) {
    if (value === null) return false;
    h = await sha256(concat(Uint8Array.of(LEAF_TAG), kh, await sha256(value)));
  } else if (kind === 1) {
    if (value !== null) return false;
    h = null;
  } else if (kind === 2) {
    const okh = proof.otherKeyHash;
    if (value !== null || okh.length !== 32 || equal(okh, kh) || proof.otherValueHash.length !== 32) return false;
    for (let d = 0; d < levels.length; d++) if (nibble(okh, d) !== nibble(kh, d)) return false;
    h = await sha256(concat(Uint8Array.of(LEAF_TAG), okh, proof.otherValueHash));
  } else return false;
  for (let d = levels.length - 1; d >= 0; d--) {
    const [bitmap, hashes] = levels[d];
    const n = nibble(kh, d);
    if ((bitmap >> n) & 1 || bitmap >= 65536 || popcount(bitmap) !== hashes.length) return false;
    if (bitmap === 0 && h === null) return false;
    const slots = [];
    let k = 0;
    for (let i = 0; i < 16; i++) {
      if (i === n) slots.push(h === null ? ZERO : h);
      else if ((bitmap >> i) & 1) slots.push(hashes[k++]);
      else slots.push(ZERO);
    }
    h = await sha256(concat(Uint8Array.of(NODE_TAG), ...slots));
  }
  if (h === null) return equal(root, emptyRoot);
  return equal(h, root);
}

// --- RFC 6962 Merkle roots (tx and receipts roots) ------------------------------------------

export async function merkleRoot(leaves) {
  if (leaves.length === 0) return sha256(new Uint8Array(0));
  let level = [];
  for (const x of leaves) level.push(await sha256(concat(Uint8Array.of(0), x)));
  while (level.length > 1) {
    const next = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(await sha256(concat(Uint8Array.of(1), level[i], level[i + 1])));
    if (level.length % 2) next.push(level[level.length - 1]);
    level = next;
  }
  return level[0];
}

export async function verifyMerkleProof(root, leaf, index, size, path) {
  if (!(index >= 0 && index < size) || path.length > 64) return false;
  let h = await sha256(concat(Uint8Array.of(0), leaf));
  let i = index; let width = size; let k = 0;
  while (width > 1) {
    if ((i ^ 1) < width) {
      if (k >= path.length) return false;
      const sib = path[k++];
      h = await sha256(i & 1 ? concat(Uint8Array.of(1), sib, h) : concat(Uint8Array.of(1), h, sib));
    }
    i = Math.floor(i / 2);
    width = Math.floor((width + 1) / 2);
  }
  return k === path.length && equal(h, root);
}

export { fromHex };
