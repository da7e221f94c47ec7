// Bytes: hex, UTF-8, joining, comparing, SHA-256 (WebCrypto) and the domain tags of
// core/hashing.py.

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function toHex(bytes) {
  let s = '';
  for (const b of bytes) s += HEX[b];
  return s;
}

export function fromHex(text) {
  const s = text.startsWith('0x') ? text.slice(2) : text;
  if (s.length % 2 || /[^0-9a-fA-F]/.test(s)) throw new Error('not hex');
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });
export const utf8 = (s) => encoder.encode(s);
export const fromUtf8 = (b) => decoder.decode(b);

export function concat(...parts) {
  const n = parts.reduce((a, p) => a + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

export async function sha256(data) {
  return new Uint8Array(await crypto.subtle.digest('SHA-256', data));
}

export async function taggedHash(domain, data) { return sha256(concat(domain, data)); }

export function randomBytes(n) { return crypto.getRandomValues(new Uint8Array(n)); }

// Domain tags (core/hashing.py).
export const DOMAIN_TX = utf8('hkchain/tx/1\0');
export const DOMAIN_HEADER = utf8('hkchain/header/1\0');
export const DOMAIN_VOTE = utf8('hkchain/vote/1\0');
export const DOMAIN_VALSET = utf8('hkchain/valset/1\0');
export const DOMAIN_RECEIPT = utf8('hkchain/receipt/1\0');
