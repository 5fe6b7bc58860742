import { md5 } from '@noble/hashes/legacy.js';
import { namespaceError } from './errors.ts';
import { NAMESPACE_LIMITS as L } from './limits.ts';
import type { PartRecord, RequestedPart } from './types.ts';

/** CompleteMultipartUpload rules, as AWS applies them, over the parts an upload holds. */

export const unquote = (etag: string): string => etag.trim().replace(/^"(.*)"$/, '$1').replace(/^W\//, '');

export interface CompletionSelection {
  /** The requested parts, in request order (= ascending part number). */
  parts: PartRecord[];
  /** Uploaded parts the request leaves out. */
  unused: PartRecord[];
  size: number;
}

/**
 * Checks a completion request against the stored parts: at least one part (MalformedXML), strictly ascending
 * part numbers (InvalidPartOrder), every part uploaded with the ETag given (InvalidPart), every part but the last
 * at least minPartBytes (EntityTooSmall), total within maxObjectBytes (EntityTooLarge).
 */
export function selectCompletionParts(requested: RequestedPart[], stored: PartRecord[], minPartBytes: number = L.minPartBytes): CompletionSelection {
  if (!Array.isArray(requested) || requested.length === 0) {
    throw namespaceError('MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema: at least one part is required');
  }
  if (requested.length > L.maxPartNumber) throw namespaceError('InvalidArgument', `at most ${L.maxPartNumber} parts`);
  const byNumber = new Map(stored.map((p) => [p.partNumber, p]));
  const chosen: PartRecord[] = [];
  let previous = 0;
  for (const r of requested) {
    if (typeof r?.partNumber !== 'number' || !Number.isInteger(r.partNumber) || typeof r.etag !== 'string') {
      throw namespaceError('MalformedXML', 'each part needs a PartNumber and an ETag');
    }
    if (r.partNumber <= previous) {
      throw namespaceError('InvalidPartOrder', 'The list of parts was not in ascending order. The parts list must be specified in order by part number.');
    }
    previous = r.partNumber;
    const part = byNumber.get(r.partNumber);
    if (!part || part.etag !== unquote(r.etag)) {
      throw namespaceError(
        'InvalidPart',
        `One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag (part ${r.partNumber}).`,
      );
    }
    chosen.push(part);
  }
  for (let i = 0; i < chosen.length - 1; i++) {
    if (chosen[i].size < minPartBytes) {
      throw namespaceError('EntityTooSmall', `Your proposed upload is smaller than the minimum allowed size: part ${chosen[i].partNumber} has ${chosen[i].size} bytes, parts but the last need ${minPartBytes}`);
    }
  }
  const size = chosen.reduce((n, p) => n + p.size, 0);
  if (size > L.maxObjectBytes) throw namespaceError('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed object size');
  const used = new Set(chosen.map((p) => p.partNumber));
  return { parts: chosen, unused: stored.filter((p) => !used.has(p.partNumber)), size };
}

/** The S3 ETag of a multipart object: hex MD5 of the concatenated binary part MD5s, then `-<part count>`. */
export function multipartEtag(partEtags: string[]): string {
  const joined = new Uint8Array(partEtags.length * 16);
  partEtags.forEach((e, i) => {
    const hex = unquote(e);
    for (let j = 0; j < 16; j++) joined[i * 16 + j] = parseInt(hex.slice(j * 2, j * 2 + 2), 16);
  });
  const digest = md5(joined);
  return `${Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')}-${partEtags.length}`;
}
