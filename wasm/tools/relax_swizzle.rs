//! Post-link step of wasm/build.sh: rewrites every `i8x16.swizzle` (0xFD 0x0E) in a module's
//! code section into `i8x16.relaxed_swizzle` (0xFD 0x100), re-encoding function body and section
//! sizes. Everything else is copied byte for byte, so the output is a pure function of the input.
//!
//! Why: the erasure kernel only ever swizzles with indices in 0..16 (they are `& 0x0f` nibbles).
//! For such indices both instructions return the same bytes on every engine, but V8 lowers the
//! strict `i8x16.swizzle` on x64 to `paddusb` + `pshufb` (to force out-of-range lanes to 0),
//! while `relaxed_swizzle` is a bare `pshufb`. Rust 1.63 (LLVM 14) cannot emit the standard
//! relaxed-SIMD opcodes itself. Relaxed SIMD is part of WebAssembly 3.0 and is on by default in
//! V8 since 11.4 (Node 22, workerd).
//!
//! Usage: relax_swizzle IN.wasm OUT.wasm   (prints the number of rewritten instructions)
//! Fails on any opcode it does not know, rather than guessing instruction boundaries.

use std::env;
use std::fs;
use std::process::exit;

struct Reader<'a> {
    b: &'a [u8],
    p: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, String> {
        let v = *self.b.get(self.p).ok_or("unexpected end of input")?;
        self.p += 1;
        Ok(v)
    }
    fn leb(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        let mut shift = 0;
        loop {
            let b = self.byte()?;
            if shift < 64 {
                v |= ((b & 0x7f) as u64) << shift;
            }
            shift += 7;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            if shift > 70 {
                return Err("LEB128 too long".into());
            }
        }
    }
    fn skip(&mut self, n: usize) -> Result<(), String> {
        if self.p + n > self.b.len() {
            return Err("unexpected end of input".into());
        }
        self.p += n;
        Ok(())
    }
}

fn put_leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

fn block_type(r: &mut Reader) -> Result<(), String> {
    let b = r.b.get(r.p).copied().ok_or("unexpected end of input")?;
    match b {
        0x40 | 0x7f | 0x7e | 0x7d | 0x7c | 0x7b | 0x70 | 0x6f => {
            r.p += 1;
            Ok(())
        }
        _ => r.leb().map(|_| ()), // type index (s33)
    }
}

fn memarg(r: &mut Reader) -> Result<(), String> {
    r.leb()?;
    r.leb()?;
    Ok(())
}

