/* elfsym.c - function symbols of ELF objects, read with <elf.h> only.
 *
 * An object is mapped read-only once (cached by path); its PT_LOAD
 * segments translate file offsets to link-time addresses, its build id
 * (PT_NOTE) finds a separate debug file under /usr/lib/debug/.build-id
 * when the object itself is stripped, and its .symtab (else .dynsym)
 * gives the functions.  Every offset, size and count read from the file
 * is checked against the mapping before use: a truncated or hostile file
 * yields fewer symbols, never a crash.
 */
#include "lockstat.h"

#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LOADS 32
#define MAX_FILE  (4ull << 30)

typedef struct sym {
    uint64_t    value, size;
    const char *name;
} sym;

typedef struct map {
    const uint8_t *p;
    size_t         n;
} map;

struct ls_elf {
    char    *path;
    map      file, debug;           /* the object; its debug file if used  */
    int      nload;
    struct { uint64_t off, filesz, vaddr; } load[MAX_LOADS];
    uint64_t first_vaddr;
    uint8_t  build_id[64];
    size_t   build_id_len;
    sym     *syms;
    size_t   nsyms, syms_cap;
    struct ls_elf *next;
};

static struct ls_elf *cache;
static struct { char *path; struct ls_elf *e; } *misses; /* unreadable paths */
static size_t nmisses, misses_cap;

/* [off, off + len) lies inside the mapping. */
static int in_map(const map *m, uint64_t off, uint64_t len) {
    return off <= m->n && len <= m->n - off;
}

static int map_file(const char *path, map *m) {
    m->p = NULL;
    m->n = 0;
    /* The path comes from the trace: never open a device, and never
     * block on a FIFO (a regular file ignores O_NONBLOCK). */
    struct stat pre;
    if (stat(path, &pre) != 0 || !S_ISREG(pre.st_mode)) return -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < (off_t)sizeof(Elf64_Ehdr) ||
        (uint64_t)st.st_size > MAX_FILE) {
        close(fd);
        return -1;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return -1;
    m->p = p;
    m->n = (size_t)st.st_size;
    return 0;
}

static void unmap(map *m) {
    if (m->p) munmap((void *)m->p, m->n);
    m->p = NULL;
    m->n = 0;
}

static const Elf64_Ehdr *ehdr_of(const map *m) {
    if (!in_map(m, 0, sizeof(Elf64_Ehdr))) return NULL;
    const Elf64_Ehdr *h = (const Elf64_Ehdr *)m->p;
    if (memcmp(h->e_ident, ELFMAG, SELFMAG) || h->e_ident[EI_CLASS] != ELFCLASS64 ||
        h->e_ident[EI_DATA] != ELFDATA2LSB)
        return NULL;
    return h;
}

/* Notes in [off, off+len): the GNU build id. */
static void scan_notes(struct ls_elf *e, const map *m, uint64_t off, uint64_t len) {
    if (!in_map(m, off, len)) return;
    uint64_t end = off + len;
    while (off + sizeof(Elf64_Nhdr) <= end) {
        Elf64_Nhdr nh;
        memcpy(&nh, m->p + off, sizeof nh);
        uint64_t name_off = off + sizeof nh;
        uint64_t desc_off = name_off + (((uint64_t)nh.n_namesz + 3) & ~3ull);
        uint64_t next = desc_off + (((uint64_t)nh.n_descsz + 3) & ~3ull);
        if (next > end || next <= off) return;
        if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
            !memcmp(m->p + name_off, "GNU", 4) && nh.n_descsz > 0 &&
            nh.n_descsz <= sizeof e->build_id) {
            memcpy(e->build_id, m->p + desc_off, nh.n_descsz);
            e->build_id_len = nh.n_descsz;
            return;
        }
        off = next;
    }
}

static void read_phdrs(struct ls_elf *e, const map *m, const Elf64_Ehdr *h) {
    if (h->e_phentsize != sizeof(Elf64_Phdr) ||
        !in_map(m, h->e_phoff, (uint64_t)h->e_phnum * sizeof(Elf64_Phdr)))
        return;
    int first = 1;
    for (unsigned i = 0; i < h->e_phnum; i++) {
        Elf64_Phdr ph;
        memcpy(&ph, m->p + h->e_phoff + (uint64_t)i * sizeof ph, sizeof ph);
        if (ph.p_type == PT_LOAD && e->nload < MAX_LOADS) {
            if (first) e->first_vaddr = ph.p_vaddr;
            first = 0;
            e->load[e->nload].off = ph.p_offset;
            e->load[e->nload].filesz = ph.p_filesz;
            e->load[e->nload].vaddr = ph.p_vaddr;
            e->nload++;
        } else if (ph.p_type == PT_NOTE && !e->build_id_len) {
            scan_notes(e, m, ph.p_offset, ph.p_filesz);
        }
    }
}

