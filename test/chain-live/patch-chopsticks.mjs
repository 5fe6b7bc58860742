#!/usr/bin/env node
// Makes @acala-network/chopsticks-core (tested with 1.1.0) build blocks for the CESS runtime, for the live chain
// suite (docs/chain.md). Usage: node test/chain-live/patch-chopsticks.mjs <dir containing node_modules>
//
// Why: CESS's consensus pallet is a BABE fork named `Babe` in metadata whose pre-runtime digest is tagged with the
// engine id `RRSC`; chopsticks writes a `BABE` digest, and the runtime then panics on the slot check. We write
// `RRSC` with a SecondaryVRF pre-digest (a plain one leaves the VRF randomness empty, so territory tokens repeat),
// advance its slot like BABE's, and use one wall-clock "now" per parent block (reading Date.now() twice made
// block #1 fail now and then when the genesis has no timestamp). Idempotent: a patched file is left alone.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const root = process.argv[2];
if (!root) {
  console.error('usage: patch-chopsticks.mjs <dir containing node_modules/@acala-network/chopsticks-core>');
  process.exit(2);
}
const core = join(root, 'node_modules', '@acala-network', 'chopsticks-core', 'dist');
const MARK = '/* deoss: cess rrsc patch */';

const blockBuilder = [
  ["meta.registry.createType('ConsensusEngineId', 'BABE')", "meta.registry.createType('ConsensusEngineId', deossIsRrsc(meta) ? 'RRSC' : 'BABE')"],
  ['authorityIndex: 514,', 'authorityIndex: deossIsRrsc(meta) ? 0 : 514,'],
  ['consensus?.consensusEngine.isBabe)', "consensus?.consensusEngine.isBabe || consensus?.consensusEngine?.toString() === 'RRSC')"],
];
const blockBuilderTail = `
${MARK}
const deossRrsc = new WeakMap();
function deossIsRrsc(meta) {
  if (!deossRrsc.has(meta)) deossRrsc.set(meta, meta.registry.lookup.types.some((t) => t.type.path.some((p) => p.toString().toLowerCase().includes('rrsc'))));
  return deossRrsc.get(meta);
}
`;
const utils = [['return timestamp?.toBigInt() ?? BigInt(Date.now());', 'return timestamp?.toBigInt() ?? deossNow(head);']];
const utilsTail = `
${MARK}
const deossNowByHead = new WeakMap();
function deossNow(head) {
  if (!deossNowByHead.has(head)) deossNowByHead.set(head, BigInt(Date.now()));
  return deossNowByHead.get(head);
}
`;

function patch(file, replacements, tail) {
  let text = readFileSync(file, 'utf8');
  if (text.includes(MARK)) return `${file}: already patched`;
  for (const [from, to] of replacements) {
    if (!text.includes(from)) throw new Error(`${file}: expected text not found (another chopsticks version?): ${from}`);
    text = text.split(from).join(to);
  }
  writeFileSync(file, text + tail);
  return `${file}: patched`;
}

for (const flavour of ['esm', 'cjs']) {
  console.log(patch(join(core, flavour, 'blockchain', 'block-builder.js'), blockBuilder, blockBuilderTail));
  console.log(patch(join(core, flavour, 'utils', 'index.js'), utils, utilsTail));
}
