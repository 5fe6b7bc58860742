import { parseArgs } from 'node:util';
import { CipherError, type CipherSpec } from '../pipeline/cipher.ts';
import { digestFile } from '../pipeline/file-digest.ts';
import { EmptyFileError } from '../pipeline/pipeline.ts';

const HELP = `usage: deoss hash FILE [--json] [--cipher KIND] [--password P | --key HEX] [--salt HEX] [--threads N]

Prints the file's CESS FID (the Merkle root of its segment hashes), computed offline.
  --json             print {"fid","size","segments":[{"hash","fragments":[12 hex]}]}
  --cipher KIND      none (default), legacy-cbc (DeOSS 'Cipher' header, needs --password),
                     aes-256-gcm (needs --password or --key; the FID depends on the salt,
                     random unless --salt is given)
  --password P       password (or set DEOSS_PASSWORD)
  --key HEX          32-byte raw key as 64 hex digits (aes-256-gcm)
  --salt HEX         32-byte salt as 64 hex digits (aes-256-gcm)
  --threads N        worker threads (default: all cores)
`;

export async function hashCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        json: { type: 'boolean' },
        cipher: { type: 'string' },
        password: { type: 'string' },
        key: { type: 'string' },
        salt: { type: 'string' },
        threads: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return fail(`${(err as Error).message}\n\n${HELP}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  if (positionals.length !== 1) return fail(`expected exactly one FILE\n\n${HELP}`);
  let cipher: CipherSpec;
  let threads: number | undefined;
  try {
    cipher = cipherFromArgs(values);
    if (values.threads !== undefined) {
      threads = Number(values.threads);
      if (!Number.isInteger(threads) || threads < 0) throw new CipherError('--threads must be a non-negative integer');
    }
  } catch (err) {
    return fail((err as Error).message);
  }
  try {
    const digest = await digestFile(positionals[0], { cipher, threads });
    process.stdout.write(values.json ? `${JSON.stringify(digest)}\n` : `${digest.fid}\n`);
    return 0;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (err instanceof EmptyFileError || err instanceof CipherError) return fail(`${positionals[0]}: ${e.message}`);
    if (e.code === 'ENOENT' || e.code === 'EACCES' || e.code === 'EISDIR') return fail(`${positionals[0]}: ${e.message}`);
    throw err;
  }
}

function cipherFromArgs(v: { cipher?: string; password?: string; key?: string; salt?: string }): CipherSpec {
  const kind = v.cipher ?? 'none';
  const password = v.password ?? process.env.DEOSS_PASSWORD;
  switch (kind) {
    case 'none':
      if (v.password || v.key || v.salt) throw new CipherError('--password, --key and --salt need --cipher');
      return { kind };
    case 'legacy-cbc':
      if (!password) throw new CipherError('--cipher legacy-cbc needs --password (the DeOSS Cipher value)');
      return { kind, password };
    case 'aes-256-gcm': {
      if (!password && !v.key) throw new CipherError('--cipher aes-256-gcm needs --password or --key');
      return {
        kind,
        password: v.key ? undefined : password,
        key: v.key ? hex32(v.key, '--key') : undefined,
        salt: v.salt ? hex32(v.salt, '--salt') : undefined,
      };
    }
    default:
      throw new CipherError(`unknown cipher '${kind}' (none, aes-256-gcm, legacy-cbc)`);
  }
}

function hex32(value: string, flag: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(value)) throw new CipherError(`${flag} must be 64 hex digits (32 bytes)`);
  return Buffer.from(value, 'hex');
}

function fail(message: string): number {
  process.stderr.write(`deoss hash: ${message.endsWith('\n') ? message : `${message}\n`}`);
  return 2;
}
