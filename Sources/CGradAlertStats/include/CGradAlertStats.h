#ifndef CGRADALERT_STATS_H
#define CGRADALERT_STATS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// How many copies of the histogram counters the kernel uses (the caller sums them), and how far
/// apart they are: copy c of bucket b is counts[c * GRADALERT_STATS_COUNT_STRIDE + b], for every
/// bucket b below the layout's bucket count (1,551), which the stride must not be less than.
/// 1,664 words is 6,656 bytes, 2,560 modulo 4 KiB, so the 8 copies of a bucket fall on the 8
/// multiples of 512 bytes modulo 4 KiB: no two copies' counters within 128 buckets of each other
/// share their address's low 12 bits, which some cores compare first when they match a load to
/// the stores in flight.
#define GRADALERT_STATS_COUNT_COPIES 8
#define GRADALERT_STATS_COUNT_STRIDE 1664

/// The bucket table has one uint32 entry per slice of the number line: a float's sign, exponent
/// and top 4 mantissa bits, its bits >> GRADALERT_STATS_TABLE_SHIFT (8,192 slices, 32 KiB). A slice
/// is at most 1/16 = 6.25% wide, narrower than a bucket (10%), so it holds at most one edge.
/// Within a slice, a value's position is the low 19 bits of x = bits ^ (bits >>s 31) (a negative
/// value's bits flipped, so that the position grows with the value). An entry holds
///   (t - 1) << 13 | base
/// where base is the bucket of the slice's smallest value and t the position of the smallest float
/// at or above the edge inside the slice (2^19 when there is none: then t - 1 is all ones and no
/// position passes it; t is never 0, since the edge lies above the slice's smallest value). Then
///   bucket = base + (entry < (x << 13))
/// exactly as TensorFlow's upper_bound decides, for every finite float (checked on all 2^32).
#define GRADALERT_STATS_TABLE_SHIFT 19

/// Statistics of a float buffer from one pass over memory.
typedef struct {
    double sum_squares;  // over finite elements, in double
    double sum;          // over finite elements, in double
    float min;           // smallest finite element (+inf if none)
    float max;           // largest finite element (-inf if none)
    uint64_t nan;
    uint64_t positive_infinity;
    uint64_t negative_infinity;
    uint64_t zeros;
} gradalert_float_stats;

/// Accumulates the statistics of `values[0..<count]` into `stats` (initialise it with
/// gradalert_float_stats_init) and, when `counts` is not NULL, adds each finite element to the
/// histogram: `counts` holds GRADALERT_STATS_COUNT_COPIES × GRADALERT_STATS_COUNT_STRIDE int32
/// counters (copies, summed by the caller), and `table` is the bucket table described above.
///
/// The buffer is taken in blocks of 512 elements: a vector loop computes the moments of a block,
/// then a scalar loop bins the same block while it is still in L1, so memory is read once; while
/// it does, the next block is prefetched. The result does not depend on the CPU's vector width:
/// the same blocks, the same order.
void gradalert_float_stats_accumulate(const float *values, size_t count, const uint32_t *table,
                                      int32_t *counts, gradalert_float_stats *stats);

void gradalert_float_stats_init(gradalert_float_stats *stats);

/// "avx2" or "generic": the vector loop in use.
const char *gradalert_float_stats_implementation(void);

#ifdef __cplusplus
}
#endif

#endif
