//! chrono types (feature `with-chrono`): `NaiveDate` ↔ date, `NaiveTime` ↔
//! time, `NaiveDateTime` ↔ timestamp, `DateTime<Utc>` and
//! `DateTime<FixedOffset>` ↔ timestamptz.
//!
//! chrono has no infinity: decoding `infinity` is an error unless the type is
//! wrapped in [`Bounded`](super::Bounded). Sub-microsecond precision is
//! truncated when encoding. `DateTime<FixedOffset>` decodes with a UTC offset
//! (PostgreSQL does not store the original offset).

use bytes::{BufMut, BytesMut};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};

use super::datetime::{decode_date, decode_time, decode_ts_micros, infinite_error};
use super::from_sql::cannot_decode;
use super::{FromSql, ToSql, Type};
use crate::protocol::IsNull;
use crate::{to_sql_checked, Error, Result};

fn pg_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1).unwrap_or_default().and_time(NaiveTime::MIN)
}

fn out_of_range(what: &str) -> Error {
    Error::conversion(format!("{what} is out of the range chrono supports: use the edgepg::types raw type"))
}

fn check<T>(ty: Type, want: Type) -> Result<()> {
    if ty == want {
        Ok(())
    } else {
        Err(cannot_decode::<T>(ty, ""))
    }
}

fn decode_naive_timestamp<T>(ty: Type, raw: &[u8]) -> Result<NaiveDateTime> {
    let us = decode_ts_micros(raw, "timestamp")?;
    if us == i64::MAX || us == i64::MIN {
        return Err(infinite_error::<T>(ty, us == i64::MAX));
    }
    pg_epoch().checked_add_signed(TimeDelta::microseconds(us)).ok_or_else(|| out_of_range("timestamp"))
}

fn encode_naive_timestamp(v: &NaiveDateTime, out: &mut BytesMut) -> Result<IsNull> {
    let us = v
        .signed_duration_since(pg_epoch())
        .num_microseconds()
        .filter(|us| *us != i64::MAX && *us != i64::MIN)
        .ok_or_else(|| Error::conversion("timestamp is out of PostgreSQL's range"))?;
    out.put_i64(us);
    Ok(IsNull::No)
}

impl<'a> FromSql<'a> for NaiveDate {
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Self> {
        Self::from_sql(ty, &super::text_decode::binary_from_text(ty, raw)?)
    }
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<NaiveDate> {
        check::<NaiveDate>(ty, Type::DATE)?;
        let d = decode_date(raw)?;
        if d.is_infinite() {
            return Err(infinite_error::<NaiveDate>(ty, d.pg_days() > 0));
        }
        let days = TimeDelta::try_days(i64::from(d.pg_days())).ok_or_else(|| out_of_range("date"))?;
        pg_epoch().date().checked_add_signed(days).ok_or_else(|| out_of_range("date"))
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::DATE
    }
}

impl ToSql for NaiveDate {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        let days = self.signed_duration_since(pg_epoch().date()).num_days();
        let days = i32::try_from(days)
            .ok()
            .filter(|d| *d != i32::MAX && *d != i32::MIN)
            .ok_or_else(|| Error::conversion("date is out of PostgreSQL's range"))?;
        out.put_i32(days);
        Ok(IsNull::No)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::DATE
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for NaiveTime {
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Self> {
        Self::from_sql(ty, &super::text_decode::binary_from_text(ty, raw)?)
    }
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<NaiveTime> {
        check::<NaiveTime>(ty, Type::TIME)?;
        let us = decode_time(raw)?.micros();
        let secs = u32::try_from(us / 1_000_000).map_err(|_| out_of_range("time"))?;
        let nanos = u32::try_from(us % 1_000_000 * 1000).map_err(|_| out_of_range("time"))?;
        // 24:00:00 has no chrono representation.
        NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos).ok_or_else(|| out_of_range("time 24:00:00"))
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::TIME
    }
}

