// Bucket-loop variants of the statistics kernel, measured side by side (issue 19). Each variant runs
// inside the same block driver as the kernel (AVX2 moments of 512 elements, then the buckets of the
// same block), is checked against upper_bound, and is timed in interleaved rounds.
//
//   stats-experiments time  [--sizes 1e5,1e6,1e7] [--rounds 9] [--data sigma1e-3|sigma1|loguniform] [--only a,b]
//   stats-experiments sweep [--data ...]      # the shipped loop with its counts moved across 4 KiB
//   stats-experiments trace [--data ...]      # the memory accesses of each loop, in program order:
//                                             # loads per element, store->load hits, 4K aliases
//   stats-experiments run VARIANT N DATA [REPEAT]  # one variant only (for valgrind --tool=cachegrind)
//   stats-experiments check-tables            # the 32-bit tables against upper_bound on all 2^32 floats
//
// Data: sigma1e-3, sigma1 (normal), loguniform (|x| log-uniform over 1e-12..1e20), halfzeros,
// zeros (every element in one bucket: the increments chain through one counter per copy).
//
// Built by build.sh next to stats-bench.
#include "common.h"

#define BLOCK 512

typedef float v8f __attribute__((ext_vector_type(8)));
typedef int32_t v8i __attribute__((ext_vector_type(8)));
typedef uint32_t v8u __attribute__((ext_vector_type(8)));
typedef double v4d __attribute__((ext_vector_type(4)));

// The kernel's moments loop, unchanged, so that each variant's figure is the kernel's figure.
typedef struct { double squares, sum; float low, high; int64_t zeros; } moments;
__attribute__((target("avx2"))) static int block_moments(const float *p, size_t n, moments *m) {
    v4d q0 = 0, q1 = 0, s0 = 0, s1 = 0;
    v8f low = INFINITY, high = -INFINITY;
    v8i zeros = 0;
    v8u bad = 0;
    for (size_t i = 0; i < n; i += 8) {
        v8f v;
        memcpy(&v, p + i, sizeof v);
        v8u bits = (v8u)v;
        bad |= (v8u)((bits & 0x7F800000u) == 0x7F800000u);
        low = __builtin_elementwise_min(low, v);
        high = __builtin_elementwise_max(high, v);
        zeros -= (v8i)(v == 0.0f);
        v4d a = __builtin_convertvector(v.lo, v4d), b = __builtin_convertvector(v.hi, v4d);
        q0 += a * a; q1 += b * b; s0 += a; s1 += b;
    }
    v4d q = q0 + q1, s = s0 + s1;
    m->squares += (q[0] + q[1]) + (q[2] + q[3]);
    m->sum += (s[0] + s[1]) + (s[2] + s[3]);
    float lo = __builtin_reduce_min(low), hi = __builtin_reduce_max(high);
    if (lo < m->low) m->low = lo;
    if (hi > m->high) m->high = hi;
    m->zeros += __builtin_reduce_add(zeros);
    return __builtin_reduce_or(bad) != 0;
}

// ---------------------------------------------------------------------------------------------
// Tables. "wide": the shipped 16,384 x 8-byte table. "compact": 4 bytes an entry, the base bucket in
// the low 11 bits and, above them, the threshold as the low SHIFT bits of its sortable form (a slice
// shares its high bits, so those order the values in it), 2^SHIFT when the slice holds no edge.
// The threshold is stored plus one bucket: entry = (threshold << 11) | (base + 1), and
//   key = (low SHIFT bits of sortable(value)) << 11 | 0x7FF;  bucket = (entry & 0x7FF) - (key < entry)
// since key >= entry exactly when the value's bits reach the threshold (base + 1 <= 0x7FF).

static uint64_t *wide_table;
static uint32_t *compact5, *compact4;  // 5 mantissa bits (16,384 entries, 64 KiB), 4 (8,192, 32 KiB)
static int buckets;

// The x-table (common.h; the kernel's since issue 19).
static uint32_t *xtable4;
static inline uint32_t xtable4_bucket(uint32_t bits, const uint32_t *t) {
    uint32_t e = t[bits >> 19];
    uint32_t key = (bits ^ (uint32_t)((int32_t)bits >> 31)) << 13;
    return (e & 0x1FFFu) + (e < key);
}

