//! `date`, `time`, `timetz`, `timestamp`, `timestamptz` and `interval` as raw
//! types that keep PostgreSQL's ±infinity distinct, plus `std::time::SystemTime`.
//!
//! PostgreSQL counts from 2000-01-01 (the "PG epoch"): dates in days,
//! timestamps in microseconds; `infinity`/`-infinity` are the extreme values
//! of those integers. These types store exactly that, so nothing is lost or
//! clamped; convert with the helper methods or the chrono/time features.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{BufMut, BytesMut};

use super::codec::{exact, Reader};
use super::from_sql::cannot_decode;
use super::{FromSql, ToSql, Type};
use crate::protocol::IsNull;
use crate::{to_sql_checked, Error, Result};

/// Days from 1970-01-01 to 2000-01-01.
pub(crate) const PG_EPOCH_DAYS_FROM_UNIX: i64 = 10_957;
/// Microseconds from 1970-01-01 to 2000-01-01.
pub(crate) const PG_EPOCH_MICROS_FROM_UNIX: i64 = PG_EPOCH_DAYS_FROM_UNIX * MICROS_PER_DAY;
pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;
const MICROS_PER_SEC: i64 = 1_000_000;

// ---------------------------------------------------------------- calendar math

/// Days since 1970-01-01 of a proleptic Gregorian date (year 0 = 1 BC).
/// Howard Hinnant's `days_from_civil`, in i64 so no input overflows.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`]: `(year, month, day)`.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

pub(crate) fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Writes `YYYY-MM-DD` (BC years as their positive number; caller adds " BC").
fn write_ymd(f: &mut fmt::Formatter<'_>, pg_days: i64) -> Result<bool, fmt::Error> {
    let (y, m, d) = civil_from_days(pg_days + PG_EPOCH_DAYS_FROM_UNIX);
    let (year, bc) = if y <= 0 { (1 - y, true) } else { (y, false) };
    write!(f, "{year:04}-{m:02}-{d:02}")?;
    Ok(bc)
}

