import { readFileSync } from 'node:fs';
import { Metadata, TypeRegistry } from '@polkadot/types';
import { expandMetadata } from '@polkadot/types/metadata/decorate';
import type { DecoratedMeta } from '@polkadot/types/metadata/decorate/types';
import { CESS_SIGNED_EXTENSIONS } from '../runtime.ts';

/**
 * CESS runtime metadata checked in for offline tests: spec 137 (the current network, from cess-rust-sdk) and
 * spec 100 (the 2024-09 devnet runtime that chopsticks runs). Metadata only: the runtime itself is never committed.
 */
export const FIXTURES = {
  137: new URL('./metadata/cess-spec137.scale', import.meta.url),
  100: new URL('./metadata/cess-devnet-spec100.scale', import.meta.url),
} as const;

export type FixtureSpec = keyof typeof FIXTURES;

export function metadataHex(spec: FixtureSpec): `0x${string}` {
  return `0x${readFileSync(FIXTURES[spec]).toString('hex')}`;
}

/** A registry built from a fixture the way the adapter's ApiPromise builds it (CESS's signed extension included). */
export function fixtureRegistry(spec: FixtureSpec): { registry: TypeRegistry; metadata: Metadata; decorated: DecoratedMeta } {
  const registry = new TypeRegistry();
  const metadata = new Metadata(registry, metadataHex(spec));
  registry.setMetadata(metadata, undefined, CESS_SIGNED_EXTENSIONS);
  return { registry, metadata, decorated: expandMetadata(registry, metadata) };
}
