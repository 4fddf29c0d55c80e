// The every-type fixture of the decode exactness tests: decode-exact.test.mjs
// (edgepg's own API) and pg-decode-exact.test.mjs (edgepg/pg).

// 500 rows of every type the JS mapping knows, each column NULL in its own
// pattern (row 0 is NULL in every column, row 1 in none), special values
// (±infinity dates and timestamps, NaN/±Infinity/huge numerics, -0 and NaN
// floats, int8 extremes) and text with non-ASCII, surrogate pairs and
// empty strings.
export const EVERY_TYPE = `
  WITH g AS (SELECT i FROM generate_series(0, 499) AS i)
  SELECT i AS "row",
    CASE WHEN i = 0 OR i % 7 = 2 THEN NULL ELSE (i - 250)::int2 END AS i2,
    CASE WHEN i = 0 OR i % 6 = 3 THEN NULL ELSE (i * 8191 - 2000000)::int4 END AS i4,
    CASE WHEN i = 0 OR i % 5 = 4 THEN NULL
         WHEN i % 50 = 10 THEN 9223372036854775807::int8 WHEN i % 50 = 11 THEN (-9223372036854775807 - 1)::int8
         ELSE (i::int8 - 250) * 36028797018963971 / 1000 END AS i8,
    CASE WHEN i = 0 OR i % 9 = 5 THEN NULL ELSE (i * 37)::oid END AS o,
    CASE WHEN i = 0 OR i % 8 = 6 THEN NULL WHEN i % 40 = 7 THEN 'NaN'::float4 ELSE (i / 7.0)::float4 END AS f4,
    CASE WHEN i = 0 OR i % 4 = 3 THEN NULL WHEN i % 30 = 2 THEN '-0'::float8 WHEN i % 30 = 4 THEN 'NaN'::float8
         WHEN i % 30 = 5 THEN 'Infinity'::float8 WHEN i % 30 = 6 THEN '-Infinity'::float8
         ELSE (i - 123) / 3.0::float8 END AS f8,
    CASE WHEN i = 0 OR i % 11 = 1 AND i > 1 THEN NULL WHEN i % 60 = 3 THEN 'NaN'::numeric
         WHEN i % 60 = 4 THEN 'Infinity'::numeric WHEN i % 60 = 5 THEN '-Infinity'::numeric
         WHEN i % 60 = 6 THEN ('9' || repeat('0', 130) || '.' || repeat('1', 40))::numeric
         WHEN i % 60 = 7 THEN ('-0.' || repeat('0', 60) || '12')::numeric
         ELSE ((i - 250) * 1.0001)::numeric(20, 4) END AS n,
    CASE WHEN i = 0 OR i % 3 = 2 THEN NULL ELSE i % 2 = 0 END AS b,
    CASE WHEN i = 0 OR i % 10 = 9 THEN NULL WHEN i % 10 = 8 THEN ''
         ELSE repeat(chr(32 + i * 97 % 95), i % 3) || 'é😀' || chr(19968 + i) || i END AS t,
    CASE WHEN i = 0 OR i % 12 = 4 THEN NULL ELSE 'v' || i END::varchar(20) AS v,
    CASE WHEN i = 0 OR i % 13 = 6 THEN NULL ELSE 'nm' || i END::name AS nm,
    CASE WHEN i = 0 OR i % 14 = 8 THEN NULL ELSE chr(65 + i % 26) END::char(3) AS ch,
    CASE WHEN i = 0 OR i % 15 = 2 THEN NULL ELSE decode(repeat(lpad(to_hex(i % 256), 2, '0'), i % 5), 'hex') END AS by,
    CASE WHEN i = 0 OR i % 16 = 3 THEN NULL ELSE json_build_object('i', i, 's', 'é😀' || i, 'a', json_build_array(i, NULL)) END AS j,
    CASE WHEN i = 0 OR i % 17 = 5 THEN NULL ELSE jsonb_build_object('k', i) END AS jb,
    CASE WHEN i = 0 OR i % 18 = 7 THEN NULL WHEN i % 50 = 1 THEN 'infinity'::date WHEN i % 50 = 2 THEN '-infinity'::date
         ELSE date '1999-12-25' + (i * 97 - 20000) END AS d,
    CASE WHEN i = 0 OR i % 19 = 9 THEN NULL WHEN i % 50 = 3 THEN 'infinity'::timestamp WHEN i % 50 = 4 THEN '-infinity'::timestamp
         ELSE timestamp '1960-02-29 23:59:59.999999' + i * interval '1 day 1.0015 seconds' END AS ts,
    CASE WHEN i = 0 OR i % 20 = 1 AND i > 1 THEN NULL WHEN i % 50 = 5 THEN 'infinity'::timestamptz
         WHEN i % 50 = 6 THEN '-infinity'::timestamptz
         ELSE timestamptz '0044-03-15 12:00:00+00 BC' + i * interval '997 days 0.0005 seconds' END AS tz,
    CASE WHEN i = 0 OR i % 21 = 2 THEN NULL ELSE time '00:00:00' + i * interval '173.25 seconds' END AS tm,
    CASE WHEN i = 0 OR i % 22 = 3 THEN NULL ELSE (time '01:02:03' + i * interval '1 minute')::timetz END AS ttz,
    CASE WHEN i = 0 OR i % 23 = 4 THEN NULL ELSE i * interval '1 month 2 days 3.5 seconds' - interval '40 years' END AS iv,
    CASE WHEN i = 0 OR i % 24 = 5 THEN NULL ELSE md5(i::text)::uuid END AS u,
    CASE WHEN i = 0 OR i % 25 = 6 THEN NULL ELSE ('10.0.' || i % 256 || '.1/' || (8 + i % 25))::inet END AS ip,
    CASE WHEN i = 0 OR i % 26 = 7 THEN NULL ELSE ('10.' || i % 256 || '.0.0/16')::cidr END AS cidr,
    CASE WHEN i = 0 OR i % 27 = 8 THEN NULL ELSE ARRAY[[i, NULL], [i + 1, -i]]::int4[] END AS arr,
    CASE WHEN i = 0 OR i % 28 = 9 THEN NULL ELSE ARRAY['a' || i, NULL, '😀', '']::text[] END AS tarr,
    CASE WHEN i = 0 OR i % 29 = 1 AND i > 1 THEN NULL
         ELSE ARRAY[timestamptz '2020-01-01 00:00:00+00' + i * interval '1 hour', 'infinity']::timestamptz[] END AS tzarr,
    CASE WHEN i = 0 OR i % 30 = 11 THEN NULL WHEN i % 30 = 12 THEN 'empty'::int4range
         ELSE int4range(i - 10, i + (i % 3), CASE WHEN i % 2 = 0 THEN '[]' ELSE '(]' END) END AS r,
    CASE WHEN i = 0 OR i % 31 = 12 THEN NULL ELSE tstzrange(timestamptz '2024-01-01 00:00:00+00' + i * interval '1 day', NULL) END AS tr,
    CASE WHEN i = 0 OR i % 32 = 13 THEN NULL ELSE int8multirange(int8range(i, i + 2), int8range(i + 5, NULL)) END AS mr,
    CASE WHEN i = 0 OR i % 33 = 14 THEN NULL ELSE ROW(i, 'r' || i, i % 2 = 0) END AS rec,
    'const' AS c
  FROM g ORDER BY i`;

/**
 * Result shapes that trip row building: an empty result, zero columns, one row,
 * duplicate and odd column names, integer-like names (ordered first by JS itself),
 * and a column named "__proto__" (never the prototype).
 */
export const ODD_SHAPES = [
  "SELECT 1 AS a WHERE false",
  "SELECT FROM generate_series(1, 3)",
  "SELECT 'x' AS a",
  `SELECT i AS a, i * 2 AS a, 'z' AS "b c", 'q' AS "1", NULL::text AS "?column?", 'é' AS "é😀" FROM generate_series(1, 4) AS i`,
  `SELECT '{"polluted": true}'::json AS "__proto__", i AS x FROM generate_series(1, 3) AS i`,
];
