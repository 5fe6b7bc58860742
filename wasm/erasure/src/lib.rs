//! Reed-Solomon erasure coding over GF(2^8) for `wasm32-unknown-unknown`.
//!
//! The code is the one klauspost/reedsolomon `New(data, parity)` builds: polynomial 0x11D, a
//! Vandermonde matrix `V[r][c] = r^c` (total × data, `0^0 = 1`) multiplied by the inverse of its
//! top data × data square. The top of the result is the identity (data shards are the plain input)
//! and rows `data..total` hold the parity coefficients.
//!
//! The module has no dependencies and no `std`. JS drives it through the `extern "C"` functions at
//! the bottom of this file: it allocates buffers with `ec_alloc`, writes an array of shard
//! pointers, and calls `rs_encode` / `rs_verify` / `rs_reconstruct`.
//!
//! Hot path: the split-nibble method with `i8x16.swizzle`. For a coefficient `c` two 16-byte
//! tables `lo[i] = c·i` and `hi[i] = c·(i << 4)` give `c·v = lo[v & 15] ^ hi[v >> 4]` for 16 bytes
//! at a time (indices are always 0..15, so wasm/build.sh may and does rewrite every swizzle into
//! `i8x16.relaxed_swizzle`, a bare `pshufb` on x64; see wasm/tools/relax_swizzle.rs). A
//! table-driven scalar path (full 256 × 256 product table) does the tails that are not a multiple
//! of 16 bytes and can be selected for the whole operation (testing, comparison).

#![no_std]

use core::arch::wasm32::{
    memory_grow, memory_size, u16x8_shr, u8x16_splat, u8x16_swizzle, v128, v128_and, v128_any_true,
    v128_load, v128_store, v128_xor,
};

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

// ---------------------------------------------------------------------------------------------
// Small raw-memory helpers (no bounds checks, so no panic paths with location strings).

#[inline(always)]
unsafe fn rd(p: *const u8, i: usize) -> u8 {
    *p.add(i)
}
#[inline(always)]
unsafe fn wr(p: *mut u8, i: usize, v: u8) {
    *p.add(i) = v
}
#[inline(always)]
unsafe fn rd32(p: usize) -> usize {
    *(p as *const u32) as usize
}
#[inline(always)]
unsafe fn wr32(p: usize, v: usize) {
    *(p as *mut u32) = v as u32
}

// ---------------------------------------------------------------------------------------------
// GF(2^8) with polynomial x^8 + x^4 + x^3 + x^2 + 1 (0x11D), generator 2.

static mut EXP: [u8; 512] = [0; 512];
static mut LOG: [u8; 256] = [0; 256];
/// MUL[a * 256 + b] = a·b. In .bss, so it costs nothing in the module file; filled by `gf_init`.
static mut MUL: [u8; 65536] = [0; 65536];
static mut GF_READY: bool = false;

unsafe fn gf_init() {
    if GF_READY {
        return;
    }
    let exp = EXP.as_mut_ptr();
    let log = LOG.as_mut_ptr();
    let mut x: usize = 1;
    let mut i = 0;
    while i < 255 {
        wr(exp, i, x as u8);
        wr(exp, i + 255, x as u8);
        wr(log, x, i as u8);
        x <<= 1;
        if x & 0x100 != 0 {
            x ^= 0x11D;
        }
        i += 1;
    }
    wr(exp, 510, rd(exp, 0));
    wr(exp, 511, rd(exp, 1));
    let mul = MUL.as_mut_ptr();
    let mut a = 0;
    while a < 256 {
        let mut b = 0;
        while b < 256 {
            wr(mul, a * 256 + b, gf_mul(a as u8, b as u8));
            b += 1;
        }
        a += 1;
    }
    GF_READY = true;
}

#[inline(always)]
unsafe fn gf_mul(a: u8, b: u8) -> u8 {
    if a == 0 || b == 0 {
        0
    } else {
        rd(EXP.as_ptr(), rd(LOG.as_ptr(), a as usize) as usize + rd(LOG.as_ptr(), b as usize) as usize)
    }
}

