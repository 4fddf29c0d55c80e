//! Arrays: `Vec<T>`/`&[T]` for one dimension and [`Array<T>`] for any number,
//! with lower bounds and NULL elements (`Option<T>`).
//!
//! Binary layout (array_send): `ndim: i32, has_nulls: i32, element_oid: u32`,
//! then `ndim` × `(length: i32, lower_bound: i32)`, then each element as
//! `length: i32` (−1 for NULL) and its bytes, in row-major order.
//! An empty array has `ndim = 0`.

use bytes::{BufMut, BytesMut};

use super::codec::Reader;
use super::from_sql::cannot_decode;
use super::range::{encode_multirange, multirange_range, parse_multirange};
use super::{FromSql, ToSql, Type};
use crate::protocol::IsNull;
use crate::{to_sql_checked, Error, Result};

/// PostgreSQL's MAXDIM.
pub const MAX_DIMENSIONS: usize = 6;

/// An array of any number of dimensions (up to 6).
///
/// `dims` holds `(length, lower_bound)` per dimension, outermost first;
/// `elements` holds all elements in row-major order, so its length is the
/// product of the lengths. An empty array has no dimensions.
///
/// ```
/// use bytes::BytesMut;
/// use edgepg_core::types::{Array, FromSql, ToSql, Type};
///
/// let a = Array::new(vec![(2, 1), (2, 1)], vec![Some(1i32), None, Some(3), Some(4)]).unwrap();
/// let mut buf = BytesMut::new();
/// a.to_sql_checked(Type::INT4_ARRAY, &mut buf).unwrap();
/// let back = Array::<Option<i32>>::from_sql(Type::INT4_ARRAY, &buf).unwrap();
/// assert_eq!(back, a);
/// // A 2-D array does not silently flatten into a Vec:
/// assert!(Vec::<Option<i32>>::from_sql(Type::INT4_ARRAY, &buf).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Array<T> {
    /// `(length, lower_bound)` per dimension, outermost first.
    pub dims: Vec<(i32, i32)>,
    /// The elements in row-major order.
    pub elements: Vec<T>,
}

impl<T> Array<T> {
    /// An array with these dimensions; errors unless the element count matches
    /// their product and there are at most 6 dimensions.
    pub fn new(dims: Vec<(i32, i32)>, elements: Vec<T>) -> Result<Array<T>> {
        check_dims(&dims, elements.len())?;
        Ok(Array { dims, elements })
    }

    /// A one-dimensional array with lower bound 1 (empty when `elements` is).
    pub fn from_vec(elements: Vec<T>) -> Result<Array<T>> {
        let dims = if elements.is_empty() { Vec::new() } else { vec![(len_i32(elements.len())?, 1)] };
        Ok(Array { dims, elements })
    }
}

fn len_i32(n: usize) -> Result<i32> {
    i32::try_from(n).map_err(|_| Error::conversion("array has too many elements for PostgreSQL"))
}

/// Checks dims against an element count (both for decoding and encoding).
pub(crate) fn check_dims(dims: &[(i32, i32)], count: usize) -> Result<()> {
    if dims.len() > MAX_DIMENSIONS {
        return Err(Error::conversion(format!("array has {} dimensions; PostgreSQL allows at most 6", dims.len())));
    }
    let mut product: usize = if dims.is_empty() { 0 } else { 1 };
    for &(len, lower) in dims {
        let len = usize::try_from(len).map_err(|_| Error::conversion("array dimension has a negative length"))?;
        // The upper bound must fit an i32 too.
        if lower.checked_add(len as i32).is_none() {
            return Err(Error::conversion("array dimension bounds overflow"));
        }
        product = product.checked_mul(len).ok_or_else(|| Error::conversion("array is too large"))?;
    }
    if product != count {
        return Err(Error::conversion(format!("array dimensions describe {product} elements but {count} were given")));
    }
    Ok(())
}

/// A parsed binary array header; elements are read lazily from `reader`.
pub(crate) struct RawArray<'a> {
    pub(crate) element_type: Type,
    pub(crate) dims: Vec<(i32, i32)>,
    pub(crate) count: usize,
    reader: Reader<'a>,
}

