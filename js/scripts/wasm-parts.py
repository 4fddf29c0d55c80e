# Where the .wasm's gzipped bytes go, part by part (js/SIZE.md's table; run by
# js/scripts/wasm-parts.sh). Each part's function bodies (by the function
# names of a build that keeps them) and the data section are gzipped (-9) on
# their own; the parts' sizes are then scaled so they add up to the real
# .wasm's gzipped size (gzipping parts apart loses ~3 % of cross-part
# redundancy). Usage: wasm-parts.py NAMED.wasm REAL.wasm   (Python 3, stdlib)
import sys, re, gzip, collections
b = open(sys.argv[1], 'rb').read()
def leb(i):
    r = s = 0
    while True:
        x = b[i]; i += 1; r |= (x & 0x7f) << s; s += 7
        if x < 0x80: return r, i
i = 8; sections = []
while i < len(b):
    sid = b[i]; i += 1; n, i = leb(i); sections.append((sid, i, i + n)); i += n
nimports = 0; bodies = []; names = {}; data = b''; other = 0
for sid, s, e in sections:
    if sid == 2:
        cnt, j = leb(s)
        for _ in range(cnt):
            l, j = leb(j); j += l; l, j = leb(j); j += l
            kind = b[j]; j += 1
            if kind == 0: _, j = leb(j); nimports += 1
            elif kind == 1: j += 1; fl, j = leb(j); _, j = leb(j); j = leb(j)[1] if fl & 1 else j
            elif kind == 2: fl, j = leb(j); _, j = leb(j); j = leb(j)[1] if fl & 1 else j
            elif kind == 3: j += 2
    elif sid == 10:
        cnt, j = leb(s)
        for _ in range(cnt):
            sz, j = leb(j); bodies.append(b[j:j + sz]); j += sz
    elif sid == 11:
        data = b[s:e]
    elif sid == 0:
        l, j = leb(s); nm = b[j:j + l]; j += l
        if nm == b'name':
            while j < e:
                sub = b[j]; j += 1; sz, j = leb(j); end = j + sz
                if sub == 1:
                    cnt, k = leb(j)
                    for _ in range(cnt):
                        idx, k = leb(k); l2, k = leb(k); names[idx] = b[k:k + l2].decode('utf8', 'replace'); k += l2
                j = end
    else:
        other += e - s
def cat(n):
    n = re.sub(r'\[[0-9a-f]+\]', '', n); n = n.replace('byn$mgfn-shared$', '')
    rules = [
        (r'drop_in_place|core::ptr', 'drop glue (core::ptr::drop_in_place of futures and values)'),
        (r'edgepg_core::client::pool', 'core client: pool'),
        (r'edgepg_core::client::(copy|cursor|listen|notif|streamed)', 'core client: COPY, cursors, LISTEN'),
        (r'edgepg_core::client::(driver|connection|handle|startup|connect|pipelined|timeout|results|statement|prepared|request|batch|one_flight|query|transaction|type_catalog|cancel|simple|session_attrs)', 'core client: connection, driver, startup, statements, transactions, timeouts'),
        (r'edgepg_core::client', 'core client: other'),
        (r'edgepg_core::types', 'core types (codecs, Value, text decode, numeric)'),
        (r'edgepg_core::(config|protocol|auth|error|sqlstate)', 'core config, protocol framing, auth, errors'),
        (r'edgepg_wasm::js::(values|pg)', 'wasm: values ⇄ JS, pg results'),
        (r'^raw[a-z]+_|^edgepg_wasm::js', 'wasm: JS API entry points (connection, pool, tx, cursor, COPY)'),
        (r'edgepg_wasm', 'wasm: transports (WebSocket, TCP, runtime)'),
        (r'fmt|flt2dec|dec2flt|Debug|Display|panic|escape_debug|bignum|f64 as|f32 as|from_secs_f', 'Rust fmt, Debug/Display, float formatting/parsing, panics'),
        (r'sha2|md5|hmac|digest|block_buffer|generic_array', 'sha2, md5, hmac'),
        (r'futures', 'futures (channels, select, unordered)'),
        (r'js_sys|wasm_bindgen|web_sys|__wbg|__wbindgen|closure', 'js_sys, wasm-bindgen'),
        (r'dlmalloc|alloc::alloc|__rust_alloc|__rust_dealloc|__rust_realloc|malloc|free', 'allocator (dlmalloc)'),
        (r'hashbrown|HashMap|hash', 'hashbrown'),
        (r'bytes::', 'bytes'),
        (r'core::net', 'core::net'),
    ]
    for pat, c in rules:
        if re.search(pat, n): return c
    return 'Rust core/alloc: iterators, str, vec, num, other generics'
groups = collections.defaultdict(list)
for k, body in enumerate(bodies):
    groups[cat(names.get(nimports + k, '?'))].append(body)
# The data section (strings, tables) as one part.
parts = {c: gzip.compress(b''.join(v), 9) for c, v in groups.items()}
parts['data (strings: messages, names; tables)'] = gzip.compress(data, 9)
raws = {c: sum(map(len, v)) for c, v in groups.items()}; raws['data (strings: messages, names; tables)'] = len(data)
total_est = sum(len(v) for v in parts.values())
# As js/scripts/size.sh measures it (gzip -9c FILE).
import subprocess
real = len(subprocess.run(['gzip', '-9c', sys.argv[2]], capture_output=True, check=True).stdout)
print(f'| part | raw (named build) | gzip -9 (scaled to the real .wasm) |')
print('|---|---:|---:|')
for c in sorted(parts, key=lambda c: -len(parts[c])):
    print(f'| {c} | {raws[c]:,} | {round(len(parts[c]) * real / total_est):,} |')
print(f'| **total** | {sum(raws.values()):,} | **{real:,}** |')
print(f'(parts gzipped alone sum to {total_est:,}; scaled by {real/total_est:.3f}; other sections raw {other:,})', file=sys.stderr)