/// Writes `HH:MM:SS[.ffffff]` with trailing zeros of the fraction trimmed.
fn write_hms(f: &mut fmt::Formatter<'_>, micros: i64) -> fmt::Result {
    let secs = micros / MICROS_PER_SEC;
    let frac = micros % MICROS_PER_SEC;
    write!(f, "{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)?;
    if frac != 0 {
        let s = format!("{frac:06}");
        write!(f, ".{}", s.trim_end_matches('0'))?;
    }
    Ok(())
}

// ---------------------------------------------------------------- Date

/// A PostgreSQL `date`: days since 2000-01-01, with `infinity` and `-infinity`.
///
/// ```
/// use edgepg_core::types::Date;
///
/// let d = Date::from_ymd(2024, 2, 29).unwrap();
/// assert_eq!(d.to_string(), "2024-02-29");
/// assert_eq!(d.to_ymd(), Some((2024, 2, 29)));
/// assert_eq!(Date::from_ymd(2000, 1, 1).unwrap().pg_days(), 0);
/// assert!(Date::INFINITY.is_infinite());
/// assert_eq!(Date::NEG_INFINITY.to_string(), "-infinity");
/// assert_eq!(Date::from_ymd(2023, 2, 29), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Date(i32);

impl Date {
    /// `infinity` (later than every date).
    pub const INFINITY: Date = Date(i32::MAX);
    /// `-infinity` (earlier than every date).
    pub const NEG_INFINITY: Date = Date(i32::MIN);

    /// The date `days` days after 2000-01-01 (negative: before).
    pub const fn from_pg_days(days: i32) -> Date {
        Date(days)
    }
    /// Days since 2000-01-01 (`i32::MAX`/`i32::MIN` for ±infinity).
    pub const fn pg_days(self) -> i32 {
        self.0
    }
    /// True for `infinity` and `-infinity`.
    pub const fn is_infinite(self) -> bool {
        self.0 == i32::MAX || self.0 == i32::MIN
    }
    /// A proleptic Gregorian date; year 0 is 1 BC. `None` when invalid or out of range.
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Date> {
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(i64::from(year), month) {
            return None;
        }
        let days = days_from_civil(i64::from(year), month, day) - PG_EPOCH_DAYS_FROM_UNIX;
        let d = i32::try_from(days).ok()?;
        (!Date(d).is_infinite()).then_some(Date(d))
    }
    /// `(year, month, day)`; `None` for ±infinity.
    pub fn to_ymd(self) -> Option<(i32, u32, u32)> {
        if self.is_infinite() {
            return None;
        }
        let (y, m, d) = civil_from_days(i64::from(self.0) + PG_EPOCH_DAYS_FROM_UNIX);
        Some((i32::try_from(y).ok()?, m, d))
    }
}

/// ISO form PostgreSQL accepts as input: `2024-02-29`, `0044-03-15 BC`, `infinity`.
impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Date::INFINITY => f.write_str("infinity"),
            Date::NEG_INFINITY => f.write_str("-infinity"),
            Date(d) => {
                if write_ymd(f, i64::from(d))? {
                    f.write_str(" BC")?;
                }
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------- Time, TimeTz

/// A PostgreSQL `time`: microseconds since midnight, `0..=86_400_000_000`
/// (PostgreSQL allows `24:00:00`).
///
/// ```
/// use edgepg_core::types::Time;
/// let t = Time::from_hms_micro(13, 5, 9, 250_000).unwrap();
/// assert_eq!(t.to_string(), "13:05:09.25");
/// assert_eq!(Time::from_micros(-1), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Time(i64);

impl Time {
    /// Midnight.
    pub const MIDNIGHT: Time = Time(0);

    /// The time `micros` microseconds after midnight, if in range.
    pub const fn from_micros(micros: i64) -> Option<Time> {
        if micros >= 0 && micros <= MICROS_PER_DAY {
            Some(Time(micros))
        } else {
            None
        }
    }
    /// From hours, minutes, seconds and microseconds, if valid.
    pub fn from_hms_micro(h: u32, m: u32, s: u32, micro: u32) -> Option<Time> {
        if m >= 60 || s >= 60 || micro >= 1_000_000 {
            return None;
        }
        let us = ((i64::from(h) * 60 + i64::from(m)) * 60 + i64::from(s)) * MICROS_PER_SEC + i64::from(micro);
        Time::from_micros(us)
    }
    /// Microseconds since midnight.
    pub const fn micros(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hms(f, self.0)
    }
}

/// A PostgreSQL `timetz`: a time of day and a UTC offset.
///
/// `offset_seconds` is seconds **east** of UTC (ISO sign: `+02:00` is 7200);
/// the wire format stores the opposite sign, which the codec converts.
///
/// ```
/// use edgepg_core::types::{Time, TimeTz};
/// let t = TimeTz { time: Time::from_hms_micro(10, 0, 0, 0).unwrap(), offset_seconds: -(5 * 3600 + 30 * 60) };
/// assert_eq!(t.to_string(), "10:00:00-05:30");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeTz {
    /// Local time of day.
    pub time: Time,
    /// Offset from UTC in seconds, positive east of Greenwich.
    pub offset_seconds: i32,
}

fn write_offset(f: &mut fmt::Formatter<'_>, offset: i32) -> fmt::Result {
    let sign = if offset < 0 { '-' } else { '+' };
    let o = offset.unsigned_abs();
    write!(f, "{sign}{:02}", o / 3600)?;
    if o % 3600 != 0 {
        write!(f, ":{:02}", o / 60 % 60)?;
        if o % 60 != 0 {
            write!(f, ":{:02}", o % 60)?;
        }
    }
    Ok(())
}

impl fmt::Display for TimeTz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.time)?;
        // PostgreSQL prints whole-hour offsets without minutes but with ":MM" otherwise.
        write_offset(f, self.offset_seconds)
    }
}

