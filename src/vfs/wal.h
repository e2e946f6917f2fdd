/*
 * SQLite's WAL file format, as far as the VFS needs it: header and frame
 * encoding with SQLite's cumulative checksums, and the fields of the WAL
 * index (shm) header that capture reads and rewinds.
 *
 * Pure functions over caller-owned bytes; no allocation, no locking. The WAL
 * format is SQLite's (https://www.sqlite.org/fileformat2.html#walformat):
 * big-endian fields, checksums over 32-bit words whose byte order is given by
 * the low bit of the magic number. The WAL index header is SQLite's private
 * in-memory format (native byte order, https://www.sqlite.org/walformat.html).
 */
#ifndef VFS_WAL_H
#define VFS_WAL_H

#include <stdbool.h>
#include <stdint.h>

#define VFS_WAL_HDR_SIZE 32
#define VFS_FRAME_HDR_SIZE 24
#define VFS_WAL_MAGIC 0x377f0682u /* checksums over little-endian words */
#define VFS_WAL_VERSION 3007000u

/* The WAL index: a header of two 48-byte copies plus checkpoint info, in
 * 32 KiB regions. Offsets of the fields we touch (native byte order). */
#define VFS_SHM_REGION_SIZE 32768
#define VFS_SHM_HDR_SIZE 48
#define VFS_SHM_HDRS_SIZE 96 /* both copies */
#define VFS_SHM_OFF_MX_FRAME 16
#define VFS_SHM_NLOCK 8
#define VFS_SHM_WRITE_LOCK 0
#define VFS_SHM_CKPT_LOCK 1
#define VFS_SHM_RECOVER_LOCK 2

/* Smallest and largest SQLite page sizes. */
#define VFS_PAGE_SIZE_MIN 512
#define VFS_PAGE_SIZE_MAX 65536

/* A power of two within [VFS_PAGE_SIZE_MIN, VFS_PAGE_SIZE_MAX]. */
bool vfsPageSizeValid(uint32_t page_size);

/* SQLite's checksum over `n_bytes` (a multiple of 8) continuing from
 * `sum[2]`, which is updated in place. */
void vfsWalChecksum(bool big_endian_words, const uint8_t *data,
                    uint32_t n_bytes, uint32_t sum[2]);

/* Fill a 32-byte WAL header (with its checksum). */
void vfsWalHeaderEncode(uint8_t hdr[VFS_WAL_HDR_SIZE], uint32_t page_size,
                        uint32_t ckpt_seq, uint32_t salt1, uint32_t salt2);

/* Page size recorded in a WAL header (0 if the header is not valid). */
uint32_t vfsWalHeaderPageSize(const uint8_t hdr[VFS_WAL_HDR_SIZE]);

/* Whether the header's magic asks for big-endian checksum words. */
bool vfsWalHeaderBigEndian(const uint8_t hdr[VFS_WAL_HDR_SIZE]);

/* The running checksum stored in a header or frame header (bytes 24/16). */
void vfsWalHeaderChecksum(const uint8_t hdr[VFS_WAL_HDR_SIZE], uint32_t sum[2]);
void vfsWalFrameChecksum(const uint8_t frame[VFS_FRAME_HDR_SIZE],
                         uint32_t sum[2]);

/* Encode one whole frame (header + page) in place: `frame` holds the page at
 * frame + 24 already; the header is written and `sum` advanced. */
void vfsWalFrameEncode(uint8_t *frame, uint32_t page_size, uint32_t pgno,
                       uint32_t commit_size,
                       const uint8_t wal_hdr[VFS_WAL_HDR_SIZE],
                       uint32_t sum[2]);

/* Fields of a frame header. */
uint32_t vfsWalFramePgno(const uint8_t *frame);
uint32_t vfsWalFrameCommit(const uint8_t *frame);

/* mxFrame of a WAL index header copy (native byte order). */
uint32_t vfsShmHdrMxFrame(const uint8_t *hdr);

#endif /* VFS_WAL_H */
