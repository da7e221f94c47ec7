// The canonical msgpack codec of core/codec.py: one byte string per value.
//
// Values: null, booleans, integers (JS numbers that are safe integers, or BigInts),
// strings, Uint8Array (bytes), arrays, and maps with string keys (plain objects or Maps).
// encode() sorts map keys by code point and writes the shortest msgpack form of every
// item; integers outside msgpack's 64-bit range are ext type 1 (minimal two's complement,
// big-endian). decode() is strict: size and depth limits, no floats, no other ext types,
// no trailing bytes, and the input must re-encode to exactly the same bytes. Integers
// decode to numbers when safe, else to BigInts; maps decode to null-prototype objects.

export const EXT_BIGINT = 1;
export const MAX_BIGINT_BYTES = 33;
export const MAX_DEPTH = 32;
export const DEFAULT_MAX_SIZE = 1 << 20;
const MIN_NATIVE = -(1n << 63n);
const MAX_NATIVE = (1n << 64n) - 1n;

export class EncodeError extends Error { constructor(m) { super(m); this.code = 'encode'; } }
export class DecodeError extends Error { constructor(m) { super(m); this.code = 'malformed'; } }

const utf8enc = new TextEncoder();
const utf8dec = new TextDecoder('utf-8', { fatal: true });

class Writer {
  constructor() { this.buf = new Uint8Array(256); this.n = 0; }
  room(k) {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const b = new Uint8Array(size); b.set(this.buf.subarray(0, this.n)); this.buf = b;
  }
  byte(b) { this.room(1); this.buf[this.n++] = b; }
  bytes(a) { this.room(a.length); this.buf.set(a, this.n); this.n += a.length; }
  uint(v, width) {  // v: BigInt, big-endian in `width` bytes
    this.room(width);
    for (let i = width - 1; i >= 0; i--) { this.buf[this.n + i] = Number(v & 0xffn); v >>= 8n; }
    this.n += width;
  }
  done() { return this.buf.slice(0, this.n); }
}

// Python sorts str keys by code point; JS's default sort compares UTF-16 units.
export function compareKeys(a, b) {
  const ia = a[Symbol.iterator](); const ib = b[Symbol.iterator]();
  for (;;) {
    const x = ia.next(); const y = ib.next();
    if (x.done || y.done) return x.done === y.done ? 0 : (x.done ? -1 : 1);
    const cx = x.value.codePointAt(0); const cy = y.value.codePointAt(0);
    if (cx !== cy) return cx < cy ? -1 : 1;
  }
}

function bigintToExt(n) {
  // Two's complement in (bit_length(|n|) + 8) // 8 bytes, exactly as core/codec.py (so
  // -(2**k) takes one byte more than the shortest form: the reference decides).
  const mag = n < 0n ? -n : n;
  const bits = mag === 0n ? 0 : mag.toString(2).length;
  const length = Math.floor((bits + 8) / 8);
  if (length > MAX_BIGINT_BYTES) throw new EncodeError(`integer too large to encode (${bits} bits)`);
  let v = n < 0n ? (1n << BigInt(8 * length)) + n : n;
  const out = new Uint8Array(length);
  for (let i = length - 1; i >= 0; i--) { out[i] = Number(v & 0xffn); v >>= 8n; }
  return out;
}

function writeInt(w, v) {
  if (v >= 0n) {
    if (v <= 0x7fn) w.byte(Number(v));
    else if (v <= 0xffn) { w.byte(0xcc); w.uint(v, 1); }
    else if (v <= 0xffffn) { w.byte(0xcd); w.uint(v, 2); }
    else if (v <= 0xffffffffn) { w.byte(0xce); w.uint(v, 4); }
    else if (v <= MAX_NATIVE) { w.byte(0xcf); w.uint(v, 8); }
    else writeExt(w, EXT_BIGINT, bigintToExt(v));
  } else if (v >= -32n) w.byte(Number(v + 256n));
  else if (v >= -128n) { w.byte(0xd0); w.uint(v + 256n, 1); }
  else if (v >= -32768n) { w.byte(0xd1); w.uint(v + 65536n, 2); }
  else if (v >= -(1n << 31n)) { w.byte(0xd2); w.uint(v + (1n << 32n), 4); }
  else if (v >= MIN_NATIVE) { w.byte(0xd3); w.uint(v + (1n << 64n), 8); }
  else writeExt(w, EXT_BIGINT, bigintToExt(v));
}

