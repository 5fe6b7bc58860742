import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { keyProofMessage, type KeyPurpose } from '../../../workers/src/keys/proof-message.ts';
import { accountFromSuri, type Account } from '../chain/accounts.ts';

/**
 * `deoss keys create|list|revoke`: manages S3 access keys at an edge (routes under /_deoss/keys). Each request is
 * proven with the account's sr25519 signature over `<account>:<purpose>:<edge host>:<expiry>` (see
 * workers/src/keys/proof-message.ts), so the edge learns which account the key belongs to without a password.
 */

/** Lifetime of a proof when --ttl is not given, seconds (the edge accepts at most 600). */
export const DEFAULT_PROOF_TTL_SECONDS = 120;
/** How long one request to the edge may take. */
export const KEYS_REQUEST_TIMEOUT_MS = 30_000;

const HELP = `usage:
  deoss keys create [--territory NAME] [--label TEXT]   issue an access key; prints its id and secret
  deoss keys list                                       list your access keys (never their secrets)
  deoss keys revoke ACCESS_KEY_ID                       revoke one of your access keys

options:
  --edge URL        the edge (default: $DEOSS_EDGE, else "edge" in $DEOSS_HOME/stack.json)
  --mnemonic WORDS  your account's mnemonic (default: $DEOSS_MNEMONIC)
  --suri SURI       or a secret URI such as //Alice (default: $DEOSS_SURI, else the local stack's dev key)
  --ttl SECONDS     how long the signed proof stays valid (default ${DEFAULT_PROOF_TTL_SECONDS}, at most 600)
  --json            machine-readable output
`;

export interface CommandIo {
  out: { write(text: string): unknown };
  err: { write(text: string): unknown };
}

interface Stack {
  edge?: string;
  devSuri?: string;
}

export async function keysCommand(argv: string[], io: CommandIo = { out: process.stdout, err: process.stderr }): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        edge: { type: 'string' },
        mnemonic: { type: 'string' },
        suri: { type: 'string' },
        territory: { type: 'string' },
        label: { type: 'string' },
        ttl: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    io.err.write(`deoss keys: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [action, ...rest] = positionals;
  if (values.help) {
    io.out.write(HELP);
    return 0;
  }
  const arity = action === 'revoke' ? 1 : 0;
  if (!action || !['create', 'list', 'revoke'].includes(action) || rest.length !== arity) {
    io.err.write(HELP);
    return 2;
  }
  const ttl = Number(values.ttl ?? DEFAULT_PROOF_TTL_SECONDS);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 600) {
    io.err.write('deoss keys: --ttl must be 1..600 seconds\n');
    return 2;
  }

  const stack = await readStack();
  const edge = values.edge ?? process.env.DEOSS_EDGE ?? stack.edge;
  if (!edge) {
    io.err.write(`deoss keys: no edge: pass --edge URL or start the local stack (no ${stackPath()})\n`);
    return 2;
  }
  let edgeUrl: URL;
  try {
    edgeUrl = new URL(edge);
  } catch {
    io.err.write(`deoss keys: --edge must be a URL, not ${edge}\n`);
    return 2;
  }
  const suri = values.mnemonic ?? process.env.DEOSS_MNEMONIC ?? values.suri ?? process.env.DEOSS_SURI ?? stack.devSuri;
  if (!suri) {
    io.err.write('deoss keys: no key: pass --mnemonic (or set DEOSS_MNEMONIC), or --suri\n');
    return 2;
  }
  const signer = await accountFromSuri(suri);

  const base = new URL('/_deoss/keys', edgeUrl);
  const proof = (purpose: KeyPurpose) => proofHeaders(signer, purpose, edgeUrl.host, ttl);
  let res: Response;
  try {
    if (action === 'create') {
      const body = JSON.stringify({ ...(values.territory ? { territory: values.territory } : {}), ...(values.label ? { label: values.label } : {}) });
      res = await fetch(base, { method: 'POST', headers: { ...proof('keys.create'), 'Content-Type': 'application/json' }, body, signal: AbortSignal.timeout(KEYS_REQUEST_TIMEOUT_MS) });
    } else if (action === 'list') {
      res = await fetch(base, { headers: proof('keys.list'), signal: AbortSignal.timeout(KEYS_REQUEST_TIMEOUT_MS) });
    } else {
      const id = rest[0];
      res = await fetch(new URL(`/_deoss/keys/${encodeURIComponent(id)}`, edgeUrl), {
        method: 'DELETE',
        headers: proof(`keys.revoke.${id}`),
        signal: AbortSignal.timeout(KEYS_REQUEST_TIMEOUT_MS),
      });
    }
  } catch (e) {
    io.err.write(`deoss keys: cannot reach ${edgeUrl.origin}: ${(e as Error).message}\n`);
    return 1;
  }

  const answer = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
  if (!res.ok || !answer) {
    const error = (answer?.error ?? {}) as { code?: string; message?: string };
    io.err.write(`deoss keys: ${res.status} ${error.code ?? res.statusText}${error.message ? `: ${error.message}` : ''}\n`);
    return 1;
  }
  if (values.json) {
    io.out.write(`${JSON.stringify(answer)}\n`);
    return 0;
  }
  if (action === 'create') {
    io.out.write(
      [
        `Access key id:     ${answer.accessKeyId}`,
        `Secret access key: ${answer.secretAccessKey}`,
        `Account:           ${answer.account}`,
        `Territory:         ${answer.territory}`,
        '',
        'The secret is shown only now. For the AWS CLI:',
        `  export AWS_ACCESS_KEY_ID=${answer.accessKeyId} AWS_SECRET_ACCESS_KEY=${answer.secretAccessKey}`,
        `  aws --endpoint-url ${edgeUrl.origin} s3 ls`,
        '',
      ].join('\n'),
    );
  } else if (action === 'list') {
    const keys = answer.keys as Array<{ accessKeyId: string; territory: string; label?: string; created: number; revoked?: number }>;
    io.out.write(`Account ${answer.account}: ${keys.length} key${keys.length === 1 ? '' : 's'}\n`);
    for (const k of keys) {
      const state = k.revoked ? `revoked ${new Date(k.revoked).toISOString()}` : 'active';
      io.out.write(`  ${k.accessKeyId}  ${state.padEnd(32)}  territory ${k.territory}  created ${new Date(k.created).toISOString()}${k.label ? `  ${k.label}` : ''}\n`);
    }
  } else {
    io.out.write(`revoked ${answer.accessKeyId}\n`);
  }
  return 0;
}

/** The Account, Message and Signature headers proving `signer` for `purpose` at `audience` (host[:port]). */
export function proofHeaders(signer: Account, purpose: KeyPurpose, audience: string, ttlSeconds: number, now = Date.now()): Record<'Account' | 'Message' | 'Signature', string> {
  const message = keyProofMessage({ account: signer.address, purpose, audience, expiresAt: now + ttlSeconds * 1000 });
  const signature = signer.sign(new TextEncoder().encode(message));
  return { Account: signer.address, Message: message, Signature: `0x${Buffer.from(signature).toString('hex')}` };
}

function stackPath(): string {
  return join(resolve(process.env.DEOSS_HOME ?? '.deoss'), 'stack.json');
}

async function readStack(): Promise<Stack> {
  try {
    return JSON.parse(await readFile(stackPath(), 'utf8')) as Stack;
  } catch {
    return {};
  }
}
