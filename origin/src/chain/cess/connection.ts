import { ApiPromise } from '@polkadot/api';
import { ChainUnavailableError } from '../port.ts';
import { toUnavailable } from './errors.ts';
import { CESS_SIGNED_EXTENSIONS, inspectRuntime, type CessRuntime } from './runtime.ts';
import { FailoverWsProvider } from './ws-provider.ts';

export interface CessConnectionOptions {
  /** ws:// or wss:// endpoints in order of preference. On every reconnect the provider moves to the next one. */
  endpoints: string[];
  /** How long an operation waits for a (re)connection before failing with ChainUnavailableError. @default 30_000 */
  connectTimeoutMs?: number;
  /** Pause between reconnection attempts. @default 1_000 */
  reconnectDelayMs?: number;
  /** Longest wait for one RPC answer. @default 60_000 */
  requestTimeoutMs?: number;
  log?: (msg: string) => void;
}

export const CONNECTION_DEFAULTS = { connectTimeoutMs: 30_000, reconnectDelayMs: 1_000, requestTimeoutMs: 60_000 } as const;

/**
 * One WebSocket connection to a CESS node (with failover over `endpoints`), shared by every chain client that
 * signs through it. The provider (ws-provider.ts) reconnects and re-subscribes; this class adds what callers need
 * around that: waiting for the connection with a deadline, retrying idempotent reads once across a reconnect, telling
 * transaction watchers that the node went away, and the runtime's capabilities read from its metadata.
 */
export class CessConnection {
  readonly api: ApiPromise;
  readonly endpoints: string[];
  readonly #o: Required<Omit<CessConnectionOptions, 'log'>> & Pick<CessConnectionOptions, 'log'>;
  readonly #provider: FailoverWsProvider;
  #runtime: CessRuntime | undefined;
  #runtimeError: Error | undefined;
  #closed = false;
  #generation = 0;
  readonly #onDisconnect = new Set<() => void>();
  readonly #onReconnect = new Set<() => void>();