// ---------------------------------------------------------------- Timestamp(Tz)

macro_rules! timestamp_type {
    ($(#[$doc:meta])* $name:ident, $suffix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(i64);

        impl $name {
            /// `infinity`.
            pub const INFINITY: $name = $name(i64::MAX);
            /// `-infinity`.
            pub const NEG_INFINITY: $name = $name(i64::MIN);

            /// The instant `micros` microseconds after 2000-01-01 00:00:00.
            pub const fn from_pg_micros(micros: i64) -> $name {
                $name(micros)
            }
            /// Microseconds since 2000-01-01 00:00:00 (`i64::MAX`/`MIN` for ±infinity).
            pub const fn pg_micros(self) -> i64 {
                self.0
            }
            /// True for `infinity` and `-infinity`.
            pub const fn is_infinite(self) -> bool {
                self.0 == i64::MAX || self.0 == i64::MIN
            }
            /// From microseconds since 1970-01-01 00:00:00; `None` if out of range.
            pub fn from_unix_micros(micros: i64) -> Option<$name> {
                let v = $name(micros.checked_sub(PG_EPOCH_MICROS_FROM_UNIX)?);
                (!v.is_infinite()).then_some(v)
            }
            /// Microseconds since 1970-01-01 00:00:00; `None` for ±infinity or overflow.
            pub fn to_unix_micros(self) -> Option<i64> {
                if self.is_infinite() {
                    return None;
                }
                self.0.checked_add(PG_EPOCH_MICROS_FROM_UNIX)
            }
            /// The date part (`None` for ±infinity).
            pub fn date(self) -> Option<Date> {
                if self.is_infinite() {
                    return None;
                }
                i32::try_from(self.0.div_euclid(MICROS_PER_DAY)).ok().map(Date)
            }
            /// The time-of-day part (`None` for ±infinity).
            pub fn time(self) -> Option<Time> {
                (!self.is_infinite()).then(|| Time(self.0.rem_euclid(MICROS_PER_DAY)))
            }
            /// Combines a finite date and a time; `None` if either is out of range.
            pub fn from_date_time(date: Date, time: Time) -> Option<$name> {
                if date.is_infinite() {
                    return None;
                }
                let v = i64::from(date.0).checked_mul(MICROS_PER_DAY)?.checked_add(time.0)?;
                (!$name(v).is_infinite()).then_some($name(v))
            }
        }

        /// `2024-02-29 13:05:09.25`, with a ` BC` suffix before year 1,
        /// `infinity`, `-infinity`. Timestamptz values are shown in UTC (`+00`).
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0 {
                    i64::MAX => f.write_str("infinity"),
                    i64::MIN => f.write_str("-infinity"),
                    us => {
                        let bc = write_ymd(f, us.div_euclid(MICROS_PER_DAY))?;
                        f.write_str(" ")?;
                        write_hms(f, us.rem_euclid(MICROS_PER_DAY))?;
                        f.write_str($suffix)?;
                        if bc {
                            f.write_str(" BC")?;
                        }
                        Ok(())
                    }
                }
            }
        }
    };
}

timestamp_type!(
    /// A PostgreSQL `timestamp` (without time zone): microseconds since
    /// 2000-01-01 00:00:00, with `infinity` and `-infinity`.
    ///
    /// ```
    /// use edgepg_core::types::{Date, Time, Timestamp};
    /// let ts = Timestamp::from_date_time(Date::from_ymd(1999, 12, 31).unwrap(), Time::from_hms_micro(23, 59, 59, 1).unwrap()).unwrap();
    /// assert_eq!(ts.pg_micros(), -999_999);
    /// assert_eq!(ts.to_string(), "1999-12-31 23:59:59.000001");
    /// assert_eq!(Timestamp::from_unix_micros(0).unwrap().to_string(), "1970-01-01 00:00:00");
    /// ```
    Timestamp, ""
);
timestamp_type!(
    /// A PostgreSQL `timestamptz`: an absolute instant in microseconds since
    /// 2000-01-01 00:00:00 UTC, with `infinity` and `-infinity`.
    TimestampTz, "+00"
);

