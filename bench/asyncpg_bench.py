"""The asyncpg side of edgepg-bench: one workload per process, driven by the
Rust harness (bench/src/child.rs) over stdin/stdout.

    python asyncpg_bench.py WORKLOAD        (server: $EDGEPG_BENCH_DSN)

Protocol: prints `ready` once set up (connected, statements warm, tables
made); then for every `run` line runs one repetition, timed here with
perf_counter_ns so interpreter start-up, imports and connecting are never
counted, and prints `ok <elapsed_ns> <checksum> - <cpu_ns>` (cpu_ns: this
process's CPU time over the repetition, time.process_time_ns); `close` cleans up, prints
`closed` and exits. Failures print `error <message>`.

The checksums are computed exactly as the Rust contenders compute theirs
(bench/src/checksum.rs and the workloads), so the harness can check that
asyncpg saw the same values. Where that digest is costly in Python (the
200,000-row decode) it is computed after the clock stops: asyncpg has
already decoded every value into a Python object inside `fetch`.

Run with the default asyncio event loop (no uvloop), as asyncpg is used
out of the box.
"""

import asyncio
import datetime
import os
import struct
import sys
import time

import asyncpg

MASK = (1 << 64) - 1
FNV_PRIME = 0x0000_0100_0000_01B3
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
BASE_TIME = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
ONE_US = datetime.timedelta(microseconds=1)


def mix(acc, v):
    """checksum::mix: (acc ^ v) * FNV prime, wrapping at 64 bits."""
    return ((acc ^ (v & MASK)) * FNV_PRIME) & MASK


def fold(acc, v):
    """The order-independent fold of pipelined_10k / pool_10k."""
    return (acc + mix(0, v)) & MASK


class Workload:
    """Subclasses: setup() (untimed), rep() -> checksum (timed),
    digest(result) -> checksum (untimed, optional), teardown()."""

    def __init__(self, dsn):
        self.dsn = dsn

    async def setup(self):
        self.conn = await asyncpg.connect(self.dsn)

    async def teardown(self):
        await self.conn.close()


class SeqSelect1(Workload):
    QUERIES = 20_000

    async def setup(self):
        await super().setup()
        await self.conn.fetchval("SELECT 1")

    async def rep(self):
        total = 0
        conn = self.conn
        for _ in range(self.QUERIES):
            total += await conn.fetchval("SELECT 1")
        return total


