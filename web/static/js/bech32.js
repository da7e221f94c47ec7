// Addresses: "hk1…", bech32 (BIP-173) of the first 20 bytes of SHA-256 of the public key
// (core/crypto.py address_of). The checksum catches any single mistyped character.

import { sha256 } from './bytes.js';

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GEN = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
export const ADDRESS_HRP = 'hk';

function polymod(values) {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GEN[i];
  }
  return chk;
}

function hrpExpand(hrp) {
  const out = [];
  for (const c of hrp) out.push(c.charCodeAt(0) >> 5);
  out.push(0);
  for (const c of hrp) out.push(c.charCodeAt(0) & 31);
  return out;
}

function convertBits(data, from, to, pad) {
  let acc = 0; let bits = 0; const out = []; const maxv = (1 << to) - 1;
  for (const v of data) {
    if (v < 0 || v >> from) return null;
    acc = (acc << from) | v; bits += from;
    while (bits >= to) { bits -= to; out.push((acc >> bits) & maxv); }
  }
  if (pad) { if (bits) out.push((acc << (to - bits)) & maxv); }
  else if (bits >= from || ((acc << (to - bits)) & maxv)) return null;
  return out;
}

export function bech32Encode(hrp, payload) {
  const data = convertBits(payload, 8, 5, true);
  const values = hrpExpand(hrp).concat(data, [0, 0, 0, 0, 0, 0]);
  const mod = polymod(values) ^ 1;
  let out = hrp + '1';
  for (const d of data) out += CHARSET[d];
  for (let p = 0; p < 6; p++) out += CHARSET[(mod >> (5 * (5 - p))) & 31];
  return out;
}

// The 20-byte payload of an address, or null if it is not a valid hk address.
export function parseAddress(text) {
  if (typeof text !== 'string' || text.length > 90 || text.length < 8) return null;
  if (text !== text.toLowerCase() && text !== text.toUpperCase()) return null;
  const s = text.toLowerCase();
  const pos = s.lastIndexOf('1');
  if (pos < 1 || pos + 7 > s.length) return null;
  const hrp = s.slice(0, pos);
  if (hrp !== ADDRESS_HRP) return null;
  const data = [];
  for (const c of s.slice(pos + 1)) {
    const d = CHARSET.indexOf(c);
    if (d < 0) return null;
    data.push(d);
  }
  if (polymod(hrpExpand(hrp).concat(data)) !== 1) return null;
  const payload = convertBits(data.slice(0, -6), 5, 8, false);
  return payload && payload.length === 20 ? new Uint8Array(payload) : null;
}

export async function addressOf(publicKey) {
  return bech32Encode(ADDRESS_HRP, (await sha256(publicKey)).slice(0, 20));
}
