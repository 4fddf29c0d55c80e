//! [`Type`]: a PostgreSQL type identified by its OID, with the names of the
//! built-in types and their array types.

use std::fmt;

/// A PostgreSQL type, identified by its OID (`pg_type.oid`).
///
/// Built-in types have constants (`Type::INT4`, `Type::INT4_ARRAY`, ...) and a
/// name; any other OID (user enums, domains, extension types such as `citext`)
/// is still a valid `Type`, it just has no name here and no binary codec, so
/// the client exchanges it in text format.
///
/// ```
/// use edgepg_core::types::Type;
///
/// let t = Type::from_oid(1007);
/// assert_eq!(t, Type::INT4_ARRAY);
/// assert_eq!(t.element(), Some(Type::INT4));
/// assert_eq!(Type::INT4.name(), Some("int4"));
/// assert_eq!(format!("{:?}", Type::INT4), "Type(int4)");
/// assert!(Type::INT4.has_binary_codec());
/// assert!(!Type::from_oid(91234).has_binary_codec());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Type(u32);

/// Declares the built-in type constants and one table row per type:
/// `(constant, oid, name, array constant, array oid)`. Pseudo-types without an
/// array type use the short form.
macro_rules! builtin_types {
    (
        arrays { $( $c:ident = $oid:literal, $name:literal, $ac:ident = $aoid:literal; )* }
        scalars { $( $sc:ident = $soid:literal, $sname:literal; )* }
    ) => {
        impl Type {
            $(
                #[doc = concat!("`", $name, "` (OID ", stringify!($oid), ").")]
                pub const $c: Type = Type($oid);
                #[doc = concat!("`", $name, "[]` (OID ", stringify!($aoid), ").")]
                pub const $ac: Type = Type($aoid);
            )*
            $(
                #[doc = concat!("`", $sname, "` (OID ", stringify!($soid), ").")]
                pub const $sc: Type = Type($soid);
            )*
        }

        /// `(oid, name, array oid)`, array oid 0 for none; arrays use element oid 0... see `lookup`.
        const SCALARS: &[(u32, &str, u32)] = &[
            $( ($oid, $name, $aoid), )*
            $( ($soid, $sname, 0), )*
        ];
        /// `(array oid, array name, element oid)`.
        const ARRAYS: &[(u32, &str, u32)] = &[
            $( ($aoid, concat!("_", $name), $oid), )*
        ];
    };
}

