//! `inet`/`cidr` as [`Inet`] (address + netmask) and `std::net::IpAddr`
//! (host addresses).
//!
//! Binary layout: `family: u8` (2 = IPv4, 3 = IPv6), `bits: u8` (netmask),
//! `is_cidr: u8`, `len: u8` (4 or 16), then the address bytes.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use bytes::{BufMut, BytesMut};

use super::codec::Reader;
use super::from_sql::cannot_decode;
use super::{FromSql, ToSql, Type};
use crate::protocol::IsNull;
use crate::{to_sql_checked, Error, Result};

const PGSQL_AF_INET: u8 = 2;
const PGSQL_AF_INET6: u8 = 3;

/// An `inet` or `cidr` value: an address and a netmask length in bits.
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use edgepg_core::types::Inet;
/// let net = Inet::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 8).unwrap();
/// assert_eq!(net.to_string(), "10.0.0.0/8");
/// assert!(Inet::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 33).is_none());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Inet {
    /// The address.
    pub addr: IpAddr,
    /// Netmask length: 0..=32 for IPv4, 0..=128 for IPv6.
    pub netmask: u8,
}

impl Inet {
    /// An address with a netmask; `None` if the netmask is too long.
    pub fn new(addr: IpAddr, netmask: u8) -> Option<Inet> {
        (netmask <= max_bits(addr)).then_some(Inet { addr, netmask })
    }
    /// A single host (full netmask).
    pub fn host(addr: IpAddr) -> Inet {
        Inet { addr, netmask: max_bits(addr) }
    }
}

fn max_bits(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// PostgreSQL's text form: `192.168.0.1` for hosts, `10.0.0.0/8` otherwise.
impl fmt::Display for Inet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.addr)?;
        if self.netmask != max_bits(self.addr) {
            write!(f, "/{}", self.netmask)?;
        }
        Ok(())
    }
}

pub(crate) fn decode_inet(raw: &[u8]) -> Result<Inet> {
    let mut r = Reader::new(raw, "inet");
    let family = r.u8()?;
    let bits = r.u8()?;
    let _is_cidr = r.u8()?;
    let len = r.u8()?;
    let addr = match (family, len) {
        (PGSQL_AF_INET, 4) => IpAddr::V4(Ipv4Addr::from(r.array::<4>()?)),
        (PGSQL_AF_INET6, 16) => IpAddr::V6(Ipv6Addr::from(r.array::<16>()?)),
        _ => return Err(Error::conversion("invalid binary inet value: unknown address family or length")),
    };
    r.finish()?;
    Inet::new(addr, bits).ok_or_else(|| Error::conversion("invalid binary inet value: netmask too long"))
}

fn encode_inet(v: Inet, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
    if v.netmask > max_bits(v.addr) {
        return Err(Error::conversion(format!("netmask /{} is too long for {}", v.netmask, v.addr)));
    }
    match v.addr {
        IpAddr::V4(a) => {
            out.put_slice(&[PGSQL_AF_INET, v.netmask, u8::from(ty == Type::CIDR), 4]);
            out.put_slice(&a.octets());
        }
        IpAddr::V6(a) => {
            out.put_slice(&[PGSQL_AF_INET6, v.netmask, u8::from(ty == Type::CIDR), 16]);
            out.put_slice(&a.octets());
        }
    }
    Ok(IsNull::No)
}

fn is_net(ty: Type) -> bool {
    matches!(ty, Type::INET | Type::CIDR)
}

impl<'a> FromSql<'a> for Inet {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Inet> {
        if !is_net(ty) {
            return Err(cannot_decode::<Inet>(ty, "only inet and cidr decode into it"));
        }
        decode_inet(raw)
    }
    fn accepts(ty: Type) -> bool {
        is_net(ty)
    }
}

impl ToSql for Inet {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        encode_inet(*self, ty, out)
    }
    fn accepts(ty: Type) -> bool {
        is_net(ty)
    }
    to_sql_checked!();
}

/// Host addresses only: a value with a shorter netmask is an error (use [`Inet`]).
impl<'a> FromSql<'a> for IpAddr {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<IpAddr> {
        if !is_net(ty) {
            return Err(cannot_decode::<IpAddr>(ty, "only inet and cidr decode into it"));
        }
        let v = decode_inet(raw)?;
        if v.netmask != max_bits(v.addr) {
            return Err(Error::conversion(format!(
                "{ty} value {v} is a network, not a host address: decode it into edgepg::types::Inet"
            )));
        }
        Ok(v.addr)
    }
    fn accepts(ty: Type) -> bool {
        is_net(ty)
    }
}

impl ToSql for IpAddr {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        encode_inet(Inet::host(*self), ty, out)
    }
    fn accepts(ty: Type) -> bool {
        is_net(ty)
    }
    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inet_bytes() {
        // inet_send('192.168.0.1') = 02 20 00 04 c0 a8 00 01
        let raw = [2, 32, 0, 4, 192, 168, 0, 1];
        let a = IpAddr::from_sql(Type::INET, &raw).unwrap();
        assert_eq!(a, IpAddr::V4(Ipv4Addr::new(192, 168, 0, 1)));
        let mut b = BytesMut::new();
        a.to_sql_checked(Type::INET, &mut b).unwrap();
        assert_eq!(&b[..], &raw);
        // cidr_send('10.0.0.0/8') = 02 08 01 04 0a 00 00 00
        let raw = [2, 8, 1, 4, 10, 0, 0, 0];
        let n = Inet::from_sql(Type::CIDR, &raw).unwrap();
        assert_eq!(n.to_string(), "10.0.0.0/8");
        b.clear();
        n.to_sql_checked(Type::CIDR, &mut b).unwrap();
        assert_eq!(&b[..], &raw);
        assert!(IpAddr::from_sql(Type::CIDR, &raw).unwrap_err().message().contains("Inet"));
        let v6 = Inet::host("::1".parse().unwrap());
        b.clear();
        v6.to_sql_checked(Type::INET, &mut b).unwrap();
        assert_eq!(b.len(), 20);
        assert_eq!(Inet::from_sql(Type::INET, &b).unwrap(), v6);
        assert_eq!(v6.to_string(), "::1");
    }

    #[test]
    fn hostile() {
        for raw in [
            &[][..],
            &[2, 32, 0, 4, 1, 2, 3][..],
            &[2, 32, 0, 16, 1, 2, 3, 4][..],
            &[2, 33, 0, 4, 1, 2, 3, 4][..],
            &[9, 32, 0, 4, 1, 2, 3, 4][..],
            &[2, 32, 0, 4, 1, 2, 3, 4, 5][..],
        ] {
            assert!(Inet::from_sql(Type::INET, raw).is_err(), "{raw:?}");
        }
    }
}
