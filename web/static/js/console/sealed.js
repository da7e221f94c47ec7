// Households' personal data in the clerk's browser: the checks a clerk's typing gets
// (privacy/checks.py: a resident ID by GB 11643, a mainland mobile or an international
// number), the normal form the commitment covers (privacy/register.py HouseholdIdentity),
// the commitment sha256(salt || canonical identity), and the sealed record of a card
// (docs/PROTOCOL.md "Sealed household records"): a SecretBox under a fresh data key, that
// key sealed (libsodium's crypto_box_seal) to each committee member's X25519 key. The card
// leaves the browser only sealed; it is opened here with the member's non-extractable
// X25519 key (keys.js boxKeyFromSeed).

import { encode, decode } from '../codec.js';
import { concat, fromHex, randomBytes, sha256, toHex, utf8, equal } from '../bytes.js';
import { addressOf } from '../bech32.js';

export const SALT_SIZE = 32;
const MAX_NAME_CHARS = 64;
const MAX_ID_CHARS = 32;
const MAX_PHONE_CHARS = 32;
export const MAX_AREA_DM2 = 100_000_000;
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK = '10X98765432';

// A refusal of personal data, with a catalogue code (console.households.err.<code>).
export class IdentityError extends Error {
  constructor(code, field) { super(code); this.code = code; this.field = field; }
}

const chars = (s) => [...s].length;

export function checkResidentId(text) {
  const t = String(text).trim().toUpperCase().replace(/ /g, '');
  if (!/^[0-9]{17}[0-9X]$/.test(t)) throw new IdentityError('id_format', 'id_number');
  const y = Number(t.slice(6, 10)); const m = Number(t.slice(10, 12)); const d = Number(t.slice(12, 14));
  const born = new Date(Date.UTC(y, m - 1, d));
  if (born.getUTCFullYear() !== y || born.getUTCMonth() !== m - 1 || born.getUTCDate() !== d || y < 1) {
    throw new IdentityError('id_birth_date', 'id_number');
  }
  if (y < 1900) throw new IdentityError('id_birth_date', 'id_number');
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(t[i]) * ID_WEIGHTS[i];
  if (ID_CHECK[sum % 11] !== t[17]) throw new IdentityError('id_check', 'id_number');
  return t;
}

export function checkOtherId(text) {
  const t = String(text).replace(/[\s()\-（）]/g, '').toUpperCase();
  if (!/^[A-Z0-9]{5,20}$/.test(t)) throw new IdentityError('other_id_format', 'id_number');
  return t;
}

export function checkPhone(text) {
  let t = String(text).replace(/[\s\-()]/g, '');
  if (t.startsWith('0086')) t = '+86' + t.slice(4);
  const mainland = t.startsWith('+86') ? t.slice(3) : t;
  if (/^1[3-9][0-9]{9}$/.test(mainland)) return '+86' + mainland;
  if (t.startsWith('+86')) throw new IdentityError('phone_mainland', 'phone');
  if (/^\+[1-9][0-9]{7,14}$/.test(t)) return t;
  throw new IdentityError('phone_format', 'phone');
}

function norm(text, field, max) {
  const out = String(text).normalize('NFC').trim();
  if (!out || chars(out) > max) throw new IdentityError('too_long', field);
  return out;
}

// The identity as the commitment covers it: {v: 1, name, id_number, phone}.
export function identity(name, idNumber, phone, idType = 'resident') {
  const id = idType === 'other' ? checkOtherId(idNumber) : checkResidentId(idNumber);
  const ph = checkPhone(phone);
  return {
    v: 1,
    name: norm(name, 'name', MAX_NAME_CHARS),
    id_number: norm(id, 'id_number', MAX_ID_CHARS).replace(/ /g, '').toUpperCase(),
    phone: norm(ph, 'phone', MAX_PHONE_CHARS).replace(/[ -]/g, ''),
  };
}

export async function commitmentOf(salt, ident) { return sha256(concat(salt, encode(ident))); }

// A new card for a household (a fresh salt): what the register keeps, sealed.
export function newCard(household, areaDm2, ident) {
  if (!Number.isSafeInteger(areaDm2) || areaDm2 <= 0 || areaDm2 > MAX_AREA_DM2) throw new IdentityError('area', 'area');
  return { household, area_dm2: areaDm2, identity: ident, salt: randomBytes(SALT_SIZE) };
}

// --- X25519 and the sealed box ---------------------------------------------------------

const P = (1n << 255n) - 19n;

function modPow(b, e) {
  let r = 1n; b %= P;
  while (e > 0n) { if (e & 1n) r = (r * b) % P; b = (b * b) % P; e >>= 1n; }
  return r;
}

