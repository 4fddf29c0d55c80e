//! What a connection knows about types that are not built in: enums,
//! domains, composites, ranges, multiranges and arrays of them, learnt from
//! `pg_catalog.pg_type` the first time a statement uses them, plus the
//! custom codecs registered on the connection.
//!
//! [`FromSql`](super::FromSql) and [`ToSql`](super::ToSql) only get a
//! [`Type`] (an OID), and a user type's OID means nothing without the
//! catalog of the database it came from. Rather than change every codec's
//! signature, the client makes the connection's [`TypeMap`] *current* on the
//! thread for the duration of one decode or encode ([`with_type_map`]);
//! the codecs that need catalog facts (records, ranges, arrays of user
//! types, derived enums and composites) read them with [`Type::kind`] and
//! friends. Decoding is synchronous, so the scope cannot leak across an
//! `.await`; outside any scope only the built-in facts are known.
//!
//! ```
//! use std::sync::Arc;
//! use edgepg_core::types::{with_type_map, Type, TypeInfo, TypeKind, TypeMap};
//!
//! let mut map = TypeMap::default();
//! map.insert(TypeInfo::new(90001, "public", "posint", TypeKind::Domain(Type::INT4)));
//! map.insert(TypeInfo::new(90002, "public", "_posint", TypeKind::Array(Type::from_oid(90001))));
//! let map = Arc::new(map);
//! assert_eq!(Type::from_oid(90002).element(), None); // unknown outside a scope
//! with_type_map(&map, || {
//!     assert_eq!(Type::from_oid(90002).element(), Some(Type::from_oid(90001)));
//!     assert_eq!(Type::from_oid(90001).base(), Type::INT4);
//!     assert_eq!(Type::from_oid(90001).user_name().as_deref(), Some("posint"));
//! });
//! ```

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::custom::TypeCodec;
use super::Type;

/// A composite type's attribute: its name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The attribute name.
    pub name: String,
    /// The attribute type (may be a domain: its OID is what the binary record carries).
    pub type_: Type,
}

/// What kind of type an OID is (`pg_type.typtype` and friends).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeKind {
    /// A base type, pseudo-type or anything else without structure here.
    Simple,
    /// An enum (`typtype = 'e'`): values are their labels.
    Enum,
    /// A domain over a base type (`typbasetype`).
    Domain(Type),
    /// A named composite (a table's row type or `CREATE TYPE ... AS (...)`).
    Composite(Arc<[Field]>),
    /// An anonymous record (`record`, `ROW(...)`): field types travel with the value.
    Record,
    /// A range over a subtype (`pg_range.rngsubtype`).
    Range(Type),
    /// A multirange of a range type.
    Multirange(Type),
    /// An array of an element type.
    Array(Type),
}

/// A type learnt from the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeInfo {
    /// `pg_type.oid`.
    pub oid: u32,
    /// The schema (`pg_namespace.nspname`).
    pub schema: String,
    /// `pg_type.typname`.
    pub name: String,
    /// Its structure.
    pub kind: TypeKind,
}

impl TypeInfo {
    /// A type description.
    pub fn new(oid: u32, schema: &str, name: &str, kind: TypeKind) -> TypeInfo {
        TypeInfo { oid, schema: schema.to_owned(), name: name.to_owned(), kind }
    }
}

/// The user types and custom codecs a connection knows, by OID. Immutable
/// once shared: the connection replaces its `Arc<TypeMap>` when it learns
/// more, and results keep the map that was current when they were prepared.
#[derive(Default, Clone)]
pub struct TypeMap {
    types: HashMap<u32, Arc<TypeInfo>>,
    codecs: HashMap<u32, Arc<dyn TypeCodec>>,
}

impl fmt::Debug for TypeMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypeMap")
            .field("types", &self.types.len())
            .field("codecs", &self.codecs.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TypeMap {
    /// Adds or replaces a type.
    pub fn insert(&mut self, info: TypeInfo) {
        self.types.insert(info.oid, Arc::new(info));
    }

    /// The type with this OID, if known.
    pub fn get(&self, oid: u32) -> Option<&Arc<TypeInfo>> {
        self.types.get(&oid)
    }

    /// Whether `oid` was looked up already (known types and built-ins).
    pub fn contains(&self, oid: u32) -> bool {
        self.types.contains_key(&oid)
    }

    /// Registers a codec for `oid`, replacing any previous one.
    pub fn set_codec(&mut self, oid: u32, codec: Arc<dyn TypeCodec>) {
        self.codecs.insert(oid, codec);
    }

    /// Removes the codec of `oid`.
    pub fn remove_codec(&mut self, oid: u32) {
        self.codecs.remove(&oid);
    }

    /// The codec registered for `oid`.
    pub fn codec(&self, oid: u32) -> Option<&Arc<dyn TypeCodec>> {
        self.codecs.get(&oid)
    }

    /// True when neither types nor codecs are known.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty() && self.codecs.is_empty()
    }

    /// Forgets the learnt types (after `ALTER TYPE`), keeping the codecs.
    pub fn clear_types(&mut self) {
        self.types.clear();
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<TypeMap>>> = const { RefCell::new(None) };
}

/// Runs `f` with `map` as the current type map (see the module docs). Scopes
/// nest; the previous map is restored even if `f` panics.
pub fn with_type_map<R>(map: &Arc<TypeMap>, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<Arc<TypeMap>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let prev = self.0.take();
            let _ = CURRENT.try_with(|c| *c.borrow_mut() = prev);
        }
    }
    let prev = CURRENT.with(|c| c.replace(Some(map.clone())));
    let _restore = Restore(prev);
    f()
}