static uint32_t *build_compact(int mantissa_bits) {
    int shift = 23 - mantissa_bits, slices = 1 << (9 + mantissa_bits);
    uint32_t *t = aligned_alloc(64, (size_t)slices * 4);
    for (int key = 0; key < slices; key++) {
        int base;
        float threshold;
        if (slice_info((uint32_t)key, shift, &base, &threshold) != 0) { fprintf(stderr, "%d bits: slice with two edges\n", mantissa_bits); exit(1); }
        uint32_t low = 1u << shift;  // never reached
        if (!isinf(threshold)) {
            int32_t s = threshold == 0 ? sortable_bits(bits_of(-0.0f)) : sortable_bits(bits_of(threshold));
            low = (uint32_t)s & ((1u << shift) - 1);
        }
        t[key] = low << 11 | (uint32_t)(base + 1);
    }
    return t;
}

static inline uint32_t wide_bucket(uint32_t bits, const uint64_t *t) {
    uint64_t e = t[bits >> 18];
    return (uint32_t)e + (sortable_bits(bits) >= (int32_t)(uint32_t)(e >> 32));
}

#define COMPACT_BUCKET(name, shift)                                                      \
    static inline uint32_t name(uint32_t bits, const uint32_t *t) {                      \
        uint32_t e = t[bits >> (shift)];                                                 \
        uint32_t key = ((uint32_t)sortable_bits(bits) << (32 - (shift)) >> (21 - (shift))) | 0x7FFu; \
        return (e & 0x7FFu) - (key < e);                                                 \
    }
COMPACT_BUCKET(compact5_bucket, 18)
COMPACT_BUCKET(compact4_bucket, 19)

// ---------------------------------------------------------------------------------------------
// Bucket loops over the whole 8-element groups of one block. `counts` layouts:
//   copy-major: copy c of bucket b at c * stride + b (the shipped layout, stride = buckets);
//   bucket-major with L copies: at b * L + c, a bucket's copies side by side.
// Element i always goes to copy i % L, so consecutive elements never share a counter.

typedef struct {
    const char *name;
    void (*loop)(const uint32_t *bits, size_t n, int32_t *counts, size_t stride);
    int copies;        // L
    int bucket_major;  // layout
    const char *why;
    int prefetch;      // the next block is prefetched before this block's buckets
    size_t stride;     // copy-major: distance between copies (0: the bucket count)
} variant;

static void loop_shipped(const uint32_t *bits, size_t n, int32_t *counts, size_t stride) {
    int32_t *c[8];
    for (int lane = 0; lane < 8; lane++) c[lane] = counts + (size_t)lane * stride;
    for (size_t i = 0; i < n; i += 8)
        for (int lane = 0; lane < 8; lane++) c[lane][wide_bucket(bits[i + lane], wide_table)]++;
}

#define BUCKET_MAJOR(name, lanes, bucket, table)                                         \
    static void name(const uint32_t *bits, size_t n, int32_t *counts, size_t stride) {   \
        (void)stride;                                                                    \
        for (size_t i = 0; i < n; i += 8)                                                \
            for (int k = 0; k < 8; k++) counts[(size_t)bucket(bits[i + k], table) * (lanes) + (size_t)(k % (lanes))]++; \
    }
BUCKET_MAJOR(loop_bm8, 8, wide_bucket, wide_table)
BUCKET_MAJOR(loop_bm4, 4, wide_bucket, wide_table)
BUCKET_MAJOR(loop_bm2, 2, wide_bucket, wide_table)
BUCKET_MAJOR(loop_bm1, 1, wide_bucket, wide_table)
BUCKET_MAJOR(loop_c5_bm8, 8, compact5_bucket, compact5)
BUCKET_MAJOR(loop_c5_bm4, 4, compact5_bucket, compact5)
BUCKET_MAJOR(loop_c4_bm8, 8, compact4_bucket, compact4)
BUCKET_MAJOR(loop_c4_bm4, 4, compact4_bucket, compact4)

// Copy-major with 4 copies (fewer pointers than the shipped 8: no spills).
static void loop_copy4(const uint32_t *bits, size_t n, int32_t *counts, size_t stride) {
    int32_t *c0 = counts, *c1 = counts + stride, *c2 = counts + 2 * stride, *c3 = counts + 3 * stride;
    for (size_t i = 0; i < n; i += 4) {
        c0[wide_bucket(bits[i], wide_table)]++;
        c1[wide_bucket(bits[i + 1], wide_table)]++;
        c2[wide_bucket(bits[i + 2], wide_table)]++;
        c3[wide_bucket(bits[i + 3], wide_table)]++;
    }
}

// Two passes over the block: all its buckets into a small array (loads only, and sequential stores),
// then the increments, whose addresses come from one L1 load each.
#define TWO_PASS(name, lanes, bucket, table)                                             \
    static void name(const uint32_t *bits, size_t n, int32_t *counts, size_t stride) {   \
        (void)stride;                                                                    \
        uint16_t index[BLOCK];                                                           \
        for (size_t i = 0; i < n; i++) index[i] = (uint16_t)bucket(bits[i], table);      \
        for (size_t i = 0; i < n; i += 8)                                                \
            for (int k = 0; k < 8; k++) counts[(size_t)index[i + k] * (lanes) + (size_t)(k % (lanes))]++; \
    }
