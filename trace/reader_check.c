/* reader_check.c - framing checks of a trace directory before babeltrace2
 * reads it (reader_impl.h, hkr_check_trace_dir).
 *
 * babeltrace 2.0.4 trusts some framing it should not: it loops forever on
 * some malformed packetized metadata (a truncated packet followed by
 * junk), and it asserts (abort) on an index file whose packet offsets run
 * past the end of the stream file when the packet sizes still add up to
 * the file size.  Both are checked here, cheaply (headers only), so the
 * tools report them as corrupt input with the file and offset.  Anything
 * babeltrace itself rejects cleanly is left to it.
 */
#include "reader_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint32_t rd32(const unsigned char *b, int le)
{
    return le ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
              : (uint32_t)b[3] | (uint32_t)b[2] << 8 | (uint32_t)b[1] << 16 | (uint32_t)b[0] << 24;
}

static uint64_t be64(const unsigned char *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = v << 8 | b[i];
    return v;
}

/* fopen for reading, refusing anything but a regular file: babeltrace
 * would block forever opening a FIFO. */
static FILE *open_regular(const char *path, char *errbuf)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    struct stat st;
    if (fd < 0) {
        hkr_seterr(errbuf, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        hkr_seterr(errbuf, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        hkr_seterr(errbuf, "%s: %s", path, strerror(errno));
        close(fd);
    }
    return f;
}

/* Text metadata must start with the CTF signature; packetized metadata
 * must be whole packets (CTF 1.8 section 7.1: magic, uuid, checksum,
 * content and packet sizes in bits, then five one-byte fields: a 37-byte
 * header). */
static int check_metadata(const char *dir, char *errbuf)
{
    char path[4096];
    if (snprintf(path, sizeof path, "%s/metadata", dir) >= (int)sizeof path) {
        hkr_seterr(errbuf, "%s: path too long", dir);
        return -1;
    }
    FILE *f = open_regular(path, errbuf);
    if (!f) return -1;
    unsigned char h[37];
    long off = 0;
    int rc = 0;
    size_t n = fread(h, 1, sizeof h, f);
    if (n >= 4 && !memcmp(h, "/* CTF", n < 6 ? n : 6)) goto done;
    static const unsigned char magic_le[4] = { 0x57, 0x1D, 0xD1, 0x75 };
    static const unsigned char magic_be[4] = { 0x75, 0xD1, 0x1D, 0x57 };
    int le;
    if (n >= 4 && !memcmp(h, magic_le, 4)) le = 1;
    else if (n >= 4 && !memcmp(h, magic_be, 4)) le = 0;
    else {
        hkr_seterr(errbuf, "%s: not CTF metadata (no CTF signature or packet magic)", path);
        rc = -1;
        goto done;
    }
    for (;;) {
        if (n < sizeof h) {
            hkr_seterr(errbuf, "%s: corrupt metadata: truncated packet header at offset %ld",
                       path, off);
            rc = -1;
            break;
        }
        uint32_t content = rd32(h + 24, le), packet = rd32(h + 28, le);
        if (memcmp(h, le ? magic_le : magic_be, 4) || packet % 8 || content > packet ||
            content < 8 * sizeof h) {
            hkr_seterr(errbuf, "%s: corrupt metadata: bad packet header at offset %ld", path, off);
            rc = -1;
            break;
        }
        off += (long)(packet / 8);
        if (fseek(f, off, SEEK_SET) != 0) {
            hkr_seterr(errbuf, "%s: %s", path, strerror(errno));
            rc = -1;
            break;
        }
        n = fread(h, 1, sizeof h, f);
        if (n == 0) {
            /* fseek past the end succeeds: make sure the packet was whole. */
            struct stat st;
            if (fstat(fileno(f), &st) == 0 && st.st_size < off) {
                hkr_seterr(errbuf, "%s: corrupt metadata: truncated packet ending at offset %ld "
                           "(file has %lld bytes)", path, off, (long long)st.st_size);
                rc = -1;
            }
            break;
        }
    }
done:
    fclose(f);
    return rc;
}

/* LTTng packet index (lttng-tools ctf-index.h), big endian: a 16-byte
 * header (magic, major, minor, entry length), then one entry per packet
 * starting offset (bytes), packet_size and content_size (bits),
 * timestamp_begin, timestamp_end... (56 bytes in index 1.0). */
#define IDX_MAGIC 0xC1F1DCC1u
#define IDX_HDR 16
#define IDX_ENTRY_MIN 56

/* babeltrace 2.0.4 uses an index that has the right magic and major
 * version, whole entries, packet sizes in whole bytes, monotonic offsets,
 * ordered time bounds and packet sizes adding up to the stream file's
 * size (otherwise it indexes the stream file itself).  It never checks an
 * offset against the file: require what LTTng writes, each packet
 * starting where the previous one ended and ending inside the file. */
static int check_index(const char *ipath, const char *spath, off_t ssize, char *errbuf)
{
    struct stat pre;
    if (stat(ipath, &pre) != 0 || S_ISDIR(pre.st_mode)) return 0;   /* babeltrace skips it */
    FILE *f = open_regular(ipath, errbuf);
    if (!f) return -1;
    int rc = 0;
    unsigned char h[IDX_HDR];
    unsigned char *e = NULL;
    struct stat st;
    if (fread(h, 1, sizeof h, f) != sizeof h || fstat(fileno(f), &st) != 0) goto out;
    uint32_t len = rd32(h + 12, 0);
    if (rd32(h, 0) != IDX_MAGIC || rd32(h + 4, 0) != 1 || len < IDX_ENTRY_MIN || len > 4096 ||
        (st.st_size - IDX_HDR) % len)
        goto out;
    uint64_t count = (uint64_t)(st.st_size - IDX_HDR) / len;
    if (!(e = malloc(len))) goto out;
    uint64_t total = 0, prev_off = 0, expect = 0, fsize = (uint64_t)ssize;
    uint64_t bad_at = UINT64_MAX, bad_off = 0, bad_size = 0;
    for (uint64_t i = 0; i < count; i++) {
        if (fread(e, 1, len, f) != len) goto out;
        uint64_t offset = be64(e), psize = be64(e + 8);
        uint64_t tb = be64(e + 24), te = be64(e + 32);
        /* Cases babeltrace rejects itself (it then indexes the file). */
        if (psize % 8 || (i && offset < prev_off) || te < tb) goto out;
        /* Sums wrap as babeltrace's do; the bounds test does not. */
        if ((offset != expect || psize / 8 > fsize || offset > fsize - psize / 8) &&
            bad_at == UINT64_MAX) {
            bad_at = i;
            bad_off = offset;
            bad_size = psize / 8;
        }
        prev_off = offset;
        expect = offset + psize / 8;
        total += psize / 8;
    }
    if (total != fsize || bad_at == UINT64_MAX) goto out;
    hkr_seterr(errbuf, "%s: corrupt index: packet %llu (offset %llu, %llu bytes) does not "
               "follow the previous one inside stream file %s (%lld bytes); without the "
               "index directory babeltrace2 would index the stream itself",
               ipath, (unsigned long long)bad_at, (unsigned long long)bad_off,
               (unsigned long long)bad_size, spath, (long long)ssize);
    rc = -1;
out:
    free(e);
    fclose(f);
    return rc;
}

/* Stream files are the regular files of the trace directory other than
 * `metadata` and hidden files (what source.ctf.fs opens); each may have
 * index/NAME.idx. */
int hkr_check_trace_dir(const char *dir, char *errbuf)
{
    if (check_metadata(dir, errbuf) != 0) return -1;
    DIR *d = opendir(dir);
    if (!d) {
        hkr_seterr(errbuf, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "metadata")) continue;
        char spath[4096], ipath[4096 + 16];
        struct stat st;
        if (snprintf(spath, sizeof spath, "%s/%s", dir, de->d_name) >= (int)sizeof spath ||
            stat(spath, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        snprintf(ipath, sizeof ipath, "%s/index/%s.idx", dir, de->d_name);
        rc = check_index(ipath, spath, st.st_size, errbuf);
    }
    closedir(d);
    return rc;
}
