//! Mutated binary values of the structured types (ranges, multiranges,
//! records, arrays of records, hstore) through every decoder: errors are
//! fine, panics and runaway allocations are not.

use std::collections::HashMap;
use std::sync::Arc;

use bytes::BytesMut;

use super::*;

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn map() -> Arc<TypeMap> {
    let mut m = TypeMap::default();
    let pair: Arc<[Field]> =
        vec![Field { name: "k".into(), type_: Type::TEXT }, Field { name: "r".into(), type_: Type::INT4_RANGE }].into();
    m.insert(TypeInfo::new(90200, "s", "pair", TypeKind::Composite(pair)));
    m.insert(TypeInfo::new(90201, "s", "_pair", TypeKind::Array(Type::from_oid(90200))));
    m.insert(TypeInfo::new(90202, "s", "hstore", TypeKind::Simple));
    m.set_codec(90202, Arc::new(HstoreCodec));
    Arc::new(m)
}

fn enc<T: ToSql>(v: &T, ty: Type) -> Vec<u8> {
    let mut b = BytesMut::new();
    v.to_sql_checked(ty, &mut b).unwrap();
    b.to_vec()
}

#[test]
fn mutated_structured_values_never_panic() {
    let m = map();
    with_type_map(&m, || {
        let pair = Type::from_oid(90200);
        let one = enc(&Composite::new().field("k", &"a").field("r", &Range::from(1..5)), pair);
        let fixtures: Vec<(Type, Vec<u8>)> = vec![
            (Type::INT4_RANGE, enc(&Range::from(1..5), Type::INT4_RANGE)),
            (
                Type::NUM_RANGE,
                enc(&Range::new(std::ops::Bound::Unbounded, std::ops::Bound::Included("1.5")), Type::NUM_RANGE),
            ),
            (Type::INT8MULTI_RANGE, enc(&vec![Range::<i64>::from(1..2), Range::from(5..)], Type::INT8MULTI_RANGE)),
            (pair, one.clone()),
            (Type::RECORD, one.clone()),
            (
                Type::from_oid(90201),
                enc(
                    &vec![Some(Composite::new().field("k", &"b").field("r", &Range::<i32>::empty())), None],
                    Type::from_oid(90201),
                ),
            ),
            (Type::from_oid(90202), {
                let mut h = HashMap::new();
                h.insert("k".to_owned(), Some("v".to_owned()));
                h.insert("n".to_owned(), None);
                enc(&h, Type::from_oid(90202))
            }),
        ];
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut decoded = 0usize;
        for i in 0..40_000 {
            let (ty, base) = &fixtures[i % fixtures.len()];
            let mut v = base.clone();
            for _ in 0..=rng.below(3) {
                match rng.below(4) {
                    0 if !v.is_empty() => {
                        let at = rng.below(v.len());
                        v[at] = rng.next() as u8;
                    }
                    1 if !v.is_empty() => v.truncate(rng.below(v.len())),
                    2 => v.push(rng.next() as u8),
                    _ if v.len() >= 4 => {
                        // A length or count field set to something extreme.
                        let at = rng.below(v.len() - 3);
                        let x = [i32::MAX, -1, -2, 0x7fff_0000, 1][rng.below(5)];
                        v[at..at + 4].copy_from_slice(&x.to_be_bytes());
                    }
                    _ => {}
                }
            }
            if let Ok(value) = Value::from_sql(*ty, &v) {
                decoded += 1;
                let _ = value.to_string();
                if let Value::Record(r) = &value {
                    let _ = r.values();
                }
            }
            let _ = Record::from_sql(*ty, &v);
            let _ = Range::<i32>::from_sql(*ty, &v);
            let _ = Vec::<Range<i64>>::from_sql(*ty, &v);
            let _ = Vec::<Option<Record>>::from_sql(*ty, &v);
            let _ = HashMap::<String, Option<String>>::from_sql(*ty, &v);
            let _ = String::from_sql(*ty, &v);
            let _ = Value::from_sql_text(*ty, &v);
        }
        // The mutations must leave some values decodable, or the decoders are not reached.
        assert!(decoded > 1_000, "only {decoded} decoded");
    });
}
