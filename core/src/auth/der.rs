//! Just enough DER to find the signature algorithm of an X.509 certificate.
//!
//! This is deliberately tiny: a reader over definite-length, single-byte-tag
//! TLVs, which is all the outer structure of a certificate uses. Every read is
//! bounds-checked and returns an error on malformed input, because the bytes
//! come from the TLS peer.

use crate::error::{Error, Result};

/// Universal tag: SEQUENCE (constructed).
pub(crate) const TAG_SEQUENCE: u8 = 0x30;
/// Universal tag: OBJECT IDENTIFIER.
pub(crate) const TAG_OID: u8 = 0x06;

/// One DER element: its tag and its content octets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tlv<'a> {
    pub(crate) tag: u8,
    pub(crate) value: &'a [u8],
}

/// Reads consecutive DER elements from a byte slice.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next element, whatever its tag.
    pub(crate) fn read_any(&mut self) -> Result<Tlv<'a>> {
        let (&tag, after_tag) = self.rest.split_first().ok_or_else(|| bad("unexpected end of data"))?;
        // Tag numbers >= 31 use a multi-byte form that certificates' outer
        // structure never needs; refusing it keeps the reader trivial.
        if tag & 0x1f == 0x1f {
            return Err(bad("multi-byte tags are not supported"));
        }
        let (&first, mut after_len) = after_tag.split_first().ok_or_else(|| bad("missing length"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7f);
            // 0x80 is BER's indefinite length (not DER); more than 4 length
            // octets would describe a value larger than any certificate.
            if n == 0 || n > 4 {
                return Err(bad("unsupported length encoding"));
            }
            let len_bytes = after_len.get(..n).ok_or_else(|| bad("truncated length"))?;
            after_len = &after_len[n..];
            let len = len_bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
            // DER requires the shortest form; a non-minimal one is malformed.
            if len < 0x80 || len_bytes.first() == Some(&0) {
                return Err(bad("non-minimal length encoding"));
            }
            len
        };
        if len > after_len.len() {
            return Err(bad("element longer than the data"));
        }
        let (value, rest) = after_len.split_at(len);
        self.rest = rest;
        Ok(Tlv { tag, value })
    }

    /// The next element, which must have tag `tag`.
    pub(crate) fn read(&mut self, tag: u8) -> Result<Tlv<'a>> {
        let tlv = self.read_any()?;
        if tlv.tag != tag {
            return Err(bad(format!("expected tag 0x{tag:02x}, found 0x{:02x}", tlv.tag)));
        }
        Ok(tlv)
    }
}

fn bad(what: impl std::fmt::Display) -> Error {
    Error::new(crate::ErrorKind::Tls, format!("malformed server certificate (DER): {what}"))
}

/// Encodes a dotted OID into DER content octets. Tests use it to check that
/// the hand-written OID byte tables match their dotted names.
#[cfg(test)]
pub(crate) fn encode_oid(arcs: &[u64]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut push = |mut v: u64| {
        let mut tmp = vec![(v & 0x7f) as u8];
        v >>= 7;
        while v > 0 {
            tmp.push((v & 0x7f) as u8 | 0x80);
            v >>= 7;
        }
        tmp.reverse();
        out.extend_from_slice(&tmp);
    };
    push(arcs[0] * 40 + arcs[1]);
    for &a in &arcs[2..] {
        push(a);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let mut data = vec![0x30, 0x03, 1, 2, 3, 0x04, 0x81, 0x80];
        data.extend(std::iter::repeat(7).take(0x80));
        let mut r = Reader::new(&data);
        assert_eq!(r.read(TAG_SEQUENCE).unwrap().value, &[1, 2, 3]);
        assert_eq!(r.read(0x04).unwrap().value.len(), 0x80);
        assert!(r.is_empty());
        assert!(r.read_any().is_err());
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            &[][..],
            &[0x30],                               // no length
            &[0x30, 0x05, 1, 2],                   // too long
            &[0x30, 0x80, 0, 0],                   // indefinite
            &[0x30, 0x85, 1, 1, 1, 1, 1],          // 5 length octets
            &[0x30, 0x81, 0x05, 1, 2, 3, 4, 5],    // non-minimal
            &[0x30, 0x82, 0x00, 0x80],             // leading zero
            &[0x1f, 0x01, 0x00],                   // multi-byte tag
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff], // huge length, no data
        ] {
            assert!(Reader::new(bad).read_any().is_err(), "{bad:?}");
        }
        assert!(Reader::new(&[0x31, 0x00]).read(TAG_SEQUENCE).is_err());
    }

    #[test]
    fn oid_encoding_matches_known_bytes() {
        // sha256WithRSAEncryption
        assert_eq!(encode_oid(&[1, 2, 840, 113549, 1, 1, 11]), [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]);
    }
}
