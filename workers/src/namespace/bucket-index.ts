import { DurableObject } from 'cloudflare:workers';
import type { NamespaceBindings } from './env.ts';
import { namespaceError, returnNamespaceErrors } from './errors.ts';
import { decodeContinuationToken, encodeContinuationToken } from './keyspace.ts';
import { NAMESPACE_LIMITS as L } from './limits.ts';
import { markerOf, positionAfterMarker, scan, type ListEntry, type OrderedSource, type ScanPosition } from './listing.ts';
import { multipartEtag, selectCompletionParts, unquote } from './multipart.ts';
import type {
  BucketRecord,
  CannedAcl,
  ChecksumAlgorithm,
  CompletionPlan,
  CorsRule,
  DestroyResult,
  FinishResult,
  ListObjectsOptions,
  ListObjectsResult,
  ListPartsOptions,
  ListPartsResult,
  ListUploadsOptions,
  ListUploadsResult,
  MultipartUpload,
  ObjectChecksum,
  ObjectInput,
  ObjectRecord,
  ObjectReplacement,
  ObjectSummary,
  PartInput,
  PartRecord,
  PutObjectConditions,
  RequestedPart,
  StoredFile,
  UploadHeaders,
  WebsiteConfig,
} from './types.ts';
import {
  canonicalAccountOrThrow,
  checkBucketName,
  checkCors,
  checkKey,
  checkObjectInput,
  checkPartInput,
  checkPartNumber,
  checkTerritory,
  checkTags,
  checkUploadHeaders,
  checkWebsite,
  clampCount,
} from './validate.ts';

/**
 * One bucket's namespace: its settings, its objects (key → FID layout and headers) and its unfinished multipart
 * uploads. One instance per bucket (`idFromName(bucket)`), SQLite storage. Every method runs to completion without
 * awaiting anything, so each call is atomic and calls to one bucket are strictly ordered; multi-statement writes
 * run in transactionSync so a thrown error leaves nothing half-written.
 *
 * Errors are NamespaceErrors (S3 code in the message, see errors.ts): unwrap them with unwrapNamespaceError.
 * Every method except create and info throws NoSuchBucket until the bucket is created.
 */
