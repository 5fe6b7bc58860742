import { commonPrefixOf, compareKeys, prefixSuccessor } from './keyspace.ts';

/**
 * S3 listing with prefix, delimiter and pagination over an ordered key space, shared by ListObjects and
 * ListMultipartUploads. Common prefixes count toward the page size like keys do. When a key rolls up into a
 * common prefix, the scan seeks straight past everything under that prefix (one index lookup), so a page costs
 * O(page size) lookups however many keys sit under each prefix.
 */

/** Where a scan resumes: at or after `key`; with `after`, past the row (key, after) among rows sharing that key. */
export interface ScanPosition {
  key: string;
  inclusive: boolean;
  /** Secondary order within one key (upload ids for ListMultipartUploads). */
  after?: string;
}

export interface OrderedSource<Row> {
  /**
   * Rows from `from` on, with keys below `below` (no bound when undefined), in order, at most `limit`. Read
   * lazily (a SQL cursor): the scan stops reading as soon as a row rolls up into a common prefix.
   */
  fetch(from: ScanPosition, below: string | undefined, limit: number): Iterable<Row>;
  keyOf(row: Row): string;
  /** The position just past `row`. */
  after(row: Row): ScanPosition;
}

export type ListEntry<Row> = { row: Row } | { commonPrefix: string };

export interface ScanRequest {
  prefix: string;
  delimiter?: string;
  /** Entries wanted (keys + common prefixes), 0..1000. */
  max: number;
  /** Resume point from a marker, start-after or token; undefined = from the beginning of the prefix. */
  start?: ScanPosition;
}

/** Largest batch fetched at once: a page is at most 1000 entries, +1 to learn whether more follow. */
const BATCH = 1001;

export function scan<Row>(source: OrderedSource<Row>, req: ScanRequest): { entries: ListEntry<Row>[]; truncated: boolean } {
  const entries: ListEntry<Row>[] = [];
  if (req.max === 0) return { entries, truncated: false };
  const upper = req.prefix ? prefixSuccessor(req.prefix) : undefined;
  let pos: ScanPosition = req.start ?? { key: req.prefix, inclusive: true };
  if (req.prefix && compareKeys(pos.key, req.prefix) < 0) pos = { key: req.prefix, inclusive: true };
  if (upper !== undefined && compareKeys(pos.key, upper) >= 0) return { entries, truncated: false };

  for (;;) {
    const limit = Math.min(req.max - entries.length + 1, BATCH);
    let seen = 0;
    let seeked = false;
    for (const row of source.fetch(pos, upper, limit)) {
      seen++;
      if (entries.length === req.max) return { entries, truncated: true };
      const cp = commonPrefixOf(source.keyOf(row), req.prefix, req.delimiter);
      if (cp === undefined) {
        entries.push({ row });
        pos = source.after(row);
        continue;
      }
      entries.push({ commonPrefix: cp });
      const next = prefixSuccessor(cp);
      if (next === undefined || (upper !== undefined && compareKeys(next, upper) >= 0)) {
        return { entries, truncated: false };
      }
      pos = { key: next, inclusive: true };
      seeked = true;
      break;
    }
    // A short batch read to its end (no seek) means the range is exhausted.
    if (!seeked && seen < limit) return { entries, truncated: false };
  }
}

/**
 * The position a marker (V1 marker, V2 start-after or continuation token, upload key-marker) stands for. A marker
 * that is itself a common prefix under (prefix, delimiter) means "that prefix was already returned": resume past
 * everything under it, not inside it.
 */
export function positionAfterMarker(marker: string, prefix: string, delimiter: string | undefined): ScanPosition | 'end' {
  if (marker.startsWith(prefix) && commonPrefixOf(marker, prefix, delimiter) === marker) {
    const next = prefixSuccessor(marker);
    return next === undefined ? 'end' : { key: next, inclusive: true };
  }
  return { key: marker, inclusive: false };
}

/** The marker that resumes after an entry: its key, or its common prefix. */
export function markerOf<Row>(entry: ListEntry<Row>, keyOf: (row: Row) => string): string {
  return 'commonPrefix' in entry ? entry.commonPrefix : keyOf(entry.row);
}
