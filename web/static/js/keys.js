// Keys in the browser: Ed25519 through WebCrypto, and the CLI's key files both ways
// (core/crypto.py): {"type": "ed25519", "address", "public_key", "seed"} in the clear, or
// with "encryption": {"kdf": "argon2id", "salt", "box"} where box = nonce (24) ||
// XSalsa20-Poly1305(seed) under Argon2id(passphrase, salt) with libsodium's "moderate"
// limits (3 passes, 256 MiB), exactly as PyNaCl's pwhash.argon2id.kdf and SecretBox.
//
// A seed exists in page memory only while a key is created, imported, exported or
// unlocked; signing uses a non-extractable CryptoKey. Nothing here sends anything anywhere.

import { toHex, fromHex, concat, equal, randomBytes, utf8 } from './bytes.js';
import { addressOf } from './bech32.js';

export const SEED_SIZE = 32;
const PKCS8_PREFIX = fromHex('302e020100300506032b657004220420');
export const ARGON2 = { iterations: 3, memorySize: 256 * 1024, parallelism: 1, hashLength: 32 };
const SALT_SIZE = 16;
const NONCE_SIZE = 24;

export class KeyError extends Error {
  constructor(code, message) { super(message || code); this.code = code; }
}

function b64url(bytes) {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromB64url(text) {
  const s = atob(text.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

// A fresh seed from WebCrypto's Ed25519 key generation.
export async function generateSeed() {
  const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey('pkcs8', pair.privateKey));
  if (pkcs8.length !== PKCS8_PREFIX.length + SEED_SIZE || !equal(pkcs8.slice(0, PKCS8_PREFIX.length), PKCS8_PREFIX)) {
    throw new KeyError('key_unsupported', 'unexpected PKCS#8 form of an Ed25519 key');
  }
  const seed = pkcs8.slice(PKCS8_PREFIX.length);
  pkcs8.fill(0);
  return seed;
}

// The signing key of a seed: {privateKey (non-extractable CryptoKey), publicKey, address}.
export async function keyFromSeed(seed) {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_SIZE) throw new KeyError('bad_key', 'an Ed25519 seed is 32 bytes');
  const pkcs8 = concat(PKCS8_PREFIX, seed);
  // Imported once extractable to read the public key (JWK "x"), then again without.
  const tmp = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, true, ['sign']);
  const jwk = await crypto.subtle.exportKey('jwk', tmp);
  const privateKey = await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'Ed25519' }, false, ['sign']);
  pkcs8.fill(0);
  const publicKey = fromB64url(jwk.x);
  jwk.d = '';
  return { privateKey, publicKey, address: await addressOf(publicKey) };
}

// The X25519 key that opens what is sealed to this Ed25519 key (libsodium's
// crypto_sign_ed25519_sk_to_curve25519: the first half of SHA-512 of the seed, clamped by
// X25519 itself), as a non-extractable CryptoKey that can only derive shared secrets.
// Committee members open sealed household cards with it (console/sealed.js).
const X25519_PKCS8_PREFIX = fromHex('302e020100300506032b656e04220420');
export async function boxKeyFromSeed(seed) {
  const h = new Uint8Array(await crypto.subtle.digest('SHA-512', seed));
  const pkcs8 = concat(X25519_PKCS8_PREFIX, h.subarray(0, 32));
  h.fill(0);
  try {
    return await crypto.subtle.importKey('pkcs8', pkcs8, { name: 'X25519' }, false, ['deriveBits']);
  } finally {
    pkcs8.fill(0);
  }
}

export async function sign(privateKey, message) {
  return new Uint8Array(await crypto.subtle.sign({ name: 'Ed25519' }, privateKey, message));
}

const verifyKeys = new Map();
export async function verify(publicKey, message, signature) {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  const id = toHex(publicKey);
  let key = verifyKeys.get(id);
  if (!key) {
    try {
      key = await crypto.subtle.importKey('raw', publicKey, { name: 'Ed25519' }, false, ['verify']);
    } catch { return false; }
    if (verifyKeys.size > 1024) verifyKeys.clear();
    verifyKeys.set(id, key);
  }
  try { return await crypto.subtle.verify({ name: 'Ed25519' }, key, signature, message); } catch { return false; }
}

async function boxKey(passphrase, salt) {
  if (!globalThis.hashwasm || !globalThis.nacl) throw new KeyError('crypto_unavailable', 'vendored libraries not loaded');
  return globalThis.hashwasm.argon2id({ password: utf8(passphrase), salt, ...ARGON2, outputType: 'binary' });
}

// The CLI's key file of a seed (JSON object), encrypted if a passphrase is given.
export async function keyFile(seed, passphrase) {
  const { publicKey, address } = await keyFromSeed(seed);
  const doc = { type: 'ed25519', address, public_key: toHex(publicKey) };
  if (passphrase) {
    const salt = randomBytes(SALT_SIZE);
    const nonce = randomBytes(NONCE_SIZE);
    const key = await boxKey(passphrase, salt);
    const sealed = globalThis.nacl.secretbox(seed, nonce, key);
    key.fill(0);
    doc.encryption = { kdf: 'argon2id', salt: toHex(salt), box: toHex(concat(nonce, sealed)) };
  } else {
    doc.seed = toHex(seed);
  }
  return doc;
}

export function isEncrypted(doc) { return !!(doc && typeof doc === 'object' && 'encryption' in doc); }

// The seed of a key file (parsed JSON); KeyError with code bad_key_file, passphrase_needed
// or wrong_passphrase.
export async function seedFromKeyFile(doc, passphrase) {
  if (!doc || typeof doc !== 'object' || doc.type !== 'ed25519') throw new KeyError('bad_key_file', 'not an hkchain key file');
  let seed;
  try {
    if ('encryption' in doc) {
      if (!passphrase) throw new KeyError('passphrase_needed');
      const enc = doc.encryption;
      if (!enc || enc.kdf !== 'argon2id') throw new KeyError('bad_key_file', 'unknown key derivation');
      const salt = fromHex(enc.salt);
      const box = fromHex(enc.box);
      if (salt.length !== SALT_SIZE || box.length !== NONCE_SIZE + 16 + SEED_SIZE) throw new KeyError('bad_key_file', 'damaged');
      const key = await boxKey(passphrase, salt);
      const opened = globalThis.nacl.secretbox.open(box.slice(NONCE_SIZE), box.slice(0, NONCE_SIZE), key);
      key.fill(0);
      if (!opened) throw new KeyError('wrong_passphrase');
      seed = new Uint8Array(opened);
    } else {
      seed = fromHex(String(doc.seed));
    }
  } catch (e) {
    if (e instanceof KeyError) throw e;
    throw new KeyError('bad_key_file', String(e.message || e));
  }
  if (seed.length !== SEED_SIZE) throw new KeyError('bad_key_file', 'the seed is not 32 bytes');
  const { publicKey } = await keyFromSeed(seed);
  if (doc.public_key !== undefined && doc.public_key !== null && doc.public_key !== toHex(publicKey)) {
    throw new KeyError('bad_key_file', 'public key does not match the secret');
  }
  return seed;
}

export { b64url };
