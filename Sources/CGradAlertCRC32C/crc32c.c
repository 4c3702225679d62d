// CRC-32C (Castagnoli). Three implementations of one function:
//
//  - portable: slicing-by-8 tables, any CPU;
//  - x86-64:   the SSE4.2 `crc32` instruction;
//  - arm64:    the ARMv8 `crc32c` instructions;
//  - x86-64 with AVX2 and VPCLMULQDQ: the `crc32` instruction and carry-less multiplication
//    folding, side by side in one loop (below).
//
// One `crc32` instruction has a latency of about three cycles but can start every cycle, so a
// single dependent chain leaves two thirds of the unit idle. The hardware paths therefore run three
// independent chains over three adjacent blocks and join them: the CRC register is linear over
// GF(2), so the register after "A then B" is shift(register after A, |B| zero bytes) XOR (register
// after B started from 0). The shift by a fixed number of zero bytes is itself a linear map on 32
// bits, kept as four 256-entry tables.

#include "CGradAlertCRC32C.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
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
#if defined(__x86_64__)
static zero_shift shift_fold_long;   // N = FOLD_LONG_TAIL
static zero_shift shift_fold_short;  // N = FOLD_SHORT_TAIL
#endif

typedef uint32_t (*raw_crc_fn)(uint32_t, const unsigned char *, size_t);
static raw_crc_fn selected_raw;
static const char *selected_name = "portable";
static int hardware_present;
static int folding_present;

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
#define SSE42_INLINE __attribute__((target("sse4.2"), always_inline)) static inline

// The 3 × 8 KiB and 3 × 256-byte interleaved tiers; leaves fewer than 768 bytes.
SSE42_INLINE uint64_t sse42_blocks(uint64_t crc, const unsigned char **pp, size_t *nn) {
    const unsigned char *p = *pp;
    size_t n = *nn;
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
    *pp = p;
    *nn = n;
    return crc;
}

// One chain to the end: 8 bytes at a time (unaligned loads cost nothing here), then 4, 2, 1.
SSE42_INLINE uint32_t sse42_finish(uint64_t crc, const unsigned char *p, size_t n) {
    while (n >= 8) {
        crc = _mm_crc32_u64(crc, load64(p));
        p += 8;
        n -= 8;
    }
    uint32_t c = (uint32_t)crc;
    if (n & 4) {
        uint32_t word;
        memcpy(&word, p, 4);
        c = _mm_crc32_u32(c, word);
        p += 4;
    }
    if (n & 2) {
        uint16_t half;
        memcpy(&half, p, 2);
        c = _mm_crc32_u16(c, half);
        p += 2;
    }
    if (n & 1) c = _mm_crc32_u8(c, *p);
    return c;
}

__attribute__((target("sse4.2"))) static uint32_t sse42_raw(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = sse42_blocks(crc, &p, &n);
    return sse42_finish(c, p, n);
}

// Records are mostly shorter than the 768 bytes the tiers above need, and one chain of them
// costs three cycles per 8 bytes. With carry-less multiplication, three chains of any length B
// join cheaply: shifting a register C by B zero bytes is C·x^(8B) mod P, which is one PCLMULQDQ
// by x^(8B-33) mod P (the product comes out one bit off and crc32 of a 64-bit word multiplies by
// x^32 more) and one `crc32` of the product. One constant per B = 8, 16, ..., 248 bytes.
static uint32_t chain_shift[32];
#define MEDIUM_MINIMUM 64u  // below this, one chain is as fast

// The register `crc` shifted by the zero bytes that `k` stands for (a chain_shift-style constant).
__attribute__((target("sse4.2,pclmul"), always_inline)) static inline uint32_t clmul_shift(uint32_t crc, uint32_t k) {
    __m128i product = _mm_clmulepi64_si128(_mm_cvtsi32_si128((int)crc), _mm_cvtsi32_si128((int)k), 0x00);
    return (uint32_t)_mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(product));
}