TWO_PASS(loop_2p_bm4, 4, wide_bucket, wide_table)
TWO_PASS(loop_2p_bm8, 8, wide_bucket, wide_table)
TWO_PASS(loop_2p_c5_bm4, 4, compact5_bucket, compact5)

BUCKET_MAJOR(loop_x4_bm1, 1, xtable4_bucket, xtable4)
BUCKET_MAJOR(loop_x4_bm4, 4, xtable4_bucket, xtable4)

// Copy-major with 4 copies whose pointers stay in registers: counter address = copy + bucket * 4.
#define COPY4(name, bucket, table)                                                       \
    static void name(const uint32_t *bits, size_t n, int32_t *counts, size_t stride) {   \
        int32_t *c0 = counts, *c1 = counts + stride, *c2 = counts + 2 * stride, *c3 = counts + 3 * stride; \
        for (size_t i = 0; i < n; i += 4) {                                              \
            c0[bucket(bits[i], table)]++;                                                \
            c1[bucket(bits[i + 1], table)]++;                                            \
            c2[bucket(bits[i + 2], table)]++;                                            \
            c3[bucket(bits[i + 3], table)]++;                                            \
        }                                                                                \
    }
COPY4(loop_x4_copy4, xtable4_bucket, xtable4)

// Copy-major with a stride fixed at compile time: copy k of a bucket is at counts + k * STRIDE +
// bucket, so the copy folds into the instruction's displacement (incl k*6208(%counts,%bucket,4)):
// no pointer per copy, no spills, no scaling instruction.
#define STRIDE 1552
#define FIXED_STRIDE(name, lanes, bucket, table)                                         \
    static void name(const uint32_t *bits, size_t n, int32_t *counts, size_t stride) {   \
        (void)stride;                                                                    \
        for (size_t i = 0; i < n; i += 8)                                                \
            for (int k = 0; k < 8; k++) {                                                \
                uint64_t b = bucket(bits[i + k], table);                                 \
                __asm__("" : "+r"(b)); /* hides b's range: else clang shifts b itself */ \
                counts[(size_t)(k % (lanes)) * STRIDE + b]++;                            \
            }                                                                            \
    }
#define STRIDE_PROBE(name, stride)                                                       \
    static void name(const uint32_t *bits, size_t n, int32_t *counts, size_t unused) {   \
        (void)unused;                                                                    \
        for (size_t i = 0; i < n; i += 8)                                                \
            for (int k = 0; k < 8; k++) {                                                \
                uint64_t b = wide_bucket(bits[i + k], wide_table);                       \
                __asm__("" : "+r"(b));                                                   \
                counts[(size_t)k * (stride) + b]++;                                      \
            }                                                                            \
    }
STRIDE_PROBE(loop_s1551, 1551)
STRIDE_PROBE(loop_s1556, 1556)
STRIDE_PROBE(loop_s1568, 1568)
STRIDE_PROBE(loop_s1600, 1600)
STRIDE_PROBE(loop_s1792, 1792)
STRIDE_PROBE(loop_s2048, 2048)
// The same without the asm barrier (clang then shifts the bucket itself and uses scale 1).
static void loop_xk8nb(const uint32_t *bits, size_t n, int32_t *counts, size_t stride) {
    (void)stride;
    for (size_t i = 0; i < n; i += 8)
        for (int k = 0; k < 8; k++) counts[(size_t)k * STRIDE + xtable4_bucket(bits[i + k], xtable4)]++;
}
// The shipped structure (a pointer per copy, stride = buckets) with the x-table.
static void loop_x8ptr(const uint32_t *bits, size_t n, int32_t *counts, size_t stride) {
    int32_t *c[8];
    for (int lane = 0; lane < 8; lane++) c[lane] = counts + (size_t)lane * stride;
    for (size_t i = 0; i < n; i += 8)
        for (int lane = 0; lane < 8; lane++) c[lane][xtable4_bucket(bits[i + lane], xtable4)]++;
}
// xk8 with copies 6,656 bytes apart: 2,560 modulo 4 KiB, so the 8 copies of a bucket sit at the 8
// multiples of 512 bytes modulo 4 KiB and no two copies alias within 128 buckets of each other.
static void loop_xk8s1664(const uint32_t *bits, size_t n, int32_t *counts, size_t stride) {
    (void)stride;
    for (size_t i = 0; i < n; i += 8)
        for (int k = 0; k < 8; k++) {
            uint64_t b = xtable4_bucket(bits[i + k], xtable4);
            __asm__("" : "+r"(b));
            counts[(size_t)k * 1664 + b]++;
        }
}
FIXED_STRIDE(loop_k8, 8, wide_bucket, wide_table)
FIXED_STRIDE(loop_k4, 4, wide_bucket, wide_table)
FIXED_STRIDE(loop_xk8, 8, xtable4_bucket, xtable4)
FIXED_STRIDE(loop_xk4, 4, xtable4_bucket, xtable4)

