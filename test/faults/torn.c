/*
 * faults-torn: the harness's torn write (docs/faults.md, the `torn` fault).
 * Run on the data directory of a node that was just SIGKILLed: it damages
 * the last write group of the newest log segment (docs/disk-format.md §2)
 * the way an interrupted write would, in one of five ways drawn from SEED:
 *   cut-record   the file ends inside its last record
 *   cut-group    the file ends inside a record of its last write group
 *   garbage      the last bytes of the last record (header or payload) are
 *                overwritten with garbage
 *   append       garbage of a partial next record follows the last record
 *   hole         the 512-byte block holding a record header of the last
 *                group is zeroed, the records after it left whole
 *                (sectors of one write reaching the disk out of order)
 * Every way changes checksummed bytes, so the node must find the damage at
 * start, cut the tail and log it. Nothing before the last group is touched:
 * damage there would be corruption of synced data, not a torn write.
 *   faults-torn DIR SEED
 * Prints one line saying what it did; exit 3 when there was nothing to tear
 * (no segment, or no record in the newest one).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER 32u  /* segment header */
#define REC_HDR 40u /* record header */
#define BLOCK 512u  /* the hole's size and alignment */
#define MAX_RECS (1u << 20)

static uint64_t rng;

static uint64_t rnd(uint64_t n)
{
    uint64_t z = (rng += 0x9E3779B97F4A7C15u);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return n ? (z ^ (z >> 31)) % n : 0;
}

static uint64_t get(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i-- > 0;) {
        v = v << 8 | p[i];
    }
    return v;
}

static int newestSegment(const char *dir, char *name, size_t size)
{
    struct dirent *e;
    DIR *d = opendir(dir);
    name[0] = '\0';
    if (d == NULL) {
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "seg-", 4) == 0 && strlen(e->d_name) == 24 &&
            strcmp(e->d_name, name) > 0) {
            snprintf(name, size, "%s", e->d_name);
        }
    }
    closedir(d);
    return name[0] != '\0' ? 0 : -1;
}

