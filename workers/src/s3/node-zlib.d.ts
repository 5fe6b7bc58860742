// The one node:zlib function the S3 core uses (workerd provides it natively with the nodejs_compat flag).
declare module 'node:zlib' {
  export function crc32(data: ArrayBufferView | string, value?: number): number;
}
