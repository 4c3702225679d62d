#ifndef CGRADALERT_STATS_H
#define CGRADALERT_STATS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// How many copies of the histogram counters the kernel uses (the caller sums them).
#define GRADALERT_STATS_COUNT_COPIES 8

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
/// histogram: `counts` holds GRADALERT_STATS_COUNT_COPIES × `buckets` int32 counters (copies, summed by the caller), and
/// `table` is the 16,384-entry bucket table (low 32 bits: base bucket; high 32 bits: the threshold
/// as a sortable integer, i.e. a float's bits with the magnitude bits flipped when negative;
/// bucket = base + (sortable(value) >= threshold)).
///
/// The buffer is taken in blocks of 512 elements: a vector loop computes the moments of a block,
/// then a scalar loop bins the same block while it is still in L1, so memory is read once.
/// The result does not depend on the CPU's vector width: the same blocks, the same order.
void gradalert_float_stats_accumulate(const float *values, size_t count, const uint64_t *table,
                                      int32_t *counts, size_t buckets, gradalert_float_stats *stats);

void gradalert_float_stats_init(gradalert_float_stats *stats);

/// "avx2" or "generic": the vector loop in use.
const char *gradalert_float_stats_implementation(void);

#ifdef __cplusplus
}
#endif

#endif
