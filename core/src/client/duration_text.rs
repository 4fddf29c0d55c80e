//! Durations in error messages ("5s", "250ms", "1.5s", "20µs") without
//! `Duration`'s `Debug`, whose general decimal formatting weighs ~2 KB of the
//! `.wasm` for a handful of timeout messages.

use std::fmt;
use std::time::Duration;

/// Shows a duration the short way `{:?}` would for whole units.
pub(crate) struct Shown(pub(crate) Duration);

impl fmt::Display for Shown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, ms) = (self.0.as_secs(), self.0.subsec_millis());
        if secs == 0 && ms == 0 && !self.0.is_zero() {
            return write!(f, "{}µs", self.0.subsec_micros());
        }
        if secs == 0 && ms != 0 {
            return write!(f, "{ms}ms");
        }
        write!(f, "{secs}")?;
        if ms != 0 {
            // Milliseconds as a decimal fraction without trailing zeros.
            let mut frac = ms;
            let mut width = 3;
            while frac % 10 == 0 {
                frac /= 10;
                width -= 1;
            }
            write!(f, ".{frac:0width$}")?;
        }
        f.write_str("s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown() {
        let s = |d: Duration| Shown(d).to_string();
        assert_eq!(s(Duration::ZERO), "0s");
        assert_eq!(s(Duration::from_secs(5)), "5s");
        assert_eq!(s(Duration::from_millis(250)), "250ms");
        assert_eq!(s(Duration::from_millis(1500)), "1.5s");
        assert_eq!(s(Duration::from_millis(10_050)), "10.05s");
        assert_eq!(s(Duration::from_millis(2_001)), "2.001s");
        assert_eq!(s(Duration::from_micros(20)), "20µs");
        assert_eq!(s(Duration::from_nanos(10)), "0µs");
    }
}
