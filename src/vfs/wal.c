/*
 * SQLite WAL format helpers (see wal.h).
 */
#include "vfs/wal.h"

#include <string.h>

#include "lib/assert.h"
#include "lib/byte.h"

bool vfsPageSizeValid(uint32_t page_size)
{
    return page_size >= VFS_PAGE_SIZE_MIN && page_size <= VFS_PAGE_SIZE_MAX &&
           (page_size & (page_size - 1)) == 0;
}

void vfsWalChecksum(bool big_endian_words, const uint8_t *data,
                    uint32_t n_bytes, uint32_t sum[2])
{
    PRE(n_bytes % 8 == 0);
    uint32_t s1 = sum[0];
    uint32_t s2 = sum[1];
    for (uint32_t i = 0; i < n_bytes; i += 8) {
        uint32_t w0 =
            big_endian_words ? byteGet32Be(data + i) : byteGet32(data + i);
        uint32_t w1 = big_endian_words ? byteGet32Be(data + i + 4)
                                       : byteGet32(data + i + 4);
        s1 += w0 + s2;
        s2 += w1 + s1;
    }
    sum[0] = s1;
    sum[1] = s2;
}

void vfsWalHeaderEncode(uint8_t hdr[VFS_WAL_HDR_SIZE], uint32_t page_size,
                        uint32_t ckpt_seq, uint32_t salt1, uint32_t salt2)
{
    PRE(vfsPageSizeValid(page_size));
    uint32_t sum[2] = {0, 0};
    bytePut32Be(hdr, VFS_WAL_MAGIC);
    bytePut32Be(hdr + 4, VFS_WAL_VERSION);
    bytePut32Be(hdr + 8, page_size);
    bytePut32Be(hdr + 12, ckpt_seq);
    bytePut32Be(hdr + 16, salt1);
    bytePut32Be(hdr + 20, salt2);
    vfsWalChecksum(false, hdr, 24, sum);
    bytePut32Be(hdr + 24, sum[0]);
    bytePut32Be(hdr + 28, sum[1]);
}

uint32_t vfsWalHeaderPageSize(const uint8_t hdr[VFS_WAL_HDR_SIZE])
{
    uint32_t magic = byteGet32Be(hdr);
    uint32_t page_size = byteGet32Be(hdr + 8);
    if ((magic & ~1u) != VFS_WAL_MAGIC || !vfsPageSizeValid(page_size)) {
        return 0;
    }
    return page_size;
}

bool vfsWalHeaderBigEndian(const uint8_t hdr[VFS_WAL_HDR_SIZE])
{
    return (byteGet32Be(hdr) & 1) != 0;
}

void vfsWalHeaderChecksum(const uint8_t hdr[VFS_WAL_HDR_SIZE], uint32_t sum[2])
{
    sum[0] = byteGet32Be(hdr + 24);
    sum[1] = byteGet32Be(hdr + 28);
}

void vfsWalFrameChecksum(const uint8_t frame[VFS_FRAME_HDR_SIZE],
                         uint32_t sum[2])
{
    sum[0] = byteGet32Be(frame + 16);
    sum[1] = byteGet32Be(frame + 20);
}

void vfsWalFrameEncode(uint8_t *frame, uint32_t page_size, uint32_t pgno,
                       uint32_t commit_size,
                       const uint8_t wal_hdr[VFS_WAL_HDR_SIZE], uint32_t sum[2])
{
    PRE(pgno > 0);
    bool be = vfsWalHeaderBigEndian(wal_hdr);
    bytePut32Be(frame, pgno);
    bytePut32Be(frame + 4, commit_size);
    memcpy(frame + 8, wal_hdr + 16, 8);
    vfsWalChecksum(be, frame, 8, sum);
    vfsWalChecksum(be, frame + VFS_FRAME_HDR_SIZE, page_size, sum);
    bytePut32Be(frame + 16, sum[0]);
    bytePut32Be(frame + 20, sum[1]);
}

uint32_t vfsWalFramePgno(const uint8_t *frame)
{
    return byteGet32Be(frame);
}

uint32_t vfsWalFrameCommit(const uint8_t *frame)
{
    return byteGet32Be(frame + 4);
}

uint32_t vfsShmHdrMxFrame(const uint8_t *hdr)
{
    uint32_t v;
    memcpy(&v, hdr + VFS_SHM_OFF_MX_FRAME, sizeof v);
    return v;
}
