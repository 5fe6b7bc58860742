import { connect } from 'node:net';
import { AwsClient } from 'aws4fetch';

/**
 * A signed PutObject (UNSIGNED-PAYLOAD) spoken as raw HTTP/1.1 with `Expect: 100-continue`, the way the AWS CLI and
 * curl send uploads: the head first, the body only once `100 Continue` has come. Rejects when no `100 Continue` comes
 * within `waitMs` (a server that never sends one would leave such clients waiting out their own timeout on every
 * upload); resolves with the status of the final answer.
 */
export async function putExpectingContinue(
  edge: URL,
  creds: { accessKeyId: string; secretAccessKey: string; region: string },
  path: string,
  body: Buffer,
  waitMs = 10_000,
): Promise<number> {
  const signed = await new AwsClient({ ...creds, service: 's3' }).sign(new URL(path, edge), { method: 'PUT', headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } });
  const fields = [...signed.headers].filter(([name]) => name !== 'host').map(([name, value]) => `${name}: ${value}`);
  const head = [`PUT ${path} HTTP/1.1`, `host: ${edge.host}`, ...fields, `content-length: ${body.length}`, 'expect: 100-continue', 'connection: close', '', ''].join('\r\n');
  const socket = connect({ host: edge.hostname, port: Number(edge.port) });
  let received = '';
  const until = (pattern: RegExp, what: string) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(received);
        if (!match) return;
        clearTimeout(timer);
        socket.off('data', onData).off('error', reject);
        resolve(match);
      };
      const onData = (chunk: Buffer) => ((received += chunk.toString('latin1')), check());
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${waitMs} ms; received ${JSON.stringify(received)}`)), waitMs);
      socket.on('data', onData).on('error', reject);
      check();
    });
  try {
    socket.write(head);
    await until(/^HTTP\/1\.1 100 Continue\r\n\r\n/, '100 Continue');
    socket.write(body);
    const [, status] = await until(/^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 (\d{3}) /, 'final answer');
    return Number(status);
  } finally {
    socket.destroy();
  }
}
