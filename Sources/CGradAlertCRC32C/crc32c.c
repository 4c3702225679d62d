// CRC-32C (Castagnoli). Three implementations of one function:
//
//  - portable: slicing-by-8 tables, any CPU;
//  - x86-64:   the SSE4.2 `crc32` instruction;
//  - arm64:    the ARMv8 `crc32c` instructions.
//
// One `crc32` instruction has a latency of about three cycles but can start every cycle, so a
// single dependent chain leaves two thirds of the unit idle. The hardware paths therefore run three
// independent chains over three adjacent blocks and join them: the CRC register is linear over
// GF(2), so the register after "A then B" is shift(register after A, |B| zero bytes) XOR (register
// after B started from 0). The shift by a fixed number of zero bytes is itself a linear map on 32
// bits, kept as four 256-entry tables.

#include "CGradAlertCRC32C.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#elif defined(__aarch64__)
#include <arm_acle.h>
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gradalert's CRC-32C assumes a little-endian CPU"
#endif

#define CRC32C_POLY 0x82F63B78u  // 0x1EDC6F41 bit-reversed
#define LONG_BLOCK 8192u          // bytes per chain in the long interleaved loop
#define SHORT_BLOCK 256u          // bytes per chain in the short interleaved loop

static uint32_t slice_table[8][256];

// The linear map "feed N zero bytes into the register", one table per input byte.
typedef struct {
    uint32_t table[4][256];
} zero_shift;

static zero_shift shift_long;   // N = LONG_BLOCK
static zero_shift shift_short;  // N = SHORT_BLOCK

typedef uint32_t (*raw_crc_fn)(uint32_t, const unsigned char *, size_t);
static raw_crc_fn selected_raw;
static const char *selected_name = "portable";
static int hardware_present;

static inline uint64_t load64(const unsigned char *p) {
    uint64_t value;
    memcpy(&value, p, sizeof value);
    return value;
}

// MARK: - Portable

// Register update without the initial and final inversion.
static uint32_t portable_raw(uint32_t crc, const unsigned char *p, size_t n) {
    while (n > 0 && ((uintptr_t)p & 7u) != 0) {
        crc = slice_table[0][(crc ^ *p++) & 0xffu] ^ (crc >> 8);
        n--;
    }
    while (n >= 8) {
        uint64_t w = load64(p) ^ crc;
        crc = slice_table[7][w & 0xffu] ^ slice_table[6][(w >> 8) & 0xffu] ^
              slice_table[5][(w >> 16) & 0xffu] ^ slice_table[4][(w >> 24) & 0xffu] ^
              slice_table[3][(w >> 32) & 0xffu] ^ slice_table[2][(w >> 40) & 0xffu] ^
              slice_table[1][(w >> 48) & 0xffu] ^ slice_table[0][w >> 56];
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        crc = slice_table[0][(crc ^ *p++) & 0xffu] ^ (crc >> 8);
        n--;
    }
    return crc;
}

static inline uint32_t apply_shift(const zero_shift *shift, uint32_t crc) {
    return shift->table[0][crc & 0xffu] ^ shift->table[1][(crc >> 8) & 0xffu] ^
           shift->table[2][(crc >> 16) & 0xffu] ^ shift->table[3][crc >> 24];
}

static void build_shift(zero_shift *shift, size_t zero_bytes) {
    static const unsigned char zeros[256] = {0};
    uint32_t basis[32];
    for (int bit = 0; bit < 32; bit++) {
        uint32_t crc = 1u << bit;
        for (size_t done = 0; done < zero_bytes; done += sizeof zeros) {
            size_t chunk = zero_bytes - done < sizeof zeros ? zero_bytes - done : sizeof zeros;
            crc = portable_raw(crc, zeros, chunk);
        }
        basis[bit] = crc;
    }
    for (int byte = 0; byte < 4; byte++) {
        for (uint32_t value = 0; value < 256; value++) {
            uint32_t image = 0;
            for (int bit = 0; bit < 8; bit++) {
                if (value & (1u << bit)) image ^= basis[byte * 8 + bit];
            }
            shift->table[byte][value] = image;
        }
    }
}

// MARK: - x86-64 SSE4.2

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t sse42_raw(uint32_t crc32, const unsigned char *p, size_t n) {
    uint64_t crc = crc32;
    while (n > 0 && ((uintptr_t)p & 7u) != 0) {
        crc = _mm_crc32_u8((uint32_t)crc, *p++);
        n--;
    }
    while (n >= 3 * LONG_BLOCK) {
        uint64_t crc1 = 0, crc2 = 0;
        const unsigned char *end = p + LONG_BLOCK;
        do {
            crc = _mm_crc32_u64(crc, load64(p));
            crc1 = _mm_crc32_u64(crc1, load64(p + LONG_BLOCK));
            crc2 = _mm_crc32_u64(crc2, load64(p + 2 * LONG_BLOCK));
            p += 8;
        } while (p < end);
        crc = apply_shift(&shift_long, (uint32_t)crc) ^ (uint32_t)crc1;
        crc = apply_shift(&shift_long, (uint32_t)crc) ^ (uint32_t)crc2;
        p += 2 * LONG_BLOCK;
        n -= 3 * LONG_BLOCK;
    }
    while (n >= 3 * SHORT_BLOCK) {
        uint64_t crc1 = 0, crc2 = 0;
        const unsigned char *end = p + SHORT_BLOCK;
        do {
            crc = _mm_crc32_u64(crc, load64(p));
            crc1 = _mm_crc32_u64(crc1, load64(p + SHORT_BLOCK));
            crc2 = _mm_crc32_u64(crc2, load64(p + 2 * SHORT_BLOCK));
            p += 8;
        } while (p < end);
        crc = apply_shift(&shift_short, (uint32_t)crc) ^ (uint32_t)crc1;
        crc = apply_shift(&shift_short, (uint32_t)crc) ^ (uint32_t)crc2;
        p += 2 * SHORT_BLOCK;
        n -= 3 * SHORT_BLOCK;
    }
    while (n >= 8) {
        crc = _mm_crc32_u64(crc, load64(p));
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        crc = _mm_crc32_u8((uint32_t)crc, *p++);
        n--;
    }
    return (uint32_t)crc;
}
#endif

