import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { signHeaders } from '../auth/signed-message.ts';
import { accountFromSuri } from '../chain/accounts.ts';

/** `deoss put FILE` and `deoss get FID`: a small DeOSS client for the local stack (or any gateway). */

interface Target {
  url: string;
  suri?: string;
  territory?: string;
}

async function target(values: { origin?: string; suri?: string; territory?: string }): Promise<Target> {
  const home = resolve(process.env.DEOSS_HOME ?? '.deoss');
  let stack: { origin?: string; devSuri?: string; territory?: string } = {};
  try {
    stack = JSON.parse(await readFile(join(home, 'stack.json'), 'utf8'));
  } catch {
    /* no local stack */
  }
  const url = values.origin ?? process.env.DEOSS_ORIGIN ?? stack.origin;
  if (!url) throw new Error(`no gateway: pass --origin URL or start the local stack (no ${join(home, 'stack.json')})`);
  return { url, suri: values.suri ?? process.env.DEOSS_SURI ?? stack.devSuri, territory: values.territory ?? stack.territory ?? 'default' };
}

const PUT_HELP = `usage: deoss put FILE [--origin URL] [--suri SURI] [--territory NAME] [--cipher PASSWORD] [--wait]
Uploads FILE through a gateway (default: the local stack in $DEOSS_HOME/stack.json) and prints its FID.
`;

export async function putCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      origin: { type: 'string' },
      suri: { type: 'string' },
      territory: { type: 'string' },
      cipher: { type: 'string' },
      wait: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals.length !== 1) {
    (values.help ? process.stdout : process.stderr).write(PUT_HELP);
    return values.help ? 0 : 2;
  }
  const path = positionals[0];
  const t = await target(values);
  if (!t.suri) throw new Error('no key: pass --suri (a mnemonic or dev URI) or set DEOSS_SURI');
  const signer = await accountFromSuri(t.suri);
  const { size } = await stat(path);
  const boundary = `deoss${randomBytes(12).toString('hex')}`;
  const head = Buffer.from(
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${encodeURIComponent(basename(path))}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const progress = new Progress('upload', size);
  const body = ReadableStream.from(
    (async function* () {
      yield head;
      for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
        progress.add(chunk.length);
        yield chunk as Buffer;
      }
      yield tail;
    })(),
  );
  const res = await fetch(`${t.url}/file`, {
    method: 'PUT',
    body,
    duplex: 'half',
    headers: {
      ...signHeaders(signer),
      'Content-Type': `multipart/form-data; boundary=${boundary}`,
      'Content-Length': String(head.length + size + tail.length),
      Territory: t.territory!,
      Filename: encodeURIComponent(basename(path)),
      ...(values.cipher ? { Cipher: values.cipher } : {}),
      ...(values.wait ? { 'X-Deoss-Ack': 'stored' } : {}),
    },
  } as RequestInit);
  progress.done();
  const answer = (await res.json().catch(() => ({}))) as { msg?: string; data?: { fid?: string } };
  if (!res.ok || !answer.data?.fid) {
    process.stderr.write(`deoss put: ${res.status} ${answer.msg ?? res.statusText}\n`);
    return 1;
  }
  process.stdout.write(`${answer.data.fid}\n`);
  return 0;
}

const GET_HELP = `usage: deoss get FID [-o FILE] [--origin URL] [--cipher PASSWORD]
Downloads a file by FID (to stdout unless -o is given).
`;

export async function getCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { output: { type: 'string', short: 'o' }, origin: { type: 'string' }, cipher: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length !== 1) {
    (values.help ? process.stdout : process.stderr).write(GET_HELP);
    return values.help ? 0 : 2;
  }
  const t = await target(values);
  const res = await fetch(`${t.url}/file/download/${positionals[0]}`, { headers: values.cipher ? { Cipher: values.cipher } : {} });
  if (!res.ok || !res.body) {
    const answer = (await res.json().catch(() => ({}))) as { msg?: string };
    process.stderr.write(`deoss get: ${res.status} ${answer.msg ?? res.statusText}\n`);
    return 1;
  }
  const progress = new Progress('download', Number(res.headers.get('Content-Length') ?? 0));
  const out = values.output ? createWriteStream(values.output) : process.stdout;
  const counted = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      progress.add(chunk.length);
      controller.enqueue(chunk);
    },
  });
  await res.body.pipeThrough(counted).pipeTo(Writable.toWeb(out));
  progress.done();
  return 0;
}

/** A one-line progress bar on stderr when it is a terminal. */
class Progress {
  readonly #label: string;
  readonly #total: number;
  #done = 0;
  #last = 0;
  constructor(label: string, total: number) {
    this.#label = label;
    this.#total = total;
  }
  add(n: number): void {
    this.#done += n;
    const now = Date.now();
    if (!process.stderr.isTTY || now - this.#last < 100) return;
    this.#last = now;
    const pct = this.#total ? Math.min(100, (this.#done / this.#total) * 100) : 0;
    const bar = '#'.repeat(Math.round(pct / 4)).padEnd(25, '.');
    process.stderr.write(`\r${this.#label} [${bar}] ${pct.toFixed(0).padStart(3)}% ${(this.#done / 2 ** 20).toFixed(1)} MiB`);
  }
  done(): void {
    if (process.stderr.isTTY) process.stderr.write('\n');
  }
}
