// The decode_200k query and how every benchmark reads its rows (bench.mjs, proxy.mjs,
// runtimes.mjs, decode-harness.mjs): one definition, so the harnesses measure the same work.

export const ROWS = 200000;

// A fixed base time (not now()) keeps the checksum equal across clients; the
// columns are named so row objects have five distinct keys.
export const DECODE_SQL =
  "SELECT g::int8 AS id, 'row ' || g AS name, g * 1.5::float8 AS f, " +
  "'2024-01-01 00:00:00+00'::timestamptz + g * interval '1 s' AS ts, " +
  `(g * 1.25)::numeric(12,2) AS n FROM generate_series(1, ${ROWS}) g`;

/**
 * Reads every column of every row (int8 summed via Number(), text length, float8 sum,
 * Date.getTime(), numeric string length) and returns a checksum that depends only on the
 * data, so a wrong decode shows. `arrays`: rows are arrays of values, else objects.
 */
export function readRows(rows, arrays = false) {
  let ids = 0, len = 0, f = 0, t = 0;
  if (arrays) {
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      ids += Number(r[0]);
      len += r[1].length + r[4].length;
      f += r[2];
      t += r[3].getTime();
    }
  } else {
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      ids += Number(r.id);
      len += r.name.length + r.n.length;
      f += r.f;
      t += r.ts.getTime();
    }
  }
  return `${ids}/${len}/${f}/${t}`;
}
