#!/bin/sh
# python3 under LD_PRELOAD=libhakmem.so: threads (a pool of 4 and raw
# threads sharing a dict), dicts, big lists, json, bytes; the output must
# match a run without hakmem, and the preloaded interpreter must really
# have libhakmem.so mapped.
. "$(dirname "$0")/../lib.sh"
hk_setup
hk_need python3
PY=$(python3 -c 'import sys; print(sys.executable)') || hk_fail "python3 does not run"
hk_check_preload "$PY"

cat >"$HK_TMP/work.py" <<'PYEOF'
import concurrent.futures as cf, hashlib, json, random, sys, threading

maps = open("/proc/self/maps").read()
with open(sys.argv[1], "a") as f:
    f.write("hakmem mapped\n" if "libhakmem.so" in maps else "hakmem not mapped\n")

def work(seed):
    r = random.Random(seed)
    d = {}
    for i in range(30000):
        k = "k%d" % r.randrange(60000)
        if k in d and r.random() < 0.3:
            d[k].append(i)
        else:
            d[k] = [i, str(i) * (i % 7)]
    lst = [r.random() for _ in range(150000)]
    lst.sort()
    s = json.dumps(d, sort_keys=True)
    back = json.loads(s)
    assert back == d
    nested = {"a": [{"x": list(range(i % 50)), "y": "z" * (i % 300)} for i in range(3000)]}
    t = json.dumps(nested)
    assert json.loads(t) == nested
    return seed, len(d), hashlib.sha256(s.encode()).hexdigest()[:16], round(sum(lst), 6), len(t)

with cf.ThreadPoolExecutor(4) as ex:
    for res in ex.map(work, range(12)):
        print(*res)

# Raw threads sharing a dict under a lock; objects created in one thread
# and dropped in another.
shared, lock, handoff = {}, threading.Lock(), []
def producer(n):
    for i in range(20000):
        obj = {"n": n, "i": i, "payload": bytes(i % 512)}
        with lock:
            handoff.append(obj)
            shared[(n, i % 1000)] = obj
def consumer():
    got = 0
    while got < 40000:
        with lock:
            batch, handoff[:] = handoff[:], []
        got += len(batch)
    return got
ts = [threading.Thread(target=producer, args=(n,)) for n in range(2)]
for t in ts: t.start()
print("consumed", consumer())
for t in ts: t.join()
print("shared", len(shared), sum(len(v["payload"]) for v in shared.values()))

big = list(range(3_000_000))
print(sum(big), len(big))
del big
strs = [str(i) * 3 for i in range(400000)]
print(hashlib.sha256("".join(strs).encode()).hexdigest())
b = bytearray(64 * 1024 * 1024)
b[::4096] = b"x" * len(b[::4096])
print(b.count(b"x"))
grow = []
for i in range(200000):
    grow.append("%d" % i)
    if i % 50000 == 0:
        grow = grow[:]  # reallocation of the list body
print(len(grow), grow[-1])
PYEOF

hk_same python3-threads-json "$PY" "$HK_TMP/work.py" "$HK_TMP/maps"
# One line per run, reference first.
[ "$(sed -n 1p "$HK_TMP/maps")" = "hakmem not mapped" ] || hk_fail "python3 without LD_PRELOAD: $(sed -n 1p "$HK_TMP/maps")"
[ "$(sed -n 2p "$HK_TMP/maps")" = "hakmem mapped" ] || hk_fail "python3 under LD_PRELOAD did not have libhakmem.so mapped"
echo "python3: ok"
