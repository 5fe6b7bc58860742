import type { AccessKeySecret } from './account-directory.ts';
import { accountDirectory, type NamespaceBindings } from './env.ts';
import { TtlMap } from './ttl-map.ts';

/**
 * An in-isolate cache in front of AccountDirectory.lookupSecret, so S3 requests do not all queue on the single
 * directory object. A revoked key keeps working in an isolate for at most ACCESS_KEY_CACHE_TTL_MS (other
 * isolates) — revocations made through this isolate's cache are dropped at once with invalidate().
 */

/** How long a found key is trusted before asking the directory again: the revocation delay, at worst. */
export const ACCESS_KEY_CACHE_TTL_MS = 30_000;
/** How long "no such key" is remembered (short: a key created elsewhere becomes usable within this). */
export const ACCESS_KEY_NEGATIVE_TTL_MS = 2_000;
/** Entries kept per isolate; the oldest go first. */
export const ACCESS_KEY_CACHE_MAX_ENTRIES = 10_000;

export interface AccessKeyCacheOptions {
  ttlMs?: number;
  negativeTtlMs?: number;
  maxEntries?: number;
  now?: () => number;
}

export class AccessKeyCache {
  /** `null`: the directory said there is no such key. */
  readonly #entries: TtlMap<AccessKeySecret | null>;
  readonly #ttl: number;
  readonly #negativeTtl: number;
  #generation = 0;

  constructor(options: AccessKeyCacheOptions = {}) {
    this.#ttl = options.ttlMs ?? ACCESS_KEY_CACHE_TTL_MS;
    this.#negativeTtl = options.negativeTtlMs ?? ACCESS_KEY_NEGATIVE_TTL_MS;
    this.#entries = new TtlMap({ maxEntries: options.maxEntries ?? ACCESS_KEY_CACHE_MAX_ENTRIES, now: options.now });
  }

  /**
   * The key's secret, from the cache or from `load`. Misses are not coalesced across requests: Workers must not
   * await a promise another request's I/O resolves.
   */
  async get(accessKeyId: string, load: (accessKeyId: string) => Promise<AccessKeySecret | undefined>): Promise<AccessKeySecret | undefined> {
    const hit = this.#entries.get(accessKeyId);
    if (hit !== undefined) return hit ?? undefined;
    const generation = this.#generation;
    const value = await load(accessKeyId);
    // An invalidate() while the load was in flight may mean the answer predates a revocation: do not keep it.
    if (generation === this.#generation) this.#entries.set(accessKeyId, value ?? null, value ? this.#ttl : this.#negativeTtl);
    return value;
  }

  /** Forgets a key (after revoking it through this isolate), so the next lookup asks the directory. */
  invalidate(accessKeyId: string): void {
    this.#entries.delete(accessKeyId);
    this.#generation++;
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** The isolate's shared cache (module scope lives as long as the isolate). */
export const accessKeyCache = new AccessKeyCache();

/** Looks up an access key through the isolate's cache. */
export function lookupAccessKey(env: Pick<NamespaceBindings, 'ACCOUNT_DIRECTORY'>, accessKeyId: string, cache: AccessKeyCache = accessKeyCache): Promise<AccessKeySecret | undefined> {
  return cache.get(accessKeyId, (id) => accountDirectory(env).lookupSecret(id));
}
