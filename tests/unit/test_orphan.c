/* test_orphan.c - slabs of an exited thread are orphaned and adopted.
 *
 * Thread A allocates 40 slabs' worth of tagged 64 B blocks and exits with
 * all of them live: its slabs become orphans (box.slab_orphan).  Thread B
 * then checks and frees every block: freeing into an orphan adopts it
 * (box.slab_adopt), and once B flushes, the adopted slabs are empty and go
 * back to the SharedPool (cls[3].slabs_released).  B then allocates as
 * many blocks again without mapping a new SuperSlab.  The same for Mid
 * blocks (4 KiB), whose frees after the owner exited must work and whose
 * memory must be reusable.
 */
#include "check.h"

#include <pthread.h>

enum { PER_SLAB = 1024, SLABS = 40, NT = SLABS * PER_SLAB, NM = 1000 };

static void **vt, **vm;
static snap s0, s1, s2, s3;

static void *leaver(void *arg) {
    (void)arg;
    for (size_t i = 0; i < NT; i++) { vt[i] = malloc(64); CHECK(vt[i], "malloc(64)"); tag_fill(vt[i], 64, i); }
    for (size_t i = 0; i < NM; i++) { vm[i] = malloc(4096); CHECK(vm[i], "malloc(4096)"); tag_fill(vm[i], 4096, i); }
    return NULL;   /* exits with every block live */
}

static void *adopter(void *arg) {
    (void)arg;
    for (size_t i = 0; i < NT; i++) { CHECK_TAG(vt[i], 64, i, "block of an exited thread"); free(vt[i]); }
    for (size_t i = 0; i < NM; i++) { CHECK_TAG(vm[i], 4096, i, "Mid block of an exited thread"); free(vm[i]); }
    hakmem_thread_flush();
    snap_take(&s2);
    for (size_t i = 0; i < NT; i++) { vt[i] = malloc(64); CHECK(vt[i], "malloc(64)"); tag_fill(vt[i], 64, i + 7); }
    for (size_t i = 0; i < NM; i++) { vm[i] = malloc(4096); CHECK(vm[i], "malloc(4096)"); tag_fill(vm[i], 4096, i + 7); }
    snap_take(&s3);
    for (size_t i = 0; i < NT; i++) { CHECK_TAG(vt[i], 64, i + 7, "block"); free(vt[i]); }
    for (size_t i = 0; i < NM; i++) { CHECK_TAG(vm[i], 4096, i + 7, "Mid block"); free(vm[i]); }
    return NULL;
}

int main(void) {
    require_hakmem();
    vt = mmap(NULL, (NT + NM) * sizeof(void *), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(vt != MAP_FAILED, "mmap");
    vm = vt + NT;
    pthread_t t;
    snap_take(&s0);
    CHECK(pthread_create(&t, NULL, leaver, NULL) == 0, "pthread_create");
    pthread_join(t, NULL);
    snap_take(&s1);
    CHECK(pthread_create(&t, NULL, adopter, NULL) == 0, "pthread_create");
    pthread_join(t, NULL);
    printf("exit with %d live 64 B blocks: slab_orphan +%lld; freeing them: slab_adopt +%lld, slabs_released +%lld; "
           "reallocating: ss_map +%lld\n", NT, (long long)DELTA(&s0, &s1, box.slab_orphan),
           (long long)DELTA(&s1, &s2, box.slab_adopt), (long long)DELTA(&s1, &s2, cls[3].slabs_released),
           (long long)DELTA(&s2, &s3, box.ss_map));
    CHECK(DELTA(&s0, &s1, box.slab_orphan) >= SLABS - 1,
          "a thread exited with %d full slabs of live blocks, box.slab_orphan grew by %lld",
          SLABS, (long long)DELTA(&s0, &s1, box.slab_orphan));
    CHECK(DELTA(&s1, &s2, box.slab_adopt) >= SLABS / 2, "every block of %d orphaned slabs was freed, box.slab_adopt grew by %lld",
          SLABS, (long long)DELTA(&s1, &s2, box.slab_adopt));
    CHECK(DELTA(&s1, &s2, cls[3].slabs_released) >= SLABS - 2,
          "%d orphaned slabs were freed completely (and flushed), cls[3].slabs_released grew by %lld",
          SLABS, (long long)DELTA(&s1, &s2, cls[3].slabs_released));
    CHECK(DELTA(&s2, &s3, box.ss_map) == 0, "reallocating %d blocks after the orphans were released mapped %lld "
          "new SuperSlabs", NT, (long long)DELTA(&s2, &s3, box.ss_map));
    printf("test_orphan: ok\n");
    return 0;
}
