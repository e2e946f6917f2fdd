/*
 * The metadata file: encode, decode, atomic store, load.
 */
#include "raftio/meta.h"

#include <string.h>

#include "lib/alloc.h"
#include "lib/byte.h"
#include "lib/crc32c.h"
#include "lib/err.h"

void metaEncode(uint8_t out[META_SIZE], uint64_t term, uint64_t vote)
{
    memset(out, 0, META_SIZE);
    memcpy(out, META_MAGIC, 8);
    bytePut32(out + 8, META_VERSION);
    bytePut64(out + 16, term);
    bytePut64(out + 24, vote);
    bytePut32(out + 36, crc32c(0, out, 36));
}

int metaDecode(const uint8_t *p, size_t n, uint64_t *term, uint64_t *vote)
{
    if (n != META_SIZE || memcmp(p, META_MAGIC, 8) != 0 ||
        byteGet32(p + 36) != crc32c(0, p, 36)) {
        return ERR_META_CORRUPT;
    }
    if (byteGet32(p + 8) != META_VERSION) {
        return ERR_DISK_VERSION;
    }
    *term = byteGet64(p + 16);
    *vote = byteGet64(p + 24);
    return 0;
}

int raftioMetaLoad(struct raftio_fs *fs, uint64_t *term, uint64_t *vote)
{
    uint8_t *data;
    size_t len;
    int rv = raftioFsReadAll(fs, META_FILE, 4096, &data, &len);
    if (rv == ERR_NOTFOUND) {
        *term = 0;
        *vote = 0;
        return 0;
    }
    if (rv == ERR_TOOBIG) {
        return ERR_META_CORRUPT;
    }
    if (rv != 0) {
        return rv;
    }
    rv = metaDecode(data, len, term, vote);
    libFree(data);
    return rv;
}

int raftioMetaStore(struct raftio_fs *fs, uint64_t term, uint64_t vote)
{
    uint8_t buf[META_SIZE];
    metaEncode(buf, term, vote);
    return raftioFsWriteAtomic(fs, META_FILE, buf, sizeof buf);
}
