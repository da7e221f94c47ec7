// Content kept off chain by hash (culture works, notice and proposal texts): uploaded to
// the node's blob store, and checked against the on-chain hash whenever read back, so a
// node cannot swap a work or a text.

import { sha256, toHex, fromUtf8, utf8 } from './bytes.js';
import { RpcError } from './rpc.js';

export const MAX_BLOB_BYTES = 10 * 1024 * 1024;

export async function upload(bytes) {
  if (bytes.length > MAX_BLOB_BYTES) throw new RpcError('too_large', '');
  const hash = await sha256(bytes);
  const resp = await fetch('/v1/blobs', { method: 'POST', credentials: 'omit', body: bytes,
    headers: { 'Content-Type': 'application/octet-stream' } });
  let doc = null;
  try { doc = await resp.json(); } catch { doc = null; }
  if (!resp.ok) throw new RpcError(doc && doc.error ? doc.error.code : `http_${resp.status}`, '', resp.status);
  if (!doc || doc.hash !== toHex(hash)) throw new RpcError('blob_mismatch', '');
  return hash;
}

export async function uploadText(text) { return upload(utf8(text)); }

// The bytes of `hashHex`, verified; RpcError not_found / blob_mismatch otherwise.
export async function fetchVerified(hashHex) {
  const resp = await fetch(`/v1/blobs/${hashHex}`, { credentials: 'omit' });
  if (!resp.ok) throw new RpcError(resp.status === 404 ? 'blob_missing' : `http_${resp.status}`, '', resp.status);
  const bytes = new Uint8Array(await resp.arrayBuffer());
  if (toHex(await sha256(bytes)) !== hashHex) throw new RpcError('blob_mismatch', '');
  return bytes;
}

export async function fetchText(hashHex) { return fromUtf8(await fetchVerified(hashHex)); }

// The picture type of an image's first bytes, or null if it is not one we show.
export function imageType(bytes) {
  const b = bytes;
  if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg';
  if (b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'image/png';
  if (b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46) return 'image/gif';
  if (b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 && b[8] === 0x57 && b[9] === 0x45) return 'image/webp';
  return null;
}

// Also SVG, for showing only: inside <img> an SVG runs no script and loads nothing.
export function shownImageType(bytes) {
  const known = imageType(bytes);
  if (known) return known;
  const head = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, 512)).trimStart();
  return head.startsWith('<svg') || (head.startsWith('<?xml') && head.includes('<svg')) ? 'image/svg+xml' : null;
}