__attribute__((target("sse4.2,pclmul"))) static uint32_t clmul_raw(uint32_t crc, const unsigned char *p, size_t n) {
    uint64_t c = sse42_blocks(crc, &p, &n);
    if (n >= MEDIUM_MINIMUM) {
        size_t words = n / 24, chain = words * 8;
        uint64_t c1 = 0, c2 = 0;
        for (size_t i = 0; i < chain; i += 8) {
            c = _mm_crc32_u64(c, load64(p + i));
            c1 = _mm_crc32_u64(c1, load64(p + chain + i));
            c2 = _mm_crc32_u64(c2, load64(p + 2 * chain + i));
        }
        c = clmul_shift((uint32_t)c, chain_shift[words]) ^ (uint32_t)c1;
        c = clmul_shift((uint32_t)c, chain_shift[words]) ^ (uint32_t)c2;
        p += 3 * chain;
        n -= 3 * chain;
    }
    return sse42_finish(c, p, n);
}
#endif

// MARK: - x86-64: crc32 and carry-less folding together

// The `crc32` instruction retires 8 bytes a cycle at best, and so does carry-less multiplication
// folding on the CPUs measured (Zen 3: one 256-bit VPCLMULQDQ every two cycles, two per 64 bytes
// folded). They use different execution units, so one loop does both: each block is a head of
// FOLD_*_HEAD bytes folded by VPCLMULQDQ, then four tails of FOLD_*_TAIL bytes, each through its
// own crc32 chain; the five results are joined with the zero-shift tables like the chains above.
//
// Folding, in the reflected bit order CRC-32C uses (a register's bit i is the coefficient of
// x^(127-i) of its 128-bit lane; the low 64 bits are the earlier 8 bytes, so the higher degrees):
// a lane X = H·x^64 + L that must move D bits further down the message is replaced by
// H·(x^(D+64) mod P) + L·(x^D mod P), which is congruent modulo P and at most 96 bits long. A
// carry-less product of two bit-reversed 64-bit operands comes out reversed over 127 bits, one
// position off the 128-bit lane, so the constants are x^(D+63) and x^(D-1) mod P, bit-reversed
// into the high half of a 64-bit word. They are computed at start-up (`fold_constant`).

#define FOLD_LONG_HEAD 65536u
#define FOLD_LONG_TAIL 16384u
#define FOLD_SHORT_HEAD 4096u
#define FOLD_SHORT_TAIL 1024u
// Histogram records are 1-8 KiB: 2 KiB blocks fold them too (measured on 2,200-byte records,
// 20.9 against 24.8 GB/s). The tail is SHORT_BLOCK bytes, so `shift_short` joins the chains.
#define FOLD_TINY_HEAD 1024u
#define FOLD_TINY_TAIL 256u
_Static_assert(FOLD_TINY_TAIL == SHORT_BLOCK, "the tiny tier joins its chains with shift_short");

#if defined(__x86_64__)
static uint64_t fold_1024[2];  // fold a 128-bit lane forward by 1,024 bits (eight lanes)
static uint64_t fold_128[2];   // ... by 128 bits (the next lane)
static uint64_t fold_256[2];   // ... by 256 bits (two lanes)
static uint64_t fold_512[2];   // ... by 512 bits (four lanes)
// A register shifted by 1, 2, 3 and 4 tiny tails (256 to 1,024 zero bytes), for `clmul_shift`.
static uint32_t tiny_shift[4];

// x^n mod P, P = x^32 + 0x1EDC6F41, as a degree < 32 polynomial in the usual (unreflected) order.
static uint32_t power_mod(unsigned n) {
    uint64_t r = 1;
    for (unsigned i = 0; i < n; i++) {
        r <<= 1;
        if (r & 0x100000000ull) r ^= 0x11EDC6F41ull;
    }
    return (uint32_t)r;
}

static uint64_t fold_constant(unsigned n) {
    uint32_t value = power_mod(n), reversed = 0;
    for (int bit = 0; bit < 32; bit++) {
        if (value & (1u << bit)) reversed |= 1u << (31 - bit);
    }
    return (uint64_t)reversed << 32;
}

#define FOLD_TARGET __attribute__((target("avx2,vpclmulqdq,pclmul,sse4.2")))

