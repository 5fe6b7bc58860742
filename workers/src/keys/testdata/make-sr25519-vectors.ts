// Generates sr25519-vectors.json with the reference implementation (@polkadot/keyring, schnorrkel in WASM), so
// the edge's pure-JS verifier is checked against signatures it did not produce. Run from the repository root:
//   npx node workers/src/keys/testdata/make-sr25519-vectors.ts > workers/src/keys/testdata/sr25519-vectors.json
import { Keyring } from '@polkadot/keyring';
import { base58Encode, cryptoWaitReady, encodeAddress } from '@polkadot/util-crypto';

await cryptoWaitReady();
const keyring = new Keyring({ type: 'sr25519', ss58Format: 11330 });
const text = new TextEncoder();
const u8aToHex = (b: Uint8Array) => `0x${Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('')}`;
// What polkadot.js extensions' signRaw signs.
const u8aWrapBytes = (message: string) => text.encode(`<Bytes>${message}</Bytes>`);

const accounts = ['//Alice', '//Bob', 'bottom drive obey lake curtain smoke basket hold race lonely fit walk//deoss/test'].map((uri) => {
  const pair = keyring.addFromUri(uri);
  return { uri, pair, publicKey: u8aToHex(pair.publicKey), cess: encodeAddress(pair.publicKey, 11330), generic: encodeAddress(pair.publicKey, 42) };
});

// A fixed key-management proof (see ../proof-message.ts), valid for 10 minutes before its expiry.
const alice = accounts[0];
const expiry = 1_900_000_000;
const proofs = ['keys.create', 'keys.list', 'keys.revoke.DOSSAAAAAAAAAAAAAAAA'].map((purpose) => {
  const message = `${alice.cess}:${purpose}:edge.test:${expiry}`;
  return {
    purpose,
    message,
    signatureHex: u8aToHex(alice.pair.sign(text.encode(message))),
    wrappedSignatureHex: u8aToHex(alice.pair.sign(u8aWrapBytes(message))),
  };
});

const vectors = {
  generator: '@polkadot/keyring sr25519 (workers/src/keys/testdata/make-sr25519-vectors.ts)',
  accounts: accounts.map(({ uri, publicKey, cess, generic }) => ({ uri, publicKey, cess, generic })),
  signatures: accounts.map(({ pair, cess }) => {
    const message = `hello from ${cess}`;
    const sig = pair.sign(text.encode(message));
    return { account: cess, message, signatureHex: u8aToHex(sig), signatureBase58: base58Encode(sig), wrappedSignatureHex: u8aToHex(pair.sign(u8aWrapBytes(message))) };
  }),
  proof: { account: alice.cess, generic: alice.generic, audience: 'edge.test', expiry, proofs },
};
console.log(JSON.stringify(vectors, null, 2));