class Decode200k(Workload):
    SQL = ("SELECT g::int8, 'row ' || g, g * 1.5::float8, "
           "'2024-01-01 00:00:00+00'::timestamptz + g * interval '1 s', "
           "(g * 1.25)::numeric(12,2) "
           "FROM generate_series(1, 200000) g")

    async def rep(self):
        return await self.conn.fetch(self.SQL)

    def digest(self, rows):
        """checksum::RowDigest over (int8, text, float8, timestamptz, numeric)."""
        if len(rows) != 200_000:
            raise ValueError(f"expected 200000 rows, got {len(rows)}")
        ints = text = micros = 0
        floats = 0.0
        numeric = 0
        for i, t, f, ts, n in rows:
            ints = (ints + i) & MASK
            b = t.encode()
            text = mix(text, len(b) ^ (b[-1] if b else 0))
            floats += f
            micros = (micros + (ts - EPOCH) // ONE_US) & MASK
            numeric += n
        acc = mix(0xCBF2_9CE4_8422_2325, len(rows))
        acc = mix(acc, ints)
        acc = mix(acc, text)
        acc = mix(acc, struct.unpack("<Q", struct.pack("<d", floats))[0])
        acc = mix(acc, micros)
        # rust_decimal's normalize().to_string(): plain digits, no trailing zeros.
        for ch in format(numeric.normalize(), "f").encode():
            acc = mix(acc, ch)
        return acc


class Pipelined10k(Workload):
    """asyncpg cannot have two queries in flight on one connection ("another
    operation is in progress"): its closest equivalent is the same 10,000
    queries awaited one after another on that connection."""
    QUERIES = 10_000
    SQL = "SELECT $1::int8 + 1"

    async def setup(self):
        await super().setup()
        await self.conn.fetchval(self.SQL, 0)

    async def rep(self):
        acc = 0
        conn, sql = self.conn, self.SQL
        for i in range(self.QUERIES):
            acc = fold(acc, await conn.fetchval(sql, i))
        return acc


class Pool10k(Workload):
    """create_pool(min_size=10, max_size=10); 50 tasks, 200 pool.fetchval each."""
    TASKS = 50
    PER_TASK = 200
    SQL = "SELECT $1::int8 + 1"

    async def setup(self):
        self.pool = await asyncpg.create_pool(self.dsn, min_size=10, max_size=10)

    async def teardown(self):
        await self.pool.close()

    async def task(self, t):
        acc = 0
        pool, sql = self.pool, self.SQL
        for k in range(self.PER_TASK):
            acc = fold(acc, await pool.fetchval(sql, t * self.PER_TASK + k))
        return acc

    async def rep(self):
        acc = 0
        for part in await asyncio.gather(*(self.task(t) for t in range(self.TASKS))):
            acc = (acc + part) & MASK
        return acc


async def _no_reset(_conn):
    pass


class Pool10kNoReset(Pool10k):
    """pool_10k with reset=<a coroutine that does nothing>: release sends nothing."""

    async def setup(self):
        self.pool = await asyncpg.create_pool(self.dsn, min_size=10, max_size=10, reset=_no_reset)


class Insert1k(Workload):
    """executemany: 1,000 rows, pipelined, atomic (one Sync) since asyncpg 0.22."""
    ROWS = 1_000
    TABLE = "bench_ins_asyncpg"

    async def setup(self):
        await super().setup()
        await self.conn.execute(f"DROP TABLE IF EXISTS {self.TABLE}; "
                                f"CREATE TABLE {self.TABLE} (id int8, name text)")
        self.sql = f"INSERT INTO {self.TABLE} (id, name) VALUES ($1, $2)"
        self.rows = [(i, f"name {i}") for i in range(self.ROWS)]

    async def rep(self):
        await self.conn.executemany(self.sql, self.rows)
        return self.ROWS

    async def teardown(self):
        await self.conn.execute(f"DROP TABLE {self.TABLE}")
        await super().teardown()


def copy_count(status):
    """'COPY 1000000' -> 1000000."""
    return int(status.rsplit(" ", 1)[-1])


class CopyIn1m(Workload):
    """copy_records_to_table (binary COPY). The 1,000,000 records are built
    once, untimed: asyncpg's best case (the Rust clients make theirs on the fly)."""
    ROWS = 1_000_000
    TABLE = "bench_copy_asyncpg"

    async def setup(self):
        await super().setup()
        await self.conn.execute(f"DROP TABLE IF EXISTS {self.TABLE}; CREATE UNLOGGED TABLE {self.TABLE} "
                                "(id int8, name text, score float8, at timestamptz)")
        self.records = [(i, f"row {i}", i * 1.5, BASE_TIME + datetime.timedelta(seconds=i))
                        for i in range(self.ROWS)]

    async def rep(self):
        await self.conn.execute(f"TRUNCATE {self.TABLE}")
        return copy_count(await self.conn.copy_records_to_table(self.TABLE, records=self.records))

    async def teardown(self):
        await self.conn.execute(f"DROP TABLE {self.TABLE}")
        await super().teardown()


async def _discard(_chunk):
    pass


class CopyOut1m(Workload):
    """copy_from_table (text format) into a coroutine that discards the data.
    The source table bench_copy_src is filled by the Rust side's setup."""

    async def rep(self):
        return copy_count(await self.conn.copy_from_table("bench_copy_src", output=_discard))


WORKLOADS = {
    "seq_select1": SeqSelect1,
    "decode_200k": Decode200k,
    "pipelined_10k": Pipelined10k,
    "pool_10k": Pool10k,
    "pool_10k_noreset": Pool10kNoReset,
    "insert_1k": Insert1k,
    "copy_in_1m": CopyIn1m,
    "copy_out_1m": CopyOut1m,
}


def answer(line):
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(name):
    w = WORKLOADS[name](os.environ["EDGEPG_BENCH_DSN"])
    await w.setup()
    answer("ready")
    digest = getattr(w, "digest", lambda result: result)
    for line in sys.stdin:
        command = line.strip()
        if command == "run":
            cpu_start = time.process_time_ns()
            start = time.perf_counter_ns()
            result = await w.rep()
            elapsed = time.perf_counter_ns() - start
            cpu = time.process_time_ns() - cpu_start
            answer(f"ok {elapsed} {digest(result)} - {cpu}")
        elif command == "close":
            await w.teardown()
            answer("closed")
            return
        else:
            answer(f"error unknown command {command!r}")
            return


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in WORKLOADS:
        answer(f"error usage: asyncpg_bench.py {{{','.join(WORKLOADS)}}}")
        sys.exit(2)
    try:
        asyncio.run(main(sys.argv[1]))
    except Exception as e:  # reported to the harness, which names the workload
        answer(f"error {type(e).__name__}: {e}".replace("\n", " "))
        raise
