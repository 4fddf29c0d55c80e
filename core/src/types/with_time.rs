//! `time` crate types (feature `with-time`): `Date` ↔ date, `Time` ↔ time,
//! `PrimitiveDateTime` ↔ timestamp, `OffsetDateTime` ↔ timestamptz (decoded
//! in UTC). Infinity is an error unless wrapped in [`Bounded`](super::Bounded).

use bytes::{BufMut, BytesMut};
use time::{Date, OffsetDateTime, PrimitiveDateTime, Time};

use super::datetime::{decode_date, decode_time, decode_ts_micros, infinite_error, MICROS_PER_DAY};
use super::from_sql::cannot_decode;
use super::{FromSql, ToSql, Type};
use crate::protocol::IsNull;
use crate::{to_sql_checked, Error, Result};

/// Julian day number of 2000-01-01.
const PG_EPOCH_JULIAN_DAY: i32 = 2_451_545;

fn out_of_range(what: &str) -> Error {
    Error::conversion(format!("{what} is out of the range the time crate supports: use the edgepg::types raw type"))
}

fn check<T>(ty: Type, want: Type) -> Result<()> {
    if ty == want {
        Ok(())
    } else {
        Err(cannot_decode::<T>(ty, ""))
    }
}

fn date_from_pg_days(days: i64) -> Result<Date> {
    let jd = i32::try_from(days)
        .ok()
        .and_then(|d| d.checked_add(PG_EPOCH_JULIAN_DAY))
        .ok_or_else(|| out_of_range("date"))?;
    Date::from_julian_day(jd).map_err(|_| out_of_range("date"))
}

fn time_from_micros(us: i64) -> Result<Time> {
    let secs = us / 1_000_000;
    Time::from_hms_micro((secs / 3600) as u8, (secs / 60 % 60) as u8, (secs % 60) as u8, (us % 1_000_000) as u32)
        .map_err(|_| out_of_range("time 24:00:00"))
}

fn time_micros(t: Time) -> i64 {
    let (h, m, s, us) = t.as_hms_micro();
    ((i64::from(h) * 60 + i64::from(m)) * 60 + i64::from(s)) * 1_000_000 + i64::from(us)
}

fn decode_primitive<T>(ty: Type, raw: &[u8]) -> Result<PrimitiveDateTime> {
    let us = decode_ts_micros(raw, "timestamp")?;
    if us == i64::MAX || us == i64::MIN {
        return Err(infinite_error::<T>(ty, us == i64::MAX));
    }
    let date = date_from_pg_days(us.div_euclid(MICROS_PER_DAY))?;
    let time = time_from_micros(us.rem_euclid(MICROS_PER_DAY))?;
    Ok(PrimitiveDateTime::new(date, time))
}

fn encode_primitive(v: PrimitiveDateTime, out: &mut BytesMut) -> Result<IsNull> {
    let days = i64::from(v.date().to_julian_day()) - i64::from(PG_EPOCH_JULIAN_DAY);
    // |days| < 2^24, so this cannot overflow.
    out.put_i64(days * MICROS_PER_DAY + time_micros(v.time()));
    Ok(IsNull::No)
}

impl<'a> FromSql<'a> for Date {
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Self> {
        Self::from_sql(ty, &super::text_decode::binary_from_text(ty, raw)?)
    }
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Date> {
        check::<Date>(ty, Type::DATE)?;
        let d = decode_date(raw)?;
        if d.is_infinite() {
            return Err(infinite_error::<Date>(ty, d.pg_days() > 0));
        }
        date_from_pg_days(i64::from(d.pg_days()))
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::DATE
    }
}

