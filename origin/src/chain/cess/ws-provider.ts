import { EventEmitter } from 'node:events';
import type { ProviderInterface, ProviderInterfaceCallback, ProviderInterfaceEmitCb, ProviderInterfaceEmitted } from '@polkadot/rpc-provider/types';

export interface FailoverWsProviderOptions {
  /** Pause before the next connection attempt (each one tries the next endpoint). */
  reconnectDelayMs: number;
  /** A request unanswered this long fails. */
  requestTimeoutMs: number;
  /** A WebSocket handshake unfinished this long counts as a failed attempt. @default 10_000 */
  handshakeTimeoutMs?: number;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  started: number;
  /** Set for subscription requests: what to re-create after a reconnect. */
  sub?: { type: string; method: string; params: unknown[]; callback: ProviderInterfaceCallback };
}

interface RpcMessage {
  id?: number;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
  method?: string;
  params?: { subscription: string | number; result?: unknown; error?: { code: number; message: string; data?: unknown } };
}

/**
 * A JSON-RPC WebSocket provider for @polkadot/api that keeps reconnecting, moving through `endpoints` in order.
 *
 * Why not polkadot-js's WsProvider: on Node 22 it uses the built-in (undici) WebSocket, which on a refused
 * connection fires `error` but never `close` and stays CONNECTING (nodejs/undici#3506), so WsProvider never tries
 * again: a gateway whose node restarted would stay disconnected for good. Here a failed handshake counts as a
 * closed socket. Otherwise it behaves like WsProvider: subscriptions are re-created after a reconnect, except
 * `author_*` ones (re-sending a transaction is the submitter's decision), and requests in flight fail on a drop.
 */
export class FailoverWsProvider implements ProviderInterface {
  readonly #endpoints: string[];
  readonly #o: Required<FailoverWsProviderOptions>;
  readonly #events = new EventEmitter();
  readonly #pending = new Map<number, Pending>();
  readonly #subs = new Map<string, NonNullable<Pending['sub']>>();
  /** Notifications that arrived before their subscription id was known. */
  readonly #early = new Map<string, RpcMessage['params'][]>();
  #index = -1;
  #ws: WebSocket | undefined;
  #connected = false;
  #stopped = true;
  #nextId = 1;
  #retry: NodeJS.Timeout | undefined;
  #sweeper: NodeJS.Timeout | undefined;

