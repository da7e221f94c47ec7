// Transactions as core/types.py defines them: a Tx is the list
//   [1, chain_id, sender (32-byte public key), nonce, contract, method, args, max_fee,
//    expiry_height]
// its hash is SHA-256("hkchain/tx/1\0" || canonical bytes), the sender signs that hash
// with Ed25519, and a SignedTx is [2, tx, signature]. The node takes the SignedTx's
// canonical bytes as hex: POST /v1/txs {"tx": hex}.

import { encode } from './codec.js';
import { DOMAIN_TX, taggedHash, toHex } from './bytes.js';
import { sign } from './keys.js';

export const TAG_TX = 1;
export const TAG_SIGNED_TX = 2;
export const MAX_TX_BYTES = 64 * 1024;

export function txValue({ chainId, sender, nonce, contract, method, args = [], maxFee, expiryHeight }) {
  return [TAG_TX, chainId, sender, nonce, contract, method, args, maxFee, expiryHeight];
}

export async function txHash(tx) { return taggedHash(DOMAIN_TX, encode(tx)); }

// {hash, signed (canonical bytes of the SignedTx), hex}
export async function signTx(tx, privateKey) {
  const hash = await txHash(tx);
  const signature = await sign(privateKey, hash);
  const signed = encode([TAG_SIGNED_TX, tx, signature]);
  if (signed.length > MAX_TX_BYTES + 128) throw Object.assign(new Error('tx too large'), { code: 'too_large' });
  return { hash, hashHex: toHex(hash), signed, hex: toHex(signed), signature };
}