/// The current type map, if a scope is active.
pub fn current_type_map() -> Option<Arc<TypeMap>> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

fn lookup(oid: u32) -> Option<Arc<TypeInfo>> {
    CURRENT.try_with(|c| c.borrow().as_ref().and_then(|m| m.get(oid).cloned())).ok().flatten()
}

/// The codec registered for `oid` in the current scope.
pub(crate) fn current_codec(oid: u32) -> Option<Arc<dyn TypeCodec>> {
    CURRENT.try_with(|c| c.borrow().as_ref().and_then(|m| m.codec(oid).cloned())).ok().flatten()
}

/// Range OID → subtype OID, and multirange OID → range OID, for the built-ins.
const BUILTIN_RANGES: &[(Type, Type, Type)] = &[
    (Type::INT4_RANGE, Type::INT4, Type::INT4MULTI_RANGE),
    (Type::INT8_RANGE, Type::INT8, Type::INT8MULTI_RANGE),
    (Type::NUM_RANGE, Type::NUMERIC, Type::NUMMULTI_RANGE),
    (Type::DATE_RANGE, Type::DATE, Type::DATEMULTI_RANGE),
    (Type::TS_RANGE, Type::TIMESTAMP, Type::TSMULTI_RANGE),
    (Type::TSTZ_RANGE, Type::TIMESTAMPTZ, Type::TSTZMULTI_RANGE),
];

impl Type {
    /// The structure of this type: built-in arrays, ranges, multiranges and
    /// `record` are known everywhere; user types inside a [`with_type_map`]
    /// scope (which the client sets while decoding and encoding).
    pub fn kind(self) -> TypeKind {
        if let Some(&(_, sub, _)) = BUILTIN_RANGES.iter().find(|r| r.0 == self) {
            return TypeKind::Range(sub);
        }
        if let Some(&(range, _, _)) = BUILTIN_RANGES.iter().find(|r| r.2 == self) {
            return TypeKind::Multirange(range);
        }
        if self == Type::RECORD {
            return TypeKind::Record;
        }
        if let Some(e) = self.builtin_element() {
            return TypeKind::Array(e);
        }
        if self.name().is_some() {
            return TypeKind::Simple;
        }
        lookup(self.oid()).map_or(TypeKind::Simple, |i| i.kind.clone())
    }

    /// The type behind any number of domains (itself when not a domain).
    pub fn base(self) -> Type {
        let mut t = self;
        // Domains over domains: bounded, so a cyclic (corrupt) map cannot loop.
        for _ in 0..8 {
            match t.kind() {
                TypeKind::Domain(b) => t = b,
                _ => break,
            }
        }
        t
    }

    /// The catalog name of a user type in the current scope (`None` for
    /// built-ins — see [`Type::name`] — and for unknown OIDs).
    pub fn user_name(self) -> Option<String> {
        lookup(self.oid()).map(|i| i.name.clone())
    }

    /// The type's catalog facts in the current scope.
    pub fn info(self) -> Option<Arc<TypeInfo>> {
        lookup(self.oid())
    }

    /// True for enums (user types in the current scope).
    pub fn is_enum(self) -> bool {
        self.kind() == TypeKind::Enum
    }

    /// A name for messages: the built-in name, the user type's name, or `oid N`.
    pub fn display_name(self) -> String {
        match lookup(self.oid()) {
            Some(i) if self.name().is_none() => i.name.clone(),
            _ => self.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_kinds_need_no_scope() {
        assert_eq!(Type::INT4_RANGE.kind(), TypeKind::Range(Type::INT4));
        assert_eq!(Type::TSTZMULTI_RANGE.kind(), TypeKind::Multirange(Type::TSTZ_RANGE));
        assert_eq!(Type::RECORD.kind(), TypeKind::Record);
        assert_eq!(Type::INT4_ARRAY.kind(), TypeKind::Array(Type::INT4));
        assert_eq!(Type::INT4.kind(), TypeKind::Simple);
        assert_eq!(Type::from_oid(99999).kind(), TypeKind::Simple);
    }

    #[test]
    fn scopes_nest_and_restore() {
        let mut a = TypeMap::default();
        a.insert(TypeInfo::new(90010, "s", "mood", TypeKind::Enum));
        let a = Arc::new(a);
        let b = Arc::new(TypeMap::default());
        with_type_map(&a, || {
            assert!(Type::from_oid(90010).is_enum());
            with_type_map(&b, || assert!(!Type::from_oid(90010).is_enum()));
            assert!(Type::from_oid(90010).is_enum());
            assert_eq!(Type::from_oid(90010).display_name(), "mood");
        });
        assert!(!Type::from_oid(90010).is_enum());
        assert!(current_type_map().is_none());
    }

    #[test]
    fn cyclic_domains_terminate() {
        let mut m = TypeMap::default();
        m.insert(TypeInfo::new(90020, "s", "a", TypeKind::Domain(Type::from_oid(90021))));
        m.insert(TypeInfo::new(90021, "s", "b", TypeKind::Domain(Type::from_oid(90020))));
        let m = Arc::new(m);
        with_type_map(&m, || {
            let _ = Type::from_oid(90020).base();
        });
    }
}