/// Multiplicative inverse; `a` must be non-zero.
#[inline(always)]
unsafe fn gf_inv(a: u8) -> u8 {
    rd(EXP.as_ptr(), 255 - rd(LOG.as_ptr(), a as usize) as usize)
}

/// a^n with 0^0 = 1 (as klauspost's galExp).
unsafe fn gf_pow(a: u8, n: usize) -> u8 {
    if n == 0 {
        1
    } else if a == 0 {
        0
    } else {
        rd(EXP.as_ptr(), (rd(LOG.as_ptr(), a as usize) as usize * n) % 255)
    }
}

// ---------------------------------------------------------------------------------------------
// Allocator: first-fit free list over `memory.grow`, 64-byte aligned blocks.
// Block layout: [size: u32 (whole block incl. header), next-free: u32, ... pad to 64][payload].

const HDR: usize = 64;
const MIN_SPLIT: usize = 128;
static mut HEAP_END: usize = 0;
static mut FREE_HEAD: usize = 0;

#[inline(always)]
fn align64(n: usize) -> usize {
    (n + 63) & !63
}

/// Insert a free block in address order, merging with neighbours.
unsafe fn free_insert(b: usize) {
    let mut prev = 0usize;
    let mut cur = FREE_HEAD;
    while cur != 0 && cur < b {
        prev = cur;
        cur = rd32(cur + 4);
    }
    // merge with next
    let mut size = rd32(b);
    if cur != 0 && b + size == cur {
        size += rd32(cur);
        wr32(b + 4, rd32(cur + 4));
    } else {
        wr32(b + 4, cur);
    }
    wr32(b, size);
    if prev == 0 {
        FREE_HEAD = b;
    } else if prev + rd32(prev) == b {
        wr32(prev, rd32(prev) + size);
        wr32(prev + 4, rd32(b + 4));
    } else {
        wr32(prev + 4, b);
    }
}

unsafe fn heap_grow(need: usize) -> bool {
    if HEAP_END == 0 {
        HEAP_END = memory_size(0) * 65536;
    }
    let pages = (need + 65535) / 65536;
    // Stay below 4 GiB so that addresses and sizes fit in u32 arithmetic.
    if HEAP_END as u64 + pages as u64 * 65536 > 0xFFFF_0000 {
        return false;
    }
    let old = memory_grow(0, pages);
    if old == usize::MAX || old * 65536 != HEAP_END {
        return false;
    }
    let b = HEAP_END;
    HEAP_END += pages * 65536;
    wr32(b, pages * 65536);
    free_insert(b);
    true
}

unsafe fn heap_alloc(n: usize) -> *mut u8 {
    if n == 0 || n > 0xF000_0000 {
        return core::ptr::null_mut();
    }
    let need = align64(n) + HDR;
    let mut attempt = 0;
    loop {
        let mut prev = 0usize;
        let mut cur = FREE_HEAD;
        while cur != 0 {
            let size = rd32(cur);
            if size >= need {
                let next = rd32(cur + 4);
                let rest = if size - need >= MIN_SPLIT {
                    let r = cur + need;
                    wr32(r, size - need);
                    wr32(r + 4, next);
                    wr32(cur, need);
                    r
                } else {
                    next
                };
                if prev == 0 {
                    FREE_HEAD = rest;
                } else {
                    wr32(prev + 4, rest);
                }
                wr32(cur + 4, 0);
                return (cur + HDR) as *mut u8;
            }
            prev = cur;
            cur = rd32(cur + 4);
        }
        if attempt == 1 || !heap_grow(need) {
            return core::ptr::null_mut();
        }
        attempt = 1;
    }
}

unsafe fn heap_free(p: *mut u8) {
    if p.is_null() {
        return;
    }
    free_insert(p as usize - HDR);
}

// ---------------------------------------------------------------------------------------------
// Matrix helpers (row-major u8 matrices in heap memory).

