//! Result formats: which format each result column is asked for in —
//! binary where a codec exists (given the connection's type map), text
//! otherwise or when the caller asks ([`TextColumns`]).

use std::sync::Arc;

use super::row::Column;
use super::runtime::MaybeSync;
use crate::protocol::Format;
use crate::types::{with_type_map, Type, TypeKind, TypeMap};

/// Levels of nesting followed when deciding a format (a composite of arrays
/// of a domain over a range of ...); deeper types are exchanged in text.
pub(crate) const MAX_DEPTH: usize = 8;

/// Whether the core must know more than the OID to handle `ty`.
pub(crate) fn needs_catalog(ty: Type) -> bool {
    ty.name().is_none()
}

/// Which result columns to ask for in text format instead of binary.
#[derive(Clone, Copy, Default)]
pub enum TextColumns<'a> {
    /// Binary wherever edgepg has a codec (as [`Connection::fetch`]).
    #[default]
    Default,
    /// Every column in text format.
    All,
    /// Columns of these type OIDs in text format, the rest as by default.
    Types(&'a [u32]),
    /// The columns this function picks in text format (asked once per
    /// column when the statement is bound).
    Pick(&'a dyn PickColumns),
}

/// A function choosing columns for [`TextColumns::Pick`]: any
/// `Fn(&Column) -> bool` (`Sync` on native targets, where futures are `Send`).
pub trait PickColumns: MaybeSync {
    /// True for a column wanted in text format.
    fn pick(&self, column: &Column) -> bool;
}

impl<F: Fn(&Column) -> bool + MaybeSync> PickColumns for F {
    fn pick(&self, column: &Column) -> bool {
        self(column)
    }
}

impl std::fmt::Debug for TextColumns<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TextColumns::Default => f.write_str("Default"),
            TextColumns::All => f.write_str("All"),
            TextColumns::Types(oids) => f.debug_tuple("Types").field(oids).finish(),
            TextColumns::Pick(_) => f.write_str("Pick(..)"),
        }
    }
}

impl TextColumns<'_> {
    /// The result format codes and column descriptions for `columns`, or
    /// `None` when nothing changes.
    pub(crate) fn apply(self, columns: &[Column]) -> Option<(Vec<i16>, Arc<[Column]>)> {
        let wants_text = |c: &Column| match self {
            TextColumns::Default => false,
            TextColumns::All => true,
            TextColumns::Types(oids) => oids.contains(&c.type_().oid()),
            TextColumns::Pick(pick) => pick.pick(c),
        };
        if !columns.iter().any(|c| wants_text(c) && c.format() != Format::Text) {
            return None;
        }
        let columns: Vec<Column> = columns
            .iter()
            .map(|c| {
                let mut c = c.clone();
                if wants_text(&c) {
                    c.set_format(Format::Text);
                }
                c
            })
            .collect();
        let formats = columns.iter().map(|c| c.format().code()).collect();
        Some((formats, columns.into()))
    }
}

/// The map must be consulted for columns of this type (user types, built-in
/// ranges, records, arrays of those, types with codecs).
pub(crate) fn uses_map(ty: Type, map: &TypeMap) -> bool {
    needs_catalog(ty)
        || map.codec(ty.oid()).is_some()
        || !matches!(ty.kind(), TypeKind::Simple | TypeKind::Array(_))
        || ty.element().is_some_and(|e| !matches!(e.kind(), TypeKind::Simple))
}

/// The format to request a column of `ty` in, given `map` (see the module docs).
pub(crate) fn wire_format(ty: Type, map: &Arc<TypeMap>) -> Format {
    if map.is_empty() && !uses_map(ty, map) {
        return if ty.has_binary_codec() { Format::Binary } else { Format::Text };
    }
    with_type_map(map, || if binary_ok(ty, map, 0) { Format::Binary } else { Format::Text })
}

fn binary_ok(ty: Type, map: &TypeMap, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    if let Some(codec) = map.codec(ty.oid()) {
        return codec.format() == Format::Binary;
    }
    if ty.has_binary_codec() {
        return true;
    }
    match ty.kind() {
        TypeKind::Enum => true,
        // Anonymous records carry their field types; fields without a binary
        // decoder are reported when read (cast them to text in the query).
        TypeKind::Record => true,
        TypeKind::Domain(t) | TypeKind::Array(t) | TypeKind::Range(t) | TypeKind::Multirange(t) => {
            binary_ok(t, map, depth + 1)
        }
        TypeKind::Composite(fields) => fields.iter().all(|f| binary_ok(f.type_, map, depth + 1)),
        TypeKind::Simple => false,
    }
}
