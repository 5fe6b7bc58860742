import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * MOCK of a CESS node, for tests that cannot run a real one (CI has no CESS runtime). It is NOT a chain: it serves
 * a fixed runtime (the metadata it is given), a block counter, and storage values the test puts in, over a
 * minimal WebSocket JSON-RPC server. It answers what @polkadot/api asks at connect time and what the adapter's
 * reads use; it refuses every transaction. Live behaviour is tested against chopsticks (test/chain-live).
 */
export interface MockCessNodeOptions {
  /** Runtime metadata, 0x-hex (what `state_getMetadata` returns). */
  metadata: string;
  specVersion: number;
  specName?: string;
  port?: number;
}

interface Block {
  number: number;
  hash: string;
  parentHash: string;
  /** Extrinsics (0x-hex) in this block. */
  extrinsics: string[];
  /** Storage as of this block: key (0x-hex) → value (0x-hex). */
  storage: Map<string, string>;
}

export class MockCessNode {
  readonly #o: MockCessNodeOptions;
  readonly #blocks: Block[] = [];
  readonly #byHash = new Map<string, Block>();
  readonly #sockets = new Set<Duplex>();
  readonly #subscriptions = new Map<string, { socket: Duplex; method: string }>();
  #nextSub = 1;
  #server: Server | undefined;
  port = 0;
  /** Every JSON-RPC method called, in order (tests assert on what the adapter asked). */
  readonly calls: string[] = [];
  /** Extrinsics offered to the node (0x-hex). */
  readonly submitted: string[] = [];
  /** Take submissions into a pretend pool instead of refusing them. */
  acceptTransactions = false;
  /** Watch subscriptions of accepted submissions, by extrinsic hex. */
  readonly #watches = new Map<string, { socket: Duplex; id: string }>();

  private constructor(options: MockCessNodeOptions) {
    this.#o = options;
    this.#addBlock(new Map());
  }

