#!/bin/sh
# node under LD_PRELOAD=libhakmem.so: four worker_threads (each its own V8
# isolate and heap, created and torn down, messages between threads), big
# Maps of strings, typed arrays, 32 MiB Buffers, JSON and sha256 through
# OpenSSL; the main thread also grows and drops arrays.  The output must
# match a run without hakmem, and node must really have libhakmem.so mapped.
. "$(dirname "$0")/../lib.sh"
hk_setup
hk_need node
NODE=$(command -v node)
hk_check_preload "$NODE"

cat >"$HK_TMP/work.js" <<'JSEOF'
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const crypto = require('crypto');
const fs = require('fs');

function lcg(seed) {
  let x = seed + 1;
  return () => (x = (x * 48271) % 2147483647);
}

if (isMainThread) {
  const maps = fs.readFileSync('/proc/self/maps', 'utf8');
  fs.appendFileSync(process.argv[2], maps.includes('libhakmem.so') ? 'hakmem mapped\n' : 'hakmem not mapped\n');
  const n = 4, res = [];
  let done = 0;
  for (let i = 0; i < n; i++) {
    const w = new Worker(__filename, { workerData: i });
    w.on('message', (m) => { res[i] = m; });
    w.on('error', (e) => { console.error(e); process.exit(1); });
    w.on('exit', (code) => {
      if (code !== 0) { console.error('worker', i, 'exit', code); process.exit(1); }
      if (++done === n) {
        console.log(res.join('\n'));
        // The main thread: arrays of objects grown and dropped.
        const r = lcg(99);
        let keep = [];
        for (let round = 0; round < 20; round++) {
          const a = [];
          for (let k = 0; k < 50000; k++) a.push({ k, s: 'x'.repeat(r() % 40) });
          keep.push(a[r() % a.length].s.length);
        }
        console.log('main', keep.join(','));
      }
    });
  }
} else {
  const seed = workerData, r = lcg(seed);
  const m = new Map();
  for (let i = 0; i < 150000; i++) m.set('k' + (r() % 60000), 'v'.repeat(r() % 120));
  const big = new Float64Array(2 << 20);
  for (let i = 0; i < big.length; i++) big[i] = (i % 1000) * 0.5;
  const buf = Buffer.alloc(32 << 20, seed);
  const json = JSON.stringify([...m.entries()].slice(0, 8000));
  if (JSON.parse(json).length !== Math.min(8000, m.size)) throw new Error('json');
  const h = crypto.createHash('sha256').update(json).update(buf).digest('hex');
  const chunks = [];
  for (let i = 0; i < 200; i++) chunks.push(Buffer.alloc(64 * 1024 + i, i & 255));
  const h2 = crypto.createHash('sha256').update(Buffer.concat(chunks)).digest('hex').slice(0, 16);
  parentPort.postMessage(`${seed} ${m.size} ${big.reduce((a, b) => a + b, 0)} ${h} ${h2}`);
}
JSEOF

hk_same node-worker-threads "$NODE" "$HK_TMP/work.js" "$HK_TMP/maps"
[ "$(sed -n 1p "$HK_TMP/maps")" = "hakmem not mapped" ] || hk_fail "node without LD_PRELOAD: $(sed -n 1p "$HK_TMP/maps")"
[ "$(sed -n 2p "$HK_TMP/maps")" = "hakmem mapped" ] || hk_fail "node under LD_PRELOAD did not have libhakmem.so mapped"
[ "$(wc -l <"$HK_TMP/node-worker-threads.ref.out")" -eq 5 ] || hk_fail "node printed $(wc -l <"$HK_TMP/node-worker-threads.ref.out") lines, expected 5"
echo "node: ok"