/// Inverts the n × n matrix `m` into `out` (Gauss-Jordan). `work` must hold 2·n·n bytes.
/// Returns false if singular.
unsafe fn mat_invert(m: *const u8, n: usize, out: *mut u8, work: *mut u8) -> bool {
    let w = 2 * n;
    for r in 0..n {
        for c in 0..n {
            wr(work, r * w + c, rd(m, r * n + c));
            wr(work, r * w + n + c, (r == c) as u8);
        }
    }
    for col in 0..n {
        // pivot
        let mut p = col;
        while p < n && rd(work, p * w + col) == 0 {
            p += 1;
        }
        if p == n {
            return false;
        }
        if p != col {
            for k in 0..w {
                let t = rd(work, p * w + k);
                wr(work, p * w + k, rd(work, col * w + k));
                wr(work, col * w + k, t);
            }
        }
        let inv = gf_inv(rd(work, col * w + col));
        if inv != 1 {
            for k in 0..w {
                wr(work, col * w + k, gf_mul(rd(work, col * w + k), inv));
            }
        }
        for r in 0..n {
            if r == col {
                continue;
            }
            let f = rd(work, r * w + col);
            if f == 0 {
                continue;
            }
            for k in 0..w {
                let v = rd(work, r * w + k) ^ gf_mul(f, rd(work, col * w + k));
                wr(work, r * w + k, v);
            }
        }
    }
    for r in 0..n {
        for c in 0..n {
            wr(out, r * n + c, rd(work, r * w + n + c));
        }
    }
    true
}