static const variant variants[] = {
    {"shipped", loop_shipped, 8, 0, "8 copy-major copies, 64-bit table"},
    {"copy4", loop_copy4, 4, 0, "4 copy-major copies, 64-bit table"},
    {"bm8", loop_bm8, 8, 1, "8 bucket-major copies, 64-bit table"},
    {"bm4", loop_bm4, 4, 1, "4 bucket-major copies, 64-bit table"},
    {"bm2", loop_bm2, 2, 1, "2 bucket-major copies, 64-bit table"},
    {"bm1", loop_bm1, 1, 1, "1 copy, 64-bit table"},
    {"c5bm8", loop_c5_bm8, 8, 1, "8 bucket-major copies, 32-bit table (5 mantissa bits, 64 KiB)"},
    {"c5bm4", loop_c5_bm4, 4, 1, "4 bucket-major copies, 32-bit table (5 mantissa bits, 64 KiB)"},
    {"c4bm8", loop_c4_bm8, 8, 1, "8 bucket-major copies, 32-bit table (4 mantissa bits, 32 KiB)"},
    {"c4bm4", loop_c4_bm4, 4, 1, "4 bucket-major copies, 32-bit table (4 mantissa bits, 32 KiB)"},
    {"2p-bm4", loop_2p_bm4, 4, 1, "two passes (uint16 indices), 4 bucket-major copies, 64-bit table"},
    {"2p-bm8", loop_2p_bm8, 8, 1, "two passes (uint16 indices), 8 bucket-major copies, 64-bit table"},
    {"2p-c5bm4", loop_2p_c5_bm4, 4, 1, "two passes, 4 bucket-major copies, 32-bit table"},
    {"x4bm1", loop_x4_bm1, 1, 1, "1 copy, 32-bit x-table (4 mantissa bits, 32 KiB)"},
    {"x4bm4", loop_x4_bm4, 4, 1, "4 bucket-major copies, 32-bit x-table"},
    {"x4copy4", loop_x4_copy4, 4, 0, "4 copy-major copies in registers, 32-bit x-table"},
    {"shipped+pf", loop_shipped, 8, 0, "shipped, next block prefetched during the buckets", 1},
    {"bm1+pf", loop_bm1, 1, 1, "1 copy, 64-bit table, next block prefetched", 1},
    {"x4copy4+pf", loop_x4_copy4, 4, 0, "4 copy-major copies in registers, x-table, prefetch", 1},
    {"x4bm1+pf", loop_x4_bm1, 1, 1, "1 copy, x-table, prefetch", 1},
    {"k8", loop_k8, 8, 0, "8 copies at a fixed stride (displacement), 64-bit table", 0, STRIDE},
    {"xk8s1664", loop_xk8s1664, 8, 0, "as xk8, copies 6,656 bytes apart (512 x odd modulo 4 KiB)", 0, 1664},
    {"xk8s1664+pf", loop_xk8s1664, 8, 0, "as xk8s1664, next block prefetched", 1, 1664},
    {"xk8nb", loop_xk8nb, 8, 0, "as xk8 without the asm barrier", 0, STRIDE},
    {"x8ptr", loop_x8ptr, 8, 0, "x-table, a pointer per copy (the shipped structure)"},
    {"s1551", loop_s1551, 8, 0, "as k8, stride 1551 words", 0, 1551},
    {"s1556", loop_s1556, 8, 0, "as k8, stride 1556 words", 0, 1556},
    {"s1568", loop_s1568, 8, 0, "as k8, stride 1568 words", 0, 1568},
    {"s1600", loop_s1600, 8, 0, "as k8, stride 1600 words", 0, 1600},
    {"s1792", loop_s1792, 8, 0, "as k8, stride 1792 words (copies 7 KiB apart)", 0, 1792},
    {"s2048", loop_s2048, 8, 0, "as k8, stride 2048 words (copies 8 KiB apart: 4K-aliased)", 0, 2048},
    {"k4", loop_k4, 4, 0, "4 copies at a fixed stride (displacement), 64-bit table", 0, STRIDE},
    {"xk8", loop_xk8, 8, 0, "8 copies at a fixed stride, x-table", 0, STRIDE},
    {"xk4", loop_xk4, 4, 0, "4 copies at a fixed stride, x-table", 0, STRIDE},
    {"k8+pf", loop_k8, 8, 0, "8 copies at a fixed stride, 64-bit table, prefetch", 1, STRIDE},
    {"xk8+pf", loop_xk8, 8, 0, "8 copies at a fixed stride, x-table, prefetch", 1, STRIDE},
    {"xk4+pf", loop_xk4, 4, 0, "4 copies at a fixed stride, x-table, prefetch", 1, STRIDE},
};
#define VARIANTS (int)(sizeof variants / sizeof *variants)