// Each 128-bit lane of `x` moved forward by the distance the constants in `k` were made for.
FOLD_TARGET static inline __m256i fold_pair(__m256i x, __m256i k) {
    return _mm256_xor_si256(_mm256_clmulepi64_epi128(x, k, 0x00), _mm256_clmulepi64_epi128(x, k, 0x11));
}

// A pair of fold constants (from fold_constant) for both lanes of a register.
FOLD_TARGET static inline __m256i both_lanes(const uint64_t constant[2]) {
    return _mm256_set_epi64x((long long)constant[1], (long long)constant[0], (long long)constant[1], (long long)constant[0]);
}

FOLD_TARGET static inline __m256i fold_lanes(__m256i x, __m256i k, const unsigned char *next) {
    return _mm256_xor_si256(fold_pair(x, k), _mm256_loadu_si256((const __m256i *)(const void *)next));
}

// One block: `head` bytes folded, then four `tail`-byte crc32 chains, in one loop of `head`/128
// steps (each step folds 128 bytes and feeds 32 bytes to each chain). Returns the register after
// the block, continuing from `crc`.
FOLD_TARGET static inline uint32_t fold_block(uint32_t crc, const unsigned char *p, size_t head, size_t tail,
                                              const zero_shift *shift) {
    const __m256i k = both_lanes(fold_1024);
    const unsigned char *c = p, *d = p + head;
    // The register's value enters as an XOR into the first four bytes of the block.
    __m256i x0 = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)c),
                                  _mm256_zextsi128_si256(_mm_cvtsi32_si128((int)crc)));
    __m256i x1 = _mm256_loadu_si256((const __m256i *)(const void *)(c + 32));
    __m256i x2 = _mm256_loadu_si256((const __m256i *)(const void *)(c + 64));
    __m256i x3 = _mm256_loadu_si256((const __m256i *)(const void *)(c + 96));
    uint64_t d0 = 0, d1 = 0, d2 = 0, d3 = 0;
    for (size_t step = 0;; step++) {
        for (size_t o = 0; o < 32; o += 8) {
            d0 = _mm_crc32_u64(d0, load64(d + o));
            d1 = _mm_crc32_u64(d1, load64(d + tail + o));
            d2 = _mm_crc32_u64(d2, load64(d + 2 * tail + o));
            d3 = _mm_crc32_u64(d3, load64(d + 3 * tail + o));
        }
        d += 32;
        if (step + 1 == head / 128) break;
        c += 128;
        x0 = fold_lanes(x0, k, c);
        x1 = fold_lanes(x1, k, c + 32);
        x2 = fold_lanes(x2, k, c + 64);
        x3 = fold_lanes(x3, k, c + 96);
    }
    // Eight 128-bit lanes, in message order, folded into one; its 16 bytes then go through crc32
    // from a zero register (the incoming register is already inside the first lane). As a tree,
    // three folds deep (by 512 bits, 256, then 128), not a chain of seven: a 2 KiB block is short
    // enough for that wait to show (2,200-byte records: 23.2 against 26.8 GB/s, with the shifts
    // below).
    __m256i y0 = _mm256_xor_si256(fold_pair(x0, both_lanes(fold_512)), x2);
    __m256i y1 = _mm256_xor_si256(fold_pair(x1, both_lanes(fold_512)), x3);
    __m256i z = _mm256_xor_si256(fold_pair(y0, both_lanes(fold_256)), y1);
    const __m128i k2 = _mm_set_epi64x((long long)fold_128[1], (long long)fold_128[0]);
    __m128i low = _mm256_castsi256_si128(z);
    __m128i y = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(low, k2, 0x00), _mm_clmulepi64_si128(low, k2, 0x11)),
                              _mm256_extracti128_si256(z, 1));
    uint64_t r = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(y));
    r = _mm_crc32_u64(r, (uint64_t)_mm_extract_epi64(y, 1));
    if (tail == FOLD_TINY_TAIL) {
        // The five registers joined by four independent shifts (by 4, 3, 2 and 1 tails), not by
        // four in a row through the tables.
        return clmul_shift((uint32_t)r, tiny_shift[3]) ^ clmul_shift((uint32_t)d0, tiny_shift[2]) ^
               clmul_shift((uint32_t)d1, tiny_shift[1]) ^ clmul_shift((uint32_t)d2, tiny_shift[0]) ^ (uint32_t)d3;
    }
    uint32_t joined = (uint32_t)r;
    joined = apply_shift(shift, joined) ^ (uint32_t)d0;
    joined = apply_shift(shift, joined) ^ (uint32_t)d1;
    joined = apply_shift(shift, joined) ^ (uint32_t)d2;
    joined = apply_shift(shift, joined) ^ (uint32_t)d3;
    return joined;
}