builtin_types! {
    arrays {
        BOOL = 16, "bool", BOOL_ARRAY = 1000;
        BYTEA = 17, "bytea", BYTEA_ARRAY = 1001;
        CHAR = 18, "char", CHAR_ARRAY = 1002;
        NAME = 19, "name", NAME_ARRAY = 1003;
        INT8 = 20, "int8", INT8_ARRAY = 1016;
        INT2 = 21, "int2", INT2_ARRAY = 1005;
        INT2_VECTOR = 22, "int2vector", INT2_VECTOR_ARRAY = 1006;
        INT4 = 23, "int4", INT4_ARRAY = 1007;
        REGPROC = 24, "regproc", REGPROC_ARRAY = 1008;
        TEXT = 25, "text", TEXT_ARRAY = 1009;
        OID = 26, "oid", OID_ARRAY = 1028;
        TID = 27, "tid", TID_ARRAY = 1010;
        XID = 28, "xid", XID_ARRAY = 1011;
        CID = 29, "cid", CID_ARRAY = 1012;
        OID_VECTOR = 30, "oidvector", OID_VECTOR_ARRAY = 1013;
        JSON = 114, "json", JSON_ARRAY = 199;
        XML = 142, "xml", XML_ARRAY = 143;
        POINT = 600, "point", POINT_ARRAY = 1017;
        LSEG = 601, "lseg", LSEG_ARRAY = 1018;
        PATH = 602, "path", PATH_ARRAY = 1019;
        BOX = 603, "box", BOX_ARRAY = 1020;
        POLYGON = 604, "polygon", POLYGON_ARRAY = 1027;
        LINE = 628, "line", LINE_ARRAY = 629;
        CIDR = 650, "cidr", CIDR_ARRAY = 651;
        FLOAT4 = 700, "float4", FLOAT4_ARRAY = 1021;
        FLOAT8 = 701, "float8", FLOAT8_ARRAY = 1022;
        CIRCLE = 718, "circle", CIRCLE_ARRAY = 719;
        MACADDR8 = 774, "macaddr8", MACADDR8_ARRAY = 775;
        MONEY = 790, "money", MONEY_ARRAY = 791;
        MACADDR = 829, "macaddr", MACADDR_ARRAY = 1040;
        INET = 869, "inet", INET_ARRAY = 1041;
        ACLITEM = 1033, "aclitem", ACLITEM_ARRAY = 1034;
        BPCHAR = 1042, "bpchar", BPCHAR_ARRAY = 1014;
        VARCHAR = 1043, "varchar", VARCHAR_ARRAY = 1015;
        DATE = 1082, "date", DATE_ARRAY = 1182;
        TIME = 1083, "time", TIME_ARRAY = 1183;
        TIMESTAMP = 1114, "timestamp", TIMESTAMP_ARRAY = 1115;
        TIMESTAMPTZ = 1184, "timestamptz", TIMESTAMPTZ_ARRAY = 1185;
        INTERVAL = 1186, "interval", INTERVAL_ARRAY = 1187;
        TIMETZ = 1266, "timetz", TIMETZ_ARRAY = 1270;
        BIT = 1560, "bit", BIT_ARRAY = 1561;
        VARBIT = 1562, "varbit", VARBIT_ARRAY = 1563;
        NUMERIC = 1700, "numeric", NUMERIC_ARRAY = 1231;
        REFCURSOR = 1790, "refcursor", REFCURSOR_ARRAY = 2201;
        REGPROCEDURE = 2202, "regprocedure", REGPROCEDURE_ARRAY = 2207;
        REGOPER = 2203, "regoper", REGOPER_ARRAY = 2208;
        REGOPERATOR = 2204, "regoperator", REGOPERATOR_ARRAY = 2209;
        REGCLASS = 2205, "regclass", REGCLASS_ARRAY = 2210;
        REGTYPE = 2206, "regtype", REGTYPE_ARRAY = 2211;
        RECORD = 2249, "record", RECORD_ARRAY = 2287;
        CSTRING = 2275, "cstring", CSTRING_ARRAY = 1263;
        UUID = 2950, "uuid", UUID_ARRAY = 2951;
        TXID_SNAPSHOT = 2970, "txid_snapshot", TXID_SNAPSHOT_ARRAY = 2949;
        PG_LSN = 3220, "pg_lsn", PG_LSN_ARRAY = 3221;
        TSVECTOR = 3614, "tsvector", TSVECTOR_ARRAY = 3643;
        TSQUERY = 3615, "tsquery", TSQUERY_ARRAY = 3645;
        GTSVECTOR = 3642, "gtsvector", GTSVECTOR_ARRAY = 3644;
        REGCONFIG = 3734, "regconfig", REGCONFIG_ARRAY = 3735;
        REGDICTIONARY = 3769, "regdictionary", REGDICTIONARY_ARRAY = 3770;
        JSONB = 3802, "jsonb", JSONB_ARRAY = 3807;
        INT4_RANGE = 3904, "int4range", INT4_RANGE_ARRAY = 3905;
        NUM_RANGE = 3906, "numrange", NUM_RANGE_ARRAY = 3907;
        TS_RANGE = 3908, "tsrange", TS_RANGE_ARRAY = 3909;
        TSTZ_RANGE = 3910, "tstzrange", TSTZ_RANGE_ARRAY = 3911;
        DATE_RANGE = 3912, "daterange", DATE_RANGE_ARRAY = 3913;
        INT8_RANGE = 3926, "int8range", INT8_RANGE_ARRAY = 3927;
        JSONPATH = 4072, "jsonpath", JSONPATH_ARRAY = 4073;
        REGNAMESPACE = 4089, "regnamespace", REGNAMESPACE_ARRAY = 4090;
        REGROLE = 4096, "regrole", REGROLE_ARRAY = 4097;
        REGCOLLATION = 4191, "regcollation", REGCOLLATION_ARRAY = 4192;
        INT4MULTI_RANGE = 4451, "int4multirange", INT4MULTI_RANGE_ARRAY = 6150;
        NUMMULTI_RANGE = 4532, "nummultirange", NUMMULTI_RANGE_ARRAY = 6151;
        TSMULTI_RANGE = 4533, "tsmultirange", TSMULTI_RANGE_ARRAY = 6152;
        TSTZMULTI_RANGE = 4534, "tstzmultirange", TSTZMULTI_RANGE_ARRAY = 6153;
        DATEMULTI_RANGE = 4535, "datemultirange", DATEMULTI_RANGE_ARRAY = 6155;
        INT8MULTI_RANGE = 4536, "int8multirange", INT8MULTI_RANGE_ARRAY = 6157;
        PG_SNAPSHOT = 5038, "pg_snapshot", PG_SNAPSHOT_ARRAY = 5039;
        XID8 = 5069, "xid8", XID8_ARRAY = 271;
    }
    scalars {
        PG_NODE_TREE = 194, "pg_node_tree";
        UNKNOWN = 705, "unknown";
        ANY = 2276, "any";
        ANYARRAY = 2277, "anyarray";
        VOID = 2278, "void";
        TRIGGER = 2279, "trigger";
        LANGUAGE_HANDLER = 2280, "language_handler";
        INTERNAL = 2281, "internal";
        ANYELEMENT = 2283, "anyelement";
        ANYNONARRAY = 2776, "anynonarray";
        ANYENUM = 3500, "anyenum";
        ANYRANGE = 3831, "anyrange";
        EVENT_TRIGGER = 3838, "event_trigger";
    }
}

