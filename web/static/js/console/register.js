// The committee's sealed register on the node (docs/RPC.md, /v1/register/…): every
// request signed with the member's unlocked key (docs/PROTOCOL.md "Signed register
// requests"). Only sealed records travel; the node answers refusals with stable codes.

import { encode } from '../codec.js';
import { concat, randomBytes, sha256, toHex, utf8 } from '../bytes.js';
import { sign } from '../keys.js';
import { rpc, RpcError } from '../rpc.js';

const DOMAIN = utf8('hkchain/register-request/1\0');
let chainId = null;

async function signedFetch(key, method, path, body) {
  if (!key) throw new RpcError('locked', 'unlock the key first');
  if (chainId === null) chainId = (await rpc.status()).chain_id;
  const bytes = body === undefined ? new Uint8Array(0) : utf8(JSON.stringify(body));
  const time = Date.now();
  const nonce = randomBytes(16);
  const msg = concat(DOMAIN, encode([chainId, method, path, await sha256(bytes), time, nonce]));
  const signature = await sign(key.privateKey, msg);
  const headers = {
    'X-Hkchain-Key': toHex(key.publicKey), 'X-Hkchain-Time': String(time),
    'X-Hkchain-Nonce': toHex(nonce), 'X-Hkchain-Signature': toHex(signature),
  };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(path, { method, headers, body: body === undefined ? undefined : bytes, credentials: 'omit', cache: 'no-store' });
  } catch (e) {
    throw new RpcError('network', String(e && e.message || e));
  }
  let doc = null;
  try { doc = await resp.json(); } catch { doc = null; }
  if (!resp.ok) {
    const err = doc && doc.error ? doc.error : { code: `http_${resp.status}`, message: resp.statusText };
    throw new RpcError(err.code, err.message, resp.status, doc || {});
  }
  return doc;
}

const q = (params) => {
  const parts = Object.entries(params).filter(([, v]) => v !== undefined && v !== '').map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  return parts.length ? `?${parts.join('&')}` : '';
};

export const register = {
  members: (key) => signedFetch(key, 'GET', '/v1/register/members'),
  records: (key, { household, after, limit } = {}) => signedFetch(key, 'GET', `/v1/register/records${q({ household, after, limit })}`),
  read: (key, commitment, purpose) => signedFetch(key, 'GET', `/v1/register/records/${commitment}${q({ purpose })}`),
  put: (key, record) => signedFetch(key, 'PUT', `/v1/register/records/${record.commitment}`, record),
  remove: (key, commitment) => signedFetch(key, 'DELETE', `/v1/register/records/${commitment}`),
  erase: (key, commitment) => signedFetch(key, 'POST', `/v1/register/records/${commitment}/erase`),
  log: (key, { household, limit } = {}) => signedFetch(key, 'GET', `/v1/register/log${q({ household, limit })}`),
  note: (key, purpose, commitment) => signedFetch(key, 'POST', '/v1/register/log', commitment ? { purpose, commitment } : { purpose }),
};

// Every record's metadata (paged by commitment).
export async function allRecords(key, household) {
  const out = [];
  let after = '';
  for (let guard = 0; guard < 200; guard++) {
    const page = await register.records(key, { household, after, limit: 500 });
    out.push(...page.records);
    if (!page.next) break;
    after = page.next;
  }
  return out;
}

// The members' public keys to seal to: the register's members and the writer.
export async function sealingKeys(key) {
  const { members } = await register.members(key);
  const keys = new Map(members.map((m) => [m.public_key, m]));
  keys.set(toHex(key.publicKey), null);
  return [...keys.keys()];
}
