import type { Context } from 'hono';
import { SignatureError } from '../auth/signed-message.ts';
import { ChainDispatchError, ChainUnavailableError } from '../chain/port.ts';
import { MultipartError } from '../http/multipart.ts';
import { CipherError, DecryptionError } from '../pipeline/cipher.ts';
import { EmptyFileError } from '../pipeline/pipeline.ts';
import { SegmentUnavailableError } from '../retrieve/retriever.ts';

/** An API refusal with its HTTP status. The body keeps DeOSS's `{code,msg,data}` shape, with code = status. */
export class ApiError extends Error {
  override name = 'ApiError';
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Chain refusals users can act on, with the status and message they get. */
const CHAIN_ERRORS: Record<string, [number, string]> = {
  'fileBank.NoPermission': [403, 'this gateway is not authorized by the account'],
  'fileBank.InsufficientAvailableSpace': [400, 'insufficient territory space'],
  'fileBank.NonExistent': [404, 'file not found'],
  'storageHandler.NotHaveTerritory': [400, 'please purchase territory first'],
  'storageHandler.TerritoryExpired': [400, 'the territory has expired'],
};

/** The one place where errors become HTTP responses for the DeOSS API. */
export function toResponse(err: unknown, c: Context): Response {
  const [status, msg] = classify(err);
  if (status >= 500) console.error(`origin: ${c.req.method} ${c.req.path}:`, err);
  return c.json({ code: status, msg, data: null }, status as 400);
}

/** The status and message an error answers with (toResponse, and errors reported inside a streamed answer). */
export function classify(err: unknown): [number, string] {
  if (err instanceof ApiError) return [err.status, err.message];
  if (err instanceof SignatureError) return [403, err.message];
  if (err instanceof EmptyFileError || err instanceof MultipartError || err instanceof CipherError && !(err instanceof DecryptionError)) {
    return [400, (err as Error).message];
  }
  if (err instanceof DecryptionError) return [403, err.message];
  if (err instanceof ChainDispatchError) return CHAIN_ERRORS[err.id] ?? [400, `chain refused: ${err.id}`];
  if (err instanceof ChainUnavailableError) return [503, 'the chain is unreachable, try again later'];
  if (err instanceof SegmentUnavailableError) return [503, err.message];
  if ((err as Error)?.name === 'AbortError') return [499, 'request aborted'];
  return [500, 'internal error'];
}