impl<'a> RawArray<'a> {
    /// Parses the header of a binary array of type `ty`. The element count is
    /// bounded by the bytes present (every element takes at least 4), so a
    /// hostile header cannot make us allocate.
    pub(crate) fn parse(ty: Type, raw: &'a [u8]) -> Result<RawArray<'a>> {
        let mut r = Reader::new(raw, "array");
        let ndim = r.i32()?;
        let flags = r.i32()?;
        let element_type = Type::from_oid(r.u32()?);
        let ndim = usize::try_from(ndim)
            .ok()
            .filter(|&n| n <= MAX_DIMENSIONS)
            .ok_or_else(|| Error::conversion("invalid binary array value: bad number of dimensions"))?;
        if flags != 0 && flags != 1 {
            return Err(Error::conversion("invalid binary array value: bad flags"));
        }
        if let Some(expected) = ty.element() {
            // Arrays of domains may carry the domain's or the base type's OID.
            if expected != element_type && expected.base() != element_type.base() {
                return Err(Error::conversion(format!(
                    "binary {ty} value has elements of type {element_type}, expected {expected}"
                )));
            }
        }
        let mut dims = Vec::with_capacity(ndim);
        for _ in 0..ndim {
            dims.push((r.i32()?, r.i32()?));
        }
        let mut count: usize = if ndim == 0 { 0 } else { 1 };
        for &(len, _) in &dims {
            let len =
                usize::try_from(len).map_err(|_| Error::conversion("invalid binary array value: negative length"))?;
            // PostgreSQL sends an empty array with no dimensions; a zero-length
            // dimension next to huge ones would let a tiny value describe
            // billions of (empty) sub-arrays.
            if len == 0 {
                return Err(Error::conversion("invalid binary array value: a dimension of length 0"));
            }
            count = count.saturating_mul(len);
        }
        if count > r.remaining() / 4 {
            return Err(Error::conversion("invalid binary array value: more elements than bytes"));
        }
        check_dims(&dims, count).map_err(|e| e.context("invalid binary array value"))?;
        Ok(RawArray { element_type, dims, count, reader: r })
    }

    /// The next element (`None` inside for NULL).
    pub(crate) fn next_element(&mut self) -> Result<Option<&'a [u8]>> {
        let len = self.reader.i32()?;
        if len == -1 {
            return Ok(None);
        }
        let len =
            usize::try_from(len).map_err(|_| Error::conversion("invalid binary array value: bad element length"))?;
        self.reader.bytes(len).map(Some)
    }

    /// Decodes every element with `T`, then checks nothing trails.
    pub(crate) fn decode_all<T>(mut self, mut f: impl FnMut(Type, Option<&'a [u8]>) -> Result<T>) -> Result<Vec<T>> {
        let mut out = Vec::with_capacity(self.count);
        // Elements of a domain type decode as the domain's base type.
        let element_type = self.element_type.base();
        for _ in 0..self.count {
            let e = self.next_element()?;
            out.push(f(element_type, e)?);
        }
        self.reader.finish()?;
        Ok(out)
    }
}

fn array_accepts<'a, T: FromSql<'a>>(ty: Type) -> bool {
    ty.element().is_some_and(|e| T::accepts(e.base()))
}

fn check_accepts<'a, T: FromSql<'a>, A>(ty: Type) -> Result<()> {
    if array_accepts::<T>(ty) {
        Ok(())
    } else {
        Err(cannot_decode::<A>(ty, "the element type does not match"))
    }
}

impl<'a, T: FromSql<'a>> FromSql<'a> for Array<T> {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Array<T>> {
        check_accepts::<T, Self>(ty)?;
        let a = RawArray::parse(ty, raw)?;
        let dims = a.dims.clone();
        let elements = a.decode_all(T::from_sql_nullable)?;
        Ok(Array { dims, elements })
    }
    fn accepts(ty: Type) -> bool {
        array_accepts::<T>(ty)
    }
}

/// One-dimensional arrays only (the lower bound is ignored); a
/// multi-dimensional array is an error rather than silently flattened —
/// decode it into [`Array<T>`]. NULL elements need `Vec<Option<T>>`.
impl<'a, T: FromSql<'a>> FromSql<'a> for Vec<T> {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Vec<T>> {
        // `Vec<Range<T>>` is also how multiranges decode.
        if let Some(range) = multirange_range(ty) {
            return parse_multirange(raw)?.into_iter().map(|b| T::from_sql(range, b)).collect();
        }
        check_accepts::<T, Self>(ty)?;
        let a = RawArray::parse(ty, raw)?;
        if a.dims.len() > 1 {
            return Err(Error::conversion(format!(
                "{}-dimensional {ty} value cannot be decoded into {}: use edgepg::types::Array",
                a.dims.len(),
                std::any::type_name::<Self>()
            )));
        }
        a.decode_all(T::from_sql_nullable)
    }
    fn accepts(ty: Type) -> bool {
        array_accepts::<T>(ty) || multirange_range(ty).is_some_and(T::accepts)
    }
}

