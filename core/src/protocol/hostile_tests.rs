//! Deterministic "hostile bytes" test: random and mutated input must produce
//! errors, never panics, and parsing must always make progress.
//!
//! This is the in-tree, dependency-free sibling of `fuzz/` (cargo-fuzz): it
//! runs in every `cargo test` and on every platform.

use bytes::BytesMut;

use super::backend::{exercise_accessors, needed, next_message};

/// xorshift64*: tiny, deterministic, good enough to generate test input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// One valid example of every backend message.
const FIXTURES: &[&[u8]] = &[
    b"R\0\0\0\x08\0\0\0\0",
    b"R\0\0\0\x08\0\0\0\x03",
    b"R\0\0\0\x0c\0\0\0\x05\x9a\x1b\x03\xf4",
    b"R\0\0\0\x0b\0\0\0\x08tok",
    b"R\0\0\0\x2a\0\0\0\x0aSCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0",
    b"R\0\0\0\x0d\0\0\0\x0br=abc",
    b"R\0\0\0\x0d\0\0\0\x0cv=xyz",
    b"K\0\0\0\x0c\0\0\x30\x39\xde\xad\xbe\xef",
    b"2\0\0\0\x04",
    b"3\0\0\0\x04",
    b"1\0\0\0\x04",
    b"n\0\0\0\x04",
    b"I\0\0\0\x04",
    b"s\0\0\0\x04",
    b"c\0\0\0\x04",
    b"C\0\0\0\x0fINSERT 0 5\0",
    b"d\0\0\0\x0a1\tone\n",
    b"G\0\0\0\x09\x01\0\x01\0\x01",
    b"H\0\0\0\x0b\0\0\x02\0\0\0\0",
    b"W\0\0\0\x07\0\0\0",
    b"D\0\0\0\x0f\0\x02\0\0\0\x011\xff\xff\xff\xff",
    b"E\0\0\0\x22SERROR\0C42P01\0Mno such table\0\0",
    b"N\0\0\0\x26SNOTICE\0VNOTICE\0C00000\0Mskipping\0\0",
    b"V\0\0\0\x0a\0\0\0\x02hi",
    b"A\0\0\0\x15\0\0\x04\xd2events\0hello\0",
    b"t\0\0\0\x0e\0\x02\0\0\0\x17\0\0\0\x19",
    b"S\0\0\0\x19client_encoding\0UTF8\0",
    b"Z\0\0\0\x05I",
    b"T\0\0\0\x1a\0\x01a\0\0\0\0\0\0\0\0\0\0\x17\0\x04\xff\xff\xff\xff\0\0",
    b"v\0\0\0\x1d\0\0\0\0\0\0\0\x01_pq_.compression\0",
];

/// Parses everything in `input`, exercising each message, and checks every
/// successful parse consumed bytes. Returns the number of messages.
fn drain(input: &[u8], max_size: usize) -> usize {
    let _ = needed(input);
    let mut buf = BytesMut::from(input);
    let mut count = 0;
    loop {
        let before = buf.len();
        match next_message(&mut buf, max_size) {
            Ok(Some(msg)) => {
                assert!(buf.len() < before, "no progress on {input:?}");
                exercise_accessors(&msg);
                count += 1;
            }
            Ok(None) => {
                assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                return count;
            }
            Err(_) => return count,
        }
    }
}

fn mutate(rng: &mut Rng, v: &mut Vec<u8>) {
    for _ in 0..=rng.below(4) {
        match rng.below(7) {
            // Flip a byte.
            0 | 1 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.byte();
            }
            // Set a byte to a boundary value.
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = [0, 0xff, 0x7f, 0x80, 1][rng.below(5)];
            }
            // Truncate.
            3 if !v.is_empty() => {
                let n = rng.below(v.len());
                v.truncate(n);
            }
            // Append random bytes.
            4 => {
                for _ in 0..rng.below(8) {
                    v.push(rng.byte());
                }
            }
            // Make the length field agree with the (mutated) size, so the
            // body parser rather than the framing sees the damage.
            5 if v.len() >= 5 => {
                let len = (v.len() - 1) as i32;
                v[1..5].copy_from_slice(&len.to_be_bytes());
            }
            _ => {}
        }
    }
}

#[test]
fn fixtures_are_valid() {
    for f in FIXTURES {
        assert_eq!(drain(f, usize::MAX), 1, "{f:?}");
    }
    let all: Vec<u8> = FIXTURES.concat();
    assert_eq!(drain(&all, usize::MAX), FIXTURES.len());
}

#[test]
fn hostile_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0usize;
    for i in 0..200_000 {
        let mut input = Vec::new();
        match i % 4 {
            // Pure noise.
            0 => {
                for _ in 0..rng.below(40) {
                    input.push(rng.byte());
                }
            }
            // A known tag with a consistent length and a random body.
            1 => {
                let tag = FIXTURES[rng.below(FIXTURES.len())][0];
                let body: Vec<u8> = (0..rng.below(40)).map(|_| rng.byte()).collect();
                input.push(tag);
                input.extend_from_slice(&(body.len() as i32 + 4).to_be_bytes());
                input.extend_from_slice(&body);
            }
            // A mutated fixture.
            2 => {
                input.extend_from_slice(FIXTURES[rng.below(FIXTURES.len())]);
                mutate(&mut rng, &mut input);
            }
            // Several fixtures back to back, then mutated.
            _ => {
                for _ in 0..=rng.below(3) {
                    input.extend_from_slice(FIXTURES[rng.below(FIXTURES.len())]);
                }
                mutate(&mut rng, &mut input);
            }
        }
        let max_size = if rng.below(8) == 0 { rng.below(64) } else { usize::MAX };
        parsed += drain(&input, max_size);
    }
    // The generators must reach the body parsers, not just fail on headers.
    assert!(parsed > 50_000, "only {parsed} messages parsed");
}