static int readAll(const char *path, uint8_t **data, size_t *n)
{
    struct stat st;
    int fd = open(path, O_RDONLY);
    if (fd < 0 || fstat(fd, &st) != 0) {
        return -1;
    }
    *n = (size_t)st.st_size;
    *data = malloc(*n + 1);
    size_t got = 0;
    while (*data != NULL && got < *n) {
        ssize_t r = read(fd, *data + got, *n - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    return *data != NULL && got == *n ? 0 : -1;
}

static int writeAt(const char *path, uint64_t off, const uint8_t *p, size_t n)
{
    int fd = open(path, O_WRONLY);
    int ok = fd >= 0 && pwrite(fd, p, n, (off_t)off) == (ssize_t)n;
    if (fd >= 0) {
        close(fd);
    }
    return ok ? 0 : -1;
}

/* Overwrites [off, off+n) of `data` in the file with bytes that differ from
 * the old ones in every position. */
static int garble(const char *path, const uint8_t *data, uint64_t off, size_t n)
{
    uint8_t buf[BLOCK * 8];
    for (size_t i = 0; i < n; i++) {
        buf[i] = (uint8_t)(data[off + i] ^ (1 + rnd(255)));
    }
    return writeAt(path, off, buf, n);
}

int main(int argc, char *argv[])
{
    char name[64], path[4096];
    uint8_t *data = NULL;
    size_t size;
    if (argc != 3) {
        fprintf(stderr, "usage: faults-torn DIR SEED\n");
        return 2;
    }
    rng = strtoull(argv[2], NULL, 10);
    if (newestSegment(argv[1], name, sizeof name) != 0) {
        printf("no segment in %s\n", argv[1]);
        return 3;
    }
    snprintf(path, sizeof path, "%s/%s", argv[1], name);
    if (readAll(path, &data, &size) != 0) {
        perror(path);
        return 1;
    }
    /* Walk the records as far as they are whole (no checksum needed: the
     * node wrote them and nothing damaged them since). */
    static uint64_t starts[MAX_RECS];
    size_t n = 0;
    uint64_t off = HEADER;
    while (off + REC_HDR <= size && n < MAX_RECS) {
        uint64_t len = get(data + off + 32, 4);
        uint64_t rec = REC_HDR + ((len + 7) & ~(uint64_t)7);
        if (len > (256u << 20) || off + rec > size) {
            break;
        }
        starts[n++] = off;
        off += rec;
    }
    if (n == 0) {
        printf("%s: %zu bytes, no record: nothing to tear\n", name, size);
        return 3;
    }
    uint64_t end = off; /* end of the last whole record */
    uint64_t last = starts[n - 1];
    uint64_t group = get(data + last + 24, 8);
    if (group < HEADER || group > last) {
        group = last;
    }
    size_t first_in_group = n - 1;
    while (first_in_group > 0 && starts[first_in_group - 1] >= group) {
        first_in_group--;
    }
    uint64_t last_len = get(data + last + 32, 4);
    const char *mode[] = {"cut-record", "cut-group", "garbage", "append",
                          "hole"};
    unsigned m = (unsigned)rnd(5);
    int rv = 0;
    char what[256];
    switch (m) {
    case 0: { /* end strictly inside the last record */
        uint64_t cut = last + 1 + rnd(end - last - 1);
        rv = truncate(path, (off_t)cut);
        snprintf(what, sizeof what, "size %zu -> %llu", size,
                 (unsigned long long)cut);
        break;
    }
    case 1: { /* end inside a record of the last group */
        size_t k = first_in_group + (size_t)rnd(n - first_in_group);
        uint64_t k_end = k + 1 < n ? starts[k + 1] : end;
        uint64_t cut = starts[k] + 1 + rnd(k_end - starts[k] - 1);
        rv = truncate(path, (off_t)cut);
        snprintf(what, sizeof what,
                 "size %zu -> %llu (record %zu of %zu, group has %zu)", size,
                 (unsigned long long)cut, k + 1, n, n - first_in_group);
        break;
    }
    case 2: { /* garble the last checksummed bytes of the last record */
        uint64_t span = REC_HDR + last_len; /* header and payload */
        uint64_t k = 1 + rnd(span < 64 ? span : 64);
        rv = garble(path, data, last + span - k, (size_t)k);
        snprintf(what, sizeof what, "%llu bytes garbled at %llu",
                 (unsigned long long)k, (unsigned long long)(last + span - k));
        break;
    }
    case 3: { /* a partial record after the last one */
        uint8_t junk[4096];
        size_t k = 1 + (size_t)rnd(sizeof junk);
        for (size_t i = 0; i < k; i++) {
            junk[i] = (uint8_t)rnd(256);
        }
        rv = writeAt(path, end, junk, k);
        snprintf(what, sizeof what, "%zu bytes of garbage appended at %llu", k,
                 (unsigned long long)end);
        break;
    }
    default: { /* zero the block holding a record header of the group */
        size_t k = first_in_group + (size_t)rnd(n - first_in_group);
        uint64_t lo = starts[k] & ~(uint64_t)(BLOCK - 1), hi = lo + BLOCK;
        lo = lo < group ? group : lo;
        hi = hi > end ? end : hi;
        /* Padding is zero, so zeroing changes only checksummed bytes; if
         * none changes, garble the block (it holds a header byte). */
        uint8_t zeros[BLOCK] = {0};
        int all_zero = memcmp(data + lo, zeros, (size_t)(hi - lo)) == 0;
        rv = all_zero ? garble(path, data, lo, (size_t)(hi - lo))
                      : writeAt(path, lo, zeros, (size_t)(hi - lo));
        snprintf(what, sizeof what,
                 "[%llu, %llu) %s (record %zu of %zu), %llu bytes follow",
                 (unsigned long long)lo, (unsigned long long)hi,
                 all_zero ? "garbled" : "zeroed", k + 1, n,
                 (unsigned long long)(size - hi));
        break;
    }
    }
    if (rv != 0) {
        perror(path);
        free(data);
        return 1;
    }
    printf("%s %s: %s; %zu records, last group at %llu\n", name, mode[m], what,
           n, (unsigned long long)group);
    free(data);
    return 0;
}