function writeExt(w, type, data) {
  const fixed = { 1: 0xd4, 2: 0xd5, 4: 0xd6, 8: 0xd7, 16: 0xd8 }[data.length];
  if (fixed) w.byte(fixed);
  else if (data.length <= 0xff) { w.byte(0xc7); w.uint(BigInt(data.length), 1); }
  else if (data.length <= 0xffff) { w.byte(0xc8); w.uint(BigInt(data.length), 2); }
  else { w.byte(0xc9); w.uint(BigInt(data.length), 4); }
  w.byte(type);
  w.bytes(data);
}

function writeLength(w, n, fix, fixMax, c8, c16, c32) {
  if (n <= fixMax && fix !== null) w.byte(fix | n);
  else if (c8 !== null && n <= 0xff) { w.byte(c8); w.uint(BigInt(n), 1); }
  else if (n <= 0xffff) { w.byte(c16); w.uint(BigInt(n), 2); }
  else { w.byte(c32); w.uint(BigInt(n), 4); }
}

function isMap(v) {
  return v instanceof Map || (typeof v === 'object' && v !== null && !Array.isArray(v) &&
    !(v instanceof Uint8Array) && (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null));
}

function write(w, v, depth) {
  if (depth > MAX_DEPTH) throw new EncodeError('value nested too deeply');
  if (v === null || v === undefined) { if (v === undefined) throw new EncodeError('undefined is not a value'); w.byte(0xc0); return; }
  if (v === false) { w.byte(0xc2); return; }
  if (v === true) { w.byte(0xc3); return; }
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new EncodeError(`cannot encode the number ${v} (integers only, within 2^53; use a BigInt)`);
    writeInt(w, BigInt(v)); return;
  }
  if (typeof v === 'bigint') { writeInt(w, v); return; }
  if (typeof v === 'string') {
    const b = utf8enc.encode(v);
    writeLength(w, b.length, 0xa0, 31, 0xd9, 0xda, 0xdb); w.bytes(b); return;
  }
  if (v instanceof Uint8Array) {
    writeLength(w, v.length, null, -1, 0xc4, 0xc5, 0xc6); w.bytes(v); return;
  }
  if (Array.isArray(v)) {
    writeLength(w, v.length, 0x90, 15, null, 0xdc, 0xdd);
    for (const x of v) write(w, x, depth + 1);
    return;
  }
  if (isMap(v)) {
    const entries = v instanceof Map ? [...v.entries()] : Object.keys(v).map((k) => [k, v[k]]);
    for (const [k] of entries) if (typeof k !== 'string') throw new EncodeError('map keys must be strings');
    entries.sort((a, b) => compareKeys(a[0], b[0]));
    writeLength(w, entries.length, 0x80, 15, null, 0xde, 0xdf);
    for (const [k, x] of entries) { write(w, k, depth + 1); write(w, x, depth + 1); }
    return;
  }
  throw new EncodeError(`cannot encode a value of type ${Object.prototype.toString.call(v)}`);
}

export function encode(value) {
  const w = new Writer();
  write(w, value, 0);
  return w.done();
}

class Reader {
  constructor(data) { this.d = data; this.i = 0; }
  need(k) { if (this.i + k > this.d.length) throw new DecodeError('truncated input'); }
  byte() { this.need(1); return this.d[this.i++]; }
  uint(width) {
    this.need(width);
    let v = 0n;
    for (let k = 0; k < width; k++) v = (v << 8n) | BigInt(this.d[this.i + k]);
    this.i += width;
    return v;
  }
  take(n) { this.need(n); const out = this.d.slice(this.i, this.i + n); this.i += n; return out; }
}

function intValue(v) { return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v; }

