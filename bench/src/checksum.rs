//! Folding decoded values into one number, the same way for every client, so
//! the work cannot be optimised away and the clients can be checked against
//! each other.

use std::time::{SystemTime, UNIX_EPOCH};

use rust_decimal::Decimal;

use crate::harness::Result;

/// Mixes `v` into `acc` (FNV-1a style step over a whole word; good enough to
/// catch a client decoding different values, cheap enough not to matter).
pub fn mix(acc: u64, v: u64) -> u64 {
    (acc ^ v).wrapping_mul(0x0000_0100_0000_01b3)
}

/// Running digest of `decode_200k` rows: `(int8, text, float8, timestamptz, numeric)`.
#[derive(Debug, Default)]
pub struct RowDigest {
    rows: u64,
    ints: u64,
    text: u64,
    floats: f64,
    micros: u64,
    numeric: Decimal,
}

impl RowDigest {
    /// Adds one decoded row.
    #[inline]
    pub fn add(&mut self, id: i64, text: &str, float: f64, ts: SystemTime, numeric: Decimal) -> Result<()> {
        self.rows += 1;
        self.ints = self.ints.wrapping_add(id as u64);
        // Length and last byte: touches the decoded slice without hashing it all.
        self.text = mix(self.text, text.len() as u64 ^ u64::from(text.as_bytes().last().copied().unwrap_or(0)));
        self.floats += float;
        let since = ts.duration_since(UNIX_EPOCH)?;
        self.micros = self.micros.wrapping_add(since.as_micros() as u64);
        self.numeric += numeric;
        Ok(())
    }

    /// The digest of every row added.
    pub fn finish(&self) -> u64 {
        let mut acc = mix(0xcbf2_9ce4_8422_2325, self.rows);
        acc = mix(acc, self.ints);
        acc = mix(acc, self.text);
        acc = mix(acc, self.floats.to_bits());
        acc = mix(acc, self.micros);
        // Through the canonical text: clients may return different scales for equal values.
        for b in self.numeric.normalize().to_string().bytes() {
            acc = mix(acc, u64::from(b));
        }
        acc
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn digest(rows: &[(i64, &str, f64, u64, Decimal)]) -> u64 {
        let mut d = RowDigest::default();
        for &(i, t, f, s, n) in rows {
            d.add(i, t, f, UNIX_EPOCH + Duration::from_secs(s), n).unwrap();
        }
        d.finish()
    }

    #[test]
    fn equal_values_equal_digest_any_scale() {
        let a = digest(&[(1, "row 1", 1.5, 10, Decimal::new(125, 2))]);
        let b = digest(&[(1, "row 1", 1.5, 10, Decimal::new(1250, 3))]);
        assert_eq!(a, b);
    }

    #[test]
    fn any_changed_column_changes_digest() {
        let base = (1, "row 1", 1.5, 10, Decimal::new(125, 2));
        let a = digest(&[base]);
        assert_ne!(a, digest(&[(2, base.1, base.2, base.3, base.4)]));
        assert_ne!(a, digest(&[(base.0, "row 2", base.2, base.3, base.4)]));
        assert_ne!(a, digest(&[(base.0, base.1, 1.25, base.3, base.4)]));
        assert_ne!(a, digest(&[(base.0, base.1, base.2, 11, base.4)]));
        assert_ne!(a, digest(&[(base.0, base.1, base.2, base.3, Decimal::new(126, 2))]));
        assert_ne!(a, digest(&[base, base]));
    }
}