// Counts live in an arena so their offset modulo 4 KiB can be chosen (sweep).
static int32_t *counts_at(size_t offset, size_t words) {
    static unsigned char *arena;
    if (!arena) arena = aligned_alloc(4096, 1 << 20);
    memset(arena + offset, 0, words * 4);
    return (int32_t *)(void *)(arena + offset);
}

// The kernel's block structure (moments, then buckets of the same block; a NaN/Inf block would go
// element by element, which none of these data sets has). Returns the counts, copies summed.
static void run(const variant *v, const float *values, size_t count, size_t counts_offset, int32_t *out, moments *m) {
    size_t stride = v->stride ? v->stride : (size_t)buckets;
    size_t words = (size_t)v->copies * stride;
    int32_t *counts = counts_at(counts_offset, words);
    *m = (moments){0, 0, INFINITY, -INFINITY, 0};
    for (size_t start = 0; start < count; start += BLOCK) {
        size_t n = count - start < BLOCK ? count - start : BLOCK;
        size_t whole = n & ~(size_t)7;
        if (block_moments(values + start, whole, m)) { fprintf(stderr, "non-finite data\n"); exit(1); }
        if (v->prefetch && start + 2 * BLOCK <= count)
            for (size_t line = 0; line < BLOCK * 4; line += 64) __builtin_prefetch((const char *)(values + start + BLOCK) + line);
        v->loop((const uint32_t *)(const void *)(values + start), whole, counts, stride);
        for (size_t i = start + whole; i < start + n; i++) {  // the last few elements, into copy 0
            size_t b = (size_t)upper_bound_index(values[i]);
            counts[v->bucket_major ? b * (size_t)v->copies : b]++;
        }
    }
    memset(out, 0, (size_t)buckets * 4);
    for (int b = 0; b < buckets; b++)
        for (int c = 0; c < v->copies; c++)
            out[b] += v->bucket_major ? counts[(size_t)b * (size_t)v->copies + (size_t)c] : counts[(size_t)c * stride + (size_t)b];
}

// ---------------------------------------------------------------------------------------------
// The memory accesses of one loop, in program order, for the trace mode: every load and store with
// its address and size, as the compiled loops make them (data, table entry, counter read-modify-
// write; the shipped loop also reloads 6 of its 8 copy pointers from the stack per 8 elements, as
// clang -O2 -fno-omit-frame-pointer compiles it).

typedef struct { uintptr_t address; uint8_t size, store; } access;
static access *trace;
static size_t trace_length, trace_capacity;

static void note(uintptr_t address, int size, int store) {
    if (trace_length == trace_capacity) {
        trace_capacity = trace_capacity ? 2 * trace_capacity : 1 << 20;
        trace = realloc(trace, trace_capacity * sizeof *trace);
    }
    trace[trace_length++] = (access){address, (uint8_t)size, (uint8_t)store};
}