FOLD_TARGET static uint32_t folding_raw(uint32_t crc, const unsigned char *p, size_t n) {
    while (n >= FOLD_LONG_HEAD + 4 * FOLD_LONG_TAIL) {
        crc = fold_block(crc, p, FOLD_LONG_HEAD, FOLD_LONG_TAIL, &shift_fold_long);
        p += FOLD_LONG_HEAD + 4 * FOLD_LONG_TAIL;
        n -= FOLD_LONG_HEAD + 4 * FOLD_LONG_TAIL;
    }
    while (n >= FOLD_SHORT_HEAD + 4 * FOLD_SHORT_TAIL) {
        crc = fold_block(crc, p, FOLD_SHORT_HEAD, FOLD_SHORT_TAIL, &shift_fold_short);
        p += FOLD_SHORT_HEAD + 4 * FOLD_SHORT_TAIL;
        n -= FOLD_SHORT_HEAD + 4 * FOLD_SHORT_TAIL;
    }
    while (n >= FOLD_TINY_HEAD + 4 * FOLD_TINY_TAIL) {
        crc = fold_block(crc, p, FOLD_TINY_HEAD, FOLD_TINY_TAIL, &shift_short);
        p += FOLD_TINY_HEAD + 4 * FOLD_TINY_TAIL;
        n -= FOLD_TINY_HEAD + 4 * FOLD_TINY_TAIL;
    }
    return clmul_raw(crc, p, n);
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

// MARK: - Finding a record header

// After damage the reader looks for the next record at every offset: are the 12 bytes there a
// TFRecord header that verifies, an 8-byte length followed by its masked CRC-32C? Asked one offset
// at a time through a call per offset, that ran at 60 MB/s. Here one call scans a whole block.
//
// A candidate costs one CRC of one 8-byte word. Candidates do not depend on one another, so there
// is no chain to split: the loop is unrolled and the out-of-order core keeps several `crc32`s in
// flight. That instruction is then the limit (on the Zen 4 measured, one every 1.3-1.5 cycles:
// 2.3-2.7 GB/s of candidates). The stored CRC is turned back into the register it stands for,
// rather than each computed register masked:
//
//     rotr(~register, 15) + DELTA == stored  <=>  register == rotl(DELTA - 1 - stored, 15)
//
// where `register` is the CRC register after the 8 bytes, started from ~0, not yet inverted.
//
// One pre-filter, exact: the reader never stops at a length over `max_length`. When that is below
// 2^32, a header it could stop at has zeros in bytes 4-7 (the length's high half). Each four
// consecutive candidates j..j+3 (j a multiple of 4 from the group's start) have one of those bytes
// in common, byte j+7, so when bytes 7, 11, 15, ... of a group are all non-zero, no candidate in it
// can qualify and none is checked. In random bytes that passes over 97% of the groups of 32
// ((255/256)^8), and the search runs at memory speed; zeros pass over none, and every candidate
// costs its CRC.

#define MASK_DELTA 0xa282ead8u
#define HEADER_GROUP 32u  // candidates per pre-filter test
#define HEADER_BYTES 12u

static inline uint32_t load32(const unsigned char *p) {
    uint32_t value;
    memcpy(&value, p, sizeof value);
    return value;
}

// The CRC register that a header storing `stored` claims for its 8 length bytes (see above).
static inline uint32_t claimed_register(uint32_t stored) {
    uint32_t r = MASK_DELTA - 1u - stored;
    return (r << 15) | (r >> 17);
}

// 1 when no candidate at p[0], ..., p[HEADER_GROUP - 1] has zeros in all of its bytes 4-7. The
// bytes that decide it, p[7], p[11], ..., p[HEADER_GROUP + 3], are bytes 3 and 7 of the words
// loaded from p + 4, p + 12, ...; the others are set to 0xff, and the classic test for a zero byte
// (exact as a yes/no answer) runs over the rest.
static inline int no_short_length_in_group(const unsigned char *p) {
    const uint64_t others = 0x00ffffff00ffffffull, ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t zero_found = 0;
    for (unsigned k = 0; k < HEADER_GROUP / 8; k++) {
        uint64_t word = load64(p + 4 + 8 * k) | others;
        zero_found |= (word - ones) & ~word;
    }
    return (zero_found & highs) == 0;
}

// The search loop, the same for every path: groups of HEADER_GROUP candidates first (the
// pre-filter reads at most 4 bytes past a group, well inside the bytes its last candidate needs),
// then the rest one by one. For a group at q, `SET_UP_GROUP(q)` runs first, then
// `GROUP_MATCHES(q, j)` says whether candidate q + j holds a length whose CRC verifies;
// `REGISTER_AT(q)` is the CRC register after the 8 bytes at q, started from ~0.
#define SEARCH_HEADERS(SET_UP_GROUP, GROUP_MATCHES, REGISTER_AT)                                 \
    do {                                                                                         \
        if (count < HEADER_BYTES) return count;                                                  \
        const size_t candidates = count - (HEADER_BYTES - 1);                                    \
        const int filter = max_length < (1ull << 32);                                            \
        size_t i = 0;                                                                            \
        for (; candidates - i >= HEADER_GROUP; i += HEADER_GROUP) {                              \
            const unsigned char *q = p + i;                                                      \
            if (filter && no_short_length_in_group(q)) continue;                                 \
            SET_UP_GROUP(q);                                                                     \
            _Pragma("GCC unroll 8") for (size_t j = 0; j < HEADER_GROUP; j++) {                  \
                if (__builtin_expect(GROUP_MATCHES(q, j), 0)) {                                  \
                    if (load64(q + j) <= max_length) return i + j;                               \
                }                                                                                \
            }                                                                                    \
        }                                                                                        \
        for (; i < candidates; i++) {                                                            \
            if (REGISTER_AT(p + i) == claimed_register(load32(p + i + 8)) && load64(p + i) <= max_length) return i; \
        }                                                                                        \
        return count;                                                                            \
    } while (0)

#define NO_SET_UP(q) ((void)(q))

// Slicing-by-8 over one word: eight table look-ups.
static inline uint32_t portable_header_register(const unsigned char *q) {
    uint64_t w = load64(q) ^ 0xffffffffu;
    return slice_table[7][w & 0xffu] ^ slice_table[6][(w >> 8) & 0xffu] ^ slice_table[5][(w >> 16) & 0xffu] ^
           slice_table[4][(w >> 24) & 0xffu] ^ slice_table[3][(w >> 32) & 0xffu] ^ slice_table[2][(w >> 40) & 0xffu] ^
           slice_table[1][(w >> 48) & 0xffu] ^ slice_table[0][w >> 56];
}

#define PORTABLE_MATCHES(q, j) (portable_header_register((q) + (j)) == claimed_register(load32((q) + (j) + 8)))

static size_t portable_find(const unsigned char *p, size_t count, uint64_t max_length) {
    SEARCH_HEADERS(NO_SET_UP, PORTABLE_MATCHES, portable_header_register);
}

#if defined(__x86_64__)
// x86's `crc32` overwrites its register, so each candidate needs a fresh starting value: a copy
// of ~0 costs an instruction (clang makes it a move of a constant), a zeroed register none. The
// register is linear in the start and the data together, so starting from 0 leaves out exactly
// the register that ~0 followed by 8 zero bytes gives, which the claimed side then leaves out too.
#define ONES_THROUGH_EIGHT_ZEROS 0x73d74d75u

__attribute__((target("sse4.2"), always_inline)) static inline uint32_t sse42_header_register(const unsigned char *q) {
    return (uint32_t)_mm_crc32_u64(0xffffffffu, load64(q));
}

// The claimed registers of the group at q (less ONES_THROUGH_EIGHT_ZEROS), four at a time:
// computed one by one they cost three instructions more per candidate than the `crc32` does and
// slowed the loop by a fifth (clang). Each 16 bytes loaded from q + 3 + 8k hold the stored CRCs
// of candidates 8k ... 8k + 7 (bytes 8k + 8 ... 8k + 18 of the group) at offsets 5 ... 15.
__attribute__((target("sse4.2"), always_inline)) static inline void sse42_claimed_registers(const unsigned char *q, uint32_t *claimed) {
    const __m128i first = _mm_setr_epi8(5, 6, 7, 8, 6, 7, 8, 9, 7, 8, 9, 10, 8, 9, 10, 11);
    const __m128i second = _mm_setr_epi8(9, 10, 11, 12, 10, 11, 12, 13, 11, 12, 13, 14, 12, 13, 14, 15);
    const __m128i delta = _mm_set1_epi32((int)(MASK_DELTA - 1u)), start = _mm_set1_epi32((int)ONES_THROUGH_EIGHT_ZEROS);
    for (unsigned k = 0; k < HEADER_GROUP / 8; k++) {
        __m128i stored = _mm_loadu_si128((const __m128i *)(const void *)(q + 3 + 8 * k));
        __m128i a = _mm_sub_epi32(delta, _mm_shuffle_epi8(stored, first));
        __m128i b = _mm_sub_epi32(delta, _mm_shuffle_epi8(stored, second));
        a = _mm_xor_si128(start, _mm_or_si128(_mm_slli_epi32(a, 15), _mm_srli_epi32(a, 17)));
        b = _mm_xor_si128(start, _mm_or_si128(_mm_slli_epi32(b, 15), _mm_srli_epi32(b, 17)));
        _mm_storeu_si128((__m128i *)(void *)(claimed + 8 * k), a);
        _mm_storeu_si128((__m128i *)(void *)(claimed + 8 * k + 4), b);
    }
}

#define SSE42_SET_UP(q) sse42_claimed_registers((q), claimed)
#define SSE42_MATCHES(q, j) ((uint32_t)_mm_crc32_u64(0, load64((q) + (j))) == claimed[j])

__attribute__((target("sse4.2"))) static size_t sse42_find(const unsigned char *p, size_t count, uint64_t max_length) {
    uint32_t claimed[HEADER_GROUP];
    SEARCH_HEADERS(SSE42_SET_UP, SSE42_MATCHES, sse42_header_register);
}
#endif

#if defined(__aarch64__)
// `crc32cx` writes a register of its own, so ~0 stays in one and each candidate is one instruction.
__attribute__((target("crc"), always_inline)) static inline uint32_t armv8_header_register(const unsigned char *q) {
    return __crc32cd(0xffffffffu, load64(q));
}

#define ARMV8_MATCHES(q, j) (armv8_header_register((q) + (j)) == claimed_register(load32((q) + (j) + 8)))

__attribute__((target("crc"))) static size_t armv8_find(const unsigned char *p, size_t count, uint64_t max_length) {
    SEARCH_HEADERS(NO_SET_UP, ARMV8_MATCHES, armv8_header_register);
}
#endif

typedef size_t (*find_fn)(const unsigned char *, size_t, uint64_t);
static find_fn selected_find = portable_find;

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
    selected_find = portable_find;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("sse4.2")) {
        hardware_present = 1;
        selected_raw = sse42_raw;
        selected_find = sse42_find;
        selected_name = "sse4.2";
        if (__builtin_cpu_supports("pclmul")) {
            for (unsigned words = 1; words < 32; words++) chain_shift[words] = (uint32_t)(fold_constant(64 * words - 33) >> 32);
            selected_raw = clmul_raw;
            selected_name = "sse4.2+pclmul";
        }
        if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul") &&
            __builtin_cpu_supports("vpclmulqdq")) {
            fold_1024[0] = fold_constant(1024 + 63);
            fold_1024[1] = fold_constant(1024 - 1);
            fold_128[0] = fold_constant(128 + 63);
            fold_128[1] = fold_constant(128 - 1);
            fold_256[0] = fold_constant(256 + 63);
            fold_256[1] = fold_constant(256 - 1);
            fold_512[0] = fold_constant(512 + 63);
            fold_512[1] = fold_constant(512 - 1);
            for (unsigned k = 0; k < 4; k++) tiny_shift[k] = (uint32_t)(fold_constant(8 * FOLD_TINY_TAIL * (k + 1) - 33) >> 32);
            build_shift(&shift_fold_long, FOLD_LONG_TAIL);
            build_shift(&shift_fold_short, FOLD_SHORT_TAIL);
            folding_present = 1;
            selected_raw = folding_raw;
            selected_name = "sse4.2+vpclmulqdq";
        }
    }