  private constructor(options: CessConnectionOptions) {
    if (!options.endpoints.length) throw new Error('no CESS RPC endpoint configured');
    for (const e of options.endpoints) {
      if (!/^wss?:\/\/[^\s]+$/.test(e)) throw new Error(`CESS RPC endpoints are ws:// or wss:// URLs; got ${JSON.stringify(e)}`);
    }
    this.#o = { ...CONNECTION_DEFAULTS, ...options };
    this.endpoints = [...options.endpoints];
    this.#provider = new FailoverWsProvider(this.endpoints, { reconnectDelayMs: this.#o.reconnectDelayMs, requestTimeoutMs: this.#o.requestTimeoutMs });
    void this.#provider.connect();
    this.api = new ApiPromise({ provider: this.#provider, signedExtensions: CESS_SIGNED_EXTENSIONS, noInitWarn: true, throwOnConnect: false });
    this.api.on('error', (e: unknown) => this.#o.log?.(`chain: ${(e as Error)?.message ?? e}`));
    // isReadyOrError rejects on the first provider error (one failed endpoint); readiness is awaited on isReady.
    this.api.isReadyOrError.catch(() => undefined);
    this.#provider.on('disconnected', () => {
      if (this.#closed) return;
      this.#o.log?.(`chain: disconnected from ${this.#provider.endpoint}; reconnecting`);
      for (const f of this.#onDisconnect) f();
    });
    this.#provider.on('connected', () => {
      if (this.#generation++ === 0 || this.#closed) return;
      this.#o.log?.(`chain: reconnected to ${this.#provider.endpoint}`);
      for (const f of this.#onReconnect) f();
    });
  }

  /** Connects and checks the runtime. Fails with ChainUnavailableError when no endpoint answers in time. */
  static async open(options: CessConnectionOptions, signal?: AbortSignal): Promise<CessConnection> {
    const c = new CessConnection(options);
    try {
      await c.ready(signal);
      c.runtime();
      return c;
    } catch (err) {
      await c.close();
      throw err;
    }
  }

  /** The runtime's capabilities; re-read after a runtime upgrade. Throws CessRuntimeError for a runtime we cannot use. */
  runtime(): CessRuntime {
    const version = this.api.runtimeVersion;
    const spec = { specName: version.specName.toString(), specVersion: version.specVersion.toNumber() };
    if (this.#runtime?.specVersion !== spec.specVersion || this.#runtime.specName !== spec.specName) {
      this.#runtime = undefined;
      try {
        this.#runtime = inspectRuntime(this.api.runtimeMetadata, spec);
        this.#runtimeError = undefined;
      } catch (err) {
        this.#runtimeError = err as Error;
      }
    }
    if (this.#runtimeError) throw this.#runtimeError;
    return this.#runtime!;
  }

  get isConnected(): boolean {
    return this.#provider.isConnected;
  }

  /** Resolves once connected and initialized; waits at most `connectTimeoutMs`. */
  async ready(signal?: AbortSignal): Promise<ApiPromise> {
    signal?.throwIfAborted();
    if (this.#closed) throw new ChainUnavailableError('the CESS connection is closed');
    if (this.#provider.isConnected && (this.api as unknown as { _isReady: boolean })._isReady) return this.api;
    await withDeadline(
      this.api.isReady.then(() => this.#connected()),
      this.#o.connectTimeoutMs,
      signal,
      () => new ChainUnavailableError(`no CESS node answered within ${this.#o.connectTimeoutMs} ms (${this.endpoints.join(', ')})`),
    );
    return this.api;
  }

  #connected(): Promise<void> {
    if (this.#provider.isConnected) return Promise.resolve();
    return new Promise((resolve) => {
      const off = this.#provider.on('connected', () => {
        off();
        resolve();
      });
    });
  }

  /**
   * Runs an idempotent read. A read cut by a disconnect waits for the reconnection and runs once more; what still
   * fails is ChainUnavailableError (retryable for callers).
   */
  async read<T>(what: string, signal: AbortSignal | undefined, body: (api: ApiPromise) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const api = await this.ready(signal);
      const generation = this.#generation;
      try {
        return await withDeadline(body(api), this.#o.requestTimeoutMs, signal, () => new ChainUnavailableError(`${what}: no answer within ${this.#o.requestTimeoutMs} ms`));
      } catch (err) {
        const mapped = toUnavailable(err, what);
        const cut = !this.#provider.isConnected || generation !== this.#generation;
        if (!(mapped instanceof ChainUnavailableError) || attempt > 0 || !cut || this.#closed) throw mapped;
      }
    }
  }

  /** A raw JSON-RPC call on this connection (node-specific methods, e.g. a dev chain's `dev_setStorage`). */
  async send<T = unknown>(method: string, params: unknown[], signal?: AbortSignal): Promise<T> {
    await this.ready(signal);
    return this.#provider.send<T>(method, params);
  }

  /** A raw subscription on this connection (the transaction watch reads statuses as the node sends them). */
  async subscribe(type: string, method: string, params: unknown[], callback: (err: Error | null, result: unknown) => void): Promise<string | number> {
    return this.#provider.subscribe(type, method, params, callback);
  }

  async unsubscribe(type: string, method: string, id: string | number): Promise<boolean> {
    return this.#provider.unsubscribe(type, method, id);
  }

  /** Called when the socket drops (transactions in flight can no longer be watched). */
  onDisconnect(f: () => void): () => void {
    this.#onDisconnect.add(f);
    return () => this.#onDisconnect.delete(f);
  }

  /** Called when a dropped socket is back (possibly on another endpoint). */
  onReconnect(f: () => void): () => void {
    this.#onReconnect.add(f);
    return () => this.#onReconnect.delete(f);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#onDisconnect.clear();
    this.#onReconnect.clear();
    await this.api.disconnect().catch(() => undefined);
  }
}

/** `p`, or `onTimeout()` after `ms`, or the signal's reason; whichever comes first. */
export function withDeadline<T>(p: Promise<T>, ms: number, signal: AbortSignal | undefined, onTimeout: () => Error): Promise<T> {
  signal?.throwIfAborted();
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => done(() => reject(onTimeout())), ms);
    const abort = () => done(() => reject(signal!.reason));
    signal?.addEventListener('abort', abort, { once: true });
    function done(f: () => void) {
      clearTimeout(timer);
      signal?.removeEventListener('abort', abort);
      f();
    }
    p.then(
      (v) => done(() => resolve(v)),
      (e) => done(() => reject(e)),
    );
  });
}