// The X25519 public key of an Ed25519 public key: u = (1 + y) / (1 - y) mod p
// (libsodium's crypto_sign_ed25519_pk_to_curve25519).
export function x25519OfEd25519(pk) {
  if (!(pk instanceof Uint8Array) || pk.length !== 32) throw new IdentityError('bad_member_key', 'key');
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? pk[i] & 0x7f : pk[i]);
  if (y >= P || y === 1n) throw new IdentityError('bad_member_key', 'key');
  let u = ((1n + y) * modPow((1n - y + P) % P, P - 2n)) % P;
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) { out[i] = Number(u & 0xffn); u >>= 8n; }
  return out;
}

let blake2bReady = null;
function loadBlake2b() {
  if (globalThis.hashwasm && globalThis.hashwasm.blake2b) return Promise.resolve();
  if (!blake2bReady) {
    blake2bReady = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = '/vendor/hash-wasm/blake2b.umd.min.js';
      s.onload = () => resolve();
      s.onerror = () => { blake2bReady = null; reject(new IdentityError('crypto_unavailable', 'key')); };
      document.head.appendChild(s);
    });
  }
  return blake2bReady;
}

async function sealNonce(ephemeralPk, recipientPk) {
  await loadBlake2b();
  return fromHex(await globalThis.hashwasm.blake2b(concat(ephemeralPk, recipientPk), 192));
}

// crypto_box_seal(message, recipient X25519 public key)
export async function sealTo(message, recipientX) {
  const nacl = globalThis.nacl;
  const eph = nacl.box.keyPair();
  const nonce = await sealNonce(eph.publicKey, recipientX);
  const box = nacl.box(message, nonce, recipientX, eph.secretKey);
  eph.secretKey.fill(0);
  return concat(eph.publicKey, box);
}

// crypto_box_seal_open with a non-extractable X25519 CryptoKey; null if it does not open.
export async function openSealed(sealed, boxKey, myX) {
  const nacl = globalThis.nacl;
  if (sealed.length < 48) return null;
  const epk = sealed.subarray(0, 32);
  const nonce = await sealNonce(epk, myX);
  let shared;
  try {
    const pub = await crypto.subtle.importKey('raw', epk, { name: 'X25519' }, false, []);
    shared = new Uint8Array(await crypto.subtle.deriveBits({ name: 'X25519', public: pub }, boxKey, 256));
  } catch { return null; }
  // crypto_box_beforenm: HSalsa20 of the shared secret with a zero input.
  const k = new Uint8Array(32);
  nacl.lowlevel.crypto_core_hsalsa20(k, new Uint8Array(16), shared, utf8('expand 32-byte k'));
  shared.fill(0);
  const out = nacl.secretbox.open(sealed.subarray(32), nonce, k);
  k.fill(0);
  return out || null;
}

// The sealed record (JSON, version 2) of `card` for the members' Ed25519 public keys.
export async function sealCard(card, memberKeys) {
  const commitment = await commitmentOf(card.salt, card.identity);
  const dataKey = randomBytes(32);
  const nonce = randomBytes(24);
  const box = concat(nonce, globalThis.nacl.secretbox(encode(card), nonce, dataKey));
  const keys = {};
  for (const pk of memberKeys) keys[await addressOf(pk)] = toHex(await sealTo(dataKey, x25519OfEd25519(pk)));
  dataKey.fill(0);
  return { type: 'hkchain-sealed-household', v: 2, commitment: toHex(commitment), household: card.household,
    box: toHex(box), keys };
}

// The card inside a sealed record, for the unlocked key ({address, publicKey, boxKey});
// IdentityError wrong_key if it is not sealed to it or does not open, bad_record if the
// content does not match its commitment.
export async function openCard(record, key) {
  const sealedKey = record.keys && record.keys[key.address];
  if (!sealedKey || !key.boxKey) throw new IdentityError('wrong_key', 'key');
  const dataKey = await openSealed(fromHex(sealedKey), key.boxKey, x25519OfEd25519(key.publicKey));
  if (!dataKey) throw new IdentityError('wrong_key', 'key');
  const box = fromHex(record.box);
  const plain = globalThis.nacl.secretbox.open(box.subarray(24), box.subarray(0, 24), dataKey);
  dataKey.fill(0);
  if (!plain) throw new IdentityError('bad_record', 'key');
  const card = decode(plain);
  const c = await commitmentOf(card.salt, card.identity);
  if (!equal(c, fromHex(record.commitment)) || card.household !== record.household) throw new IdentityError('bad_record', 'key');
  return card;
}

// The resident's card file (privacy/register.py HouseholdCard.to_json), to hand over.
export async function cardFile(card) {
  return { type: 'hkchain-household-card', household: card.household, area_dm2: card.area_dm2,
    identity: card.identity, salt: toHex(card.salt), commitment: toHex(await commitmentOf(card.salt, card.identity)) };
}
