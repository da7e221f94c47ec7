// The node's public RPC, as any wallet sees it. Errors come back as RpcError with the
// node's stable code, which the pages turn into a catalogue message (error.<code>).

export class RpcError extends Error {
  constructor(code, message, status = 0, extra = {}) {
    super(message);
    this.code = code;
    this.status = status;
    this.extra = extra;
  }
}

async function answer(resp) {
  let doc = null;
  try { doc = await resp.json(); } catch { doc = null; }
  if (!resp.ok) {
    const err = doc && doc.error ? doc.error : { code: `http_${resp.status}`, message: resp.statusText };
    throw new RpcError(err.code, err.message, resp.status, doc || {});
  }
  return doc;
}

async function call(path, init) {
  let resp;
  try {
    resp = await fetch(path, { credentials: 'omit', cache: 'no-store', ...init });
  } catch (e) {
    throw new RpcError('network', String(e && e.message || e));
  }
  return answer(resp);
}

export function getJson(path) { return call(path, { method: 'GET' }); }

export function postJson(path, body) {
  return call(path, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  });
}

export function postBytes(path, bytes, contentType = 'application/octet-stream') {
  return call(path, { method: 'POST', headers: { 'Content-Type': contentType }, body: bytes });
}

export const rpc = {
  status: () => getJson('/v1/status'),
  block: (which) => getJson(`/v1/blocks/${which}`),
  account: (address) => getJson(`/v1/accounts/${encodeURIComponent(address)}`),
  tx: (hashHex) => getJson(`/v1/txs/${hashHex}`),
  query: (contract, method, args = []) => postJson('/v1/query', { contract, method, args }),
  proof: (keyHex, height) => getJson(`/v1/proofs/${keyHex}${height === undefined ? '' : `?height=${height}`}`),
  submit: (signedHex) => postJson('/v1/txs', { tx: signedHex }),
  simulate: (signedHex) => postJson('/v1/txs/simulate', { tx: signedHex }),
};
