"""Values passed between the tests and the page: a tagged JSON form that keeps ints of any
size, bytes and strs apart (plain JSON cannot), with its converters on both sides."""

from __future__ import annotations

from typing import Any

from core.codec import Value

# Defines fromTagged/toTagged in the page; evaluate it before using them.
JS_TAGGED = """() => {
globalThis.fromTagged = function fromTagged(t) {
  switch (t.t) {
    case 'nil': return null;
    case 'bool': return t.v;
    case 'int': { const b = BigInt(t.v); return (b >= -9007199254740991n && b <= 9007199254740991n) ? Number(b) : b; }
    case 'str': return t.v;
    case 'bytes': { const s = t.v; const o = new Uint8Array(s.length / 2);
      for (let i = 0; i < o.length; i++) o[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16); return o; }
    case 'list': return t.v.map(fromTagged);
    case 'map': { const o = {}; for (const [k, v] of t.v) o[k] = fromTagged(v); return o; }
  }
  throw new Error('bad tag ' + t.t);
};
globalThis.toTagged = function toTagged(v) {
  if (v === null) return { t: 'nil' };
  if (typeof v === 'boolean') return { t: 'bool', v };
  if (typeof v === 'number' || typeof v === 'bigint') return { t: 'int', v: String(v) };
  if (typeof v === 'string') return { t: 'str', v };
  if (v instanceof Uint8Array) return { t: 'bytes', v: Array.from(v, (b) => b.toString(16).padStart(2, '0')).join('') };
  if (Array.isArray(v)) return { t: 'list', v: v.map(toTagged) };
  return { t: 'map', v: Object.keys(v).sort().map((k) => [k, toTagged(v[k])]) };
};
}
"""


def to_tagged(v: Any) -> dict[str, Any]:
    if v is None:
        return {"t": "nil"}
    if isinstance(v, bool):
        return {"t": "bool", "v": v}
    if isinstance(v, int):
        return {"t": "int", "v": str(v)}
    if isinstance(v, str):
        return {"t": "str", "v": v}
    if isinstance(v, bytes):
        return {"t": "bytes", "v": v.hex()}
    if isinstance(v, list | tuple):
        return {"t": "list", "v": [to_tagged(x) for x in v]}
    if isinstance(v, dict):
        return {"t": "map", "v": [[k, to_tagged(v[k])] for k in sorted(v)]}
    raise TypeError(type(v))


def from_tagged(t: dict[str, Any]) -> Value:
    kind = t["t"]
    if kind == "nil":
        return None
    if kind == "bool":
        return bool(t["v"])
    if kind == "int":
        return int(t["v"])
    if kind == "str":
        return str(t["v"])
    if kind == "bytes":
        return bytes.fromhex(t["v"])
    if kind == "list":
        return [from_tagged(x) for x in t["v"]]
    if kind == "map":
        return {k: from_tagged(x) for k, x in t["v"]}
    raise ValueError(kind)