function read(r, depth) {
  if (depth > MAX_DEPTH) throw new DecodeError('value nested too deeply');
  const b = r.byte();
  if (b <= 0x7f) return b;
  if (b >= 0xe0) return b - 256;
  if ((b & 0xf0) === 0x80) return readMap(r, b & 0x0f, depth);
  if ((b & 0xf0) === 0x90) return readArray(r, b & 0x0f, depth);
  if ((b & 0xe0) === 0xa0) return readStr(r, b & 0x1f);
  switch (b) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xc4: return r.take(Number(r.uint(1)));
    case 0xc5: return r.take(Number(r.uint(2)));
    case 0xc6: return r.take(Number(r.uint(4)));
    case 0xc7: return readExt(r, Number(r.uint(1)));
    case 0xc8: return readExt(r, Number(r.uint(2)));
    case 0xc9: return readExt(r, Number(r.uint(4)));
    case 0xcc: return intValue(r.uint(1));
    case 0xcd: return intValue(r.uint(2));
    case 0xce: return intValue(r.uint(4));
    case 0xcf: return intValue(r.uint(8));
    case 0xd0: return intValue(BigInt.asIntN(8, r.uint(1)));
    case 0xd1: return intValue(BigInt.asIntN(16, r.uint(2)));
    case 0xd2: return intValue(BigInt.asIntN(32, r.uint(4)));
    case 0xd3: return intValue(BigInt.asIntN(64, r.uint(8)));
    case 0xd4: return readExt(r, 1);
    case 0xd5: return readExt(r, 2);
    case 0xd6: return readExt(r, 4);
    case 0xd7: return readExt(r, 8);
    case 0xd8: return readExt(r, 16);
    case 0xd9: return readStr(r, Number(r.uint(1)));
    case 0xda: return readStr(r, Number(r.uint(2)));
    case 0xdb: return readStr(r, Number(r.uint(4)));
    case 0xdc: return readArray(r, Number(r.uint(2)), depth);
    case 0xdd: return readArray(r, Number(r.uint(4)), depth);
    case 0xde: return readMap(r, Number(r.uint(2)), depth);
    case 0xdf: return readMap(r, Number(r.uint(4)), depth);
    default: throw new DecodeError(`unsupported msgpack type 0x${b.toString(16)}`);  // floats, 0xc1
  }
}

function readStr(r, n) {
  try { return utf8dec.decode(r.take(n)); } catch (e) {
    if (e instanceof DecodeError) throw e;
    throw new DecodeError('string is not valid UTF-8');
  }
}

function readArray(r, n, depth) {
  if (n > r.d.length - r.i) throw new DecodeError('array longer than the input');
  const out = new Array(n);
  for (let k = 0; k < n; k++) out[k] = read(r, depth + 1);
  return out;
}

function readMap(r, n, depth) {
  if (n > r.d.length - r.i) throw new DecodeError('map longer than the input');
  const out = Object.create(null);
  for (let k = 0; k < n; k++) {
    const key = read(r, depth + 1);
    if (typeof key !== 'string') throw new DecodeError('map keys must be strings');
    if (Object.prototype.hasOwnProperty.call(out, key)) throw new DecodeError('duplicate map key');
    out[key] = read(r, depth + 1);
  }
  return out;
}

function readExt(r, n) {
  const type = r.byte();
  if (type !== EXT_BIGINT || n < 1 || n > MAX_BIGINT_BYTES) throw new DecodeError(`unsupported ext type ${type}`);
  const data = r.take(n);
  let v = 0n;
  for (const x of data) v = (v << 8n) | BigInt(x);
  return intValue(BigInt.asIntN(8 * n, v));
}

export function decode(data, maxSize = DEFAULT_MAX_SIZE) {
  if (!(data instanceof Uint8Array)) throw new DecodeError('input is not bytes');
  if (data.length > maxSize) throw new DecodeError(`input of ${data.length} bytes exceeds the limit of ${maxSize}`);
  if (data.length === 0) throw new DecodeError('empty input');
  const r = new Reader(data);
  const value = read(r, 0);
  if (r.i !== data.length) throw new DecodeError('trailing bytes');
  let again;
  try { again = encode(value); } catch (e) { throw new DecodeError(`undecodable input: ${e.message}`); }
  if (again.length !== data.length || again.some((x, k) => x !== data[k])) throw new DecodeError('not the canonical encoding');
  return value;
}
