#!/usr/bin/env bash
# Builds the npm package, packs it, installs the tarball into a temp dir and
# runs the JS tests there with `node --test` (Node API, faults, round trips,
# workerd via miniflare, the runtime matrix — Node 20/22/24, Bun, Deno and
# workerd over TCP, TLS and WebSocket (runtimes.test.mjs, runtimes from
# scripts/runtimes.sh) —, the Rust Worker example in workerd, tsc over a
# typed example), then the API suites again
# over direct TCP. Needs a running test
# cluster with websockify: source its env first (tests/cluster/start.sh);
# scripts/test.sh does all of that. Last line: node's test summary.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
: "${EDGEPG_TEST_WS_PORT:?source the test cluster env (tests/cluster/start.sh) first}"

# Dev dependencies (ws, miniflare with its workerd binary, typescript, Neon's driver for
# proxy.test.mjs), once.
if [ ! -d node_modules/ws ] || [ ! -d node_modules/miniflare ] || [ ! -d node_modules/typescript ] ||
    [ ! -d node_modules/@neondatabase/serverless ]; then
    npm ci --no-audit --no-fund --loglevel=error
fi

# The ORMs edgepg/pg and edgepg/prisma are tested with (drizzle-orm, pg for
# drizzle's own import, kysely, prisma), pinned by test/orm/package-lock.json;
# kept out of js/package.json so the package's own install stays lean. Once.
if [ ! -d test/orm/node_modules/drizzle-orm ] || [ ! -d test/orm/node_modules/kysely ] ||
    [ ! -d test/orm/node_modules/@prisma/client ]; then
    (cd test/orm && npm ci --no-audit --no-fund --loglevel=error)
fi
# The Prisma client of test/orm/schema.prisma, generated offline (the schema
# engine Prisma would download is not needed to generate a client).
if [ ! -f test/orm/generated/index.js ] || [ test/orm/schema.prisma -nt test/orm/generated/index.js ] ||
    [ ! -f test/orm/gen-workerd/client.ts ]; then
    (cd test/orm && CHECKPOINT_DISABLE=1 PRISMA_SCHEMA_ENGINE_BINARY=/bin/true \
        ./node_modules/.bin/prisma generate --schema schema.prisma >/dev/null)
fi

./build.sh
# The Rust Worker example (examples/worker-rs), run in workerd by worker-rs.test.mjs.
../examples/worker-rs/build.sh
export EDGEPG_WORKER_RS_DIR="$here/../examples/worker-rs"
work="$(mktemp -d /tmp/edgepg-js-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT
npm pack --silent --pack-destination "$work" >/dev/null
tarball="$(ls "$work"/edgepg-*.tgz)"
echo "packed $(basename "$tarball"): $(wc -c <"$tarball") bytes"
mkdir -p "$work/app/node_modules"
(cd "$work/app" && echo '{"name":"edgepg-test-app","private":true,"type":"module"}' >package.json &&
    npm install --no-audit --no-fund --loglevel=error --no-save "$tarball")
mkdir -p "$work/app/node_modules/@neondatabase"
for dep in ws miniflare typescript esbuild @neondatabase/serverless; do
    ln -s "$here/node_modules/$dep" "$work/app/node_modules/$dep"
done
for dep in "$here"/test/orm/node_modules/* "$here"/test/orm/node_modules/.bin; do
    [ -e "$work/app/node_modules/$(basename "$dep")" ] || ln -s "$dep" "$work/app/node_modules/$(basename "$dep")"
done
export EDGEPG_ORM_DIR="$here/test/orm"
cp test/*.mjs test/*.ts test/tsconfig*.json "$work/app/" 2>/dev/null || cp test/*.mjs "$work/app/"
cd "$work/app"
# One file at a time keeps the proxies and relays of different files apart.
node --test --test-concurrency=1 ./*.test.mjs
# The API suites, edgepg/pg and the ORMs again over direct TCP (helpers.mjs: opts() without a wsProxy).
EDGEPG_TEST_TRANSPORT=tcp node --test --test-concurrency=1 api.test.mjs tx-cursor-copy.test.mjs integrity.test.mjs \
    pg.test.mjs orm-drizzle.test.mjs orm-kysely.test.mjs orm-prisma.test.mjs
# The WebSocket API suites again, through edgepg-proxy instead of websockify (the same tests, the
# other relay; proxy.test.mjs covers what is specific to the proxy).
if [ -n "${EDGEPG_TEST_PROXY_PORT:-}" ]; then
    echo "again through edgepg-proxy (:$EDGEPG_TEST_PROXY_PORT): api.test.mjs tx-cursor-copy.test.mjs"
    EDGEPG_TEST_WS_PORT="$EDGEPG_TEST_PROXY_PORT" node --test --test-concurrency=1 ./api.test.mjs ./tx-cursor-copy.test.mjs
fi