/// Where a type's OID sits in the tables above.
enum Entry {
    Scalar { name: &'static str, array: u32 },
    Array { name: &'static str, element: u32 },
}

fn lookup(oid: u32) -> Option<Entry> {
    // Linear scans over ~100 rows: only used for names, error messages and
    // array/element mapping, never per value in a hot loop.
    if let Some(&(_, name, array)) = SCALARS.iter().find(|r| r.0 == oid) {
        return Some(Entry::Scalar { name, array });
    }
    ARRAYS.iter().find(|r| r.0 == oid).map(|&(_, name, element)| Entry::Array { name, element })
}

impl Type {
    /// The type with this OID (any OID is accepted).
    pub const fn from_oid(oid: u32) -> Type {
        Type(oid)
    }

    /// The OID of this type.
    pub const fn oid(self) -> u32 {
        self.0
    }

    /// The `pg_type.typname` of a built-in type, e.g. `"int4"` or `"_int4"`
    /// for its array; `None` for OIDs this crate does not know (user types,
    /// extensions).
    pub fn name(self) -> Option<&'static str> {
        match lookup(self.0)? {
            Entry::Scalar { name, .. } | Entry::Array { name, .. } => Some(name),
        }
    }

    /// The element type, when this is an array type: a built-in one, or a
    /// user one (arrays of enums, domains, composites...) inside a
    /// [`with_type_map`](super::with_type_map) scope.
    pub fn element(self) -> Option<Type> {
        match self.builtin_element() {
            Some(e) => Some(e),
            None => match self.kind() {
                super::TypeKind::Array(e) => Some(e),
                _ => None,
            },
        }
    }

    /// The element type of a built-in array type.
    pub(crate) fn builtin_element(self) -> Option<Type> {
        match lookup(self.0)? {
            Entry::Array { element, .. } => Some(Type(element)),
            Entry::Scalar { .. } => None,
        }
    }

    /// The array type whose elements are this type, when it is known.
    pub fn array_type(self) -> Option<Type> {
        match lookup(self.0)? {
            Entry::Scalar { array, .. } if array != 0 => Some(Type(array)),
            _ => None,
        }
    }

    /// True for the string types whose binary format is the UTF-8 text itself:
    /// `text`, `varchar`, `bpchar`, `name`, `unknown`.
    pub fn is_text_like(self) -> bool {
        matches!(self, Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN)
    }

    /// True when edgepg has a binary decoder for this type: the built-in
    /// scalars `bool, bytea, "char", name, int2, int4, int8, oid, text,
    /// varchar, bpchar, unknown, json, jsonb, float4, float8, numeric, uuid,
    /// date, time, timetz, timestamp, timestamptz, interval, inet, cidr` and
    /// arrays of them.
    ///
    /// The client asks for binary results for these columns and for text for
    /// all others, so every column can be read as a `String` or a `Value`.
    pub fn has_binary_codec(self) -> bool {
        if self.is_scalar_with_codec() {
            return true;
        }
        self.element().is_some_and(Type::is_scalar_with_codec)
    }

    fn is_scalar_with_codec(self) -> bool {
        matches!(
            self,
            Type::BOOL
                | Type::BYTEA
                | Type::CHAR
                | Type::NAME
                | Type::INT8
                | Type::INT2
                | Type::INT4
                | Type::TEXT
                | Type::OID
                | Type::JSON
                | Type::FLOAT4
                | Type::FLOAT8
                | Type::UNKNOWN
                | Type::BPCHAR
                | Type::VARCHAR
                | Type::DATE
                | Type::TIME
                | Type::TIMESTAMP
                | Type::TIMESTAMPTZ
                | Type::INTERVAL
                | Type::TIMETZ
                | Type::NUMERIC
                | Type::UUID
                | Type::JSONB
                | Type::INET
                | Type::CIDR
        )
    }
}

impl fmt::Debug for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "Type({name})"),
            None => write!(f, "Type(oid {})", self.0),
        }
    }
}