  static async start(options: MockCessNodeOptions): Promise<MockCessNode> {
    const node = new MockCessNode(options);
    await node.listen(options.port ?? 0);
    return node;
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get head(): Block {
    return this.#blocks[this.#blocks.length - 1];
  }

  /** Sends a watch status (`{inBlock: hash}`, `{invalid: …}`, …) for an accepted extrinsic; false if none watches it. */
  status(extrinsic: string, status: unknown): boolean {
    const w = this.#watches.get(extrinsic);
    if (!w) return false;
    this.#send(w.socket, { jsonrpc: '2.0', method: 'author_extrinsicUpdate', params: { subscription: w.id, result: status } });
    return true;
  }

  /** Produces a block whose storage is the previous one's with `changes` applied (null deletes). */
  newBlock(changes: Record<string, string | null> = {}, extrinsics: string[] = []): Block {
    const storage = new Map(this.head.storage);
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) storage.delete(k);
      else storage.set(k, v);
    }
    const block = this.#addBlock(storage, extrinsics);
    for (const [id, sub] of this.#subscriptions) {
      if (sub.method === 'chain_subscribeNewHeads' || sub.method === 'chain_subscribeFinalizedHeads') this.#notify(sub.socket, sub.method, id, header(block));
    }
    return block;
  }

  /** Changes storage in the head block (no new block). */
  setStorage(key: string, value: string | null): void {
    if (value === null) this.head.storage.delete(key);
    else this.head.storage.set(key, value);
  }

  #addBlock(storage: Map<string, string>, extrinsics: string[] = []): Block {
    const number = this.#blocks.length;
    const hash = `0x${createHash('sha256').update(`mock-cess-block-${number}`).digest('hex')}`;
    const block = { number, hash, parentHash: number ? this.#blocks[number - 1].hash : `0x${'00'.repeat(32)}`, extrinsics, storage };
    this.#blocks.push(block);
    this.#byHash.set(hash, block);
    return block;
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const server = createServer((_req, res) => res.writeHead(426).end('websocket only'));
      server.on('upgrade', (req, socket) => this.#upgrade(req, socket));
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.#server = server;
        this.port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  /** Stops listening and drops every connection (the node "goes away"); `listen(port)` brings it back. */
  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    this.#subscriptions.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #upgrade(req: IncomingMessage, socket: Duplex): void {
    const key = req.headers['sec-websocket-key'];
    if (typeof key !== 'string') return void socket.destroy();
    const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
    this.#sockets.add(socket);
    socket.on('close', () => {
      this.#sockets.delete(socket);
      for (const [id, sub] of this.#subscriptions) if (sub.socket === socket) this.#subscriptions.delete(id);
    });
    socket.on('error', () => socket.destroy());
    let buffer = Buffer.alloc(0);
    let message: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const frame = readFrame(buffer);
        if (!frame) break;
        buffer = buffer.subarray(frame.length);
        if (frame.opcode === 0x8) return void socket.end(encodeFrame(0x8, Buffer.alloc(0)));
        if (frame.opcode === 0x9) socket.write(encodeFrame(0xa, frame.payload));
        if (frame.opcode === 0x1 || frame.opcode === 0x0) {
          message.push(frame.payload);
          if (frame.fin) {
            const text = Buffer.concat(message).toString('utf8');
            message = [];
            this.#handle(socket, text);
          }
        }
      }
    });
  }

  #send(socket: Duplex, body: unknown): void {
    if (!socket.destroyed) socket.write(encodeFrame(0x1, Buffer.from(JSON.stringify(body))));
  }

  #notify(socket: Duplex, method: string, subscription: string, result: unknown): void {
    const notification = { chain_subscribeNewHeads: 'chain_newHead', chain_subscribeFinalizedHeads: 'chain_finalizedHead', state_subscribeRuntimeVersion: 'state_runtimeVersion' }[method];
    this.#send(socket, { jsonrpc: '2.0', method: notification, params: { subscription, result } });
  }

  #handle(socket: Duplex, text: string): void {
    let req: { id: number; method: string; params?: unknown[] };
    try {
      req = JSON.parse(text);
    } catch {
      return this.#send(socket, { jsonrpc: '2.0', id: null, error: { code: -32700, message: 'parse error' } });
    }
    this.calls.push(req.method);
    const params = req.params ?? [];
    const reply = (result: unknown) => this.#send(socket, { jsonrpc: '2.0', id: req.id, result });
    const at = (i: number): Block => (typeof params[i] === 'string' ? (this.#byHash.get(params[i] as string) ?? this.head) : this.head);
    switch (req.method) {
      case 'rpc_methods':
        return reply({ version: 1, methods: [...METHODS] });
      case 'system_chain':
        return reply('CESS mock node');
      case 'system_name':
        return reply('mock-cess-node');
      case 'system_version':
        return reply('0.0.0');
      case 'system_properties':
        return reply({ ss58Format: 11330, tokenDecimals: 18, tokenSymbol: 'TCESS' });
      case 'system_health':
        return reply({ peers: 0, isSyncing: false, shouldHavePeers: false });
      case 'system_accountNextIndex':
        return reply(0);
      case 'state_getRuntimeVersion':
        return reply(this.#version());
      case 'state_getMetadata':
        return reply(this.#o.metadata);
      case 'chain_getBlockHash': {
        const n = params[0];
        if (n === undefined || n === null) return reply(this.head.hash);
        const num = typeof n === 'string' ? Number.parseInt(n, n.startsWith('0x') ? 16 : 10) : Number(n);
        return reply(this.#blocks[num]?.hash ?? null);
      }
      case 'chain_getFinalizedHead':
        return reply(this.head.hash);
      case 'chain_getHeader':
        return reply(header(at(0)));
      case 'chain_getBlock':
        return reply({ block: { header: header(at(0)), extrinsics: at(0).extrinsics }, justifications: null });
      case 'state_getStorage':
        return reply(at(1).storage.get(String(params[0])) ?? null);
      case 'state_queryStorageAt': {
        const block = at(1);
        return reply([{ block: block.hash, changes: (params[0] as string[]).map((k) => [k, block.storage.get(k) ?? null]) }]);
      }
      case 'state_subscribeRuntimeVersion':
      case 'chain_subscribeNewHeads':
      case 'chain_subscribeFinalizedHeads': {
        const id = `mock-sub-${this.#nextSub++}`;
        this.#subscriptions.set(id, { socket, method: req.method });
        reply(id);
        return this.#notify(socket, req.method, id, req.method === 'state_subscribeRuntimeVersion' ? this.#version() : header(this.head));
      }
      case 'state_unsubscribeRuntimeVersion':
      case 'chain_unsubscribeNewHeads':
      case 'chain_unsubscribeFinalizedHeads':
        this.#subscriptions.delete(String(params[0]));
        return reply(true);
      case 'author_submitExtrinsic':
      case 'author_submitAndWatchExtrinsic': {
        const hex = String(params[0]);
        this.submitted.push(hex);
        if (this.acceptTransactions) {
          if (req.method === 'author_submitExtrinsic') return reply(`0x${createHash('sha256').update(hex).digest('hex')}`);
          const id = `mock-sub-${this.#nextSub++}`;
          this.#watches.set(hex, { socket, id });
          return reply(id);
        }
        return this.#send(socket, { jsonrpc: '2.0', id: req.id, error: { code: 1010, message: 'Invalid Transaction', data: 'the mock CESS node runs no transactions' } });
      }
      case 'author_unwatchExtrinsic':
        for (const [hex, w] of this.#watches) if (w.id === params[0]) this.#watches.delete(hex);
        return reply(true);
      default:
        return this.#send(socket, { jsonrpc: '2.0', id: req.id, error: { code: -32601, message: `Method not found: ${req.method}` } });
    }
  }

  #version() {
    const name = this.#o.specName ?? 'cess-node';
    return { specName: name, implName: name, authoringVersion: 0, specVersion: this.#o.specVersion, implVersion: 0, apis: [], transactionVersion: 1, stateVersion: 1 };
  }
}

const METHODS = [
  'rpc_methods', 'system_chain', 'system_name', 'system_version', 'system_properties', 'system_health', 'system_accountNextIndex',
  'state_getRuntimeVersion', 'state_getMetadata', 'state_getStorage', 'state_queryStorageAt', 'state_subscribeRuntimeVersion',
  'state_unsubscribeRuntimeVersion', 'chain_getBlockHash', 'chain_getFinalizedHead', 'chain_getHeader', 'chain_getBlock',
  'chain_subscribeNewHeads', 'chain_unsubscribeNewHeads', 'chain_subscribeFinalizedHeads', 'chain_unsubscribeFinalizedHeads',
  'author_submitExtrinsic', 'author_submitAndWatchExtrinsic', 'author_unwatchExtrinsic',
];

function header(b: { number: number; parentHash: string }) {
  const zero = `0x${'00'.repeat(32)}`;
  return { parentHash: b.parentHash, number: `0x${b.number.toString(16)}`, stateRoot: zero, extrinsicsRoot: zero, digest: { logs: [] } };
}

/** One WebSocket frame from the start of `buf` (client frames are masked), or undefined if incomplete. */
function readFrame(buf: Buffer): { fin: boolean; opcode: number; payload: Buffer; length: number } | undefined {
  if (buf.length < 2) return undefined;
  const fin = (buf[0] & 0x80) !== 0;
  const opcode = buf[0] & 0x0f;
  const masked = (buf[1] & 0x80) !== 0;
  let len = buf[1] & 0x7f;
  let offset = 2;
  if (len === 126) {
    if (buf.length < 4) return undefined;
    len = buf.readUInt16BE(2);
    offset = 4;
  } else if (len === 127) {
    if (buf.length < 10) return undefined;
    len = Number(buf.readBigUInt64BE(2));
    offset = 10;
  }
  const maskOffset = offset;
  if (masked) offset += 4;
  if (buf.length < offset + len) return undefined;
  const payload = Buffer.from(buf.subarray(offset, offset + len));
  if (masked) for (let i = 0; i < payload.length; i++) payload[i] ^= buf[maskOffset + (i % 4)];
  return { fin, opcode, payload, length: offset + len };
}

/** A server frame (unmasked, FIN set). */
function encodeFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.alloc(4) : Buffer.alloc(10);
  if (len >= 126 && len < 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 126;
    head.writeUInt16BE(len, 2);
  } else if (len >= 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, payload]);
}
