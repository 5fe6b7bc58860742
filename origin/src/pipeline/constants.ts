/**
 * The CESS data format constants (DESIGN "Data format"; the chain's `SEGMENT_SIZE`, `FRAGMENT_SIZE`,
 * `FRAGMENT_COUNT`). They are protocol facts, not tunables: changing one breaks compatibility with CESS miners.
 */

/** Bytes of one segment, the unit of erasure coding. The last segment of a file is zero-padded to this size. */
export const SEGMENT_SIZE = 32 * 1024 * 1024;

/** Data fragments per segment: the plain quarters of the segment. */
export const DATA_SHARDS = 4;

/** Parity fragments per segment. */
export const PARITY_SHARDS = 8;

/** Fragments per segment; fragment column i of every segment goes to the same storage node. */
export const FRAGMENT_COUNT = DATA_SHARDS + PARITY_SHARDS;

/** Bytes of one fragment. */
export const FRAGMENT_SIZE = SEGMENT_SIZE / DATA_SHARDS;

/** SHA-256 of an all-zero 8 MiB fragment; miners accept such a fragment without reading its body. */
export const ZERO_FRAGMENT_HASH = '2daeb1f36095b44b318410b3f4e8b5d989dcc7bb023d1426c492dab0a3053e74';
