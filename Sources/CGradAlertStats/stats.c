// One-pass statistics of float gradient buffers: moments (Σg², Σg in double, min, max, zeros,
// NaN/±Inf counts) in a vector loop, TensorFlow histogram buckets in a scalar loop, block by block
// so each block is read from memory once. C because Swift cannot compile one function for AVX2
// and choose it at run time, and its generic SIMD types did not compile to vector code here.

#include "CGradAlertStats.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#define BLOCK 512
#define COPIES GRADALERT_STATS_COUNT_COPIES
#define STRIDE GRADALERT_STATS_COUNT_STRIDE
#define SHIFT GRADALERT_STATS_TABLE_SHIFT  // a value's slice is its bits >> SHIFT
#define BASE_BITS (32 - SHIFT)             // an entry's base bucket sits in its low BASE_BITS bits

typedef float v8f __attribute__((ext_vector_type(8)));
typedef int32_t v8i __attribute__((ext_vector_type(8)));
typedef uint32_t v8u __attribute__((ext_vector_type(8)));
typedef double v4d __attribute__((ext_vector_type(4)));

typedef struct {
    v4d squares_lo, squares_hi, sums_lo, sums_hi;
    v8f low, high;
    v8i zeros;
} block_moments;

// The vector loop over one block of whole 8-element groups; returns nonzero if any element was
// NaN or ±Inf (the caller then redoes the block one element at a time).
#define MOMENTS_BODY                                                                 \
    v4d q0 = 0, q1 = 0, s0 = 0, s1 = 0;                                              \
    v8f low = INFINITY, high = -INFINITY;                                            \
    v8i zeros = 0;                                                                   \
    v8u bad = 0;                                                                     \
    for (size_t i = 0; i < n; i += 8) {                                              \
        v8f v;                                                                       \
        memcpy(&v, p + i, sizeof v);                                                 \
        v8u bits = (v8u)v;                                                           \
        bad |= (v8u)((bits & 0x7F800000u) == 0x7F800000u);                          \
        low = __builtin_elementwise_min(low, v);                                     \
        high = __builtin_elementwise_max(high, v);                                   \
        zeros -= (v8i)(v == 0.0f);                                                   \
        v4d a = __builtin_convertvector(v.lo, v4d);                                  \
        v4d b = __builtin_convertvector(v.hi, v4d);                                  \
        q0 += a * a;                                                                 \
        q1 += b * b;                                                                 \
        s0 += a;                                                                     \
        s1 += b;                                                                     \
    }                                                                                \
    out->squares_lo = q0;                                                            \
    out->squares_hi = q1;                                                            \
    out->sums_lo = s0;                                                               \
    out->sums_hi = s1;                                                               \
    out->low = low;                                                                  \
    out->high = high;                                                                \
    out->zeros = zeros;                                                              \
    return __builtin_reduce_or(bad) != 0;

__attribute__((target("avx2"))) static int moments_avx2(const float *p, size_t n, block_moments *out) {
    MOMENTS_BODY
}

static int moments_generic(const float *p, size_t n, block_moments *out) { MOMENTS_BODY }

typedef int (*moments_fn)(const float *, size_t, block_moments *);
static moments_fn moments = moments_generic;
static const char *moments_name = "generic";
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void choose(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) {
        moments = moments_avx2;
        moments_name = "avx2";
    }
#endif
}

const char *gradalert_float_stats_implementation(void) {
    pthread_once(&once, choose);
    return moments_name;
}

void gradalert_float_stats_init(gradalert_float_stats *stats) {
    memset(stats, 0, sizeof *stats);
    stats->min = INFINITY;
    stats->max = -INFINITY;
}

static inline uint32_t float_bits(float value) {
    uint32_t bits;
    memcpy(&bits, &value, sizeof bits);
    return bits;
}

// The bucket of a finite value in one load and a few integer instructions (the header describes the
// table): the value's position in its slice is the low SHIFT bits of its bits, flipped when it is
// negative so that the position grows with the value; moved to the top of a word (the key), it
// passes the entry, whose top bits hold the threshold's position minus one, exactly when the value
// is at or above the threshold, and the compare's carry adds that one to the base bucket below.
static inline uint32_t bucket_of_bits(uint32_t bits, const uint32_t *table) {
    uint32_t entry = table[bits >> SHIFT];
    uint32_t key = (bits ^ (uint32_t)((int32_t)bits >> 31)) << BASE_BITS;
    return (entry & ((1u << BASE_BITS) - 1)) + (entry < key);
}

