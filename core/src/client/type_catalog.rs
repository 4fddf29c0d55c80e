//! Learning user types from the catalog, once per connection.
//!
//! When a statement is prepared, every parameter and column type the core
//! does not know by OID (enums, domains, composites, user ranges, arrays of
//! them, extension types) is looked up in `pg_type` — and, transitively, the
//! types those refer to (a composite's fields, a domain's base, a range's
//! subtype, an array's element). One simple query per level of nesting, only
//! the first time an OID is seen; the answers go into the connection's
//! [`TypeMap`], which is copied on write so results keep the map they were
//! prepared with. Custom codecs live in the same map.
//!
//! The map then decides each column's wire format ([`wire_format`]): binary
//! when every type inside it has a binary decoder here, text otherwise, so a
//! column is always readable.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::BytesMut;

use super::formats::{needs_catalog, MAX_DEPTH};
use super::handle::ConnInner;
use super::shared::lock;
use crate::protocol::frontend;
use crate::types::{Field, Type, TypeCodec, TypeInfo, TypeKind, TypeMap};
use crate::{Error, Result};

/// The OIDs `info` refers to.
fn referenced(info: &TypeInfo) -> Vec<Type> {
    match &info.kind {
        TypeKind::Domain(t) | TypeKind::Range(t) | TypeKind::Multirange(t) | TypeKind::Array(t) => vec![*t],
        TypeKind::Composite(fields) => fields.iter().map(|f| f.type_).collect(),
        TypeKind::Simple | TypeKind::Enum | TypeKind::Record => Vec::new(),
    }
}

impl ConnInner {
    /// The connection's current type map.
    pub(crate) fn type_map(&self) -> Arc<TypeMap> {
        lock(&self.types).clone()
    }

    /// Makes sure every type in `types` (and what they refer to) is in the
    /// map; returns the map to use. Takes a `Vec` rather than any iterator:
    /// one instance of this async function (and of the catalog query it
    /// inlines) for all callers, not one per iterator type.
    pub(crate) async fn resolve_types(&self, types: Vec<Type>) -> Result<Arc<TypeMap>> {
        let mut wanted = types;
        for _ in 0..MAX_DEPTH {
            let unknown: Vec<u32> = {
                let map = lock(&self.types);
                let mut seen = HashSet::new();
                wanted
                    .iter()
                    .filter(|t| needs_catalog(**t) && !map.contains(t.oid()))
                    .map(|t| t.oid())
                    .filter(|o| seen.insert(*o))
                    .collect()
            };
            if unknown.is_empty() {
                break;
            }
            let infos = self.query_types(&unknown).await?;
            wanted = infos.iter().flat_map(referenced).collect();
            let mut current = lock(&self.types);
            let mut next = TypeMap::clone(&current);
            for o in &unknown {
                // Not found (dropped meanwhile): remembered as simple, exchanged in text.
                if !infos.iter().any(|i| i.oid == *o) {
                    next.insert(TypeInfo::new(*o, "", "", TypeKind::Simple));
                }
            }
            for info in infos {
                next.insert(info);
            }
            *current = Arc::new(next);
        }
        Ok(self.type_map())
    }

    /// Looks `oids` up in the catalog: one simple query, two statements.
    async fn query_types(&self, oids: &[u32]) -> Result<Vec<TypeInfo>> {
        let list = oids.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(",");
        // pg_range.rngmultitypid exists from PostgreSQL 14.
        let multirange = if self.server_major() >= 14 {
            "COALESCE((SELECT r.rngtypid FROM pg_catalog.pg_range r WHERE r.rngmultitypid = t.oid), 0)"
        } else {
            "0"
        };
        let sql = format!(
            "SELECT t.oid::int8, n.nspname::text, t.typname::text, t.typtype::text, t.typelem::int8, \
             t.typbasetype::int8, COALESCE((SELECT r.rngsubtype FROM pg_catalog.pg_range r WHERE r.rngtypid = t.oid), 0)::int8, \
             {multirange}::int8, t.typcategory::text \
             FROM pg_catalog.pg_type t JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace WHERE t.oid IN ({list}); \
             SELECT t.oid::int8, a.attname::text, a.atttypid::int8 \
             FROM pg_catalog.pg_type t JOIN pg_catalog.pg_attribute a ON a.attrelid = t.typrelid \
             WHERE t.oid IN ({list}) AND t.typtype = 'c' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, a.attnum"
        );
        let mut buf = BytesMut::new();
        frontend::query(&sql, &mut buf)?;
        let response = self.request(buf, 1, None).await.map_err(|e| e.context("looking up user types"))?;
        let mut results = response.results.into_iter();
        let types = results.next().map(|r| r.rows).unwrap_or_default();
        let attributes = results.next().map(|r| r.rows).unwrap_or_default();
        let mut out = Vec::with_capacity(types.len());
        for row in &types {
            let type_oid = oid_at(row, 0)?;
            let schema = text_at(row, 1)?;
            let name = text_at(row, 2)?;
            let typtype = text_at(row, 3)?;
            let [elem, base, subtype, range] = [4, 5, 6, 7].map(|i| oid_at(row, i).map(Type::from_oid));
            let kind = match typtype {
                "e" => TypeKind::Enum,
                "d" => TypeKind::Domain(base?),
                "r" => TypeKind::Range(subtype?),
                "m" => TypeKind::Multirange(range?),
                "c" => {
                    let mut fields = Vec::new();
                    for a in &attributes {
                        if oid_at(a, 0)? == type_oid {
                            fields
                                .push(Field { name: text_at(a, 1)?.to_owned(), type_: Type::from_oid(oid_at(a, 2)?) });
                        }
                    }
                    TypeKind::Composite(fields.into())
                }
                // Arrays: category 'A' with an element (fixed-length types
                // such as `point` also have a typelem, but are not arrays).
                "b" if text_at(row, 8)? == "A" && elem.as_ref().is_ok_and(|e| e.oid() != 0) => TypeKind::Array(elem?),
                _ => TypeKind::Simple,
            };
            out.push(TypeInfo::new(type_oid, schema, name, kind));
        }
        Ok(out)
    }