// Addresses are those a Swift process would use: the table at page offset 0x30 (a 128 KiB Swift
// array is mmap'd: 16 bytes of malloc header, 32 of array header), the data 64-byte aligned, the
// counts at `counts_offset` modulo 4 KiB, the stack at 0x7ff0'0000'0e40.
static void trace_variant(const variant *v, const float *values, size_t count, uintptr_t counts_offset) {
    uintptr_t data = 0x10000000, wide = 0x20000030, compact = 0x20000030, counts = 0x30000000 + counts_offset,
              stack = 0x7ff000000e40, index = 0x7ff000000600;
    const uint32_t *bits = (const uint32_t *)(const void *)values;
    int two_pass = strncmp(v->name, "2p", 2) == 0;
    int is_x = v->name[0] == 'x';  // the x-table variants
    int is_compact = strstr(v->name, "c5") || strstr(v->name, "c4") || is_x;
    int shift = strstr(v->name, "c4") || is_x ? 19 : 18;
    trace_length = 0;
    for (size_t start = 0; start + BLOCK <= count; start += BLOCK) {
        for (size_t i = 0; i < BLOCK; i += 8) note(data + 4 * (start + i), 32, 0);  // the moments
        for (size_t i = start; i < start + BLOCK; i++) {
            uint32_t b = bits[i];
            size_t bucket = is_x ? xtable4_bucket(b, xtable4)
                            : is_compact ? (shift == 18 ? compact5_bucket(b, compact5) : compact4_bucket(b, compact4)) : wide_bucket(b, wide_table);
            size_t lane = (i - start) % (size_t)v->copies;
            uintptr_t counter = v->bucket_major ? counts + 4 * (bucket * (size_t)v->copies + lane)
                                                : counts + 4 * (lane * (v->stride ? v->stride : (size_t)buckets) + bucket);
            note(data + 4 * i, 4, 0);
            note(is_compact ? compact + 4 * (b >> shift) : wide + 8 * (b >> 18), is_compact ? 4 : 8, 0);
            if (two_pass) {
                note(index + 2 * (i - start), 2, 1);
                continue;
            }
            if (!strcmp(v->name, "shipped") && lane >= 2) note(stack + 8 * lane, 8, 0);
            note(counter, 4, 0);
            note(counter, 4, 1);
        }
        if (!two_pass) continue;
        for (size_t i = start; i < start + BLOCK; i++) {
            uint32_t b = bits[i];
            size_t bucket = is_compact ? compact5_bucket(b, compact5) : wide_bucket(b, wide_table);
            size_t lane = (i - start) % (size_t)v->copies;
            note(index + 2 * (i - start), 2, 0);
            note(counts + 4 * (bucket * (size_t)v->copies + lane), 4, 0);
            note(counts + 4 * (bucket * (size_t)v->copies + lane), 4, 1);
        }
    }
}

typedef struct { double loads, stores, forwarded, aliased; } exposure;

// For every load, the `window` youngest earlier stores (about what is in flight: a Zen 2 core's
// store queue has 48 entries, its reorder buffer 224 micro-ops, ~22 elements of this loop): does one
// write the same bytes (store-to-load forwarding: the load waits for that store), or one whose
// address matches in bits 11:2 but not above (4K alias: on cores that match loads to stores on the
// low 12 bits first, the load is held or replayed although it depends on nothing)?
static exposure analyse(int window) {
    exposure e = {0};
    size_t ring_size = 256, ring_count = 0;
    uintptr_t ring[256];
    uint8_t sizes[256];
    size_t head = 0;
    for (size_t t = 0; t < trace_length; t++) {
        access a = trace[t];
        if (a.store) {
            ring[head] = a.address;
            sizes[head] = a.size;
            head = (head + 1) % ring_size;
            if (ring_count < ring_size) ring_count++;
            e.stores++;
            continue;
        }
        e.loads++;
        int forwarded = 0, aliased = 0;
        for (int k = 1; k <= window && (size_t)k <= ring_count; k++) {
            size_t slot = (head + ring_size - (size_t)k) % ring_size;
            uintptr_t s = ring[slot], s_end = s + sizes[slot], l = a.address, l_end = l + a.size;
            if (s < l_end && l < s_end) { forwarded = 1; break; }  // the youngest match decides
            uintptr_t s12 = s & 0xFFC, l12 = l & 0xFFC, s12_end = s12 + ((sizes[slot] + 3) & ~3u), l12_end = l12 + ((a.size + 3) & ~3u);
            if (s12 < l12_end && l12 < s12_end) { aliased = 1; break; }
        }
        e.forwarded += forwarded;
        e.aliased += aliased;
    }
    return e;
}

// ---------------------------------------------------------------------------------------------

static float *make_data(const char *name, size_t count) {
    float *values = aligned_alloc(64, (count * 4 + 63) & ~(size_t)63);
    if (!strcmp(name, "sigma1e-3")) fill_normal(values, count, 1e-3, 0x12345678);
    else if (!strcmp(name, "sigma1")) fill_normal(values, count, 1.0, 0x12345678);
    else if (!strcmp(name, "loguniform")) fill_log_uniform(values, count, -12, 20, 0x12345678);
    else if (!strcmp(name, "halfzeros")) {  // a layer whose units are half dead: every other block exactly 0
        fill_normal(values, count, 1e-3, 0x12345678);
        for (size_t i = 0; i < count; i++) if ((i / 4096) % 2) values[i] = 0;
    } else if (!strcmp(name, "zeros")) memset(values, 0, count * 4);
    else { fprintf(stderr, "unknown data %s\n", name); exit(2); }
    return values;
}

