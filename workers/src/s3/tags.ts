import { S3Error } from './errors.ts';

/**
 * S3 tag sets: object tags (`x-amz-tagging` on writes, PutObjectTagging) and bucket tags (PutBucketTagging). Kept
 * as key/value pairs in the order given (S3 treats them as a set; pairs also keep keys like `__proto__` harmless).
 */
export type TagSet = [key: string, value: string][];

/** Most tags on one object (S3: 10). */
export const MAX_OBJECT_TAGS = 10;
/** Most tags on one bucket (S3: 50). */
export const MAX_BUCKET_TAGS = 50;
/** Longest tag key, in Unicode characters (S3: 128). */
export const MAX_TAG_KEY_CHARS = 128;
/** Longest tag value, in Unicode characters (S3: 256). */
export const MAX_TAG_VALUE_CHARS = 256;

/** S3's alphabet for tag keys and values: letters, digits, spaces and `+ - = . _ : / @`. */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;

/** A tag set from key/value pairs, checked as S3 checks one (InvalidTag). */
export function tagSet(pairs: Iterable<[string, string]>, max: number): TagSet {
  const tags: TagSet = [];
  const seen = new Set<string>();
  for (const [key, value] of pairs) {
    const keyChars = [...key].length;
    if (keyChars < 1 || keyChars > MAX_TAG_KEY_CHARS || !TAG_TEXT.test(key)) throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid');
    if ([...value].length > MAX_TAG_VALUE_CHARS || !TAG_TEXT.test(value)) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid');
    if (key.toLowerCase().startsWith('aws:')) throw new S3Error('InvalidTag', 'Your TagKey cannot be prefixed with aws:');
    if (seen.has(key)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    seen.add(key);
    tags.push([key, value]);
    if (tags.length > max) throw new S3Error('InvalidTag', `Tags cannot be more than ${max}`);
  }
  return tags;
}