export class BucketIndex extends DurableObject<NamespaceBindings> {
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: NamespaceBindings) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    for (const statement of SCHEMA) this.#sql.exec(statement);
    // Columns added after a bucket's tables were first made (its state persists across versions).
    for (const [table, column] of ADDED_COLUMNS) {
      const has = this.#sql.exec<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`).toArray().some((c) => c.name === column);
      if (!has) this.#sql.exec(`ALTER TABLE ${table} ADD COLUMN ${column} TEXT`);
    }
  }

  // ---------------------------------------------------------------------------------------------------- bucket

  /**
   * Creates the bucket record. Throws BucketAlreadyOwnedByYou when it exists with the same owner,
   * BucketAlreadyExists otherwise. (The global name registry is AccountDirectory.registerBucket: call it first.)
   */
  async create(input: { name: string; owner: string; territory: string; acl?: CannedAcl }): Promise<BucketRecord> {
    checkBucketName(input.name);
    const owner = canonicalAccountOrThrow(input.owner, 'owner');
    checkTerritory(input.territory);
    const acl = input.acl ?? 'private';
    checkAcl(acl);
    const existing = this.#bucketOrUndefined();
    if (existing) {
      throw existing.owner === owner
        ? namespaceError('BucketAlreadyOwnedByYou', 'Your previous request to create the named bucket succeeded and you already own it.')
        : namespaceError('BucketAlreadyExists', 'The requested bucket name is not available.');
    }
    const record: BucketRecord = { name: input.name, owner, territory: input.territory, created: Date.now(), acl };
    this.#sql.exec(
      'INSERT INTO bucket (id, name, owner, territory, created, acl) VALUES (1, ?, ?, ?, ?, ?)',
      record.name,
      record.owner,
      record.territory,
      record.created,
      record.acl,
    );
    return record;
  }

  /** The bucket record, or undefined when the bucket does not exist (HeadBucket, ownership checks). */
  async info(): Promise<BucketRecord | undefined> {
    return this.#bucketOrUndefined();
  }

  /**
   * Deletes the bucket. Throws BucketNotEmpty while any object exists. Unfinished multipart uploads do not block
   * deletion (AWS discards them too); their staged part handles come back for release at the origin. When more
   * than maxPartsReleasedOnDestroy parts are staged it throws BucketNotEmpty instead: abort the uploads first.
   */
  async destroy(): Promise<DestroyResult> {
    this.#bucket();
    if (this.#sql.exec('SELECT 1 FROM objects LIMIT 1').toArray().length > 0) {
      throw namespaceError('BucketNotEmpty', 'The bucket you tried to delete is not empty');
    }
    const staged = this.#sql.exec<{ n: number }>('SELECT count(*) AS n FROM parts').one().n;
    if (staged > L.maxPartsReleasedOnDestroy) {
      throw namespaceError('BucketNotEmpty', `The bucket has ${staged} staged multipart parts; abort its multipart uploads first`);
    }
    const releasedStagedParts = this.#sql.exec<{ staged: string }>('SELECT staged FROM parts').toArray().map((r) => r.staged);
    this.ctx.storage.transactionSync(() => {
      for (const table of ['parts', 'uploads', 'completed_uploads', 'file_refs', 'objects', 'bucket']) this.#sql.exec(`DELETE FROM ${table}`);
    });
    return { releasedStagedParts };
  }

  async setAcl(acl: CannedAcl): Promise<BucketRecord> {
    this.#bucket();
    checkAcl(acl);
    this.#sql.exec('UPDATE bucket SET acl = ? WHERE id = 1', acl);
    return this.#bucket();
  }

  /** Records that versioning was suspended (PutBucketVersioning with Status Suspended). */
  async suspendVersioning(): Promise<BucketRecord> {
    this.#bucket();
    this.#sql.exec("UPDATE bucket SET versioning = 'Suspended' WHERE id = 1");
    return this.#bucket();
  }

  /** Sets or (null) removes the bucket policy; the caller has checked it (s3/bucket-policy.ts). */
  async setPolicy(policy: string | null): Promise<BucketRecord> {
    this.#bucket();
    this.#sql.exec('UPDATE bucket SET policy = ? WHERE id = 1', policy);
    return this.#bucket();
  }

  async putCors(rules: CorsRule[]): Promise<void> {
    this.#bucket();
    checkCors(rules);
    this.#sql.exec('UPDATE bucket SET cors = ? WHERE id = 1', JSON.stringify(rules));
  }

  /** The CORS rules, or undefined when none are set (GetBucketCors answers NoSuchCORSConfiguration). */
  async getCors(): Promise<CorsRule[] | undefined> {
    const row = this.#bucketRow();
    return row.cors === null ? undefined : (JSON.parse(row.cors) as CorsRule[]);
  }

  async deleteCors(): Promise<void> {
    this.#bucket();
    this.#sql.exec('UPDATE bucket SET cors = NULL WHERE id = 1');
  }

  async putWebsite(config: WebsiteConfig): Promise<void> {
    this.#bucket();
    checkWebsite(config);
    this.#sql.exec('UPDATE bucket SET website = ? WHERE id = 1', JSON.stringify(config));
  }

  /** The website configuration, or undefined when none is set (NoSuchWebsiteConfiguration). */
  async getWebsite(): Promise<WebsiteConfig | undefined> {
    const row = this.#bucketRow();
    return row.website === null ? undefined : (JSON.parse(row.website) as WebsiteConfig);
  }

  async deleteWebsite(): Promise<void> {
    this.#bucket();
    this.#sql.exec('UPDATE bucket SET website = NULL WHERE id = 1');
  }

  // --------------------------------------------------------------------------------------------------- objects

  /**
   * Writes `key` (the bytes are already at the origin). Returns the new record, the record it replaced and the
   * files of the replaced record nothing in this bucket references any more. `conditions` are checked atomically
   * with the write (If-Match / If-None-Match: *), failing with PreconditionFailed.
   */
  async putObject(key: string, input: ObjectInput, conditions: PutObjectConditions = {}): Promise<FinishResult> {
    const bucket = this.#bucket();
    if (conditions.owner !== undefined && bucket.owner !== conditions.owner) throw namespaceError('AccessDenied', 'Access Denied');
    checkKey(key);
    checkObjectInput(input);
    return this.ctx.storage.transactionSync(() => {
      const current = this.#objectOrUndefined(key);
      if (conditions.ifNoneMatch === '*' && current) {
        throw namespaceError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold (If-None-Match: *)');
      }
      if (conditions.ifMatch !== undefined && (!current || (conditions.ifMatch !== '*' && unquote(conditions.ifMatch) !== current.etag))) {
        throw namespaceError('PreconditionFailed', 'At least one of the pre-conditions you specified did not hold (If-Match)');
      }
      return this.#writeObject(key, input, current);
    });
  }

  /**
   * Takes back a putObject whose bytes the origin then failed to commit: `key` gets `previous` again (or goes), but
   * only while it still holds `written` (a later write stays). Returns whether it did.
   */
  async revertObject(key: string, written: ObjectRecord, previous?: ObjectRecord): Promise<boolean> {
    this.#bucket();
    checkKey(key);
    return this.ctx.storage.transactionSync(() => {
      const current = this.#objectOrUndefined(key);
      if (!current || !sameWrite(current, written)) return false;
      if (previous) this.#writeObject(key, previous, current);
      else {
        this.#sql.exec('DELETE FROM objects WHERE key = ?', key);
        this.#dropRefs(key, current.parts);
      }
      return true;
    });
  }

  /** The object under `key`, or undefined. */
  async getObject(key: string): Promise<ObjectRecord | undefined> {
    this.#bucket();
    checkKey(key);
    return this.#objectOrUndefined(key);
  }

  /**
   * The bucket and the object under `key` in one call (a read needs both: the bucket to authorize, then the
   * object). `bucket` undefined: no such bucket.
   */
  async lookup(key: string): Promise<{ bucket?: BucketRecord; object?: ObjectRecord }> {
    const bucket = this.#bucketOrUndefined();
    if (!bucket) return {};
    checkKey(key);
    return { bucket, object: this.#objectOrUndefined(key) };
  }

  /**
   * Replaces the tags of the object under `key` (none: removes them); NoSuchKey when there is none. The object is
   * otherwise unchanged, Last-Modified included (as S3). Returns the tags now kept.
   */
  async putObjectTags(key: string, tags: [string, string][]): Promise<[string, string][]> {
    this.#bucket();
    checkKey(key);
    checkTags(tags, L.maxObjectTags);
    const kept = tags.map(([k, v]): [string, string] => [k, v]);
    const changed = this.#sql.exec('UPDATE objects SET tags = ? WHERE key = ?', kept.length ? JSON.stringify(kept) : null, key).rowsWritten;
    if (changed === 0) throw namespaceError('NoSuchKey', 'The specified key does not exist.');
    return kept;
  }

  /** The bucket's tags, or undefined when it has none (GetBucketTagging: NoSuchTagSet). */
  async getBucketTags(): Promise<[string, string][] | undefined> {
    this.#bucket();
    const row = this.#sql.exec<{ tags: string | null }>('SELECT tags FROM bucket WHERE id = 1').one();
    return row.tags === null ? undefined : JSON.parse(row.tags);
  }

  /** Replaces the bucket's tags; undefined removes them. */
  async putBucketTags(tags: [string, string][] | undefined): Promise<void> {
    this.#bucket();
    if (tags !== undefined) checkTags(tags, L.maxBucketTags);
    this.#sql.exec('UPDATE bucket SET tags = ? WHERE id = 1', tags === undefined ? null : JSON.stringify(tags.map(([k, v]) => [k, v])));
  }

  /**
   * Deletes `key`; deleting a missing key succeeds (S3 semantics) with `previous` undefined. `releasable` lists the
   * deleted object's files nothing else in this bucket references.
   */
  async deleteObject(key: string): Promise<ObjectReplacement> {
    this.#bucket();
    checkKey(key);
    return this.ctx.storage.transactionSync(() => {
      const previous = this.#objectOrUndefined(key);
      if (!previous) return { releasable: [] };
      this.#sql.exec('DELETE FROM objects WHERE key = ?', key);
      this.#dropRefs(key, previous.parts);
      return { previous, releasable: this.#unreferenced(previous.parts) };
    });
  }

  /**
   * DeleteObjects: up to maxDeleteKeys keys, each deleted (or already absent) in one transaction. Per key: whether
   * something was there and its ETag. `releasable` covers all deleted objects.
   */
  async deleteObjects(keys: string[]): Promise<{ deleted: Array<{ key: string; existed: boolean; etag?: string }>; releasable: StoredFile[] }> {
    this.#bucket();
    if (!Array.isArray(keys) || keys.length === 0) throw namespaceError('MalformedXML', 'DeleteObjects needs at least one key');
    if (keys.length > L.maxDeleteKeys) throw namespaceError('MalformedXML', `DeleteObjects takes at most ${L.maxDeleteKeys} keys`);
    keys.forEach((k) => checkKey(k));
    return this.ctx.storage.transactionSync(() => {
      const deleted: Array<{ key: string; existed: boolean; etag?: string }> = [];
      const dropped = new Map<string, StoredFile>();
      for (const key of keys) {
        const previous = this.#objectOrUndefined(key);
        if (!previous) {
          deleted.push({ key, existed: false });
          continue;
        }
        this.#sql.exec('DELETE FROM objects WHERE key = ?', key);
        this.#dropRefs(key, previous.parts);
        for (const f of previous.parts) dropped.set(f.fid, f);
        deleted.push({ key, existed: true, etag: previous.etag });
      }
      return { deleted, releasable: this.#unreferenced([...dropped.values()]) };
    });
  }

  /**
   * ListObjects (V1 with `marker`, V2 with `startAfter`/`continuationToken`). Keys in UTF-8 byte order; with a
   * delimiter, keys containing it after the prefix roll up into common prefixes, each counting as one entry
   * toward maxKeys. nextMarker / nextContinuationToken are set whenever the answer is truncated.
   */
  async listObjects(options: ListObjectsOptions = {}): Promise<ListObjectsResult> {
    const bucket = this.#bucket();
    const prefix = options.prefix ?? '';
    const delimiter = options.delimiter || undefined;
    const max = clampCount(options.maxKeys, 'max-keys');
    const marker = options.continuationToken !== undefined ? decodeContinuationToken(options.continuationToken) : (options.startAfter ?? options.marker);
    let start: ScanPosition | undefined;
    if (marker !== undefined && marker !== '') {
      const p = positionAfterMarker(marker, prefix, delimiter);
      if (p === 'end') return { contents: [], commonPrefixes: [], isTruncated: false, keyCount: 0 };
      start = p;
    }
    const { entries, truncated } = scan(this.#objectSource, { prefix, delimiter, max, start });
    const owner = options.fetchOwner ? { id: bucket.owner, displayName: bucket.owner } : undefined;
    const contents: ObjectSummary[] = [];
    const commonPrefixes: string[] = [];
    for (const e of entries) {
      if ('commonPrefix' in e) commonPrefixes.push(e.commonPrefix);
      else contents.push(summaryOf(e.row, owner));
    }
    const result: ListObjectsResult = { contents, commonPrefixes, isTruncated: truncated, keyCount: entries.length };
    if (truncated) {
      const last = markerOf(entries[entries.length - 1], (r: SummaryRow) => r.key);
      result.nextMarker = last;
      result.nextContinuationToken = encodeContinuationToken(last);
    }
    return result;
  }

  // ------------------------------------------------------------------------------------------------- multipart

  /** CreateMultipartUpload: records the upload and the headers its final object will carry. */
  async createMultipart(key: string, options: { initiator: string; headers: UploadHeaders }): Promise<MultipartUpload> {
    this.#bucket();
    checkKey(key);
    const initiator = canonicalAccountOrThrow(options.initiator, 'initiator');
    const headers: UploadHeaders = { ...options.headers, metadata: options.headers?.metadata ?? {} };
    checkUploadHeaders(headers);
    const upload: MultipartUpload = { uploadId: newUploadId(), key, initiated: Date.now(), initiator, headers };
    this.#sql.exec(
      'INSERT INTO uploads (upload_id, key, initiated, initiator, headers) VALUES (?, ?, ?, ?, ?)',
      upload.uploadId,
      key,
      upload.initiated,
      upload.initiator,
      JSON.stringify(headers),
    );
    return upload;
  }

  /** The upload, or NoSuchUpload (also when it belongs to another key). Check this before streaming a part. */
  async getUpload(key: string, uploadId: string): Promise<MultipartUpload> {
    this.#bucket();
    return uploadOf(this.#uploadRow(key, uploadId));
  }

  /**
   * UploadPart: records a part whose bytes are staged at the origin. A part number uploaded again replaces the
   * earlier one; `previous` is returned so its staged bytes can be released. OperationAborted while a
   * completion holds the upload.
   */
  async putPart(key: string, uploadId: string, part: PartInput): Promise<{ part: PartRecord; previous?: PartRecord }> {
    this.#bucket();
    checkPartInput(part);
    return this.ctx.storage.transactionSync(() => {
      const upload = this.#uploadRow(key, uploadId);
      if (upload.completing_until !== null && upload.completing_until > Date.now()) {
        throw namespaceError('OperationAborted', 'The upload is being completed; parts can no longer be uploaded');
      }
      const previous = this.#partOrUndefined(uploadId, part.partNumber);
      const record: PartRecord = { ...part, lastModified: Date.now() };
      this.#sql.exec(
        `INSERT OR REPLACE INTO parts (upload_id, part_number, etag, size, staged, checksum_algorithm, checksum_value, last_modified)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        uploadId,
        part.partNumber,
        part.etag,
        part.size,
        part.staged,
        part.checksum?.algorithm ?? null,
        part.checksum?.value ?? null,
        record.lastModified,
      );
      return previous ? { part: record, previous } : { part: record };
    });
  }

  /** ListParts, ascending by part number, after partNumberMarker. */
  async listParts(key: string, uploadId: string, options: ListPartsOptions = {}): Promise<ListPartsResult> {
    this.#bucket();
    const upload = uploadOf(this.#uploadRow(key, uploadId));
    const max = clampCount(options.maxParts, 'max-parts');
    const markerNumber = options.partNumberMarker ?? 0;
    if (!Number.isInteger(markerNumber) || markerNumber < 0) throw namespaceError('InvalidArgument', 'part-number-marker must be a non-negative integer');
    const rows = this.#sql
      .exec<PartRow>('SELECT * FROM parts WHERE upload_id = ? AND part_number > ? ORDER BY part_number LIMIT ?', uploadId, markerNumber, max + 1)
      .toArray();
    const isTruncated = rows.length > max;
    const parts = rows.slice(0, max).map(partOf);
    const result: ListPartsResult = { upload, parts, isTruncated };
    if (isTruncated) result.nextPartNumberMarker = parts[parts.length - 1].partNumber;
    return result;
  }

  /**
   * ListMultipartUploads: uploads ordered by key, then by initiation (upload ids sort by creation time). With
   * keyMarker alone, only keys after it; with uploadIdMarker too, also that key's later uploads.
   */
  async listMultipartUploads(options: ListUploadsOptions = {}): Promise<ListUploadsResult> {
    this.#bucket();
    const prefix = options.prefix ?? '';
    const delimiter = options.delimiter || undefined;
    const max = clampCount(options.maxUploads, 'max-uploads');
    let start: ScanPosition | undefined;
    if (options.keyMarker) {
      if (options.uploadIdMarker) start = { key: options.keyMarker, inclusive: false, after: options.uploadIdMarker };
      else {
        const p = positionAfterMarker(options.keyMarker, prefix, delimiter);
        if (p === 'end') return { uploads: [], commonPrefixes: [], isTruncated: false };
        start = p;
      }
    }
    const { entries, truncated } = scan(this.#uploadSource, { prefix, delimiter, max, start });
    const uploads: MultipartUpload[] = [];
    const commonPrefixes: string[] = [];
    for (const e of entries) {
      if ('commonPrefix' in e) commonPrefixes.push(e.commonPrefix);
      else uploads.push(uploadOf(e.row));
    }
    const result: ListUploadsResult = { uploads, commonPrefixes, isTruncated: truncated };
    if (truncated) {
      const last: ListEntry<UploadRow> = entries[entries.length - 1];
      if ('commonPrefix' in last) result.nextKeyMarker = last.commonPrefix;
      else {
        result.nextKeyMarker = last.row.key;
        result.nextUploadIdMarker = last.row.upload_id;
      }
    }
    return result;
  }

  /**
   * CompleteMultipartUpload, first half: validates the requested parts (MalformedXML, InvalidPartOrder,
   * InvalidPart, EntityTooSmall, NoSuchUpload) and takes a completion lease on the upload so its parts cannot
   * change while the caller merges them at the origin. Writes no object: call finishMultipart with the returned
   * completionToken once the bytes are in place. A completion still holding its lease makes a second one fail with
   * OperationAborted; a repeat for an upload that already finished returns status 'completed' with its result.
   */
  async completeMultipart(key: string, uploadId: string, requested: RequestedPart[]): Promise<CompletionPlan> {
    this.#bucket();
    checkKey(key);
    const done = this.#sql
      .exec<{ key: string; etag: string; size: number; completed: number }>('SELECT key, etag, size, completed FROM completed_uploads WHERE upload_id = ?', uploadId)
      .toArray()[0];
    if (done && done.key === key && done.completed > Date.now() - L.completedUploadMemoryMs) {
      return { status: 'completed', uploadId, key, etag: done.etag, size: done.size };
    }
    return this.ctx.storage.transactionSync(() => {
      const row = this.#uploadRow(key, uploadId);
      const now = Date.now();
      if (row.completing_until !== null && row.completing_until > now) {
        throw namespaceError('OperationAborted', 'Another CompleteMultipartUpload for this upload is in progress; try again later');
      }
      const stored = this.#sql.exec<PartRow>('SELECT * FROM parts WHERE upload_id = ? ORDER BY part_number', uploadId).toArray().map(partOf);
      const selection = selectCompletionParts(requested, stored);
      const etag = multipartEtag(selection.parts.map((p) => p.etag));
      const completionToken = randomToken(16);
      this.#sql.exec(
        `UPDATE uploads SET completion_token = ?, completing_until = ?, completion_parts = ?, completion_etag = ?, completion_size = ?
         WHERE upload_id = ?`,
        completionToken,
        now + L.completionLeaseMs,
        JSON.stringify(selection.parts.map((p) => p.partNumber)),
        etag,
        selection.size,
        uploadId,
      );
      return {
        status: 'ready' as const,
        uploadId,
        key,
        completionToken,
        parts: selection.parts,
        unused: selection.unused,
        size: selection.size,
        etag,
        headers: JSON.parse(row.headers) as UploadHeaders,
      };
    });
  }

  /**
   * CompleteMultipartUpload, second half: writes the object (headers from the upload, size and ETag from the
   * completion) with the storage layout the origin produced, and deletes the upload and its parts, atomically.
   * OperationAborted when `completionToken` no longer holds the upload (another completion took over after the
   * lease ran out); NoSuchUpload when it was aborted meanwhile. Either way the caller releases what it merged.
   */
  async finishMultipart(key: string, uploadId: string, completionToken: string, layout: { files: StoredFile[]; checksum?: ObjectChecksum }): Promise<FinishResult> {
    this.#bucket();
    checkKey(key);
    return this.ctx.storage.transactionSync(() => {
      const row = this.#uploadRow(key, uploadId);
      if (row.completion_token === null || row.completion_token !== completionToken || row.completion_etag === null || row.completion_size === null) {
        throw namespaceError('OperationAborted', 'This completion no longer holds the upload');
      }
      const headers = JSON.parse(row.headers) as UploadHeaders;
      const { checksumAlgorithm: _a, checksumType: _t, ...objectHeaders } = headers;
      const partNumbers = JSON.parse(row.completion_parts ?? '[]') as number[];
      const input: ObjectInput = {
        ...objectHeaders,
        size: row.completion_size,
        etag: row.completion_etag,
        parts: layout.files,
        partsCount: partNumbers.length,
        ...(layout.checksum ? { checksum: layout.checksum } : {}),
      };
      checkObjectInput(input);
      const result = this.#writeObject(key, input, this.#objectOrUndefined(key));
      this.#sql.exec('DELETE FROM parts WHERE upload_id = ?', uploadId);
      this.#sql.exec('DELETE FROM uploads WHERE upload_id = ?', uploadId);
      this.#sql.exec('DELETE FROM completed_uploads WHERE completed <= ?', Date.now() - L.completedUploadMemoryMs);
      this.#sql.exec(
        'INSERT OR REPLACE INTO completed_uploads (upload_id, key, etag, size, completed) VALUES (?, ?, ?, ?, ?)',
        uploadId,
        key,
        input.etag,
        input.size,
        result.object.lastModified,
      );
      return result;
    });
  }

  /** AbortMultipartUpload: forgets the upload; its parts come back so their staged bytes can be released. */
  async abortMultipart(key: string, uploadId: string): Promise<{ released: PartRecord[] }> {
    this.#bucket();
    return this.ctx.storage.transactionSync(() => {
      this.#uploadRow(key, uploadId);
      const released = this.#sql.exec<PartRow>('SELECT * FROM parts WHERE upload_id = ? ORDER BY part_number', uploadId).toArray().map(partOf);
      this.#sql.exec('DELETE FROM parts WHERE upload_id = ?', uploadId);
      this.#sql.exec('DELETE FROM uploads WHERE upload_id = ?', uploadId);
      return { released };
    });
  }

  // ---------------------------------------------------------------------------------------------------- inside

  #bucketRow(): BucketRow {
    const row = this.#sql.exec<BucketRow>('SELECT * FROM bucket WHERE id = 1').toArray()[0];
    if (!row) throw namespaceError('NoSuchBucket', 'The specified bucket does not exist');
    return row;
  }

  #bucket(): BucketRecord {
    return bucketOf(this.#bucketRow());
  }

  #bucketOrUndefined(): BucketRecord | undefined {
    const row = this.#sql.exec<BucketRow>('SELECT * FROM bucket WHERE id = 1').toArray()[0];
    return row ? bucketOf(row) : undefined;
  }

  #objectOrUndefined(key: string): ObjectRecord | undefined {
    const row = this.#sql.exec<ObjectRow>('SELECT * FROM objects WHERE key = ?', key).toArray()[0];
    return row ? objectOf(row) : undefined;
  }

  #partOrUndefined(uploadId: string, partNumber: number): PartRecord | undefined {
    checkPartNumber(partNumber);
    const row = this.#sql.exec<PartRow>('SELECT * FROM parts WHERE upload_id = ? AND part_number = ?', uploadId, partNumber).toArray()[0];
    return row ? partOf(row) : undefined;
  }

  #uploadRow(key: string, uploadId: string): UploadRow {
    const row = typeof uploadId === 'string' ? this.#sql.exec<UploadRow>('SELECT * FROM uploads WHERE upload_id = ?', uploadId).toArray()[0] : undefined;
    if (!row || row.key !== key) {
      throw namespaceError('NoSuchUpload', 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.');
    }
    return row;
  }

  /** Writes an object row and its file references; the caller holds a transaction. */
  #writeObject(key: string, input: ObjectInput, current: ObjectRecord | undefined): FinishResult {
    // Built field by field so the record returned is exactly what a later getObject reads back.
    const parts = input.parts.map((p) => ({ fid: p.fid, size: p.size }));
    const object: ObjectRecord = {
      key,
      fid: parts.length === 1 ? parts[0].fid : null,
      size: input.size,
      etag: input.etag,
      lastModified: input.lastModified ?? Date.now(),
      metadata: { ...(input.metadata ?? {}) },
      parts,
    };
    for (const f of ['contentType', 'contentEncoding', 'contentDisposition', 'contentLanguage', 'cacheControl', 'expires', 'sseCustomerAlgorithm', 'sseCustomerKeyMd5', 'websiteRedirectLocation'] as const) {
      if (input[f] !== undefined) (object as unknown as Record<string, string>)[f] = input[f];
    }
    if (input.checksum) object.checksum = { algorithm: input.checksum.algorithm, value: input.checksum.value, type: input.checksum.type };
    if (input.partsCount !== undefined) object.partsCount = input.partsCount;
    if (input.tags?.length) object.tags = input.tags.map(([k, v]) => [k, v]);
    this.#sql.exec(
      `INSERT OR REPLACE INTO objects (key, fid, size, etag, last_modified, content_type, content_encoding, content_disposition,
         content_language, cache_control, expires, metadata, checksum_algorithm, checksum_value, checksum_type,
         sse_algorithm, sse_key_md5, parts, parts_count, tags, website_redirect)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      key,
      object.fid,
      object.size,
      object.etag,
      object.lastModified,
      object.contentType ?? null,
      object.contentEncoding ?? null,
      object.contentDisposition ?? null,
      object.contentLanguage ?? null,
      object.cacheControl ?? null,
      object.expires ?? null,
      JSON.stringify(object.metadata),
      object.checksum?.algorithm ?? null,
      object.checksum?.value ?? null,
      object.checksum?.type ?? null,
      object.sseCustomerAlgorithm ?? null,
      object.sseCustomerKeyMd5 ?? null,
      JSON.stringify(parts.map((p) => [p.fid, p.size])),
      object.partsCount ?? null,
      object.tags ? JSON.stringify(object.tags) : null,
      object.websiteRedirectLocation ?? null,
    );
    if (current) this.#dropRefs(key, current.parts);
    for (const fid of new Set(parts.map((p) => p.fid))) this.#sql.exec('INSERT OR IGNORE INTO file_refs (fid, key) VALUES (?, ?)', fid, key);
    const releasable = current ? this.#unreferenced(current.parts) : [];
    return current ? { object, previous: current, releasable } : { object, releasable };
  }

  #dropRefs(key: string, files: StoredFile[]): void {
    for (const fid of new Set(files.map((f) => f.fid))) this.#sql.exec('DELETE FROM file_refs WHERE fid = ? AND key = ?', fid, key);
  }

  /** The files (one entry per FID) no key references any more. */
  #unreferenced(files: StoredFile[]): StoredFile[] {
    const out = new Map<string, StoredFile>();
    for (const f of files) {
      if (out.has(f.fid)) continue;
      if (this.#sql.exec('SELECT 1 FROM file_refs WHERE fid = ? LIMIT 1', f.fid).toArray().length === 0) out.set(f.fid, { fid: f.fid, size: f.size });
    }
    return [...out.values()];
  }

  readonly #objectSource: OrderedSource<SummaryRow> = {
    fetch: (from, below, limit) => {
      const op = from.inclusive ? '>=' : '>';
      const columns = 'key, size, etag, last_modified, checksum_algorithm, checksum_type';
      return below === undefined
        ? this.#sql.exec<SummaryRow>(`SELECT ${columns} FROM objects WHERE key ${op} ? ORDER BY key LIMIT ?`, from.key, limit)
        : this.#sql.exec<SummaryRow>(`SELECT ${columns} FROM objects WHERE key ${op} ? AND key < ? ORDER BY key LIMIT ?`, from.key, below, limit);
    },
    keyOf: (row) => row.key,
    after: (row) => ({ key: row.key, inclusive: false }),
  };

  readonly #uploadSource: OrderedSource<UploadRow> = {
    fetch: (from, below, limit) => {
      const bound = below === undefined ? '' : 'AND key < ?';
      const tail = below === undefined ? [limit] : [below, limit];
      if (from.after !== undefined) {
        return this.#sql
          .exec<UploadRow>(
            `SELECT * FROM uploads WHERE ((key = ? AND upload_id > ?) OR key > ?) ${bound} ORDER BY key, upload_id LIMIT ?`,
            from.key,
            from.after,
            from.key,
            ...tail,
          );
      }
      const op = from.inclusive ? '>=' : '>';
      return this.#sql.exec<UploadRow>(`SELECT * FROM uploads WHERE key ${op} ? ${bound} ORDER BY key, upload_id LIMIT ?`, from.key, ...tail);
    },
    keyOf: (row) => row.key,
    after: (row) => ({ key: row.key, inclusive: false, after: row.upload_id }),
  };
}

// S3 refusals are answers, not exceptions of the object (see errors.ts).
returnNamespaceErrors(BucketIndex);

// ------------------------------------------------------------------------------------------------------ schema

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS bucket (
     id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, owner TEXT NOT NULL, territory TEXT NOT NULL,
     created INTEGER NOT NULL, acl TEXT NOT NULL, cors TEXT, website TEXT, tags TEXT)`,
  `CREATE TABLE IF NOT EXISTS objects (
     key TEXT NOT NULL PRIMARY KEY, fid TEXT, size INTEGER NOT NULL, etag TEXT NOT NULL, last_modified INTEGER NOT NULL,
     content_type TEXT, content_encoding TEXT, content_disposition TEXT, content_language TEXT, cache_control TEXT,
     expires TEXT, metadata TEXT NOT NULL, checksum_algorithm TEXT, checksum_value TEXT, checksum_type TEXT,
     sse_algorithm TEXT, sse_key_md5 TEXT, parts TEXT NOT NULL, parts_count INTEGER, tags TEXT, website_redirect TEXT)`,
  // Which keys point at each FID, so a replaced or deleted object's files are released only when unreferenced.
  `CREATE TABLE IF NOT EXISTS file_refs (fid TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (fid, key)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS uploads (
     upload_id TEXT NOT NULL PRIMARY KEY, key TEXT NOT NULL, initiated INTEGER NOT NULL, initiator TEXT NOT NULL,
     headers TEXT NOT NULL, completion_token TEXT, completing_until INTEGER, completion_parts TEXT,
     completion_etag TEXT, completion_size INTEGER)`,
  `CREATE INDEX IF NOT EXISTS uploads_by_key ON uploads (key, upload_id)`,
  `CREATE TABLE IF NOT EXISTS parts (
     upload_id TEXT NOT NULL, part_number INTEGER NOT NULL, etag TEXT NOT NULL, size INTEGER NOT NULL,
     staged TEXT NOT NULL, checksum_algorithm TEXT, checksum_value TEXT, last_modified INTEGER NOT NULL,
     PRIMARY KEY (upload_id, part_number)) WITHOUT ROWID`,
  `CREATE TABLE IF NOT EXISTS completed_uploads (
     upload_id TEXT NOT NULL PRIMARY KEY, key TEXT NOT NULL, etag TEXT NOT NULL, size INTEGER NOT NULL, completed INTEGER NOT NULL)`,
];

/** [table, column] pairs added to SCHEMA later (TEXT, NULL in existing rows); the constructor adds what is missing. */
const ADDED_COLUMNS: [string, string][] = [
  ['bucket', 'tags'],
  ['objects', 'tags'],
  ['objects', 'website_redirect'],
  ['bucket', 'policy'],
  ['bucket', 'versioning'],
];

type BucketRow = { name: string; owner: string; territory: string; created: number; acl: string; cors: string | null; website: string | null; policy: string | null; versioning: string | null };
type SummaryRow = { key: string; size: number; etag: string; last_modified: number; checksum_algorithm: string | null; checksum_type: string | null };
type ObjectRow = SummaryRow & {
  fid: string | null;
  content_type: string | null;
  content_encoding: string | null;
  content_disposition: string | null;
  content_language: string | null;
  cache_control: string | null;
  expires: string | null;
  metadata: string;
  checksum_value: string | null;
  sse_algorithm: string | null;
  sse_key_md5: string | null;
  parts: string;
  parts_count: number | null;
  tags: string | null;
  website_redirect: string | null;
};
type UploadRow = {
  upload_id: string;
  key: string;
  initiated: number;
  initiator: string;
  headers: string;
  completion_token: string | null;
  completing_until: number | null;
  completion_parts: string | null;
  completion_etag: string | null;
  completion_size: number | null;
};
type PartRow = {
  upload_id: string;
  part_number: number;
  etag: string;
  size: number;
  staged: string;
  checksum_algorithm: string | null;
  checksum_value: string | null;
  last_modified: number;
};

function bucketOf(row: BucketRow): BucketRecord {
  const record: BucketRecord = { name: row.name, owner: row.owner, territory: row.territory, created: row.created, acl: row.acl as CannedAcl };
  if (row.policy !== null && row.policy !== undefined) record.policy = row.policy;
  if (row.versioning === 'Suspended') record.versioning = 'Suspended';
  return record;
}

function objectOf(row: ObjectRow): ObjectRecord {
  const parts = (JSON.parse(row.parts) as Array<[string, number]>).map(([fid, size]) => ({ fid, size }));
  const o: ObjectRecord = { key: row.key, fid: row.fid, size: row.size, etag: row.etag, lastModified: row.last_modified, metadata: JSON.parse(row.metadata), parts };
  if (row.content_type !== null) o.contentType = row.content_type;
  if (row.content_encoding !== null) o.contentEncoding = row.content_encoding;
  if (row.content_disposition !== null) o.contentDisposition = row.content_disposition;
  if (row.content_language !== null) o.contentLanguage = row.content_language;
  if (row.cache_control !== null) o.cacheControl = row.cache_control;
  if (row.expires !== null) o.expires = row.expires;
  if (row.checksum_algorithm !== null && row.checksum_value !== null) {
    o.checksum = { algorithm: row.checksum_algorithm as ChecksumAlgorithm, value: row.checksum_value, type: (row.checksum_type ?? 'FULL_OBJECT') as ObjectChecksum['type'] };
  }
  if (row.sse_algorithm !== null) o.sseCustomerAlgorithm = row.sse_algorithm as 'AES256';
  if (row.sse_key_md5 !== null) o.sseCustomerKeyMd5 = row.sse_key_md5;
  if (row.parts_count !== null) o.partsCount = row.parts_count;
  if (row.tags !== null) o.tags = JSON.parse(row.tags);
  if (row.website_redirect !== null) o.websiteRedirectLocation = row.website_redirect;
  return o;
}

function summaryOf(row: SummaryRow, owner: ObjectSummary['owner']): ObjectSummary {
  const s: ObjectSummary = { key: row.key, lastModified: row.last_modified, etag: row.etag, size: row.size, storageClass: 'STANDARD' };
  if (row.checksum_algorithm !== null) {
    s.checksumAlgorithm = row.checksum_algorithm as ChecksumAlgorithm;
    s.checksumType = (row.checksum_type ?? 'FULL_OBJECT') as ObjectSummary['checksumType'];
  }
  if (owner) s.owner = owner;
  return s;
}

function uploadOf(row: UploadRow): MultipartUpload {
  return { uploadId: row.upload_id, key: row.key, initiated: row.initiated, initiator: row.initiator, headers: JSON.parse(row.headers) };
}

function partOf(row: PartRow): PartRecord {
  const p: PartRecord = { partNumber: row.part_number, etag: row.etag, size: row.size, staged: row.staged, lastModified: row.last_modified };
  if (row.checksum_algorithm !== null && row.checksum_value !== null) p.checksum = { algorithm: row.checksum_algorithm as ChecksumAlgorithm, value: row.checksum_value };
  return p;
}

function checkAcl(acl: unknown): asserts acl is CannedAcl {
  if (acl !== 'private' && acl !== 'public-read') throw namespaceError('InvalidArgument', `unsupported canned ACL ${String(acl)}: use private or public-read`);
}

function randomToken(bytes: number): string {
  const b = crypto.getRandomValues(new Uint8Array(bytes));
  return btoa(String.fromCharCode(...b)).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** Upload ids sort by creation time: 12 hex digits of ms, then 16 random bytes (URL-safe). */
function newUploadId(): string {
  return Date.now().toString(16).padStart(12, '0') + randomToken(16);
}

/** Is `a` the record one particular write produced (same files, ETag and time), not merely the same bytes? */
export function sameWrite(a: ObjectRecord, b: ObjectRecord): boolean {
  return a.etag === b.etag && a.lastModified === b.lastModified && JSON.stringify(a.parts) === JSON.stringify(b.parts);
}
