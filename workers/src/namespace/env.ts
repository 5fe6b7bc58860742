import type { AccountDirectory } from './account-directory.ts';
import type { BucketIndex } from './bucket-index.ts';
import { namespaceClient } from './errors.ts';

/** The bindings the namespace layer needs (declared in wrangler.toml; the secret via `wrangler secret put`). */
export interface NamespaceBindings {
  /** One BucketIndex per bucket, addressed by idFromName(bucket name). */
  BUCKET_INDEX: DurableObjectNamespace<BucketIndex>;
  /** The single AccountDirectory, addressed by idFromName(ACCOUNT_DIRECTORY_NAME). */
  ACCOUNT_DIRECTORY: DurableObjectNamespace<AccountDirectory>;
  /** Seals access-key secrets at rest (AES-256-GCM under a key derived from it). At least 32 characters. */
  KEY_ENCRYPTION_SECRET: string;
}

declare global {
  namespace Cloudflare {
    interface Env extends NamespaceBindings {}
  }
}

export const ACCOUNT_DIRECTORY_NAME = 'global';

/**
 * The RPC methods of a Durable Object class, typed as the class declares them. Every namespace method takes and
 * returns plain structured data, so a stub call resolves to exactly that data; this view spares callers the
 * generic RPC stub typing (which turns union results such as `T | undefined` or CompletionPlan into unions of
 * promise types that do not infer well).
 */
export type RpcMethods<T> = { [K in keyof T as T[K] extends (...args: never[]) => Promise<unknown> ? K : never]: T[K] };

export type BucketIndexRpc = RpcMethods<BucketIndex>;
export type AccountDirectoryRpc = RpcMethods<AccountDirectory>;

/** `bucket`'s index. The name is not validated here: BucketIndex.create does that. */
export function bucketIndex(env: Pick<NamespaceBindings, 'BUCKET_INDEX'>, bucket: string): BucketIndexRpc {
  return namespaceClient<BucketIndexRpc>(env.BUCKET_INDEX.get(env.BUCKET_INDEX.idFromName(bucket)));
}

/** The account directory. */
export function accountDirectory(env: Pick<NamespaceBindings, 'ACCOUNT_DIRECTORY'>): AccountDirectoryRpc {
  return namespaceClient<AccountDirectoryRpc>(env.ACCOUNT_DIRECTORY.get(env.ACCOUNT_DIRECTORY.idFromName(ACCOUNT_DIRECTORY_NAME)));
}
