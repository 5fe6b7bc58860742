/**
 * A single byte range: `bytes=a-b`, `bytes=a-`, `bytes=-n` (DeOSS's `Content-Range: bytes=a-b` form is accepted
 * too, with a space or `=`). Returns undefined without a header; `'invalid'` for syntax S3 ignores (multi-range,
 * other units); `'unsatisfiable'` when no byte of the object is in range.
 */
export function parseByteRange(header: string | null | undefined, size: number): { start: number; end: number } | 'invalid' | 'unsatisfiable' | undefined {
  if (!header) return undefined;
  const m = /^bytes[=\s]\s*(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    if (Number(m[2]) === 0) return 'unsatisfiable';
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) return 'invalid';
  }
  if (start >= size || start > end) return 'unsatisfiable';
  return { start, end };
}
