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

type Fixture = ReturnType<typeof fixtureRegistry>;

/** The SCALE bytes of event `section.method` with `values` (field order), built from the fixture's metadata. */
export function eventBytes(f: Fixture, section: string, method: string, values: unknown[]): Uint8Array {
  const ev = (f.decorated.events as unknown as Record<string, Record<string, { meta: { index: { toNumber(): number }; fields: { type: { toNumber(): number } }[] } }>>)[section]?.[method];
  if (!ev) throw new Error(`metadata has no event ${section}.${method}`);
  const pallet = f.metadata.asLatest.pallets.find((p) => p.name.toString().replace(/^./, (c) => c.toLowerCase()) === section);
  if (!pallet) throw new Error(`metadata has no pallet ${section}`);
  const fields = ev.meta.fields.map((fld, i) => f.registry.createTypeUnsafe(f.registry.createLookupType(fld.type.toNumber()), [values[i]]).toU8a());
  return Uint8Array.from([pallet.index.toNumber(), ev.meta.index.toNumber(), ...fields.flatMap((x) => [...x])]);
}

/** `System.Events` as stored: records of (extrinsic index or null for block hooks, section, method, values). */
export function eventRecords(f: Fixture, events: [number | null, string, string, unknown[]][]): Uint8Array {
  const records = events.map(([phase, section, method, values]) => ({
    phase: phase === null ? { Finalization: null } : { ApplyExtrinsic: phase },
    event: f.registry.createType('Event', eventBytes(f, section, method, values)),
    topics: [],
  }));
  return f.registry.createType('Vec<EventRecord>', records).toU8a();
}
