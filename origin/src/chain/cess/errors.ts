import type { DispatchError } from '@polkadot/types/interfaces';
import type { Registry } from '@polkadot/types/types';
import { ChainDispatchError, ChainUnavailableError } from '../port.ts';

/**
 * A dispatch error from `System.ExtrinsicFailed` (or a batch's interruption) as the port's typed error:
 * module errors by the runtime's own names (`fileBank.NoPermission`), the rest by their kind (`token.FundsUnavailable`).
 */
export function toDispatchError(registry: Registry, err: DispatchError): ChainDispatchError {
  if (err.isModule) {
    try {
      const meta = registry.findMetaError(err.asModule);
      return new ChainDispatchError(meta.section, meta.name, meta.docs.join(' ').trim() || undefined);
    } catch {
      const m = err.asModule;
      return new ChainDispatchError(`pallet${m.index.toNumber()}`, `error${m.error.toHex()}`, 'not in this runtime metadata');
    }
  }
  if (err.isToken) return new ChainDispatchError('token', err.asToken.type);
  if (err.isArithmetic) return new ChainDispatchError('arithmetic', err.asArithmetic.type);
  if (err.isTransactional) return new ChainDispatchError('transactional', err.asTransactional.type);
  return new ChainDispatchError('system', err.type);
}

/** Why the node refused a transaction before it entered the pool (or why we could not tell). */
export type SubmitRefusal =
  /** The transaction is invalid as signed (`1010`): `transaction.Payment`, `transaction.BadProof`, … */
  | { kind: 'invalid'; reason: string; error: ChainDispatchError }
  /** The nonce was used already, or lies ahead of the account: the tracker must re-read it. */
  | { kind: 'nonce'; reason: 'Stale' | 'Future'; error: ChainDispatchError }
  /** The pool has this very transaction already (`1013`), so it was submitted before. */
  | { kind: 'known' }
  /** The pool holds another transaction with this nonce (`1014`), or banned this one for a while (`1012`). */
  | { kind: 'conflict'; error: ChainDispatchError }
  /** The node could not be asked: disconnected, timed out. The transaction may or may not be in a pool. */
  | { kind: 'network'; error: ChainUnavailableError };

const INVALID: [RegExp, string][] = [
  [/outdated|\bstale\b/i, 'Stale'],
  [/valid in the future|\bfuture\b/i, 'Future'],
  [/pay some fees|\bpayment\b/i, 'Payment'],
  [/bad signature|badproof|bad proof/i, 'BadProof'],
  [/ancient|ancientbirthblock/i, 'AncientBirthBlock'],
  [/exhausts? the resources|exhaustsresources/i, 'ExhaustsResources'],
  [/bad signer|badsigner/i, 'BadSigner'],
  [/\bcall\b|cannot be called/i, 'Call'],
];

/** Classifies what `author_submit(AndWatch)Extrinsic` threw. Message shapes differ between nodes and chopsticks. */
export function classifySubmitError(err: unknown): SubmitRefusal {
  const message = String((err as Error)?.message ?? err);
  const code = Number((err as { code?: unknown })?.code ?? /^(\d{4}):/.exec(message)?.[1]);
  if (code === 1013 || /already imported/i.test(message)) return { kind: 'known' };
  if (code === 1014 || /priority is too low/i.test(message)) return { kind: 'conflict', error: new ChainDispatchError('transaction', 'PriorityTooLow', message) };
  if (code === 1012 || /temporarily banned/i.test(message)) return { kind: 'conflict', error: new ChainDispatchError('transaction', 'TemporarilyBanned', message) };
  if (code === 1010 || code === 1011 || /invalid transaction|unknown transaction/i.test(message)) {
    const reason = INVALID.find(([re]) => re.test(message))?.[1] ?? (code === 1011 ? 'UnknownValidity' : 'Invalid');
    const error = new ChainDispatchError('transaction', reason, message);
    return reason === 'Stale' || reason === 'Future' ? { kind: 'nonce', reason, error } : { kind: 'invalid', reason, error };
  }
  return { kind: 'network', error: new ChainUnavailableError(`CESS node did not take the transaction: ${message}`) };
}

/** Errors from reads: everything that is not a decoding bug is the chain being unreachable. */
export function toUnavailable(err: unknown, what: string): Error {
  if (err instanceof ChainDispatchError || err instanceof ChainUnavailableError) return err;
  if ((err as Error)?.name === 'AbortError' || err instanceof TypeError) return err as Error;
  return new ChainUnavailableError(`${what}: ${(err as Error)?.message ?? String(err)}`);
}
