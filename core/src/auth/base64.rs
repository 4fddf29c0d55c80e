//! Standard base64 with padding (RFC 4648 §4), the only encoding SCRAM uses
//! (nonces, salts, proofs, signatures, channel-binding data).
//!
//! Written here instead of using the `base64` crate: its general engine
//! weighed ~6 KB of the `.wasm`, for a few dozen bytes per login.
//! Decoding is strict, like the server's: the length must be a multiple of 4,
//! `=` may only pad the last group, and the bits padding drops must be zero.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes `input` (with `=` padding).
pub(crate) fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = byte(0) << 16 | byte(1) << 8 | byte(2);
        // A chunk of k bytes gives k + 1 characters, then padding.
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The 6-bit value of an alphabet character.
fn sextet(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes canonical padded base64; `None` for anything else.
pub(crate) fn decode(input: &[u8]) -> Option<Vec<u8>> {
    if input.len() % 4 != 0 {
        return None;
    }
    let groups = input.len() / 4;
    let mut out = Vec::with_capacity(groups * 3);
    for (i, group) in input.chunks_exact(4).enumerate() {
        let pad = group.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != groups) {
            return None;
        }
        let mut n = 0u32;
        for &c in &group[..4 - pad] {
            n = n << 6 | sextet(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        let keep = 3 - pad;
        // Canonical form: the bits that fall into the padding are zero.
        if bytes[keep..].iter().any(|&b| b != 0) {
            return None;
        }
        out.extend_from_slice(&bytes[..keep]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg=="),
            (b"fooba", "Zm9vYmE="),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (raw, text) in cases {
            assert_eq!(encode(raw), text);
            assert_eq!(decode(text.as_bytes()).as_deref(), Some(raw), "{text}");
        }
    }

    #[test]
    fn all_byte_values_round_trip() {
        let all: Vec<u8> = (0..=255).collect();
        for len in 0..all.len() {
            let text = encode(&all[..len]);
            assert_eq!(decode(text.as_bytes()).as_deref(), Some(&all[..len]));
        }
        assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    #[test]
    fn rejects_non_canonical_input() {
        for bad in [
            &b"Zg"[..],  // no padding
            b"Zg=",      // short
            b"Zh==",     // non-zero bits under the padding
            b"Zm9=",     // likewise
            b"Zg==Zg==", // padding before the last group
            b"Z===",     // three padding characters
            b"====",
            b"Zm 9", // space
            b"Zm9-", // URL-safe alphabet
            b"Zm=v", // padding inside a group
            b"\xc3\xa9AAA",
        ] {
            assert_eq!(decode(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