// MARK: - arm64 CRC extension

#if defined(__aarch64__)
__attribute__((target("crc"))) static uint32_t armv8_raw(uint32_t crc, const unsigned char *p, size_t n) {
    while (n > 0 && ((uintptr_t)p & 7u) != 0) {
        crc = __crc32cb(crc, *p++);
        n--;
    }
    while (n >= 3 * LONG_BLOCK) {
        uint32_t crc1 = 0, crc2 = 0;
        const unsigned char *end = p + LONG_BLOCK;
        do {
            crc = __crc32cd(crc, load64(p));
            crc1 = __crc32cd(crc1, load64(p + LONG_BLOCK));
            crc2 = __crc32cd(crc2, load64(p + 2 * LONG_BLOCK));
            p += 8;
        } while (p < end);
        crc = apply_shift(&shift_long, crc) ^ crc1;
        crc = apply_shift(&shift_long, crc) ^ crc2;
        p += 2 * LONG_BLOCK;
        n -= 3 * LONG_BLOCK;
    }
    while (n >= 3 * SHORT_BLOCK) {
        uint32_t crc1 = 0, crc2 = 0;
        const unsigned char *end = p + SHORT_BLOCK;
        do {
            crc = __crc32cd(crc, load64(p));
            crc1 = __crc32cd(crc1, load64(p + SHORT_BLOCK));
            crc2 = __crc32cd(crc2, load64(p + 2 * SHORT_BLOCK));
            p += 8;
        } while (p < end);
        crc = apply_shift(&shift_short, crc) ^ crc1;
        crc = apply_shift(&shift_short, crc) ^ crc2;
        p += 2 * SHORT_BLOCK;
        n -= 3 * SHORT_BLOCK;
    }
    while (n >= 8) {
        crc = __crc32cd(crc, load64(p));
        p += 8;
        n -= 8;
    }
    while (n > 0) {
        crc = __crc32cb(crc, *p++);
        n--;
    }
    return crc;
}
#endif

// MARK: - Set-up and dispatch

static void initialise(void) {
    for (uint32_t value = 0; value < 256; value++) {
        uint32_t crc = value;
        for (int bit = 0; bit < 8; bit++) crc = (crc & 1u) ? (crc >> 1) ^ CRC32C_POLY : crc >> 1;
        slice_table[0][value] = crc;
    }
    for (uint32_t value = 0; value < 256; value++) {
        uint32_t crc = slice_table[0][value];
        for (int k = 1; k < 8; k++) {
            crc = slice_table[0][crc & 0xffu] ^ (crc >> 8);
            slice_table[k][value] = crc;
        }
    }
    build_shift(&shift_long, LONG_BLOCK);
    build_shift(&shift_short, SHORT_BLOCK);

    selected_raw = portable_raw;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) {
        hardware_present = 1;
        selected_raw = sse42_raw;
        selected_name = "sse4.2";
    }
#elif defined(__aarch64__)
#if defined(__APPLE__)
    hardware_present = 1;  // every Apple arm64 CPU has the CRC extension
#elif defined(__linux__)
    hardware_present = (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#endif
    if (hardware_present) {
        selected_raw = armv8_raw;
        selected_name = "armv8-crc";
    }
#endif
}

static pthread_once_t once = PTHREAD_ONCE_INIT;

// pthread_once's fast path is one acquire load, and it makes the tables visible to every thread.
static inline void ensure_initialised(void) { pthread_once(&once, initialise); }

__attribute__((constructor)) static void initialise_at_load(void) { pthread_once(&once, initialise); }

uint32_t gradalert_crc32c(uint32_t crc, const void *data, size_t length) {
    ensure_initialised();
    return ~selected_raw(~crc, (const unsigned char *)data, length);
}

uint32_t gradalert_crc32c_portable(uint32_t crc, const void *data, size_t length) {
    ensure_initialised();
    return ~portable_raw(~crc, (const unsigned char *)data, length);
}

uint32_t gradalert_crc32c_hardware(uint32_t crc, const void *data, size_t length) {
    ensure_initialised();
    if (!hardware_present) return 0;
#if defined(__x86_64__)
    return ~sse42_raw(~crc, (const unsigned char *)data, length);
#elif defined(__aarch64__)
    return ~armv8_raw(~crc, (const unsigned char *)data, length);
#else
    (void)crc;
    (void)data;
    (void)length;
    return 0;
#endif
}

int gradalert_crc32c_has_hardware(void) {
    ensure_initialised();
    return hardware_present;
}

const char *gradalert_crc32c_implementation(void) {
    ensure_initialised();
    return selected_name;
}