impl ToSql for NaiveTime {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        let us = self.signed_duration_since(NaiveTime::MIN).num_microseconds().unwrap_or(0);
        out.put_i64(us);
        Ok(IsNull::No)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::TIME
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for NaiveDateTime {
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Self> {
        Self::from_sql(ty, &super::text_decode::binary_from_text(ty, raw)?)
    }
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<NaiveDateTime> {
        check::<NaiveDateTime>(ty, Type::TIMESTAMP)?;
        decode_naive_timestamp::<NaiveDateTime>(ty, raw)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::TIMESTAMP
    }
}

impl ToSql for NaiveDateTime {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        encode_naive_timestamp(self, out)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::TIMESTAMP
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for DateTime<Utc> {
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Self> {
        Self::from_sql(ty, &super::text_decode::binary_from_text(ty, raw)?)
    }
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<DateTime<Utc>> {
        check::<DateTime<Utc>>(ty, Type::TIMESTAMPTZ)?;
        Ok(decode_naive_timestamp::<DateTime<Utc>>(ty, raw)?.and_utc())
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::TIMESTAMPTZ
    }
}

impl ToSql for DateTime<Utc> {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        encode_naive_timestamp(&self.naive_utc(), out)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::TIMESTAMPTZ
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for DateTime<FixedOffset> {
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Self> {
        Self::from_sql(ty, &super::text_decode::binary_from_text(ty, raw)?)
    }
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<DateTime<FixedOffset>> {
        check::<DateTime<FixedOffset>>(ty, Type::TIMESTAMPTZ)?;
        Ok(decode_naive_timestamp::<DateTime<FixedOffset>>(ty, raw)?.and_utc().fixed_offset())
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::TIMESTAMPTZ
    }
}

impl ToSql for DateTime<FixedOffset> {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        encode_naive_timestamp(&self.naive_utc(), out)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::TIMESTAMPTZ
    }
    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Bounded;

    fn enc<T: ToSql>(v: T, ty: Type) -> Vec<u8> {
        let mut b = BytesMut::new();
        v.to_sql_checked(ty, &mut b).unwrap();
        b.to_vec()
    }

    #[test]
    fn roundtrips() {
        let d = NaiveDate::from_ymd_opt(2000, 1, 2).unwrap();
        assert_eq!(enc(d, Type::DATE), [0, 0, 0, 1]);
        assert_eq!(NaiveDate::from_sql(Type::DATE, &[0, 0, 0, 1]).unwrap(), d);
        let dt = NaiveDate::from_ymd_opt(1999, 12, 31).unwrap().and_hms_micro_opt(23, 59, 59, 999_999).unwrap();
        assert_eq!(enc(dt, Type::TIMESTAMP), (-1i64).to_be_bytes());
        assert_eq!(NaiveDateTime::from_sql(Type::TIMESTAMP, &(-1i64).to_be_bytes()).unwrap(), dt);
        let utc = dt.and_utc();
        assert_eq!(DateTime::<Utc>::from_sql(Type::TIMESTAMPTZ, &enc(utc, Type::TIMESTAMPTZ)).unwrap(), utc);
        let off = utc.with_timezone(&FixedOffset::east_opt(3600).unwrap());
        assert_eq!(enc(off, Type::TIMESTAMPTZ), (-1i64).to_be_bytes());
        assert_eq!(DateTime::<FixedOffset>::from_sql(Type::TIMESTAMPTZ, &(-1i64).to_be_bytes()).unwrap(), off);
        let t = NaiveTime::from_hms_micro_opt(1, 2, 3, 4).unwrap();
        assert_eq!(NaiveTime::from_sql(Type::TIME, &enc(t, Type::TIME)).unwrap(), t);
        assert!(NaiveTime::from_sql(Type::TIME, &86_400_000_000i64.to_be_bytes()).is_err());
    }

    #[test]
    fn infinity_needs_bounded() {
        let e = NaiveDate::from_sql(Type::DATE, &i32::MAX.to_be_bytes()).unwrap_err();
        assert!(e.message().contains("Bounded"), "{}", e.message());
        assert!(DateTime::<Utc>::from_sql(Type::TIMESTAMPTZ, &i64::MIN.to_be_bytes()).is_err());
        assert_eq!(Bounded::<NaiveDate>::from_sql(Type::DATE, &i32::MIN.to_be_bytes()).unwrap(), Bounded::NegInfinity);
        assert_eq!(enc(Bounded::<NaiveDateTime>::PosInfinity, Type::TIMESTAMP), i64::MAX.to_be_bytes());
        // Dates beyond chrono's range error instead of panicking.
        assert!(NaiveDate::from_sql(Type::DATE, &(i32::MAX - 1).to_be_bytes()).is_err());
        // ~292k years after 2000: beyond chrono's ±262k years.
        assert!(NaiveDateTime::from_sql(Type::TIMESTAMP, &(i64::MAX - 1).to_be_bytes()).is_err());
    }
}