/// SQL-style name for messages: `int4`, `int4[]`, or `oid 91234` for types
/// this crate does not know.
impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match lookup(self.0) {
            Some(Entry::Scalar { name, .. }) => f.write_str(name),
            Some(Entry::Array { element, .. }) => write!(f, "{}[]", Type(element)),
            None => write!(f, "oid {}", self.0),
        }
    }
}

impl From<u32> for Type {
    fn from(oid: u32) -> Type {
        Type(oid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_arrays() {
        assert_eq!(Type::INT4_ARRAY.oid(), 1007);
        assert_eq!(Type::INT4.array_type(), Some(Type::INT4_ARRAY));
        assert_eq!(Type::INT4_ARRAY.element(), Some(Type::INT4));
        assert_eq!(Type::INT4_ARRAY.name(), Some("_int4"));
        assert_eq!(Type::INT4_ARRAY.to_string(), "int4[]");
        assert_eq!(Type::JSONB_ARRAY.oid(), 3807);
        assert_eq!(Type::NUMERIC_ARRAY.element(), Some(Type::NUMERIC));
        assert_eq!(Type::VOID.array_type(), None);
        assert_eq!(Type::INT4.element(), None);
        assert_eq!(Type::from_oid(424242).name(), None);
        assert_eq!(format!("{:?}", Type::from_oid(424242)), "Type(oid 424242)");
        assert_eq!(Type::from_oid(424242).to_string(), "oid 424242");
    }

    #[test]
    fn tables_have_unique_oids() {
        let mut all: Vec<u32> = SCALARS.iter().map(|r| r.0).chain(ARRAYS.iter().map(|r| r.0)).collect();
        let n = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), n, "duplicate OID in the builtin table");
    }

    #[test]
    fn binary_codec_set() {
        assert!(Type::NUMERIC.has_binary_codec());
        assert!(Type::TIMESTAMPTZ_ARRAY.has_binary_codec());
        assert!(!Type::XML.has_binary_codec());
        assert!(!Type::POINT_ARRAY.has_binary_codec());
        assert!(!Type::MONEY.has_binary_codec());
    }
}