impl ToSql for Date {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        // The time crate's range (±9999 years, or ±999999) is inside PostgreSQL's.
        out.put_i32(self.to_julian_day() - PG_EPOCH_JULIAN_DAY);
        Ok(IsNull::No)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::DATE
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for Time {
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Self> {
        Self::from_sql(ty, &super::text_decode::binary_from_text(ty, raw)?)
    }
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Time> {
        check::<Time>(ty, Type::TIME)?;
        time_from_micros(decode_time(raw)?.micros())
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::TIME
    }
}

impl ToSql for Time {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        out.put_i64(time_micros(*self));
        Ok(IsNull::No)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::TIME
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for PrimitiveDateTime {
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Self> {
        Self::from_sql(ty, &super::text_decode::binary_from_text(ty, raw)?)
    }
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<PrimitiveDateTime> {
        check::<PrimitiveDateTime>(ty, Type::TIMESTAMP)?;
        decode_primitive::<PrimitiveDateTime>(ty, raw)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::TIMESTAMP
    }
}

impl ToSql for PrimitiveDateTime {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        encode_primitive(*self, out)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::TIMESTAMP
    }
    to_sql_checked!();
}

impl<'a> FromSql<'a> for OffsetDateTime {
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Self> {
        Self::from_sql(ty, &super::text_decode::binary_from_text(ty, raw)?)
    }
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<OffsetDateTime> {
        check::<OffsetDateTime>(ty, Type::TIMESTAMPTZ)?;
        Ok(decode_primitive::<OffsetDateTime>(ty, raw)?.assume_utc())
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::TIMESTAMPTZ
    }
}

impl ToSql for OffsetDateTime {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        // Via Unix nanoseconds (i128): no panicking offset conversion.
        let us = self.unix_timestamp_nanos().div_euclid(1000) - i128::from(super::datetime::PG_EPOCH_MICROS_FROM_UNIX);
        let us = i64::try_from(us).map_err(|_| Error::conversion("timestamp is out of PostgreSQL's range"))?;
        out.put_i64(us);
        Ok(IsNull::No)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::TIMESTAMPTZ
    }
    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::{Month, UtcOffset};

    fn enc<T: ToSql>(v: T, ty: Type) -> Vec<u8> {
        let mut b = BytesMut::new();
        v.to_sql_checked(ty, &mut b).unwrap();
        b.to_vec()
    }

    #[test]
    fn roundtrips() {
        let d = Date::from_calendar_date(2000, Month::January, 2).unwrap();
        assert_eq!(enc(d, Type::DATE), [0, 0, 0, 1]);
        assert_eq!(Date::from_sql(Type::DATE, &[0, 0, 0, 1]).unwrap(), d);
        let dt = PrimitiveDateTime::new(
            Date::from_calendar_date(1999, Month::December, 31).unwrap(),
            Time::from_hms_micro(23, 59, 59, 999_999).unwrap(),
        );
        assert_eq!(enc(dt, Type::TIMESTAMP), (-1i64).to_be_bytes());
        assert_eq!(PrimitiveDateTime::from_sql(Type::TIMESTAMP, &(-1i64).to_be_bytes()).unwrap(), dt);
        let odt = dt.assume_offset(UtcOffset::from_hms(2, 0, 0).unwrap());
        let b = enc(odt, Type::TIMESTAMPTZ);
        assert_eq!(i64::from_be_bytes(b.clone().try_into().unwrap()), -1 - 7_200_000_000);
        assert_eq!(OffsetDateTime::from_sql(Type::TIMESTAMPTZ, &b).unwrap(), odt);
        let t = Time::from_hms_micro(1, 2, 3, 4).unwrap();
        assert_eq!(Time::from_sql(Type::TIME, &enc(t, Type::TIME)).unwrap(), t);
    }

    #[test]
    fn out_of_range_and_infinity() {
        assert!(Date::from_sql(Type::DATE, &i32::MAX.to_be_bytes()).unwrap_err().message().contains("infinity"));
        assert!(Date::from_sql(Type::DATE, &(i32::MAX - 1).to_be_bytes()).is_err());
        assert!(OffsetDateTime::from_sql(Type::TIMESTAMPTZ, &(i64::MAX - 1).to_be_bytes()).is_err());
        assert!(Time::from_sql(Type::TIME, &86_400_000_000i64.to_be_bytes()).is_err());
    }
}
