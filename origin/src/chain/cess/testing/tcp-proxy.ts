import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A real TCP proxy in front of a node, for disconnect tests: `down()` closes every connection and stops listening
 * (clients see ECONNREFUSED while reconnecting), `up()` listens on the same port again.
 */
export interface TcpProxy {
  port: number;
  url: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  down(): Promise<void>;
  up(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host: string; port: number }, port = 0): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  let server: Server | undefined;
  const listen = (p: number) =>
    new Promise<number>((resolve, reject) => {
      const s = createServer((client) => {
        accepted++;
        const upstream = connect(target.port, target.host);
        sockets.add(client);
        sockets.add(upstream);
        const drop = () => {
          client.destroy();
          upstream.destroy();
          sockets.delete(client);
          sockets.delete(upstream);
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
        client.pipe(upstream);
        upstream.pipe(client);
      });
      s.once('error', reject);
      s.listen(p, '127.0.0.1', () => {
        server = s;
        resolve((s.address() as { port: number }).port);
      });
    });
  const bound = await listen(port);
  const closeServer = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      if (!s) return resolve();
      s.close(() => resolve());
      for (const sock of sockets) sock.destroy();
      sockets.clear();
    });
  return {
    port: bound,
    url: `ws://127.0.0.1:${bound}`,
    get accepted() {
      return accepted;
    },
    down: closeServer,
    async up() {
      if (!server) await listen(bound);
    },
    close: closeServer,
  };
}