#elif defined(__aarch64__)
#if defined(__APPLE__)
    hardware_present = 1;  // every Apple arm64 CPU has the CRC extension
#elif defined(__linux__)
    hardware_present = (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#endif
    if (hardware_present) {
        selected_raw = armv8_raw;
        selected_find = armv8_find;
        selected_name = "armv8-crc";
    }
#endif
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int initialised;

static void initialise_once(void) {
    initialise();
    atomic_store_explicit(&initialised, 1, memory_order_release);
}

// One acquire load, inline, once the tables are built (a record costs two calls, and the call to
// pthread_once was a measurable part of the smallest). pthread_once makes the first calls, from
// any thread, wait for the tables and see them whole.
static inline void ensure_initialised(void) {
    if (__builtin_expect(!atomic_load_explicit(&initialised, memory_order_acquire), 0)) pthread_once(&once, initialise_once);
}

__attribute__((constructor)) static void initialise_at_load(void) { pthread_once(&once, initialise_once); }

#if defined(__x86_64__)
// Every record's length field is 8 bytes: a direct call to one crc32 instruction, without the
// dispatch by length behind a function pointer.
__attribute__((target("sse4.2"))) static uint32_t sse42_word(uint32_t crc, const unsigned char *p) {
    return (uint32_t)_mm_crc32_u64(crc, load64(p));
}
#endif

uint32_t gradalert_crc32c(uint32_t crc, const void *data, size_t length) {
    ensure_initialised();
#if defined(__x86_64__)
    if (length == 8 && hardware_present) return ~sse42_word(~crc, (const unsigned char *)data);
#endif
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

uint32_t gradalert_crc32c_folding(uint32_t crc, const void *data, size_t length) {
    ensure_initialised();
    if (!folding_present) return 0;
#if defined(__x86_64__)
    return ~folding_raw(~crc, (const unsigned char *)data, length);
#else
    (void)crc;
    (void)data;
    (void)length;
    return 0;
#endif
}

int gradalert_crc32c_has_folding(void) {
    ensure_initialised();
    return folding_present;
}

int gradalert_crc32c_has_hardware(void) {
    ensure_initialised();
    return hardware_present;
}

const char *gradalert_crc32c_implementation(void) {
    ensure_initialised();
    return selected_name;
}

size_t gradalert_find_record_header(const void *data, size_t count, uint64_t max_length) {
    ensure_initialised();
    return selected_find((const unsigned char *)data, count, max_length);
}

size_t gradalert_find_record_header_portable(const void *data, size_t count, uint64_t max_length) {
    ensure_initialised();
    return portable_find((const unsigned char *)data, count, max_length);
}

size_t gradalert_find_record_header_hardware(const void *data, size_t count, uint64_t max_length) {
    ensure_initialised();
#if defined(__x86_64__)
    if (hardware_present) return sse42_find((const unsigned char *)data, count, max_length);
#elif defined(__aarch64__)
    if (hardware_present) return armv8_find((const unsigned char *)data, count, max_length);
#endif
    return portable_find((const unsigned char *)data, count, max_length);
}