/// Split-nibble tables for `count` coefficients: 32 bytes each (lo[16], hi[16]).
unsafe fn build_tables(coef: *const u8, count: usize, tab: *mut u8) {
    for k in 0..count {
        let c = rd(coef, k);
        let t = tab.add(k * 32);
        for i in 0..16u8 {
            wr(t, i as usize, gf_mul(c, i));
            wr(t, 16 + i as usize, gf_mul(c, i << 4));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Kernels: out[r] = sum_c coef[r][c] · in[c] over `len` bytes, for r < n_out, c < n_in.

/// Column block (bytes per shard) for both kernels.
const BLOCK: usize = 16 * 1024;

/// Scalar kernel over bytes [from, to) using the 64 KiB product table.
unsafe fn scalar_rows(
    coef: *const u8,
    n_in: usize,
    n_out: usize,
    ins: *const *const u8,
    outs: *const *mut u8,
    from: usize,
    to: usize,
) {
    let mul = MUL.as_ptr();
    let mut b = from;
    while b < to {
        let e = if to - b > BLOCK { b + BLOCK } else { to };
        for r in 0..n_out {
            let out = *outs.add(r);
            for c in 0..n_in {
                let row = mul.add(rd(coef, r * n_in + c) as usize * 256);
                let inp = *ins.add(c);
                if c == 0 {
                    for j in b..e {
                        wr(out, j, rd(row, rd(inp, j) as usize));
                    }
                } else {
                    for j in b..e {
                        wr(out, j, rd(out, j) ^ rd(row, rd(inp, j) as usize));
                    }
                }
            }
        }
        b = e;
    }
}

#[inline(always)]
unsafe fn ld(p: *const u8) -> v128 {
    v128_load(p as *const v128)
}
#[inline(always)]
unsafe fn st(p: *mut u8, v: v128) {
    v128_store(p as *mut v128, v)
}

/// SIMD kernel for NI inputs × NO outputs (both unrolled) over bytes [from, to), a multiple of
/// 16 long. `tab` points at the tables of (first output row, first input); rows are `row_stride`
/// bytes apart. For each vector the inputs are loaded and split into nibbles once, then every
/// output row is computed from 32-byte tables read from memory (L1-resident). If ACC the result
/// is xored into the outputs, otherwise it overwrites them.
#[inline(always)]
unsafe fn simd_block<const NI: usize, const NO: usize, const ACC: bool>(
    tab: *const u8,
    row_stride: usize,
    ins: *const *const u8,
    outs: *const *mut u8,
    from: usize,
    to: usize,
) {
    let mask = u8x16_splat(0x0f);
    let mut inp = [core::ptr::null::<u8>(); NI];
    for c in 0..NI {
        inp[c] = (*ins.add(c)).add(from);
    }
    let mut out = [core::ptr::null_mut::<u8>(); NO];
    for r in 0..NO {
        out[r] = (*outs.add(r)).add(from);
    }
    let n = to - from;
    let mut j = 0;
    while j < n {
        let mut lo = [u8x16_splat(0); NI];
        let mut hi = [u8x16_splat(0); NI];
        for c in 0..NI {
            let v = ld(inp[c].add(j));
            lo[c] = v128_and(v, mask);
            hi[c] = v128_and(u16x8_shr(v, 4), mask);
        }
        for r in 0..NO {
            let t = tab.add(r * row_stride);
            let mut a = v128_xor(u8x16_swizzle(ld(t), lo[0]), u8x16_swizzle(ld(t.add(16)), hi[0]));
            for c in 1..NI {
                a = v128_xor(a, u8x16_swizzle(ld(t.add(c * 32)), lo[c]));
                a = v128_xor(a, u8x16_swizzle(ld(t.add(c * 32 + 16)), hi[c]));
            }
            let o = out[r].add(j);
            if ACC {
                a = v128_xor(a, ld(o));
            }
            st(o, a);
        }
        j += 16;
    }
}

/// Output rows handled per pass over a column block (general case).
const ROWS: usize = 4;
/// Inputs handled per pass (4 inputs → 8 nibble vectors live).
const GROUP: usize = 4;

#[inline(always)]
unsafe fn simd_rows_ni<const NI: usize, const ACC: bool>(
    tab: *const u8,
    row_stride: usize,
    n_out: usize,
    ins: *const *const u8,
    outs: *const *mut u8,
    from: usize,
    to: usize,
) {
    // With a single input group (e.g. 4+8) the table offsets are compile-time constants, and up
    // to 8 rows share one load and split of the inputs (measured ~2-5% faster than 4 rows).
    let fixed = !ACC && row_stride == NI * 32;
    let mut r = 0;
    while r < n_out {
        let left = n_out - r;
        let t = tab.add(r * row_stride);
        let o = outs.add(r);
        if fixed && left >= 8 {
            simd_block::<NI, 8, ACC>(t, NI * 32, ins, o, from, to);
            r += 8;
        } else if fixed && left >= ROWS {
            simd_block::<NI, ROWS, ACC>(t, NI * 32, ins, o, from, to);
            r += ROWS;
        } else {
            let nr = if left > ROWS { ROWS } else { left };
            match nr {
                1 => simd_block::<NI, 1, ACC>(t, row_stride, ins, o, from, to),
                2 => simd_block::<NI, 2, ACC>(t, row_stride, ins, o, from, to),
                3 => simd_block::<NI, 3, ACC>(t, row_stride, ins, o, from, to),
                _ => simd_block::<NI, ROWS, ACC>(t, row_stride, ins, o, from, to),
            }
            r += nr;
        }
    }
}

unsafe fn simd_rows(
    tab: *const u8,
    n_in: usize,
    n_out: usize,
    ins: *const *const u8,
    outs: *const *mut u8,
    len: usize,
) {
    let row_stride = n_in * 32;
    let mut b = 0;
    while b < len {
        let e = if len - b > BLOCK { b + BLOCK } else { len };
        let mut c0 = 0;
        while c0 < n_in {
            let g = if n_in - c0 > GROUP { GROUP } else { n_in - c0 };
            let t = tab.add(c0 * 32);
            let i = ins.add(c0);
            if c0 == 0 {
                match g {
                    1 => simd_rows_ni::<1, false>(t, row_stride, n_out, i, outs, b, e),
                    2 => simd_rows_ni::<2, false>(t, row_stride, n_out, i, outs, b, e),
                    3 => simd_rows_ni::<3, false>(t, row_stride, n_out, i, outs, b, e),
                    _ => simd_rows_ni::<GROUP, false>(t, row_stride, n_out, i, outs, b, e),
                }
            } else {
                match g {
                    1 => simd_rows_ni::<1, true>(t, row_stride, n_out, i, outs, b, e),
                    2 => simd_rows_ni::<2, true>(t, row_stride, n_out, i, outs, b, e),
                    3 => simd_rows_ni::<3, true>(t, row_stride, n_out, i, outs, b, e),
                    _ => simd_rows_ni::<GROUP, true>(t, row_stride, n_out, i, outs, b, e),
                }
            }
            c0 += g;
        }
        b = e;
    }
}

/// out[r] = Σ coef[r][c]·in[c] for the first `len` bytes.
unsafe fn mul_rows(
    coef: *const u8,
    tab: *const u8,
    n_in: usize,
    n_out: usize,
    ins: *const *const u8,
    outs: *const *mut u8,
    len: usize,
    simd: bool,
) {
    if n_out == 0 || len == 0 {
        return;
    }
    if simd {
        let n16 = len & !15;
        simd_rows(tab, n_in, n_out, ins, outs, n16);
        if n16 < len {
            scalar_rows(coef, n_in, n_out, ins, outs, n16, len);
        }
    } else {
        scalar_rows(coef, n_in, n_out, ins, outs, 0, len);
    }
}

// ---------------------------------------------------------------------------------------------
// Codec.

const MAX_SHARDS: usize = 256;
/// Most decoding matrices cached per codec (fewer for very large codes, see `codec_new`).
const CACHE_MAX: usize = 8; // a power of two (indices are masked with CACHE_MAX - 1)
/// Memory budget for one codec's decode cache.
const CACHE_BUDGET: usize = 4 << 20;
const VERIFY_BLOCK: usize = 4096;

/// One cached decoding matrix. Buffers are allocated once in `codec_new` at their largest size so
/// that reconstruction never allocates (and so never grows memory, which would detach JS views).
#[repr(C)]
#[derive(Clone, Copy)]
struct Entry {
    valid: bool,
    stamp: u32,
    n_out: u32,
    in_mask: [u32; 8],
    out_mask: [u32; 8],
    coef: *mut u8, // n_out × data (capacity total × data)
    tab: *mut u8,  // n_out × data × 32
    idx: *mut u8,  // data input indices followed by n_out output indices (capacity data + total)
}

#[repr(C)]
struct Codec {
    data: usize,
    parity: usize,
    total: usize,
    enc: *mut u8,     // total × data
    ptab: *mut u8,    // parity × data × 32
    scratch: *mut u8, // parity × VERIFY_BLOCK
    sub: *mut u8,     // data × data, decode work area
    inv: *mut u8,     // data × data
    work: *mut u8,    // 2 × data × data
    clock: u32,
    n_cache: usize,
    cache: [Entry; CACHE_MAX],
}

const EMPTY: Entry = Entry {
    valid: false,
    stamp: 0,
    n_out: 0,
    in_mask: [0; 8],
    out_mask: [0; 8],
    coef: core::ptr::null_mut(),
    tab: core::ptr::null_mut(),
    idx: core::ptr::null_mut(),
};

unsafe fn codec_free(h: *mut Codec) {
    let c = &mut *h;
    for i in 0..CACHE_MAX {
        let e = &mut c.cache[i];
        heap_free(e.coef);
        heap_free(e.tab);
        heap_free(e.idx);
        *e = EMPTY;
    }
    heap_free(c.enc);
    heap_free(c.ptab);
    heap_free(c.scratch);
    heap_free(c.sub);
    heap_free(c.inv);
    heap_free(c.work);
    heap_free(h as *mut u8);
}

unsafe fn codec_new(data: usize, parity: usize) -> *mut Codec {
    if data == 0 || parity == 0 || data + parity > MAX_SHARDS {
        return core::ptr::null_mut();
    }
    gf_init();
    let total = data + parity;
    let h = heap_alloc(core::mem::size_of::<Codec>()) as *mut Codec;
    if h.is_null() {
        return h;
    }
    let entry_bytes = total * data * 33 + total + data;
    let n_cache = {
        let n = CACHE_BUDGET / entry_bytes;
        if n < 1 {
            1
        } else if n > CACHE_MAX {
            CACHE_MAX
        } else {
            n
        }
    };
    core::ptr::write(
        h,
        Codec {
            data,
            parity,
            total,
            enc: heap_alloc(total * data),
            ptab: heap_alloc(parity * data * 32),
            scratch: heap_alloc(parity * VERIFY_BLOCK),
            sub: heap_alloc(data * data),
            inv: heap_alloc(data * data),
            work: heap_alloc(2 * data * data),
            clock: 0,
            n_cache,
            cache: [EMPTY; CACHE_MAX],
        },
    );
    let c = &mut *h;
    let mut ok = !(c.enc.is_null()
        || c.ptab.is_null()
        || c.scratch.is_null()
        || c.sub.is_null()
        || c.inv.is_null()
        || c.work.is_null());
    for i in 0..n_cache {
        let e = &mut c.cache[i & (CACHE_MAX - 1)];
        e.coef = heap_alloc(total * data);
        e.tab = heap_alloc(total * data * 32);
        e.idx = heap_alloc(total + data);
        ok = ok && !(e.coef.is_null() || e.tab.is_null() || e.idx.is_null());
    }
    let vand = heap_alloc(total * data);
    ok = ok && !vand.is_null();
    if ok {
        // Vandermonde: V[r][c] = r^c; enc = V × inverse(top data × data of V).
        for r in 0..total {
            for col in 0..data {
                wr(vand, r * data + col, gf_pow(r as u8, col));
            }
        }
        ok = mat_invert(vand, data, c.inv, c.work);
    }
    if ok {
        for r in 0..total {
            for col in 0..data {
                let mut acc = 0u8;
                for k in 0..data {
                    acc ^= gf_mul(rd(vand, r * data + k), rd(c.inv, k * data + col));
                }
                wr(c.enc, r * data + col, acc);
            }
        }
        build_tables(c.enc.add(data * data), parity * data, c.ptab);
    }
    heap_free(vand);
    if !ok {
        codec_free(h);
        return core::ptr::null_mut();
    }
    h
}

#[inline(always)]
fn mask_set(m: &mut [u32; 8], i: usize) {
    m[(i >> 5) & 7] |= 1 << (i & 31);
}

#[inline(always)]
fn mask_has(m: &[u32; 8], i: usize) -> bool {
    m[(i >> 5) & 7] & (1 << (i & 31)) != 0
}

/// Decoding rows for (inputs = the shards in `in_mask`, exactly `data` of them; outputs = the
/// shards in `out_mask`). Missing data row o is row o of inverse(enc[inputs]); missing parity row o
/// is enc[o] × that inverse, so one pass over the inputs rebuilds everything. Cached (LRU).
/// Returns null only if the sub-matrix is singular, which cannot happen for this MDS code.
unsafe fn decode_entry(c: &mut Codec, in_mask: &[u32; 8], out_mask: &[u32; 8], n_out: usize) -> *const Entry {
    c.clock = c.clock.wrapping_add(1);
    for i in 0..c.n_cache {
        let e = &mut c.cache[i & (CACHE_MAX - 1)];
        if e.valid && e.in_mask == *in_mask && e.out_mask == *out_mask {
            e.stamp = c.clock;
            return e as *const Entry;
        }
    }
    // Miss: take an empty slot, else the least recently used one.
    let mut victim = 0;
    let mut oldest = u32::MAX;
    for i in 0..c.n_cache {
        let e = &c.cache[i & (CACHE_MAX - 1)];
        if !e.valid {
            victim = i;
            break;
        }
        if e.stamp < oldest {
            oldest = e.stamp;
            victim = i;
        }
    }
    let data = c.data;
    let (enc, sub, inv, work) = (c.enc, c.sub, c.inv, c.work);
    let e = &mut c.cache[victim & (CACHE_MAX - 1)];
    e.valid = false;
    let (coef, tab, idx) = (e.coef, e.tab, e.idx);
    let mut k = 0;
    let mut o = data;
    for i in 0..c.total {
        if mask_has(in_mask, i) {
            wr(idx, k, i as u8);
            for col in 0..data {
                wr(sub, k * data + col, rd(enc, i * data + col));
            }
            k += 1;
        }
        if mask_has(out_mask, i) {
            wr(idx, o, i as u8);
            o += 1;
        }
    }
    if !mat_invert(sub, data, inv, work) {
        return core::ptr::null();
    }
    for r in 0..n_out {
        let o = rd(idx, data + r) as usize;
        for col in 0..data {
            let v = if o < data {
                rd(inv, o * data + col)
            } else {
                let mut acc = 0u8;
                for k in 0..data {
                    acc ^= gf_mul(rd(enc, o * data + k), rd(inv, k * data + col));
                }
                acc
            };
            wr(coef, r * data + col, v);
        }
    }
    build_tables(coef, n_out * data, tab);
    e.valid = true;
    e.stamp = c.clock;
    e.n_out = n_out as u32;
    e.in_mask = *in_mask;
    e.out_mask = *out_mask;
    e as *const Entry
}

// ---------------------------------------------------------------------------------------------
// Exports. Pointers and lengths are byte offsets into this module's memory.

/// Allocates `size` bytes (64-byte aligned). Returns 0 when memory cannot grow.
#[no_mangle]
pub unsafe extern "C" fn ec_alloc(size: usize) -> *mut u8 {
    heap_alloc(size)
}

/// Frees a block returned by `ec_alloc` (0 is ignored).
#[no_mangle]
pub unsafe extern "C" fn ec_free(ptr: *mut u8) {
    heap_free(ptr)
}

/// 1 when the module was built with SIMD128 (the fast kernel is available).
#[no_mangle]
pub extern "C" fn ec_simd() -> u32 {
    cfg!(target_feature = "simd128") as u32
}

/// Creates a codec; returns 0 for invalid counts (data ≥ 1, parity ≥ 1, data + parity ≤ 256).
#[no_mangle]
pub unsafe extern "C" fn rs_new(data: usize, parity: usize) -> *mut u8 {
    codec_new(data, parity) as *mut u8
}

#[no_mangle]
pub unsafe extern "C" fn rs_free(h: *mut u8) {
    if !h.is_null() {
        codec_free(h as *mut Codec)
    }
}

/// Copies the total × data encoding matrix into `out` (for tests and diagnostics).
#[no_mangle]
pub unsafe extern "C" fn rs_matrix(h: *mut u8, out: *mut u8) {
    let c = &*(h as *const Codec);
    core::ptr::copy_nonoverlapping(c.enc, out, c.total * c.data);
}

/// `shards` points to `total` u32 shard addresses, each `len` bytes. Writes the parity shards.
#[no_mangle]
pub unsafe extern "C" fn rs_encode(h: *mut u8, shards: *const *mut u8, len: usize, simd: u32) {
    let c = &*(h as *const Codec);
    mul_rows(
        c.enc.add(c.data * c.data),
        c.ptab,
        c.data,
        c.parity,
        shards as *const *const u8,
        shards.add(c.data),
        len,
        simd != 0 && cfg!(target_feature = "simd128"),
    );
}

/// Returns 1 when the parity shards match the data shards, else 0.
#[no_mangle]
pub unsafe extern "C" fn rs_verify(h: *mut u8, shards: *const *mut u8, len: usize, simd: u32) -> u32 {
    let c = &*(h as *const Codec);
    let simd = simd != 0 && cfg!(target_feature = "simd128");
    let mut ins = [core::ptr::null::<u8>(); MAX_SHARDS];
    let mut outs = [core::ptr::null_mut::<u8>(); MAX_SHARDS];
    for r in 0..c.parity {
        *outs.as_mut_ptr().add(r) = c.scratch.add(r * VERIFY_BLOCK);
    }
    let mut off = 0;
    while off < len {
        let n = if len - off > VERIFY_BLOCK { VERIFY_BLOCK } else { len - off };
        for i in 0..c.data {
            *ins.as_mut_ptr().add(i) = (*shards.add(i)).add(off);
        }
        mul_rows(c.enc.add(c.data * c.data), c.ptab, c.data, c.parity, ins.as_ptr(), outs.as_ptr(), n, simd);
        for r in 0..c.parity {
            if !bytes_equal(*outs.as_ptr().add(r), (*shards.add(c.data + r)).add(off), n) {
                return 0;
            }
        }
        off += n;
    }
    1
}

unsafe fn bytes_equal(a: *const u8, b: *const u8, n: usize) -> bool {
    let mut i = 0;
    if cfg!(target_feature = "simd128") {
        while i + 16 <= n {
            if v128_any_true(v128_xor(ld(a.add(i)), ld(b.add(i)))) {
                return false;
            }
            i += 16;
        }
    }
    while i < n {
        if rd(a, i) != rd(b, i) {
            return false;
        }
        i += 1;
    }
    true
}

/// Rebuilds missing shards in place. `present[i]` (one byte each) tells which shards hold data;
/// the first `data` present shards are read. Missing data shards are always rebuilt; missing
/// parity shards only when `data_only` is 0. Missing shards' addresses must point to writable
/// `len`-byte buffers. Never allocates. Returns 0 on success, 1 when fewer than `data` shards are
/// present, 2 if the decoding sub-matrix were singular (impossible for this code).
#[no_mangle]
pub unsafe extern "C" fn rs_reconstruct(
    h: *mut u8,
    shards: *const *mut u8,
    present: *const u8,
    len: usize,
    data_only: u32,
    simd: u32,
) -> u32 {
    let c = &mut *(h as *mut Codec);
    let simd = simd != 0 && cfg!(target_feature = "simd128");
    let mut in_mask = [0u32; 8];
    let mut out_mask = [0u32; 8];
    let mut n_in = 0;
    let mut n_out = 0;
    let limit = if data_only != 0 { c.data } else { c.total };
    for i in 0..c.total {
        if rd(present, i) != 0 {
            if n_in < c.data {
                mask_set(&mut in_mask, i);
                n_in += 1;
            }
        } else if i < limit {
            mask_set(&mut out_mask, i);
            n_out += 1;
        }
    }
    if n_in < c.data {
        return 1;
    }
    if n_out == 0 || len == 0 {
        return 0;
    }
    let e = decode_entry(c, &in_mask, &out_mask, n_out);
    if e.is_null() {
        return 2;
    }
    let e = &*e;
    let mut ins = [core::ptr::null::<u8>(); MAX_SHARDS];
    let mut outs = [core::ptr::null_mut::<u8>(); MAX_SHARDS];
    for k in 0..c.data {
        *ins.as_mut_ptr().add(k) = *shards.add(rd(e.idx, k) as usize);
    }
    for r in 0..n_out {
        *outs.as_mut_ptr().add(r) = *shards.add(rd(e.idx, c.data + r) as usize);
    }
    mul_rows(e.coef, e.tab, c.data, n_out, ins.as_ptr(), outs.as_ptr(), len, simd);
    0
}

/// Diagnostics: bytes on the allocator's free list.
#[no_mangle]
pub unsafe extern "C" fn ec_heap_free_bytes() -> u32 {
    let mut bytes = 0u32;
    let mut cur = FREE_HEAD;
    while cur != 0 {
        bytes += rd32(cur) as u32;
        cur = rd32(cur + 4);
    }
    bytes
}

/// Diagnostics: number of blocks on the allocator's free list.
#[no_mangle]
pub unsafe extern "C" fn ec_heap_free_blocks() -> u32 {
    let mut n = 0u32;
    let mut cur = FREE_HEAD;
    while cur != 0 {
        n += 1;
        cur = rd32(cur + 4);
    }
    n
}