static inline uint32_t bucket_of(float value, const uint32_t *table) { return bucket_of_bits(float_bits(value), table); }

// The buckets of a block's whole groups of 8: element k of a group into copy k. Consecutive
// elements never share a counter, so a run of one value (a block of zeros: a dead unit's gradient)
// makes 8 chains of increments through memory, each taking its turn every 8th element, not one
// chain that waits at every element for the store before it. (Zen 4 forwards that store almost for
// free: one copy counts all-zero data at ~4 cycles an element there. Zen 2's memory renaming, by
// Agner Fog's measurements, recognises an address by its registers, and this loop computes a new
// address for every element; Zen 1 has none.)
// The copies are STRIDE apart, a compile-time constant, so a copy is the instruction's displacement:
// no pointer per copy to keep in a register (8 of them did not fit: 6 were reloaded from the stack
// for every 8 elements, loads on the ports the loop needs most).
static inline void count_block(const uint32_t *bits, size_t n, const uint32_t *table, int32_t *counts) {
    for (size_t i = 0; i < n; i += COPIES) {
        for (int copy = 0; copy < COPIES; copy++) {
            uint64_t bucket = bucket_of_bits(bits[i + copy], table);
            // An empty asm that hides the bucket's range (it is below 2^13): knowing it, clang
            // shifts the bucket with an extra instruction instead of scaling it in the address.
            __asm__("" : "+r"(bucket));
            counts[(size_t)copy * STRIDE + bucket]++;
        }
    }
}

// Element by element, for blocks holding a NaN or an infinity and for the last few elements.
static void careful(const float *p, size_t n, const uint32_t *table, int32_t *counts, gradalert_float_stats *stats) {
    for (size_t i = 0; i < n; i++) {
        float value = p[i];
        if (isnan(value)) {
            stats->nan++;
        } else if (isinf(value)) {
            if (value > 0) stats->positive_infinity++; else stats->negative_infinity++;
        } else {
            double d = value;
            stats->sum_squares += d * d;
            stats->sum += d;
            if (value == 0.0f) stats->zeros++;
            if (value < stats->min) stats->min = value;
            if (value > stats->max) stats->max = value;
            if (counts) counts[bucket_of(value, table)]++;
        }
    }
}

void gradalert_float_stats_accumulate(const float *values, size_t count, const uint32_t *table,
                                      int32_t *counts, gradalert_float_stats *stats) {
    pthread_once(&once, choose);
    size_t start = 0;
    while (start < count) {
        size_t n = count - start < BLOCK ? count - start : BLOCK;
        size_t whole = n & ~(size_t)7;
        const float *p = values + start;
        block_moments m;
        if (whole > 0 && !moments(p, whole, &m)) {
            v4d q = m.squares_lo + m.squares_hi;
            v4d s = m.sums_lo + m.sums_hi;
            stats->sum_squares += (q[0] + q[1]) + (q[2] + q[3]);
            stats->sum += (s[0] + s[1]) + (s[2] + s[3]);
            float low = __builtin_reduce_min(m.low), high = __builtin_reduce_max(m.high);
            if (low < stats->min) stats->min = low;
            if (high > stats->max) stats->max = high;
            stats->zeros += (uint64_t)__builtin_reduce_add(m.zeros);
            if (counts) {
                // The next block, from memory into L1 while this one is counted: the moments loop
                // would otherwise wait for it after the buckets, and the two costs would add up
                // instead of overlapping (at 1e7 elements the data come from DRAM).
                size_t ahead = count - start - n < BLOCK ? count - start - n : BLOCK;
                for (size_t byte = 0; byte < ahead * sizeof(float); byte += 64) __builtin_prefetch((const char *)(p + n) + byte);
                count_block((const uint32_t *)(const void *)p, whole, table, counts);
            }
            careful(p + whole, n - whole, table, counts, stats);
        } else {
            careful(p, n, table, counts, stats);
        }
        start += n;
    }
}