static int selected(const char *only, const char *name) {
    if (!only) return 1;
    size_t n = strlen(name);
    for (const char *p = only; (p = strstr(p, name)) != NULL; p += n)
        if ((p == only || p[-1] == ',') && (p[n] == ',' || p[n] == '\0')) return 1;
    return 0;
}

static void check_variant(const variant *v, const float *values, size_t count, const int32_t *expected) {
    int32_t *got = malloc((size_t)buckets * 4);
    moments m;
    run(v, values, count, 0, got, &m);
    if (memcmp(got, expected, (size_t)buckets * 4)) { printf("MISMATCH: %s counts differ from upper_bound\n", v->name); exit(1); }
    free(got);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s time|sweep|trace|run ... (see experiments.c)\n", argv[0]);
        return 2;
    }
    const char *mode = argv[1];
    size_t sizes[8] = {100000, 1000000, 10000000};
    int size_count = 3, rounds = 9;
    const char *datas[3] = {"sigma1e-3", "sigma1", "loguniform"};
    int data_count = 3;
    const char *only = NULL;
    int arg = 2;
    if (!strcmp(mode, "run")) arg = argc;  // positional arguments, below
    for (; arg < argc; arg++) {
        if (!strcmp(argv[arg], "--sizes") && arg + 1 < argc) {
            size_count = 0;
            for (char *s = strtok(argv[++arg], ","); s && size_count < 8; s = strtok(NULL, ",")) sizes[size_count++] = (size_t)strtod(s, NULL);
        } else if (!strcmp(argv[arg], "--rounds") && arg + 1 < argc) rounds = atoi(argv[++arg]);
        else if (!strcmp(argv[arg], "--data") && arg + 1 < argc) { datas[0] = argv[++arg]; data_count = 1; }
        else if (!strcmp(argv[arg], "--only") && arg + 1 < argc) only = argv[++arg];
        else { fprintf(stderr, "unknown argument %s\n", argv[arg]); return 2; }
    }
    cpu_description cpu;
    describe_cpu(&cpu);
    build_limits();
    buckets = limit_count;
    wide_table = build_table();
    compact5 = build_compact(5);
    compact4 = build_compact(4);
    xtable4 = build_xtable();

    // The compact tables against upper_bound on every float (the 64-bit one is checked by stats-bench).
    if (!strcmp(mode, "check-tables")) {
        long bad5 = 0, bad4 = 0, badx = 0;
        for (uint64_t b = 0; b <= 0xFFFFFFFFull; b++) {
            float v = float_of((uint32_t)b);
            if (!isfinite(v)) continue;
            uint32_t expected = (uint32_t)upper_bound_index(v);
            bad5 += compact5_bucket((uint32_t)b, compact5) != expected;
            bad4 += compact4_bucket((uint32_t)b, compact4) != expected;
            badx += xtable4_bucket((uint32_t)b, xtable4) != expected;
        }
        printf("all finite floats: compact 5-bit table %ld mismatches, 4-bit table %ld, x-table %ld\n", bad5, bad4, badx);
        return bad5 || bad4 || badx;
    }

    if (!strcmp(mode, "run")) {  // run VARIANT N DATA [REPEAT]
        if (argc < 5) return 2;
        size_t count = (size_t)strtod(argv[3], NULL);
        float *values = make_data(argv[4], count);
        int repeat = argc > 5 ? atoi(argv[5]) : 1;
        for (int v = 0; v < VARIANTS; v++) {
            if (strcmp(variants[v].name, argv[2])) continue;
            int32_t *out = malloc((size_t)buckets * 4);
            moments m;
            for (int r = 0; r < repeat; r++) run(&variants[v], values, count, 0, out, &m);
            printf("%s: %.17g\n", variants[v].name, m.squares);
            return 0;
        }
        fprintf(stderr, "no variant %s\n", argv[2]);
        return 2;
    }

    printf("cpu: %s\n", cpu.tag);
    size_t largest = 0;
    for (int z = 0; z < size_count; z++) if (sizes[z] > largest) largest = sizes[z];

    if (!strcmp(mode, "trace")) {
        size_t count = 1 << 15;
        for (int d = 0; d < data_count; d++) {
            float *values = make_data(datas[d], count);
            printf("\n%s, %zu elements; per element: loads, stores; loads that need a store's data "
                   "(forwarded) and loads 4K-aliased with an in-flight store, for 24 and 48 stores in flight; "
                   "aliasing over 64 placements of the counts (64-byte steps): median [min-max]\n", datas[d], count);
            for (int v = 0; v < VARIANTS; v++) {
                if (!selected(only, variants[v].name)) continue;
                double fw[2] = {0}, al[2][64];
                exposure e = {0};
                for (int placement = 0; placement < 64; placement++) {
                    trace_variant(&variants[v], values, count, (uintptr_t)placement * 64 + 0x20);
                    for (int w = 0; w < 2; w++) {
                        e = analyse(w ? 48 : 24);
                        fw[w] = e.forwarded / (double)count;
                        al[w][placement] = e.aliased / (double)count;
                    }
                }
                double med[2], lo[2], hi[2];
                for (int w = 0; w < 2; w++) {
                    qsort(al[w], 64, sizeof(double), compare_doubles);
                    med[w] = al[w][32]; lo[w] = al[w][0]; hi[w] = al[w][63];
                }
                printf("%-9s loads %.2f stores %.2f | forwarded %.4f / %.4f | 4K-aliased %.4f [%.4f-%.4f] / %.4f [%.4f-%.4f]\n",
                       variants[v].name, e.loads / (double)count, e.stores / (double)count, fw[0], fw[1],
                       med[0], lo[0], hi[0], med[1], lo[1], hi[1]);
            }
            free(values);
        }
        return 0;
    }

    for (int d = 0; d < data_count; d++) {
        float *values = make_data(datas[d], largest);
        if (!strcmp(mode, "sweep")) {
            // The shipped loop with its counts at every 64-byte offset of a 4 KiB page, 1e6 elements.
            size_t count = 1000000;
            int32_t *out = malloc((size_t)buckets * 4);
            moments m;
            double rates[64][15];
            for (int r = 0; r < 15; r++)
                for (int o = 0; o < 64; o++) {
                    double t0 = thread_seconds();
                    run(&variants[0], values, count, (size_t)o * 64 + 0x20, out, &m);
                    rates[o][r] = (double)count / (thread_seconds() - t0);
                }
            printf("%s: shipped loop, counts at offset (mod 4096) -> median elements/s (thread CPU time) of 15\n", datas[d]);
            double lo = 1e300, hi = 0;
            for (int o = 0; o < 64; o++) {
                double x = median(rates[o], 15);
                if (x < lo) lo = x;
                if (x > hi) hi = x;
                printf("  %4d %.3e\n", o * 64 + 0x20, x);
            }
            printf("  lowest %.3e highest %.3e (%.0f%% apart)  cpu: %s\n", lo, hi, 100 * (hi - lo) / lo, cpu.tag);
            continue;
        }
        // time: every selected variant at every size, in interleaved rounds.
        for (int z = 0; z < size_count; z++) {
            int32_t *expected = calloc((size_t)buckets, 4);
            for (size_t i = 0; i < sizes[z]; i++) expected[upper_bound_index(values[i])]++;
            int32_t *out = malloc((size_t)buckets * 4);
            double *rates[VARIANTS], *cpu_rates[VARIANTS];
            int measured[VARIANTS] = {0};
            for (int v = 0; v < VARIANTS; v++) {
                rates[v] = calloc(4096, sizeof(double));
                cpu_rates[v] = calloc(4096, sizeof(double));
                if (selected(only, variants[v].name)) check_variant(&variants[v], values, sizes[z], expected);
            }
            for (int r = 0; r < rounds; r++)
                for (int v = 0; v < VARIANTS; v++) {
                    if (!selected(only, variants[v].name)) continue;
                    double begin = now_seconds();
                    do {
                        moments m;
                        double t0 = now_seconds(), c0 = thread_seconds();
                        run(&variants[v], values, sizes[z], 0x20, out, &m);
                        double t1 = now_seconds(), c1 = thread_seconds();
                        cpu_rates[v][measured[v]] = (double)sizes[z] / (c1 - c0);
                        rates[v][measured[v]++] = (double)sizes[z] / (t1 - t0);
                        if (t1 - begin > 0.01 || measured[v] >= 4000) break;
                    } while (1);
                }
            for (int v = 0; v < VARIANTS; v++) {
                if (!selected(only, variants[v].name)) continue;
                double wall = median(rates[v], measured[v]), by_cpu = median(cpu_rates[v], measured[v]);
                double best = cpu_rates[v][(int)(0.9 * (measured[v] - 1))];  // sorted by median(): the 90th percentile
                printf("%-10s %-8.0e %-11s wall %9.3e  cpu-time %9.3e  p90 %9.3e (%4d calls)  %-62s cpu: %s\n", datas[d], (double)sizes[z],
                       variants[v].name, wall, by_cpu, best, measured[v], variants[v].why, cpu.tag);
                free(rates[v]);
                free(cpu_rates[v]);
            }
            free(expected);
            free(out);
        }
        free(values);
    }
    return 0;
}