/// Writes a binary array of `ty` with these dims and elements.
pub(crate) fn encode_array<'e, T: ToSql + 'e>(
    ty: Type,
    dims: &[(i32, i32)],
    elements: impl ExactSizeIterator<Item = &'e T>,
    out: &mut BytesMut,
) -> Result<IsNull> {
    let element_type =
        ty.element().ok_or_else(|| Error::conversion(format!("PostgreSQL type {ty} is not a known array type")))?;
    check_dims(dims, elements.len())?;
    out.put_i32(dims.len() as i32); // ≤ 6 (checked)
    let flags_at = out.len();
    out.put_i32(0);
    out.put_u32(element_type.oid());
    for &(len, lower) in dims {
        out.put_i32(len);
        out.put_i32(lower);
    }
    let mut has_nulls = false;
    for e in elements {
        let len_at = out.len();
        out.put_i32(0);
        match e.to_sql(element_type.base(), out)? {
            IsNull::Yes => {
                has_nulls = true;
                out[len_at..len_at + 4].copy_from_slice(&(-1i32).to_be_bytes());
            }
            IsNull::No => {
                let len = len_i32(out.len() - len_at - 4)?;
                out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
            }
        }
    }
    if has_nulls {
        out[flags_at..flags_at + 4].copy_from_slice(&1i32.to_be_bytes());
    }
    Ok(IsNull::No)
}

fn to_sql_accepts<T: ToSql>(ty: Type) -> bool {
    ty.element().is_some_and(|e| T::accepts(e.base()))
}

fn one_dim(len: usize) -> Result<Vec<(i32, i32)>> {
    Ok(if len == 0 { Vec::new() } else { vec![(len_i32(len)?, 1)] })
}

impl<T: ToSql> ToSql for &[T] {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        if let Some(range) = multirange_range(ty) {
            return encode_multirange(self.iter(), out, |r, out| r.to_sql_checked(range, out));
        }
        encode_array(ty, &one_dim(self.len())?, self.iter(), out)
    }
    fn accepts(ty: Type) -> bool {
        to_sql_accepts::<T>(ty) || multirange_range(ty).is_some_and(T::accepts)
    }
    to_sql_checked!();
}

impl<T: ToSql> ToSql for Vec<T> {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        self.as_slice().to_sql(ty, out)
    }
    fn accepts(ty: Type) -> bool {
        <&[T]>::accepts(ty)
    }
    to_sql_checked!();
}

impl<T: ToSql> ToSql for Array<T> {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        encode_array(ty, &self.dims, self.elements.iter(), out)
    }
    fn accepts(ty: Type) -> bool {
        to_sql_accepts::<T>(ty)
    }
    to_sql_checked!();
}

#[cfg(test)]
mod zero_dim_tests {
    use super::*;

    #[test]
    fn zero_length_dimension_is_rejected() {
        // ndim 2, flags 0, int4 elements, dims (2^31-1, 1) and (0, 1), no elements.
        let mut raw = Vec::new();
        for v in [2i32, 0, 23, i32::MAX, 1, 0, 1] {
            raw.extend_from_slice(&v.to_be_bytes());
        }
        assert!(RawArray::parse(Type::INT4_ARRAY, &raw).is_err());
    }
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
    fn one_dim_bytes() {
        // array_send('{1,NULL}'::int4[])
        let expected: Vec<u8> = [
            &1i32.to_be_bytes()[..],
            &1i32.to_be_bytes(),
            &23u32.to_be_bytes(),
            &2i32.to_be_bytes(),
            &1i32.to_be_bytes(),
            &4i32.to_be_bytes(),
            &1i32.to_be_bytes(),
            &(-1i32).to_be_bytes(),
        ]
        .concat();
        assert_eq!(enc(vec![Some(1i32), None], Type::INT4_ARRAY), expected);
        assert_eq!(Vec::<Option<i32>>::from_sql(Type::INT4_ARRAY, &expected).unwrap(), vec![Some(1), None]);
        let e = Vec::<i32>::from_sql(Type::INT4_ARRAY, &expected).unwrap_err();
        assert!(e.message().contains("NULL"), "{}", e.message());
        // Widening elements work like scalars.
        let v: Vec<i64> = FromSql::from_sql(Type::INT4_ARRAY, &enc(vec![5i32, -6], Type::INT4_ARRAY)).unwrap();
        assert_eq!(v, [5, -6]);
    }