  constructor(endpoints: string[], options: FailoverWsProviderOptions) {
    if (endpoints.length === 0) throw new Error('no endpoint');
    for (const e of endpoints) if (!/^wss?:\/\//.test(e)) throw new Error(`endpoints are ws:// or wss:// URLs; got ${JSON.stringify(e)}`);
    this.#endpoints = [...endpoints];
    this.#o = { handshakeTimeoutMs: 10_000, ...options };
    this.#events.setMaxListeners(0);
  }

  get hasSubscriptions(): boolean {
    return true;
  }
  get isClonable(): boolean {
    return false;
  }
  get isConnected(): boolean {
    return this.#connected;
  }
  /** The endpoint in use (or being tried). */
  get endpoint(): string {
    return this.#endpoints[Math.max(0, this.#index)];
  }

  clone(): ProviderInterface {
    throw new Error('FailoverWsProvider cannot be cloned');
  }

  async connect(): Promise<void> {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(1_000, this.#o.requestTimeoutMs));
    this.#sweeper.unref();
    this.#open();
  }

  async disconnect(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    clearInterval(this.#sweeper);
    const ws = this.#ws;
    this.#ws = undefined;
    try {
      ws?.close(1000);
    } catch {
      /* a socket still connecting cannot always be closed; it is dropped */
    }
    this.#closed('disconnected by the client');
  }

  on(type: ProviderInterfaceEmitted, sub: ProviderInterfaceEmitCb): () => void {
    this.#events.on(type, sub);
    return () => this.#events.off(type, sub);
  }

  send<T = unknown>(method: string, params: unknown[]): Promise<T> {
    return this.#request(method, params) as Promise<T>;
  }

  async subscribe(type: string, method: string, params: unknown[], callback: ProviderInterfaceCallback): Promise<number | string> {
    const id = (await this.#request(method, params, { type, method, params, callback })) as string | number;
    return id;
  }

  async unsubscribe(type: string, method: string, id: number | string): Promise<boolean> {
    const key = `${type}::${id}`;
    if (!this.#subs.delete(key)) return false;
    if (!this.#connected) return true;
    try {
      return Boolean(await this.#request(method, [id]));
    } catch {
      return false;
    }
  }

  #request(method: string, params: unknown[], sub?: Pending['sub']): Promise<unknown> {
    const ws = this.#ws;
    if (!this.#connected || !ws) return Promise.reject(new Error(`not connected to ${this.endpoint}`));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, started: Date.now(), sub });
      try {
        ws.send(JSON.stringify({ id, jsonrpc: '2.0', method, params }));
      } catch (err) {
        this.#pending.delete(id);
        reject(err as Error);
      }
    });
  }

  #open(): void {
    if (this.#stopped) return;
    this.#index = (this.#index + 1) % this.#endpoints.length;
    const url = this.#endpoints[this.#index];
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch (err) {
      this.#error(err as Error);
      return this.#schedule();
    }
    this.#ws = ws;
    let open = false;
    const lost = (reason: string) => {
      clearTimeout(handshake);
      if (this.#ws !== ws) return;
      this.#ws = undefined;
      this.#closed(`disconnected from ${url}: ${reason}`);
      this.#schedule();
    };
    const handshake = setTimeout(() => {
      if (open) return;
      try {
        ws.close();
      } catch {
        /* dropped below */
      }
      lost('handshake timed out');
    }, this.#o.handshakeTimeoutMs);
    ws.onopen = () => {
      open = true;
      clearTimeout(handshake);
      if (this.#ws !== ws) return;
      this.#connected = true;
      this.#resubscribe();
      this.#events.emit('connected');
    };
    ws.onmessage = (e: MessageEvent) => this.#message(typeof e.data === 'string' ? e.data : Buffer.from(e.data as ArrayBuffer).toString('utf8'));
    // undici fires only `error` when a connection attempt fails: that attempt is over.
    ws.onerror = (e: Event) => {
      const message = (e as Event & { message?: string }).message ?? 'WebSocket error';
      this.#error(new Error(message));
      if (!open) lost(message);
    };
    ws.onclose = (e: Event) => {
      const c = e as Event & { code?: number; reason?: string };
      lost(`${c.code ?? ''}${c.reason ? ` ${c.reason}` : ''}`);
    };
  }

  /** An EventEmitter `error` with no listener would throw: errors are reported only to whoever listens. */
  #error(err: Error): void {
    if (this.#events.listenerCount('error')) this.#events.emit('error', err);
  }

  #schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#retry);
    this.#retry = setTimeout(() => this.#open(), this.#o.reconnectDelayMs);
  }

  #closed(reason: string): void {
    const was = this.#connected;
    this.#connected = false;
    const error = new Error(reason);
    for (const [id, p] of this.#pending) {
      this.#pending.delete(id);
      p.reject(error);
    }
    if (was) this.#events.emit('disconnected');
  }

  #resubscribe(): void {
    const subs = [...this.#subs.values()];
    this.#subs.clear();
    this.#early.clear();
    for (const s of subs) {
      if (s.method.startsWith('author_')) continue;
      this.subscribe(s.type, s.method, s.params, s.callback).catch((err) => this.#error(err));
    }
  }

  #message(text: string): void {
    let msg: RpcMessage;
    try {
      msg = JSON.parse(text);
    } catch {
      return this.#error(new Error(`unparsable message from ${this.endpoint}`));
    }
    if (msg.id !== undefined && msg.id !== null) {
      const p = this.#pending.get(msg.id);
      if (!p) return;
      this.#pending.delete(msg.id);
      if (msg.error) return p.reject(rpcError(msg.error));
      if (p.sub) {
        const key = `${p.sub.type}::${msg.result}`;
        this.#subs.set(key, p.sub);
        for (const early of this.#early.get(key) ?? []) this.#deliver(p.sub, early);
        this.#early.delete(key);
      }
      return p.resolve(msg.result);
    }
    if (msg.method && msg.params) {
      const key = `${msg.method}::${msg.params.subscription}`;
      const sub = this.#subs.get(key);
      if (sub) return this.#deliver(sub, msg.params);
      const list = this.#early.get(key) ?? [];
      list.push(msg.params);
      this.#early.set(key, list.slice(-16));
    }
  }

  #deliver(sub: NonNullable<Pending['sub']>, params: RpcMessage['params']): void {
    if (params?.error) sub.callback(rpcError(params.error), undefined);
    else sub.callback(null, params?.result);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, p] of this.#pending) {
      if (now - p.started > this.#o.requestTimeoutMs) {
        this.#pending.delete(id);
        p.reject(new Error(`No response received from RPC endpoint in ${this.#o.requestTimeoutMs / 1000}s`));
      }
    }
  }
}

/** Same message shape as polkadot-js's RpcError (`code: message: data`), which error classification relies on. */
function rpcError(e: { code: number; message: string; data?: unknown }): Error {
  const data = e.data === undefined ? '' : `: ${typeof e.data === 'string' ? e.data : JSON.stringify(e.data)}`;
  return Object.assign(new Error(`${e.code}: ${e.message}${data}`), { code: e.code, data: e.data });
}
