//! PostgreSQL types: OIDs, binary/text codecs, ToSql/FromSql and the dynamic Value.