    #[test]
    fn empty_and_text() {
        let empty = enc(Vec::<String>::new(), Type::TEXT_ARRAY);
        assert_eq!(empty, [&0i32.to_be_bytes()[..], &0i32.to_be_bytes(), &25u32.to_be_bytes()].concat());
        assert!(Vec::<String>::from_sql(Type::TEXT_ARRAY, &empty).unwrap().is_empty());
        assert_eq!(Array::<String>::from_sql(Type::TEXT_ARRAY, &empty).unwrap().dims, vec![]);
        let words = vec!["ä", "", "日本"];
        let b = enc(&words[..], Type::TEXT_ARRAY);
        let back: Vec<&str> = FromSql::from_sql(Type::TEXT_ARRAY, &b).unwrap();
        assert_eq!(back, words);
    }

    #[test]
    fn multi_dim_and_bounds() {
        let a = Array::new(vec![(2, 0), (3, -1)], (0..6).map(Some).chain([]).collect::<Vec<Option<i64>>>()).unwrap();
        let b = enc(&a, Type::INT8_ARRAY);
        let back = Array::<Option<i64>>::from_sql(Type::INT8_ARRAY, &b).unwrap();
        assert_eq!(back, a);
        assert!(Vec::<i64>::from_sql(Type::INT8_ARRAY, &b).unwrap_err().message().contains("Array"));
        assert!(Array::new(vec![(2, 1)], vec![1]).is_err());
        assert!(Array::new(vec![(1, 1); 7], vec![1]).is_err());
        assert!(Array::new(vec![(1, i32::MAX)], vec![1]).is_err());
        let mut out = BytesMut::new();
        assert!(Array { dims: vec![(3, 1)], elements: vec![1i32] }.to_sql_checked(Type::INT4_ARRAY, &mut out).is_err());
    }

    #[test]
    fn element_checks() {
        let b = enc(vec![1i32], Type::INT4_ARRAY);
        // Header says int4 but the column says int8[]: reject.
        assert!(Vec::<i64>::from_sql(Type::INT8_ARRAY, &b).is_err());
        assert!(Vec::<i32>::from_sql(Type::INT4, &b).is_err());
        let mut out = BytesMut::new();
        assert_eq!(vec![1i32].to_sql_checked(Type::TEXT_ARRAY, &mut out).unwrap_err().kind(), ErrorKind::Conversion);
        assert!(vec![1i32].to_sql_checked(Type::INT4, &mut out).is_err());
    }

    #[test]
    fn hostile() {
        let head = |ndim: i32, flags: i32, oid: u32, dims: &[(i32, i32)]| {
            let mut v = [ndim.to_be_bytes(), flags.to_be_bytes(), oid.to_be_bytes()].concat();
            for (l, b) in dims {
                v.extend_from_slice(&l.to_be_bytes());
                v.extend_from_slice(&b.to_be_bytes());
            }
            v
        };
        let cases = vec![
            vec![],
            head(1, 0, 23, &[]),                                                  // dims missing
            head(7, 0, 23, &[(1, 1); 7]),                                         // too many dims
            head(-1, 0, 23, &[]),                                                 // negative ndim
            head(1, 2, 23, &[(0, 1)]),                                            // bad flags
            head(1, 0, 23, &[(-1, 1)]),                                           // negative length
            head(1, 0, 23, &[(i32::MAX, 1)]),                                     // huge count, no bytes
            head(2, 0, 23, &[(65536, 1), (65536, 1)]),                            // overflowing count
            head(1, 0, 23, &[(1, i32::MAX)]),                                     // upper bound overflow
            [head(1, 0, 23, &[(1, 1)]), (-2i32).to_be_bytes().to_vec()].concat(), // bad element length
            [head(1, 0, 23, &[(1, 1)]), 100i32.to_be_bytes().to_vec()].concat(),  // element past end
            [head(1, 0, 23, &[(1, 1)]), 4i32.to_be_bytes().to_vec(), vec![0, 0, 0, 1, 9]].concat(), // trailing
            [head(1, 0, 23, &[(1, 1)]), 2i32.to_be_bytes().to_vec(), vec![0, 1]].concat(), // short int4
        ];
        for raw in &cases {
            assert!(Array::<Option<i32>>::from_sql(Type::INT4_ARRAY, raw).is_err(), "{raw:?}");
            assert!(Vec::<Option<i32>>::from_sql(Type::INT4_ARRAY, raw).is_err(), "{raw:?}");
        }
    }
}