static int cmp_sym(const void *a, const void *b) {
    const sym *x = a, *y = b;
    if (x->value != y->value) return x->value < y->value ? -1 : 1;
    /* Prefer the sized one (a size-0 alias covers nothing). */
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* Functions of the section table of type `type` in m; returns how many. */
static size_t read_symtab(struct ls_elf *e, const map *m, uint32_t type) {
    const Elf64_Ehdr *h = ehdr_of(m);
    if (!h || h->e_shentsize != sizeof(Elf64_Shdr) || h->e_shnum == 0 ||
        !in_map(m, h->e_shoff, (uint64_t)h->e_shnum * sizeof(Elf64_Shdr)))
        return 0;
    const uint8_t *sh0 = m->p + h->e_shoff;
    size_t added = 0;
    for (unsigned i = 0; i < h->e_shnum; i++) {
        Elf64_Shdr s;
        memcpy(&s, sh0 + (uint64_t)i * sizeof s, sizeof s);
        if (s.sh_type != type || s.sh_link >= h->e_shnum) continue;
        if (s.sh_entsize && s.sh_entsize != sizeof(Elf64_Sym)) continue;
        if (!in_map(m, s.sh_offset, s.sh_size)) continue;
        Elf64_Shdr str;
        memcpy(&str, sh0 + (uint64_t)s.sh_link * sizeof str, sizeof str);
        if (str.sh_type != SHT_STRTAB || !in_map(m, str.sh_offset, str.sh_size)) continue;
        const char *strtab = (const char *)m->p + str.sh_offset;
        uint64_t n = s.sh_size / sizeof(Elf64_Sym);
        for (uint64_t k = 0; k < n; k++) {
            Elf64_Sym y;
            memcpy(&y, m->p + s.sh_offset + k * sizeof y, sizeof y);
            int t = ELF64_ST_TYPE(y.st_info);
            if ((t != STT_FUNC && t != STT_GNU_IFUNC) || y.st_shndx == SHN_UNDEF || !y.st_value)
                continue;
            if (y.st_name >= str.sh_size) continue;
            const char *name = strtab + y.st_name;
            if (!memchr(name, 0, str.sh_size - y.st_name) || !*name) continue;
            grow((void **)&e->syms, &e->syms_cap, e->nsyms + 1, sizeof *e->syms);
            e->syms[e->nsyms].value = y.st_value;
            e->syms[e->nsyms].size = y.st_size;
            e->syms[e->nsyms].name = name;
            e->nsyms++;
            added++;
        }
    }
    return added;
}

static struct ls_elf *load(const char *path) {
    map m;
    if (map_file(path, &m) != 0) return NULL;
    const Elf64_Ehdr *h = ehdr_of(&m);
    if (!h) { unmap(&m); return NULL; }
    struct ls_elf *e = xcalloc(1, sizeof *e);
    e->path = xstrdup(path);
    e->file = m;
    read_phdrs(e, &m, h);
    if (!read_symtab(e, &m, SHT_SYMTAB)) {
        /* Stripped: a debug file by build id has the full table. */
        if (e->build_id_len >= 2) {
            char dbg[512];
            int k = snprintf(dbg, sizeof dbg, "/usr/lib/debug/.build-id/%02x/", e->build_id[0]);
            for (size_t i = 1; i < e->build_id_len && k > 0 && (size_t)k + 3 < sizeof dbg; i++)
                k += snprintf(dbg + k, sizeof dbg - (size_t)k, "%02x", e->build_id[i]);
            if (k > 0 && (size_t)k + 7 < sizeof dbg) {
                memcpy(dbg + k, ".debug", 7);
                if (map_file(dbg, &e->debug) == 0 && !read_symtab(e, &e->debug, SHT_SYMTAB))
                    unmap(&e->debug);
            }
        }
        if (!e->nsyms) read_symtab(e, &m, SHT_DYNSYM);
    }
    if (e->nsyms) qsort(e->syms, e->nsyms, sizeof *e->syms, cmp_sym);
    return e;
}

ls_elf *elf_get(const char *path) {
    if (!path || !*path || path[0] == '[') return NULL;   /* [vdso], [heap] */
    for (struct ls_elf *e = cache; e; e = e->next)
        if (!strcmp(e->path, path)) return e;
    for (size_t i = 0; i < nmisses; i++)
        if (!strcmp(misses[i].path, path)) return NULL;
    struct ls_elf *e = load(path);
    if (!e) {
        grow((void **)&misses, &misses_cap, nmisses + 1, sizeof *misses);
        misses[nmisses++].path = xstrdup(path);
        return NULL;
    }
    e->next = cache;
    cache = e;
    return e;
}

void elf_cache_free(void) {
    while (cache) {
        struct ls_elf *e = cache;
        cache = e->next;
        unmap(&e->file);
        unmap(&e->debug);
        free(e->syms);
        free(e->path);
        free(e);
    }
    for (size_t i = 0; i < nmisses; i++) free(misses[i].path);
    free(misses);
    misses = NULL;
    nmisses = misses_cap = 0;
}

uint64_t elf_first_vaddr(const ls_elf *e) { return e->first_vaddr; }

int elf_offset_to_vaddr(const ls_elf *e, uint64_t off, uint64_t *vaddr) {
    for (int i = 0; i < e->nload; i++) {
        if (off >= e->load[i].off && off - e->load[i].off < e->load[i].filesz) {
            *vaddr = off - e->load[i].off + e->load[i].vaddr;
            return 0;
        }
    }
    return -1;
}

const uint8_t *elf_build_id(const ls_elf *e, size_t *len) {
    *len = e->build_id_len;
    return e->build_id;
}

const char *elf_lookup(ls_elf *e, uint64_t vaddr, uint64_t *off) {
    if (!e->nsyms || vaddr < e->syms[0].value) return NULL;
    size_t lo = 0, hi = e->nsyms;   /* last symbol with value <= vaddr */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (e->syms[mid].value <= vaddr) lo = mid; else hi = mid;
    }
    /* Among equal values cmp_sym put the sized one first. */
    while (lo > 0 && e->syms[lo - 1].value == e->syms[lo].value) lo--;
    const sym *s = &e->syms[lo];
    if (s->size && vaddr - s->value >= s->size) return NULL;
    *off = vaddr - s->value;
    return s->name;
}