    /// Registers a codec for the type named `name` (`schema.name` or a name on
    /// the search path, as `::regtype` reads it) or given by OID.
    pub(crate) async fn set_type_codec(&self, target: TypeTarget<'_>, codec: Option<Arc<dyn TypeCodec>>) -> Result<()> {
        let oid = match target {
            TypeTarget::Oid(oid) => oid,
            TypeTarget::Name(name) => self.type_oid(name).await?,
        };
        // The type's structure too (an enum or a composite with a codec still
        // needs its name for messages).
        self.resolve_types(vec![Type::from_oid(oid)]).await?;
        {
            let mut current = lock(&self.types);
            let mut next = TypeMap::clone(&current);
            match codec {
                Some(c) => next.set_codec(oid, c),
                None => next.remove_codec(oid),
            }
            *current = Arc::new(next);
        }
        // Cached statements chose their result formats with the old codecs.
        lock(&self.cache).clear();
        Ok(())
    }

    async fn type_oid(&self, name: &str) -> Result<u32> {
        let literal = name.replace('\'', "''");
        let mut buf = BytesMut::new();
        frontend::query(&format!("SELECT '{literal}'::pg_catalog.regtype::oid"), &mut buf)?;
        let response = self.request(buf, 1, None).await?;
        let row = response.results.into_iter().next().and_then(|r| r.rows.into_iter().next());
        oid_at(&row.ok_or_else(|| Error::interface(format!("no type named {name}")))?, 0)
    }

    /// Forgets the learnt types (asyncpg's `reload_schema_state`); codecs stay.
    pub(crate) fn reload_types(&self) {
        let mut current = lock(&self.types);
        let mut next = TypeMap::clone(&current);
        next.clear_types();
        *current = Arc::new(next);
        drop(current);
        lock(&self.cache).clear();
    }

    fn server_major(&self) -> u32 {
        self.shared
            .parameter("server_version")
            .and_then(|v| super::shared::ServerVersion::parse(&v))
            .map_or(0, |v| v.major)
    }
}

/// A catalog query's text value (simple-query results are text); plain
/// functions rather than `Row::get` keep this rarely run code small.
fn text_at(row: &super::row::Row, i: usize) -> Result<&str> {
    let raw = row.raw(&i)?.ok_or_else(|| Error::protocol("the type catalog query returned NULL"))?;
    std::str::from_utf8(raw).map_err(|_| Error::protocol("the type catalog query returned invalid UTF-8"))
}

fn oid_at(row: &super::row::Row, i: usize) -> Result<u32> {
    text_at(row, i)?.parse().map_err(|_| Error::protocol("the type catalog query returned an invalid OID"))
}

/// Which type a codec is for: a name resolved by the server, or an OID.
#[derive(Debug, Clone, Copy)]
pub enum TypeTarget<'a> {
    /// A type name as `::regtype` reads it: `hstore`, `public.mood`, `int4`.
    Name(&'a str),
    /// A type OID.
    Oid(u32),
}

impl<'a> From<&'a str> for TypeTarget<'a> {
    fn from(name: &'a str) -> TypeTarget<'a> {
        TypeTarget::Name(name)
    }
}

impl From<u32> for TypeTarget<'_> {
    fn from(oid: u32) -> TypeTarget<'static> {
        TypeTarget::Oid(oid)
    }
}