// ---------------------------------------------------------------- Interval

/// A PostgreSQL `interval`. The three fields are independent (a month is not
/// a fixed number of days, nor a day a fixed number of microseconds across
/// DST changes), exactly as PostgreSQL stores them.
///
/// ```
/// use edgepg_core::types::Interval;
/// let i = Interval { months: 14, days: -3, microseconds: 3_723_000_500 };
/// assert_eq!(i.to_string(), "14 mons -3 days 01:02:03.0005");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Interval {
    /// Months (years are 12 months).
    pub months: i32,
    /// Days.
    pub days: i32,
    /// Microseconds.
    pub microseconds: i64,
}

/// The `postgres` interval style, which PostgreSQL also accepts as input.
impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if self.months != 0 {
            write!(f, "{} mons", self.months)?;
            sep = " ";
        }
        if self.days != 0 {
            write!(f, "{sep}{} days", self.days)?;
            sep = " ";
        }
        if self.microseconds != 0 || sep.is_empty() {
            f.write_str(sep)?;
            if self.microseconds < 0 {
                f.write_str("-")?;
            }
            // unsigned_abs: i64::MIN has no positive i64.
            let us = self.microseconds.unsigned_abs();
            let secs = us / 1_000_000;
            let frac = us % 1_000_000;
            write!(f, "{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)?;
            if frac != 0 {
                let s = format!("{frac:06}");
                write!(f, ".{}", s.trim_end_matches('0'))?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- codecs

pub(crate) fn decode_date(raw: &[u8]) -> Result<Date> {
    Ok(Date(i32::from_be_bytes(exact(raw, "date")?)))
}
pub(crate) fn decode_time(raw: &[u8]) -> Result<Time> {
    let us = i64::from_be_bytes(exact(raw, "time")?);
    Time::from_micros(us).ok_or_else(|| Error::conversion("invalid binary time value: out of range"))
}
pub(crate) fn decode_timetz(raw: &[u8]) -> Result<TimeTz> {
    let mut r = Reader::new(raw, "timetz");
    let us = r.i64()?;
    let west = r.i32()?;
    r.finish()?;
    let time = Time::from_micros(us).ok_or_else(|| Error::conversion("invalid binary timetz value: out of range"))?;
    let offset_seconds = west.checked_neg().ok_or_else(|| Error::conversion("invalid binary timetz offset"))?;
    Ok(TimeTz { time, offset_seconds })
}
pub(crate) fn decode_interval(raw: &[u8]) -> Result<Interval> {
    let mut r = Reader::new(raw, "interval");
    let microseconds = r.i64()?;
    let days = r.i32()?;
    let months = r.i32()?;
    r.finish()?;
    Ok(Interval { months, days, microseconds })
}
pub(crate) fn decode_ts_micros(raw: &[u8], what: &str) -> Result<i64> {
    Ok(i64::from_be_bytes(exact(raw, what)?))
}

use super::text_decode;

macro_rules! simple_codec {
    ($t:ty, $pg:ident, |$raw:ident| $decode:expr, |$text:ident| $decode_text:expr, |$s:ident, $out:ident| $encode:expr) => {
        impl<'a> FromSql<'a> for $t {
            fn from_sql(ty: Type, $raw: &'a [u8]) -> Result<$t> {
                if ty != Type::$pg {
                    return Err(cannot_decode::<$t>(ty, concat!("only ", stringify!($pg), " decodes into it")));
                }
                $decode
            }
            fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<$t> {
                if ty != Type::$pg {
                    return Err(cannot_decode::<$t>(ty, concat!("only ", stringify!($pg), " decodes into it")));
                }
                let $text = super::codec::utf8(raw)?;
                $decode_text
            }
            fn accepts(ty: Type) -> bool {
                ty == Type::$pg
            }
        }
        impl ToSql for $t {
            fn to_sql(&self, _ty: Type, $out: &mut BytesMut) -> Result<IsNull> {
                let $s = self;
                $encode;
                Ok(IsNull::No)
            }
            fn accepts(ty: Type) -> bool {
                ty == Type::$pg
            }
            to_sql_checked!();
        }
    };
}

simple_codec!(Date, DATE, |raw| decode_date(raw), |t| text_decode::parse_date(t), |s, out| out.put_i32(s.0));
simple_codec!(Time, TIME, |raw| decode_time(raw), |t| text_decode::parse_time(t), |s, out| out.put_i64(s.0));
simple_codec!(TimeTz, TIMETZ, |raw| decode_timetz(raw), |t| text_decode::parse_timetz(t), |s, out| {
    out.put_i64(s.time.0);
    // Wire sign is west-positive; i32::MIN has no negation, saturate (not a real offset anyway).
    out.put_i32(s.offset_seconds.checked_neg().unwrap_or(i32::MAX))
});
simple_codec!(
    Timestamp,
    TIMESTAMP,
    |raw| Ok(Timestamp(decode_ts_micros(raw, "timestamp")?)),
    |t| Ok(Timestamp(text_decode::parse_timestamp(t, false)?)),
    |s, out| out.put_i64(s.0)
);
simple_codec!(
    TimestampTz,
    TIMESTAMPTZ,
    |raw| Ok(TimestampTz(decode_ts_micros(raw, "timestamptz")?)),
    |t| Ok(TimestampTz(text_decode::parse_timestamp(t, true)?)),
    |s, out| out.put_i64(s.0)
);
simple_codec!(Interval, INTERVAL, |raw| decode_interval(raw), |t| text_decode::parse_interval(t), |s, out| {
    out.put_i64(s.microseconds);
    out.put_i32(s.days);
    out.put_i32(s.months)
});

// ---------------------------------------------------------------- SystemTime

/// The error for ±infinity decoded into a type that cannot hold it.
pub(crate) fn infinite_error<T: ?Sized>(ty: Type, positive: bool) -> Error {
    Error::conversion(format!(
        "{ty} value is {}infinity, which {} cannot represent: decode into edgepg::types::Bounded<{}> or the raw edgepg::types::{} type",
        if positive { "" } else { "-" },
        std::any::type_name::<T>(),
        std::any::type_name::<T>(),
        match ty {
            Type::DATE => "Date",
            Type::TIMESTAMP => "Timestamp",
            _ => "TimestampTz",
        }
    ))
}

/// `SystemTime` ↔ `timestamptz` (and `timestamp`, read as UTC).
/// Infinity is an error, never clamped. Sub-microsecond precision is
/// truncated toward the past on encode.
impl<'a> FromSql<'a> for SystemTime {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<SystemTime> {
        if !<SystemTime as FromSql>::accepts(ty) {
            return Err(cannot_decode::<SystemTime>(ty, "only timestamptz and timestamp decode into it"));
        }
        let us = decode_ts_micros(raw, "timestamp")?;
        if us == i64::MAX || us == i64::MIN {
            return Err(infinite_error::<SystemTime>(ty, us == i64::MAX));
        }
        // i128: PG micros + epoch offset cannot overflow.
        let unix = i128::from(us) + i128::from(PG_EPOCH_MICROS_FROM_UNIX);
        let d = Duration::from_micros(unix.unsigned_abs() as u64);
        let t = if unix >= 0 { UNIX_EPOCH.checked_add(d) } else { UNIX_EPOCH.checked_sub(d) };
        t.ok_or_else(|| Error::conversion("timestamp is out of the range of std::time::SystemTime on this platform"))
    }
    fn accepts(ty: Type) -> bool {
        matches!(ty, Type::TIMESTAMPTZ | Type::TIMESTAMP)
    }
}

impl ToSql for SystemTime {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        let unix: i128 = match self.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_micros() as i128,
            Err(e) => {
                // Before 1970: round toward the past to a whole microsecond.
                let d = e.duration();
                let us = d.as_micros() as i128 + i128::from(d.subsec_nanos() % 1000 != 0);
                -us
            }
        };
        let pg = unix - i128::from(PG_EPOCH_MICROS_FROM_UNIX);
        let pg = i64::try_from(pg)
            .ok()
            .filter(|v| *v != i64::MAX && *v != i64::MIN)
            .ok_or_else(|| Error::conversion("SystemTime is out of the range of a PostgreSQL timestamp"))?;
        out.put_i64(pg);
        Ok(IsNull::No)
    }
    fn accepts(ty: Type) -> bool {
        matches!(ty, Type::TIMESTAMPTZ | Type::TIMESTAMP)
    }
    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn enc<T: ToSql>(v: T, ty: Type) -> Vec<u8> {
        let mut b = BytesMut::new();
        v.to_sql_checked(ty, &mut b).unwrap();
        b.to_vec()
    }

    #[test]
    fn calendar_roundtrip() {
        for days in (-800_000i64..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(2000, 1, 1), PG_EPOCH_DAYS_FROM_UNIX);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
    }

    #[test]
    fn date_bytes_and_display() {
        // SELECT date_send('2000-01-02') = \x00000001
        assert_eq!(enc(Date::from_ymd(2000, 1, 2).unwrap(), Type::DATE), [0, 0, 0, 1]);
        assert_eq!(enc(Date::INFINITY, Type::DATE), [0x7f, 0xff, 0xff, 0xff]);
        assert_eq!(Date::from_sql(Type::DATE, &[0x80, 0, 0, 0]).unwrap(), Date::NEG_INFINITY);
        assert_eq!(Date::from_sql(Type::DATE, &[0xff, 0xff, 0xff, 0xff]).unwrap().to_string(), "1999-12-31");
        assert_eq!(Date::from_ymd(-43, 3, 15).unwrap().to_string(), "0044-03-15 BC");
        assert_eq!(Date::from_ymd(1, 1, 1).unwrap().to_string(), "0001-01-01");
        assert_eq!(Date::from_ymd(5_874_897, 12, 31).unwrap().to_ymd(), Some((5_874_897, 12, 31)));
        assert!(Date::from_sql(Type::TIMESTAMP, &[0; 4]).is_err());
    }

    #[test]
    fn timestamps() {
        let ts = Timestamp::from_unix_micros(1_700_000_000_123_456).unwrap();
        assert_eq!(ts.to_string(), "2023-11-14 22:13:20.123456");
        assert_eq!(Timestamp::from_sql(Type::TIMESTAMP, &enc(ts, Type::TIMESTAMP)).unwrap(), ts);
        assert_eq!(enc(Timestamp::INFINITY, Type::TIMESTAMP), i64::MAX.to_be_bytes());
        assert_eq!(
            TimestampTz::from_sql(Type::TIMESTAMPTZ, &i64::MIN.to_be_bytes()).unwrap(),
            TimestampTz::NEG_INFINITY
        );
        assert_eq!(TimestampTz::NEG_INFINITY.to_string(), "-infinity");
        assert_eq!(TimestampTz::from_pg_micros(0).to_string(), "2000-01-01 00:00:00+00");
        assert_eq!(Timestamp::from_pg_micros(-1).to_string(), "1999-12-31 23:59:59.999999");
        assert_eq!(Timestamp::INFINITY.to_unix_micros(), None);
        assert!(Timestamp::from_sql(Type::TIMESTAMPTZ, &[0; 8]).is_err());
        let bc = Timestamp::from_date_time(Date::from_ymd(0, 6, 1).unwrap(), Time::MIDNIGHT).unwrap();
        assert_eq!(bc.to_string(), "0001-06-01 00:00:00 BC");
    }

    #[test]
    fn time_timetz_interval() {
        let t = Time::from_hms_micro(1, 2, 3, 4).unwrap();
        assert_eq!(enc(t, Type::TIME), 3_723_000_004i64.to_be_bytes());
        assert_eq!(Time::from_sql(Type::TIME, &86_400_000_000i64.to_be_bytes()).unwrap().to_string(), "24:00:00");
        assert!(Time::from_sql(Type::TIME, &86_400_000_001i64.to_be_bytes()).is_err());
        assert!(Time::from_sql(Type::TIME, &(-1i64).to_be_bytes()).is_err());
        // '10:00+02'::timetz: time 36000 s, zone -7200 (west-positive on the wire).
        let tz = TimeTz { time: Time::from_hms_micro(10, 0, 0, 0).unwrap(), offset_seconds: 7200 };
        let b = enc(tz, Type::TIMETZ);
        assert_eq!(&b[..8], &36_000_000_000i64.to_be_bytes());
        assert_eq!(&b[8..], &(-7200i32).to_be_bytes());
        assert_eq!(TimeTz::from_sql(Type::TIMETZ, &b).unwrap(), tz);
        assert_eq!(tz.to_string(), "10:00:00+02");
        let iv = Interval { months: -1, days: 2, microseconds: i64::MIN };
        let b = enc(iv, Type::INTERVAL);
        assert_eq!(b.len(), 16);
        assert_eq!(&b[12..], &(-1i32).to_be_bytes());
        assert_eq!(Interval::from_sql(Type::INTERVAL, &b).unwrap(), iv);
        assert_eq!(Interval::default().to_string(), "00:00:00");
        assert_eq!(Interval { months: 0, days: 0, microseconds: -1_500_000 }.to_string(), "-00:00:01.5");
        iv.to_string(); // i64::MIN must not overflow
    }

    #[test]
    fn system_time() {
        let t = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        let b = enc(t, Type::TIMESTAMPTZ);
        assert_eq!(SystemTime::from_sql(Type::TIMESTAMPTZ, &b).unwrap(), t);
        let before = UNIX_EPOCH - Duration::from_nanos(1_500);
        let b = enc(before, Type::TIMESTAMPTZ);
        assert_eq!(i64::from_be_bytes(b.try_into().unwrap()), -2 - PG_EPOCH_MICROS_FROM_UNIX);
        let e = SystemTime::from_sql(Type::TIMESTAMPTZ, &i64::MAX.to_be_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        assert!(e.message().contains("infinity"), "{}", e.message());
        assert!(SystemTime::from_sql(Type::TIMESTAMP, &i64::MIN.to_be_bytes()).is_err());
    }

    #[test]
    fn hostile_lengths() {
        for raw in [&[][..], &[0; 3][..], &[0; 7][..], &[0; 13][..], &[0; 17][..]] {
            assert!(Date::from_sql(Type::DATE, raw).is_err());
            assert!(Time::from_sql(Type::TIME, raw).is_err());
            assert!(TimeTz::from_sql(Type::TIMETZ, raw).is_err());
            assert!(Timestamp::from_sql(Type::TIMESTAMP, raw).is_err());
            assert!(Interval::from_sql(Type::INTERVAL, raw).is_err());
            assert!(SystemTime::from_sql(Type::TIMESTAMPTZ, raw).is_err());
        }
        let mut b = i64::MAX.to_be_bytes().to_vec();
        b.extend_from_slice(&i32::MIN.to_be_bytes());
        assert!(TimeTz::from_sql(Type::TIMETZ, &b).is_err());
    }
}
