import type { Codec } from '@polkadot/types/types';
import type { ChainEvent } from '../port.ts';
import { cessAddress, hashText, peerIdText, text } from './codec.ts';

/** The parts of a polkadot-js `Event` / `EventRecord` the decoders read. */
export interface RawEvent {
  section: string;
  method: string;
  data: Codec[] & { names?: string[] | null };
}
export interface RawEventRecord {
  phase: { isApplyExtrinsic: boolean; asApplyExtrinsic: { toNumber(): number } };
  event: RawEvent;
}

/** What an event does not carry but the port's event has: who signed its extrinsic, which column a report was. */
export interface EventContext {
  /** The extrinsic's signer (from `TransactionPayment.TransactionFeePaid`). */
  signer?: string;
  /** Column indices of the `transfer_report` calls in the extrinsic, in call order. */
  reportIndices?: number[];
}

function arg(event: RawEvent, name: string): Codec {
  const i = event.data.names?.indexOf(name) ?? -1;
  if (i < 0) throw new TypeError(`CESS event ${event.section}.${event.method} has no field ${name}`);
  return event.data[i];
}
const account = (c: Codec) => cessAddress(c.toU8a());
const bytes = (c: Codec) => Uint8Array.from(c as unknown as Uint8Array);
const big = (c: Codec) => (c as unknown as { toBigInt(): bigint }).toBigInt();

/**
 * The events of one extrinsic (in emission order) as port events. Events the port does not model are skipped.
 * `OssRegister.endpoint` is the peer id the event carries; callers that know the registration fill in the domain.
 */
export function toChainEvents(events: RawEvent[], ctx: EventContext = {}): ChainEvent[] {
  const out: ChainEvent[] = [];
  let report = 0;
  for (const e of events) {
    switch (`${e.section}.${e.method}`) {
      case 'fileBank.UploadDeclaration':
        out.push({ type: 'UploadDeclaration', operator: account(arg(e, 'operator')), owner: account(arg(e, 'owner')), fid: hashText(bytes(arg(e, 'dealHash'))) });
        break;
      case 'fileBank.TransferReport': {
        const index = ctx.reportIndices?.[report++];
        out.push({ type: 'TransferReport', miner: account(arg(e, 'acc')), fid: hashText(bytes(arg(e, 'dealHash'))), ...(index === undefined ? {} : { index }) });
        break;
      }
      case 'fileBank.StorageCompleted':
        out.push({ type: 'StorageCompleted', fid: hashText(bytes(arg(e, 'fileHash'))) });
        break;
      case 'fileBank.DeleteFile':
        out.push({ type: 'DeleteFile', operator: account(arg(e, 'operator')), owner: account(arg(e, 'owner')), fid: hashText(bytes(arg(e, 'fileHash'))) });
        break;
      case 'oss.Authorize':
        out.push({ type: 'Authorize', owner: account(arg(e, 'acc')), operator: account(arg(e, 'operator')) });
        break;
      case 'oss.CancelAuthorize':
        out.push({ type: 'CancelAuthorize', owner: account(arg(e, 'acc')), operator: account(arg(e, 'oss')) });
        break;
      case 'oss.OssRegister':
        out.push({ type: 'OssRegister', account: account(arg(e, 'acc')), endpoint: peerIdText(bytes(arg(e, 'endpoint'))) ?? '' });
        break;
      case 'oss.OssUpdate':
        out.push({ type: 'OssRegister', account: account(arg(e, 'acc')), endpoint: peerIdText(bytes(arg(e, 'newEndpoint'))) ?? '' });
        break;
      case 'storageHandler.MintTerritory':
        if (ctx.signer) out.push({ type: 'MintTerritory', owner: ctx.signer, name: text(bytes(arg(e, 'name'))), space: big(arg(e, 'storageCapacity')) });
        break;
      case 'balances.Transfer':
        out.push({ type: 'Transfer', from: account(arg(e, 'from')), to: account(arg(e, 'to')), amount: big(arg(e, 'amount')) });
        break;
    }
  }
  return out;
}

/** Signer and fee of an extrinsic, from its `TransactionFeePaid` event. */
export function feePaid(events: RawEvent[]): { signer?: string; fee: bigint } {
  const e = events.find((x) => x.section === 'transactionPayment' && x.method === 'TransactionFeePaid');
  return e ? { signer: account(arg(e, 'who')), fee: big(arg(e, 'actualFee')) + big(arg(e, 'tip')) } : { fee: 0n };
}

/** Groups a block's event records by the extrinsic that emitted them (initialization/finalization events dropped). */
export function byExtrinsic(records: RawEventRecord[]): Map<number, RawEvent[]> {
  const out = new Map<number, RawEvent[]>();
  for (const r of records) {
    if (!r.phase.isApplyExtrinsic) continue;
    const i = r.phase.asApplyExtrinsic.toNumber();
    let list = out.get(i);
    if (!list) out.set(i, (list = []));
    list.push(r.event);
  }
  return out;
}

/**
 * Splits a `utility.batch_all` extrinsic's events into one list per call: each call's events end with
 * `Utility.ItemCompleted`. Returns undefined when the events do not have that shape.
 */
export function splitBatch(events: RawEvent[], calls: number): RawEvent[][] | undefined {
  const parts: RawEvent[][] = [[]];
  for (const e of events) {
    if (e.section === 'utility' && e.method === 'ItemCompleted') parts.push([]);
    else if (e.section === 'utility' && e.method === 'BatchCompleted') break;
    else parts[parts.length - 1].push(e);
  }
  parts.pop();
  return parts.length === calls ? parts : undefined;
}

/** `DispatchError` of a failed extrinsic, if its events say it failed. */
export function failure(events: RawEvent[]): Codec | undefined {
  const e = events.find((x) => x.section === 'system' && x.method === 'ExtrinsicFailed');
  return e ? arg(e, 'dispatchError') : undefined;
}
