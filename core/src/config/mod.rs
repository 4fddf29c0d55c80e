//! Connection configuration: libpq DSNs, PG* environment, pgpass, asyncpg options.