/// Rewrites one function body (locals + expression): returns the new body and the number of
/// swizzles changed.
fn rewrite_body(body: &[u8]) -> Result<(Vec<u8>, usize), String> {
    let mut r = Reader { b: body, p: 0 };
    let groups = r.leb()?;
    for _ in 0..groups {
        r.leb()?;
        r.byte()?;
    }
    let mut out = Vec::with_capacity(body.len() + 256);
    let mut copied = 0; // body[..copied] is already in `out`
    let mut changed = 0;
    let mut depth: i64 = 1;
    while depth > 0 {
        let start = r.p;
        let op = r.byte()?;
        match op {
            0x00 | 0x01 | 0x05 | 0x0f | 0x1a | 0x1b | 0x45..=0xc4 | 0xd1 => {}
            0x02 | 0x03 | 0x04 => {
                block_type(&mut r)?;
                depth += 1;
            }
            0x0b => depth -= 1,
            0x0c | 0x0d | 0x10 | 0x20..=0x26 | 0xd2 => {
                r.leb()?;
            }
            0x0e => {
                let n = r.leb()?;
                for _ in 0..=n {
                    r.leb()?;
                }
            }
            0x11 => {
                r.leb()?;
                r.leb()?;
            }
            0x1c => {
                let n = r.leb()?;
                r.skip(n as usize)?;
            }
            0x28..=0x3e => memarg(&mut r)?,
            0x3f | 0x40 | 0xd0 => {
                r.byte()?;
            }
            0x41 | 0x42 => {
                r.leb()?;
            }
            0x43 => r.skip(4)?,
            0x44 => r.skip(8)?,
            0xfc => {
                let sub = r.leb()?;
                match sub {
                    0..=7 => {}
                    8 => {
                        r.leb()?;
                        r.byte()?;
                    }
                    9 | 13 | 15 | 16 | 17 => {
                        r.leb()?;
                    }
                    10 => r.skip(2)?,
                    11 => r.skip(1)?,
                    12 | 14 => {
                        r.leb()?;
                        r.leb()?;
                    }
                    _ => return Err(format!("unknown 0xFC opcode {} at body offset {}", sub, start)),
                }
            }
            0xfd => {
                let sub = r.leb()?;
                match sub {
                    0..=11 | 92 | 93 => memarg(&mut r)?,
                    12 | 13 => r.skip(16)?,
                    14 => {
                        // i8x16.swizzle -> i8x16.relaxed_swizzle (0xFD, LEB128 0x100)
                        out.extend_from_slice(&body[copied..start]);
                        out.extend_from_slice(&[0xfd, 0x80, 0x02]);
                        copied = r.p;
                        changed += 1;
                    }
                    21..=34 => r.skip(1)?,
                    84..=91 => {
                        memarg(&mut r)?;
                        r.skip(1)?;
                    }
                    15..=20 | 35..=83 | 94..=255 | 0x100..=0x113 => {}
                    _ => return Err(format!("unknown 0xFD opcode {} at body offset {}", sub, start)),
                }
            }
            _ => return Err(format!("unknown opcode 0x{:02x} at body offset {}", op, start)),
        }
    }
    if r.p != body.len() {
        return Err(format!("function body has {} trailing bytes", body.len() - r.p));
    }
    out.extend_from_slice(&body[copied..]);
    Ok((out, changed))
}

fn run(input: &[u8]) -> Result<(Vec<u8>, usize), String> {
    if input.len() < 8 || &input[..4] != b"\0asm" || input[4..8] != [1, 0, 0, 0] {
        return Err("not a WebAssembly 1.0 binary module".into());
    }
    let mut out = input[..8].to_vec();
    let mut r = Reader { b: input, p: 8 };
    let mut total = 0;
    while r.p < input.len() {
        let id = r.byte()?;
        let size = r.leb()? as usize;
        let start = r.p;
        r.skip(size)?;
        let payload = &input[start..start + size];
        if id != 10 {
            out.push(id);
            put_leb(&mut out, size as u64);
            out.extend_from_slice(payload);
            continue;
        }
        let mut pr = Reader { b: payload, p: 0 };
        let count = pr.leb()?;
        let mut sec = Vec::with_capacity(size + 1024);
        put_leb(&mut sec, count);
        for _ in 0..count {
            let len = pr.leb()? as usize;
            let bstart = pr.p;
            pr.skip(len)?;
            let (body, n) = rewrite_body(&payload[bstart..bstart + len])?;
            total += n;
            put_leb(&mut sec, body.len() as u64);
            sec.extend_from_slice(&body);
        }
        if pr.p != payload.len() {
            return Err("trailing bytes in code section".into());
        }
        out.push(10);
        put_leb(&mut out, sec.len() as u64);
        out.extend_from_slice(&sec);
    }
    Ok((out, total))
}

fn main() {
    let args: Vec<String> = env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: relax_swizzle IN.wasm OUT.wasm");
        exit(2);
    }
    let input = match fs::read(&args[1]) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("relax_swizzle: cannot read {}: {}", args[1], e);
            exit(1);
        }
    };
    match run(&input) {
        Ok((out, n)) => {
            if let Err(e) = fs::write(&args[2], &out) {
                eprintln!("relax_swizzle: cannot write {}: {}", args[2], e);
                exit(1);
            }
            println!("{}", n);
        }
        Err(e) => {
            eprintln!("relax_swizzle: {}", e);
            exit(1);
        }
    }
}
