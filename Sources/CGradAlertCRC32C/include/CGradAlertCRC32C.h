#ifndef CGRADALERT_CRC32C_H
#define CGRADALERT_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// CRC-32C (Castagnoli, polynomial 0x1EDC6F41, reflected 0x82F63B78) of `length` bytes, continuing
/// from `crc` (0 to start). The fastest implementation this CPU supports is chosen once, at load.
uint32_t gradalert_crc32c(uint32_t crc, const void *data, size_t length);

/// The same CRC computed by the portable slicing-by-8 path, on every CPU. Tests compare the two.
uint32_t gradalert_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// The hardware path (SSE4.2 `crc32` on x86-64, ARMv8 `crc32c` on arm64), or 0 and nothing
/// computed when this CPU has none; see `gradalert_crc32c_has_hardware`.
uint32_t gradalert_crc32c_hardware(uint32_t crc, const void *data, size_t length);

/// The x86-64 path that runs `crc32` chains and VPCLMULQDQ folding side by side (AVX2 and
/// VPCLMULQDQ required), or 0 and nothing computed when this CPU lacks them; see
/// `gradalert_crc32c_has_folding`. Buffers under 2 KiB go through `crc32` chains alone (three
/// chains joined by PCLMULQDQ from 64 bytes up).
uint32_t gradalert_crc32c_folding(uint32_t crc, const void *data, size_t length);

/// 1 when the folding path is available on this CPU.
int gradalert_crc32c_has_folding(void);

/// 1 when the hardware path is available on this CPU.
int gradalert_crc32c_has_hardware(void);

/// "sse4.2+vpclmulqdq", "sse4.2+pclmul", "sse4.2", "armv8-crc" or "portable": the implementation `gradalert_crc32c` uses.
const char *gradalert_crc32c_implementation(void);

/// The first offset i, 0 <= i <= count - 12, where data[i ..< i + 12] is a TFRecord header that
/// verifies (the little-endian uint32 at i + 8 is the masked CRC-32C of the 8 bytes at i) and whose
/// length (the little-endian uint64 at i) is at most `max_length`; `count` when there is none (also
/// when count < 12). What the reader's search after damage asks at every offset, a block at a time,
/// with `crc32` instructions when the CPU has them. A `max_length` below 2^32 lets it pass over most
/// bytes without computing a CRC; UINT64_MAX asks about the CRC alone.
size_t gradalert_find_record_header(const void *data, size_t count, uint64_t max_length);

/// The same search with the portable slicing-by-8 tables, on every CPU. Tests compare the two.
size_t gradalert_find_record_header_portable(const void *data, size_t count, uint64_t max_length);

/// The same search with the CRC instructions (SSE4.2 or ARMv8), or with the portable tables when
/// this CPU has none (see `gradalert_crc32c_has_hardware`).
size_t gradalert_find_record_header_hardware(const void *data, size_t count, uint64_t max_length);

/// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8, in 32-bit arithmetic.
static inline uint32_t gradalert_crc32c_mask(uint32_t crc) {
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

/// Masked CRC-32C of a buffer, as TFRecord frames store it.
static inline uint32_t gradalert_crc32c_masked(const void *data, size_t length) {
    return gradalert_crc32c_mask(gradalert_crc32c(0, data, length));
}

#ifdef __cplusplus
}
#endif

#endif
