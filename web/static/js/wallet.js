// The resident's wallet for this tab: which key is in use (its address is public and
// kept), whether it is unlocked (a non-extractable signing key in memory only, gone on
// reload or "lock"), and the roles it holds on chain (plus "validator" for a key of the
// validator set in force).

import { listKeys, putKey, removeKey } from './keystore.js';
import { generateSeed, keyFile, keyFromSeed, boxKeyFromSeed, seedFromKeyFile, isEncrypted, KeyError } from './keys.js';
import { rpc } from './rpc.js';

const CURRENT = 'hkchain.current_address';
export const MIN_PASSPHRASE_CHARS = 8;

// The signing key of a seed, and the X25519 key that opens cards sealed to it (null in a
// browser without WebCrypto X25519: only the console needs it).
async function unlockedKey(seed) {
  const key = await keyFromSeed(seed);
  try { key.boxKey = await boxKeyFromSeed(seed); } catch { key.boxKey = null; }
  return key;
}

export class Wallet {
  constructor() {
    this.records = [];
    this.address = null;
    this.unlocked = null;   // {privateKey, publicKey, address, boxKey}
    this.roles = new Set();
    this.rolesOf = null;  // the address whose roles `roles` are
    this.listeners = new Set();
  }

  async load() {
    this.records = await listKeys();
    const want = localStorage.getItem(CURRENT);
    const rec = this.records.find((r) => r.address === want) || this.records[0];
    this.address = rec ? rec.address : null;
    await this.refreshRoles();
  }

  record() { return this.records.find((r) => r.address === this.address) || null; }
  hasKey() { return this.address !== null; }
  isUnlocked() { return this.unlocked !== null && this.unlocked.address === this.address; }

  changed() { for (const fn of this.listeners) fn(); }

  // The roles are read into a new set and put in place at once: a page drawn while they
  // are being read again sees the old ones, never none.
  async refreshRoles() {
    const address = this.address;
    const roles = new Set();
    if (address) {
      try {
        const [{ result }, status] = await Promise.all([rpc.query('roles', 'roles_of', [address]),
          rpc.status().catch(() => null)]);
        if (Array.isArray(result)) for (const r of result) roles.add(r);
        // A key of the validator set in force may propose and vote on chain matters.
        if (status && (status.validators || []).some((v) => v.address === address)) roles.add('validator');
      } catch {
        // The node may be down: the roles show once it answers; a key keeps those last read.
        if (this.rolesOf === address) return;
      }
    }
    if (this.address !== address) return;  // another key was chosen meanwhile
    this.roles = roles;
    this.rolesOf = address;
  }

  // Keep the roles in step with the chain while the app is open: a role granted to or
  // revoked from this key (roles' RoleGranted/RoleRevoked events) is read again, and the
  // listeners are told when the roles changed (the navigation then shows or drops the
  // console's pages, and the router leaves a page the key no longer opens). After a
  // (re)connect the roles are read again, since events may have been missed.
  follow(live) {
    const again = async () => {
      const before = [...this.roles].sort().join(',');
      await this.refreshRoles();
      if ([...this.roles].sort().join(',') !== before) this.changed();
    };
    return live.on({}, (msg) => {
      if (!this.address) return;
      const mine = msg.type === 'event' && msg.contract === 'roles' && (msg.name === 'RoleGranted' || msg.name === 'RoleRevoked')
        && msg.fields && msg.fields.address === this.address;
      // A new validator set in force gives or takes the 'validator' role.
      const set = msg.type === 'validators' && msg.in_force;
      if (mine || set || msg.type === 'connected') again().catch(() => {});
    });
  }

  static checkPassphrase(p) {
    if (typeof p !== 'string' || [...p].length < MIN_PASSPHRASE_CHARS) throw new KeyError('passphrase_short');
  }

  async adopt(seed, passphrase, label, file = null) {
    const sealed = file && isEncrypted(file) ? file : await keyFile(seed, passphrase);
    const key = await unlockedKey(seed);
    seed.fill(0);
    const rec = { address: key.address, label: label || '', file: sealed, created_ms: Date.now() };
    await putKey(rec);
    this.records = await listKeys();
    this.address = key.address;
    this.unlocked = key;
    localStorage.setItem(CURRENT, key.address);
    await this.refreshRoles();
    this.changed();
    return key.address;
  }

  // A new key from WebCrypto, sealed under `passphrase`.
  async create(passphrase, label) {
    Wallet.checkPassphrase(passphrase);
    return this.adopt(await generateSeed(), passphrase, label);
  }

  // A CLI key file: an encrypted one is kept as it is (its passphrase opens it); a plain
  // one is sealed under the new passphrase first.
  async importFile(doc, passphrase, label) {
    if (isEncrypted(doc)) {
      const seed = await seedFromKeyFile(doc, passphrase);
      return this.adopt(seed, passphrase, label, doc);
    }
    Wallet.checkPassphrase(passphrase);
    return this.adopt(await seedFromKeyFile(doc), passphrase, label);
  }

  async unlock(passphrase) {
    const rec = this.record();
    if (!rec) throw new KeyError('no_key');
    const seed = await seedFromKeyFile(rec.file, passphrase);
    this.unlocked = await unlockedKey(seed);
    seed.fill(0);
    this.changed();
  }

  lock() { this.unlocked = null; this.changed(); }

  async use(address) {
    this.address = address; this.unlocked = null;
    localStorage.setItem(CURRENT, address);
    await this.refreshRoles();
    this.changed();
  }

  async forget(address) {
    await removeKey(address);
    this.records = await listKeys();
    if (this.address === address) {
      this.unlocked = null;
      this.address = this.records.length ? this.records[0].address : null;
      if (this.address) localStorage.setItem(CURRENT, this.address); else localStorage.removeItem(CURRENT);
    }
    await this.refreshRoles();
    this.changed();
  }

  // The key file to save as a backup: the encrypted file, as kept (never the seed).
  exportFile() {
    const rec = this.record();
    return rec ? JSON.stringify(rec.file, null, 2) + '\n' : null;
  }
}
