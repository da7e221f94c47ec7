// The light client: believes a header only with a certificate of the right validator set,
// and a value only with a state proof against a believed header (verify.js has the
// checks; this module fetches and keeps what is believed).
//
// Trust anchor: the genesis block's hash. `hkchain localnet` prints the app's address with
// `#genesis=<hash>`; the app pins it for this origin. Opened without one, the app pins the
// genesis the node reports on first use and says so. A node of another genesis is refused.
// The genesis validator set is the one whose hash genesis' header names; a later set is
// learned with a state proof of `sys/validators` against a header the previous set
// certified (changes take effect two heights after they are decided).

import { rpc } from './rpc.js';
import { decode } from './codec.js';
import { fromHex, toHex, taggedHash, equal, utf8, DOMAIN_HEADER } from './bytes.js';
import {
  decodeHeader, decodeCertificate, verifyCertificate, validatorSetHash, decodeStateProof,
  verifyStateProof, VerifyError,
} from './verify.js';

const PIN_KEY = 'hkchain.genesis';
const MAX_SET_CHANGES = 32;
export const VALIDATORS_KEY = utf8('sys/validators');

export function pinnedGenesis() { return localStorage.getItem(PIN_KEY); }

export function pinFromUrl() {
  const m = /(?:^#|[&#])genesis=([0-9a-f]{64})/.exec(location.hash);
  if (m) {
    localStorage.setItem(PIN_KEY, m[1]);
    history.replaceState(null, '', location.pathname + location.search + '#/');
    return m[1];
  }
  return null;
}

export class LightClient {
  constructor() {
    this.chainId = null;
    this.genesisHash = null;
    this.firstUse = false;
    this.sets = [];        // [{from: height, validators, hash (hex)}], ascending
    this.head = null;      // the newest believed header {height, hash, stateRoot, timestampMs}
    this.headers = new Map();
    this.ready = null;
  }

  start() {
    if (!this.ready) this.ready = this.init().catch((e) => { this.ready = null; throw e; });
    return this.ready;
  }

  async init() {
    const status = await rpc.status();
    let pin = pinnedGenesis();
    if (!pin) {
      pin = status.genesis_hash;
      localStorage.setItem(PIN_KEY, pin);
      this.firstUse = true;
    }
    const block = await rpc.block(0);
    const encoded = fromHex(block.header.encoded);
    const hash = toHex(await taggedHash(DOMAIN_HEADER, encoded));
    if (hash !== pin) throw new VerifyError('wrong_genesis', 'this node serves another chain');
    const header = decodeHeader(encoded);
    if (header.height !== 0) throw new VerifyError('wrong_genesis', 'block 0 is not at height 0');
    this.chainId = header.chainId;
    this.genesisHash = pin;
    // The genesis set: whichever set offered hashes to what genesis' header names — the
    // node's current set, or an entry of its validator schedule (kept for the last
    // changes); the hash authenticates it, whoever sent it. Later sets are then learnt
    // only through certified headers and proofs (learnSetChange).
    const wanted = toHex(header.validatorSetHash);
    let genesisSet = null;
    const offered = (status.validators || []).map((v) => ({ publicKey: fromHex(v.public_key), name: v.name || '' }));
    if (toHex(await validatorSetHash(offered)) === wanted) genesisSet = offered;
    if (!genesisSet) {
      const doc = await rpc.proof(toHex(VALIDATORS_KEY));
      const schedule = doc.value ? decode(fromHex(doc.value)) : [];
      for (const entry of Array.isArray(schedule) ? schedule : []) {
        const vals = (entry[1] || []).map(([pk, name]) => ({ publicKey: pk, name }));
        if (toHex(await validatorSetHash(vals)) === wanted) { genesisSet = vals; break; }
      }
    }
    if (!genesisSet) {
      throw new VerifyError('validators_changed', 'the genesis validator set is no longer known to this node');
    }
    this.sets = [{ from: 0, validators: genesisSet, hash: wanted }];
    this.headers.set(0, { height: 0, hash, stateRoot: header.stateRoot, timestampMs: header.timestampMs });
  }

  setFor(height) {
    let s = this.sets[0];
    for (const x of this.sets) if (x.from <= height) s = x;
    return s;
  }

  // Fetch and check the header at `height` (a number or 'latest'): {height, hash, stateRoot, timestampMs}.
  async header(which = 'latest') {
    await this.start();
    if (typeof which === 'number' && this.headers.has(which)) return this.headers.get(which);
    const block = await rpc.block(which);
    return this.believe(block);
  }

  async believe(block, depth = 0) {
    const encoded = fromHex(block.header.encoded);
    const header = decodeHeader(encoded);
    const hash = await taggedHash(DOMAIN_HEADER, encoded);
    if (header.chainId !== this.chainId) throw new VerifyError('wrong_chain');
    if (header.height === 0) {
      if (toHex(hash) !== this.genesisHash) throw new VerifyError('wrong_genesis');
      return this.headers.get(0);
    }
    if (!block.certificate) throw new VerifyError('no_certificate');
    const cert = decodeCertificate(fromHex(block.certificate.encoded));
    if (cert.height !== header.height || !equal(cert.blockHash, hash)) throw new VerifyError('bad_certificate', 'certificate is for another block');
    let set = this.setFor(header.height);
    if (set.hash !== toHex(header.validatorSetHash)) {
      if (depth > MAX_SET_CHANGES) throw new VerifyError('validators_changed');
      await this.learnSetChange(header.height);
      return this.believe(block, depth + 1);
    }
    await verifyCertificate(cert, this.chainId, set.validators);
    const out = { height: header.height, hash: toHex(hash), stateRoot: header.stateRoot, timestampMs: header.timestampMs };
    this.headers.set(out.height, out);
    if (this.headers.size > 512) this.headers.delete(this.headers.keys().next().value);
    if (!this.head || out.height > this.head.height) this.head = out;
    return out;
  }

  // The set changed somewhere at or below `height`: find the first height whose header
  // names another set (bisection over the headers), believe the header just before it
  // with the set we know, and read the schedule from its state with a proof.
  async learnSetChange(height) {
    const known = this.sets[this.sets.length - 1];
    let lo = known.from; let hi = height;  // header lo names known set; header hi does not
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      const b = await rpc.block(mid);
      if (b.header.validator_set_hash === known.hash) lo = mid; else hi = mid;
    }
    const before = lo === 0 ? this.headers.get(0) : await this.believe(await rpc.block(lo));
    const { value } = await this.proveAt(VALIDATORS_KEY, before);
    const schedule = value === null ? null : decode(value);
    if (!Array.isArray(schedule)) throw new VerifyError('validators_changed', 'no validator schedule in state');
    for (const [from, members] of schedule) {
      if (from <= known.from || from > hi) continue;
      const validators = members.map(([pk, name]) => ({ publicKey: pk, name }));
      this.sets.push({ from, validators, hash: toHex(await validatorSetHash(validators)) });
    }
    if (this.sets[this.sets.length - 1] === known) throw new VerifyError('validators_changed', 'the schedule does not explain the change');
  }

  async proveAt(key, header) {
    const doc = await rpc.proof(toHex(key), header.height);
    const value = doc.value === null ? null : fromHex(doc.value);
    const proof = decodeStateProof(fromHex(doc.proof_encoded));
    if (!(await verifyStateProof(header.stateRoot, key, value, proof))) throw new VerifyError('bad_proof', 'the state proof does not verify');
    return { value, height: header.height };
  }

  // A state value proved against the newest believed header: {value (decoded or null),
  // height, verified: true}. Throws VerifyError if anything fails to check.
  async prove(keyText) {
    const header = await this.header('latest');
    const { value, height } = await this.proveAt(utf8(keyText), header);
    return { value: value === null ? null : decode(value), height, timeMs: header.timestampMs, verified: true };
  }
}

// The state keys of "yours" values (PROTOCOL.md section 7).
export const stateKeys = {
  balance: (address) => `c/token/s/b:${address}`,
  vote: (pid, address) => `c/governance/s/v:${pid}:${address}`,
  tally: (pid) => `c/governance/s/t:${pid}`,
  bill: (id) => `c/property/s/bill:${id}`,
  role: (role, address) => `c/roles/s/r:${role}:${address}`,
};
