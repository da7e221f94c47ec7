// Where keys are kept: IndexedDB of this origin, one record per key, holding the CLI's
// key file *encrypted* under the resident's passphrase (Argon2id + XSalsa20-Poly1305).
// No seed is ever stored in the clear, in IndexedDB, localStorage or anywhere else.

const DB = 'hkchain-wallet';
const STORE = 'keys';

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'address' });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run(mode, fn) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req && req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally { db.close(); }
}

// [{address, label, file, created_ms}]
export function listKeys() { return run('readonly', (s) => s.getAll()); }

export function putKey(record) {
  if (!record.file || !record.file.encryption || 'seed' in record.file) {
    throw Object.assign(new Error('only encrypted key files are kept'), { code: 'key_not_encrypted' });
  }
  return run('readwrite', (s) => s.put(record));
}

export function removeKey(address) { return run('readwrite', (s) => s.delete(address)); }
