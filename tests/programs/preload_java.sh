#!/bin/sh
# Java under LD_PRELOAD=libhakmem.so: javac (itself a Java program) compiles
# a small program, then the JVM runs it: a fixed thread pool building
# HashMaps and strings, parallel streams, a ConcurrentHashMap shared by the
# workers, java.util.zip (native zlib buffers come from malloc), and enough
# garbage for several GCs and JIT compilations, whose threads and code
# caches malloc too.  Both the compiled classes and the program's output
# must match a run without hakmem, and the JVM must really have
# libhakmem.so mapped.  (The JVM keeps its Java heap in its own mappings;
# what goes through malloc is the VM's native memory: threads, JIT,
# symbols, zip, NIO.)
. "$(dirname "$0")/../lib.sh"
hk_setup
hk_need java javac cmp
hk_check_preload java
hk_check_preload javac
HK_TIMEOUT=${HK_TIMEOUT:-180}

mkdir -p "$HK_TMP/src" "$HK_TMP/ref" "$HK_TMP/hak"
cat >"$HK_TMP/src/Work.java" <<'JEOF'
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.*;
import java.util.concurrent.*;
import java.util.stream.*;
import java.util.zip.*;

public class Work {
    public static void main(String[] args) throws Exception {
        String maps = new String(Files.readAllBytes(Path.of("/proc/self/maps")), StandardCharsets.UTF_8);
        Files.writeString(Path.of(args[0]), maps.contains("libhakmem.so") ? "hakmem mapped\n" : "hakmem not mapped\n",
                          StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        ExecutorService ex = Executors.newFixedThreadPool(4);
        ConcurrentHashMap<Integer, Long> shared = new ConcurrentHashMap<>();
        List<Future<String>> fs = new ArrayList<>();
        for (int t = 0; t < 8; t++) {
            final int seed = t;
            fs.add(ex.submit(() -> {
                Random r = new Random(seed);
                HashMap<String, List<Integer>> m = new HashMap<>();
                for (int i = 0; i < 150000; i++)
                    m.computeIfAbsent("k" + r.nextInt(40000), k -> new ArrayList<>()).add(i);
                long s = 0;
                for (List<Integer> l : m.values()) s += l.size() * 31L + l.get(0);
                shared.merge(seed % 3, s, Long::sum);
                // zip through native zlib (malloc'ed z_stream buffers)
                ByteArrayOutputStream bo = new ByteArrayOutputStream();
                try (GZIPOutputStream gz = new GZIPOutputStream(bo)) {
                    for (int i = 0; i < 2000; i++) gz.write(("line " + r.nextInt(1000) + "\n").getBytes(StandardCharsets.UTF_8));
                }
                CRC32 crc = new CRC32();
                crc.update(bo.toByteArray());
                return seed + " " + m.size() + " " + s + " " + Long.toHexString(crc.getValue());
            }));
        }
        for (Future<String> f : fs) System.out.println(f.get());
        ex.shutdown();
        if (!ex.awaitTermination(60, TimeUnit.SECONDS)) throw new IllegalStateException("pool did not stop");
        System.out.println("shared " + new TreeMap<>(shared));
        long primes = IntStream.range(2, 100000).parallel()
            .filter(n -> IntStream.rangeClosed(2, (int) Math.sqrt(n)).allMatch(d -> n % d != 0)).count();
        System.out.println("primes " + primes);
        String joined = Stream.iterate(1, i -> i + 1).limit(200000).map(Integer::toHexString)
            .collect(Collectors.joining(","));
        System.out.println("joined " + joined.length() + " " + joined.hashCode());
        List<Thread> ts = new ArrayList<>();
        long[] sums = new long[16];
        for (int t = 0; t < 16; t++) {
            final int k = t;
            Thread th = new Thread(() -> { long v = 0; for (int i = 0; i < 100000; i++) v += ("" + i * k).length(); sums[k] = v; });
            ts.add(th);
            th.start();
        }
        for (Thread th : ts) th.join();
        System.out.println("threads " + Arrays.stream(sums).sum());
    }
}
JEOF

# javac under both allocators: the class files must be identical.
(cd "$HK_TMP" && javac -d ref src/Work.java && LD_PRELOAD="$HK_LIB" javac -d hak src/Work.java) 2>"$HK_TMP/javac.err" ||
    hk_fail "javac failed: $(head -n 3 "$HK_TMP/javac.err")"
hk_scan_stderr javac "$HK_TMP/javac.err"
hk_same_file Work.class "$HK_TMP/ref/Work.class" "$HK_TMP/hak/Work.class"

hk_same java-threads java -Xmx256m -cp "$HK_TMP/ref" Work "$HK_TMP/maps"
[ "$(sed -n 1p "$HK_TMP/maps")" = "hakmem not mapped" ] || hk_fail "java without LD_PRELOAD: $(sed -n 1p "$HK_TMP/maps")"
[ "$(sed -n 2p "$HK_TMP/maps")" = "hakmem mapped" ] || hk_fail "the JVM under LD_PRELOAD did not have libhakmem.so mapped"
echo "java: ok"
