import { namespaceError } from './errors.ts';

/**
 * Key-order helpers. SQLite compares TEXT as UTF-8 bytes, which is code point order; JavaScript's `<` compares
 * UTF-16 code units, which disagrees for characters above U+FFFF. Anything that decides key order in JS goes
 * through these functions so it agrees with the SQL range scans.
 */

/** Code point order (= UTF-8 byte order = SQLite BINARY collation). */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i)!;
    const y = b.codePointAt(i)!;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length - b.length;
}

/**
 * The least string greater than every string that starts with `prefix`, or undefined when there is none (empty
 * prefix, or only U+10FFFF characters). Seeking to it skips a whole common prefix with one index lookup.
 */
export function prefixSuccessor(prefix: string): string | undefined {
  const cps = Array.from(prefix);
  while (cps.length > 0) {
    let next = cps.pop()!.codePointAt(0)! + 1;
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000;
    if (next <= 0x10ffff) return cps.join('') + String.fromCodePoint(next);
  }
  return undefined;
}

/**
 * The common prefix `key` rolls up into under (prefix, delimiter), or undefined when it is listed as itself.
 * Assumes `key` starts with `prefix`.
 */
export function commonPrefixOf(key: string, prefix: string, delimiter: string | undefined): string | undefined {
  if (!delimiter) return undefined;
  const i = key.indexOf(delimiter, prefix.length);
  return i < 0 ? undefined : key.slice(0, i + delimiter.length);
}

const TOKEN_VERSION = 'k1:';

/** An opaque V2 continuation token standing for "after this key or common prefix". */
export function encodeContinuationToken(after: string): string {
  const bytes = new TextEncoder().encode(TOKEN_VERSION + after);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export function decodeContinuationToken(token: string): string {
  const wrong = () => namespaceError('InvalidArgument', 'The continuation token provided is incorrect');
  if (typeof token !== 'string' || !/^[A-Za-z0-9_-]+$/.test(token)) throw wrong();
  let text: string;
  try {
    const bin = atob(token.replaceAll('-', '+').replaceAll('_', '/'));
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
  } catch {
    throw wrong();
  }
  if (!text.startsWith(TOKEN_VERSION)) throw wrong();
  return text.slice(TOKEN_VERSION.length);
}
