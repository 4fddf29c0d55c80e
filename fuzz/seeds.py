#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<target>/ (small, committed).

Run from anywhere: python3 fuzz/seeds.py. Seeds are valid inputs that reach
deep into each target; the fuzzer mutates from there. The client_session
SCRAM seed carries a real server signature, computed for the fixed client
nonce core uses in fuzz builds (auth::scram, `cfg(fuzzing)`).
"""
import base64
import hashlib
import hmac
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def msg(tag, body=b""):
    return tag + struct.pack("!I", len(body) + 4) + body


def cstr(s):
    return s.encode() + b"\0"


def auth(code, extra=b""):
    return msg(b"R", struct.pack("!I", code) + extra)


def ready(status=b"I"):
    return msg(b"Z", status)


def row_description(cols):
    body = struct.pack("!H", len(cols))
    for name, oid, fmt in cols:
        body += cstr(name) + struct.pack("!IhIhih", 0, 0, oid, -1, -1, fmt)
    return msg(b"T", body)


def data_row(values):
    body = struct.pack("!H", len(values))
    for v in values:
        body += struct.pack("!i", -1) if v is None else struct.pack("!I", len(v)) + v
    return msg(b"D", body)


SETTLE = (
    msg(b"S", cstr("server_version") + cstr("16.4"))
    + msg(b"S", cstr("client_encoding") + cstr("UTF8"))
    + msg(b"S", cstr("integer_datetimes") + cstr("on"))
    + msg(b"K", struct.pack("!II", 1234, 0xDEADBEEF))
    + ready()
)

# Answers to the calls client_session makes (simple query, extended query
# with describe, COPY in, COPY out), in the order the client reads them.
SIMPLE = msg(b"T", b"\0\x01" + cstr("x") + struct.pack("!IhIhih", 0, 0, 23, 4, -1, 0)) + data_row([b"1"]) \
    + msg(b"C", cstr("SELECT 1")) + ready()
EXTENDED = (
    msg(b"1")
    + msg(b"t", struct.pack("!HII", 2, 20, 25))
    + row_description([("a", 20, 1), ("b", 25, 1)])
    + msg(b"2")
    + data_row([struct.pack("!q", 7), b"seven"])
    + data_row([None, b""])
    + msg(b"C", cstr("SELECT 2"))
    + ready()
)
# One parameter (the fetch call's `a = $1`).
EXTENDED_1 = EXTENDED.replace(msg(b"t", struct.pack("!HII", 2, 20, 25)), msg(b"t", struct.pack("!HI", 1, 23)))
# Describing the COPY target's columns (copy_records_to_table), no rows.
PREPARE = msg(b"1") + msg(b"t", b"\0\0") + row_description([("a", 20, 1), ("b", 25, 1)]) + ready()
# target_session_attrs=read-write asks the server.
READ_ONLY = msg(b"T", b"\0\x01" + cstr("transaction_read_only") + struct.pack("!IhIhih", 0, 0, 25, -1, -1, 0)) \
    + data_row([b"off"]) + msg(b"C", cstr("SHOW")) + ready()
COPY_IN = msg(b"G", b"\x01\0\x02\0\x01\0\x01") + msg(b"C", cstr("COPY 2")) + ready()
COPY_OUT = msg(b"H", b"\0\0\x01\0\0") + msg(b"d", b"1\n") + msg(b"c") + msg(b"C", cstr("COPY 1")) + ready()
ERROR = msg(b"E", cstr("SERROR") + cstr("VERROR") + cstr("C42P01") + cstr("Mrelation \"t\" does not exist") + b"\0") \
    + ready()
NOTICE = msg(b"N", cstr("SNOTICE") + cstr("C00000") + cstr("Mhello") + b"\0") \
    + msg(b"A", struct.pack("!I", 42) + cstr("chan") + cstr("payload"))


def scram_exchange(password=b"pencil", nonce="fuzzfuzzfuzzfuzzfuzzfuzz", salt=b"saltsalt", iterations=16):
    client_first_bare = f"n=,r={nonce}"
    server_nonce = nonce + "SERVERNONCE"
    server_first = f"r={server_nonce},s={base64.b64encode(salt).decode()},i={iterations}"
    client_final_without_proof = f"c={base64.b64encode(b'n,,').decode()},r={server_nonce}"
    auth_message = f"{client_first_bare},{server_first},{client_final_without_proof}".encode()
    salted = hashlib.pbkdf2_hmac("sha256", password, salt, iterations)
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    signature = hmac.new(server_key, auth_message, hashlib.sha256).digest()
    server_final = "v=" + base64.b64encode(signature).decode()
    return (
        auth(10, cstr("SCRAM-SHA-256") + b"\0")
        + auth(11, server_first.encode())
        + auth(12, server_final.encode())
    ), server_first, server_final


def client_session():
    scram, _, _ = scram_exchange()
    logins = {
        "trust": auth(0),
        "cleartext": auth(3) + auth(0),
        "md5": auth(5, b"\x9a\x1b\x03\xf4") + auth(0),
        "scram": scram + auth(0),
    }
    # flags: 1 password, 2 pipeline_connect=password, 0x20 connect_pipelined.
    # script: bit 0 concurrent calls, bits 1-3 which call, 0x80 one more query.
    cases = [
        ("trust", 0x00, 0x00, SIMPLE),
        ("cleartext", 0x01, 0x02, EXTENDED_1 + EXTENDED_1),
        ("cleartext", 0x23, 0x03, EXTENDED + EXTENDED + EXTENDED),
        ("md5", 0x01, 0x0A, PREPARE + COPY_IN),
        ("md5", 0x41, 0x0C, COPY_OUT),
        ("scram", 0x01, 0x06, EXTENDED + NOTICE + EXTENDED),
        ("scram", 0x09, 0x0E, COPY_IN),
        ("scram", 0x01, 0x80, ERROR + SIMPLE),
        ("trust", 0x10, 0x08, READ_ONLY + msg(b"C", cstr("BEGIN")) + ready(b"T") + EXTENDED + ERROR),
        ("scram", 0x23, 0x01, EXTENDED + EXTENDED),
    ]
    for i, (login, flags, script, answers) in enumerate(cases):
        data = bytes([flags, script, 0x5A]) + logins[login] + SETTLE + answers
        write("client_session", f"{i:02}-{login}", data)


def scram_server_messages():
    _, server_first, server_final = scram_exchange()
    first = server_first.encode()
    write("scram_server_messages", "valid", bytes([len(first)]) + first + server_final.encode())
    write("scram_server_messages", "error", bytes([len(first)]) + first + b"e=invalid-proof")
    write("scram_server_messages", "extension", b"\x40" + b"m=ext,r=fuzzfuzzfuzzfuzzfuzzfuzzX,s=c2FsdA==,i=1")


def backend_message():
    write("backend_message", "startup", b"\xff" + auth(0) + SETTLE)
    write("backend_message", "extended", b"\xff" + EXTENDED + NOTICE)
    write("backend_message", "copy", b"\xff" + COPY_IN + COPY_OUT + ERROR)
    write("backend_message", "limit", b"\x02" + SIMPLE)


def dsn():
    write("dsn", "uri", "postgresql://user:p%40ss@h1:5432,[::1]:5433/db?sslmode=require&application_name=x"
          "&target_session_attrs=read-write&connect_timeout=10&options=-c%20search_path%3Dapp")
    write("dsn", "keyvalue", "host=/var/run/postgresql port=5432 dbname='my db' password='it\\'s' "
          "channel_binding=prefer load_balance_hosts=random")
    write("dsn", "env", "postgres:///app\x01PGHOST=db1,db2\nPGPORT=5432,5433\nPGUSER=carol\x01"
          "db1:5432:app:carol:secret\n*:*:*:*:other\n")
    write("dsn", "unix", "postgres://%2Fvar%2Frun%2Fpostgresql/db?host=/tmp&port=6432&pipeline_connect=password")


def text_decode():
    types = ["DATE", "TIME", "TIMETZ", "TIMESTAMP", "TIMESTAMPTZ", "INTERVAL", "INET", "CIDR", "NUMERIC",
             "BYTEA", "UUID", "BOOL", "INT2", "INT4", "INT8", "OID", "FLOAT4", "FLOAT8", "CHAR", "TEXT", "JSONB",
             "DATE_ARRAY", "TIMESTAMPTZ_ARRAY", "INTERVAL_ARRAY", "INET_ARRAY", "INT4_ARRAY", "INT8_ARRAY",
             "FLOAT8_ARRAY", "NUMERIC_ARRAY", "TEXT_ARRAY", "BYTEA_ARRAY", "UUID_ARRAY", "BOOL_ARRAY",
             "TIMETZ_ARRAY"]
    seeds = [
        ("DATE", "2024-02-29"), ("DATE", "0044-03-15 BC"), ("TIMETZ", "13:14:15.123456+05:30"),
        ("TIMESTAMPTZ", "2024-02-29 13:14:15.5-08:30"), ("TIMESTAMP", "infinity"),
        ("INTERVAL", "-1 years -2 mons +3 days -04:05:06.789"), ("INET", "2001:db8::1/64"),
        ("CIDR", "10.0.0.0/8"), ("BYTEA", "\\x00ff10"), ("UUID", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
        ("FLOAT8", "-Infinity"), ("INT4_ARRAY", "[0:1][1:2]={{1,NULL},{3,4}}"),
        ("TEXT_ARRAY", '{"a \\"b\\"",NULL,"",c}'), ("TIMESTAMPTZ_ARRAY", '{"2000-01-01 00:00:00+00",infinity}'),
    ]
    for i, (ty, text) in enumerate(seeds):
        write("text_decode", f"{i:02}-{ty.lower()}", bytes([types.index(ty)]) + text.encode())


def copy_binary():
    # A few hand-made byte strings covering the value kinds (see Input in the target).
    write("copy_binary", "ints", bytes([5, 2, 0xFF, 0x7F, 0, 0, 3, 1, 2, 3, 4, 0, 4, 9, 9, 9, 9, 9, 9, 9, 9, 4]))
    write("copy_binary", "texts", bytes([3, 9, 5]) + b"hello" + bytes([6, 11, 2]) + b"{}" + bytes([1, 8, 4]) + b"1.50")
    write("copy_binary", "times", bytes([4, 13, 1, 2, 3, 4, 0, 16, 1, 2, 3, 4, 5, 6, 7, 8, 1, 18, 1, 0, 0, 0, 2, 0, 0, 0,
                                         3, 0, 0, 0, 0, 0, 0, 0, 2, 15, 7, 0, 0, 0, 0, 0, 0, 0, 16, 14, 0, 0, 3]))
    write("copy_binary", "arrays", bytes([2, 3, 1, 0, 0, 0, 0, 4, 3, 3, 2, 0, 0, 0, 3, 3, 0, 0, 0, 0, 5, 19, 1]
                                         + list(range(16)) + [64, 0, 0, 0]))


if __name__ == "__main__":
    client_session()
    scram_server_messages()
    backend_message()
    dsn()
    text_decode()
    copy_binary()
