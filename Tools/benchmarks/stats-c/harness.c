// Standalone harness of the statistics kernel (Sources/CGradAlertStats), no Swift build needed.
// Build and run: Tools/benchmarks/stats-c/build.sh, then ./stats-bench (see build.sh).
//
// It builds the bucket table the way BucketTable.swift does, checks the kernel's bucket counts
// against a naive upper_bound over TensorFlow's edges on every data set, and measures elements/s
// the way GradientStatisticsKernel calls the kernel: 1 Mi-element chunks, a fresh zeroed array of
// count copies per chunk, copies summed afterwards, chunks spread over 1 or 2 threads and merged
// in chunk order. Every figure line carries the CPU it was measured on.
//
// The kernel is compiled twice into this binary (build.sh): as shipped, choosing AVX2 at run time
// ("dispatch"), and with the run-time check forced off ("generic"), so both paths run in one
// process under the same conditions.
#include "common.h"

#include <pthread.h>
#include <sched.h>

#include "CGradAlertStats.h"

// The kernel's interface since issue 19 (the x-table, copies GRADALERT_STATS_COUNT_STRIDE apart), or
// the one before it (64-bit table entries, copies `buckets` apart), so that KERNEL= can point
// build.sh at an older checkout and the two can be compared.
#ifdef GRADALERT_STATS_TABLE_SHIFT
typedef uint32_t table_word;
#define ACCUMULATE_ARGUMENTS const float *, size_t, const uint32_t *, int32_t *, gradalert_float_stats *
#define COUNT_STRIDE ((size_t)GRADALERT_STATS_COUNT_STRIDE)
#define CALL(k, values, count, copies, stats) (k)->accumulate(values, count, table, copies, stats)
#define BUILD_TABLE build_xtable
#define TABLE_INDEX xtable_index
#else
typedef uint64_t table_word;
#define ACCUMULATE_ARGUMENTS const float *, size_t, const uint64_t *, int32_t *, size_t, gradalert_float_stats *
#define COUNT_STRIDE ((size_t)buckets)
#define CALL(k, values, count, copies, stats) (k)->accumulate(values, count, table, copies, (size_t)buckets, stats)
#define BUILD_TABLE build_table
#define TABLE_INDEX table_index
#endif

#define DECLARE_KERNEL(prefix)                                    \
    void prefix##_accumulate(ACCUMULATE_ARGUMENTS);               \
    void prefix##_init(gradalert_float_stats *);                  \
    const char *prefix##_implementation(void);
DECLARE_KERNEL(dispatch)
DECLARE_KERNEL(generic)

typedef struct {
    const char *name;
    void (*accumulate)(ACCUMULATE_ARGUMENTS);
    void (*init)(gradalert_float_stats *);
    const char *(*implementation)(void);
} kernel;

static const kernel kernels[] = {
    {"dispatch", dispatch_accumulate, dispatch_init, dispatch_implementation},
    {"generic", generic_accumulate, generic_init, generic_implementation},
};

#define CHUNK (1u << 20)  // GradientStatisticsKernel.chunkSize
#define COPIES GRADALERT_STATS_COUNT_COPIES

static const table_word *table;
static int buckets;

typedef struct {
    gradalert_float_stats stats;
    int32_t *counts;  // buckets entries, copies summed; NULL without a histogram
} part;

// floatPass in GradientStatistics.swift: fresh zeroed copies, one kernel call, copies summed.
static void float_pass(const kernel *k, const float *values, size_t count, int histogram, part *out) {
    k->init(&out->stats);
    int32_t *copies = NULL;
    if (histogram) {
        copies = malloc((size_t)COPIES * COUNT_STRIDE * sizeof *copies);
        memset(copies, 0, (size_t)COPIES * COUNT_STRIDE * sizeof *copies);
    }
    CALL(k, values, count, copies, &out->stats);
    out->counts = NULL;
    if (histogram) {
        out->counts = calloc((size_t)buckets, sizeof *out->counts);
        for (int copy = 0; copy < COPIES; copy++)
            for (int i = 0; i < buckets; i++) out->counts[i] += copies[(size_t)copy * COUNT_STRIDE + (size_t)i];
        free(copies);
    }
}

static void merge(part *into, const part *other) {
    into->stats.sum_squares += other->stats.sum_squares;
    into->stats.sum += other->stats.sum;
    if (other->stats.min < into->stats.min) into->stats.min = other->stats.min;
    if (other->stats.max > into->stats.max) into->stats.max = other->stats.max;
    into->stats.nan += other->stats.nan;
    into->stats.positive_infinity += other->stats.positive_infinity;
    into->stats.negative_infinity += other->stats.negative_infinity;
    into->stats.zeros += other->stats.zeros;
    if (into->counts && other->counts)
        for (int i = 0; i < buckets; i++) into->counts[i] += other->counts[i];
}

typedef struct {
    const kernel *k;
    const float *values;
    size_t count, chunks;
    int histogram, worker, workers;
    part *parts;
    double cpu_seconds;  // this worker's CPU time
} job;

static void *worker_main(void *argument) {
    job *j = argument;
    double begin = thread_seconds();
    for (size_t chunk = (size_t)j->worker; chunk < j->chunks; chunk += (size_t)j->workers) {
        size_t start = chunk * CHUNK, end = start + CHUNK < j->count ? start + CHUNK : j->count;
        float_pass(j->k, j->values + start, end - start, j->histogram, &j->parts[chunk]);
    }
    j->cpu_seconds = thread_seconds() - begin;
    return NULL;
}

// The busiest worker's CPU time in the last compute(): the call's duration had every worker had a
// core of its own (on this shared VM the second core is often busy with other work).
static double busiest_worker_seconds;

// GradientStatisticsKernel.parallel: fixed chunks, workers take every workers-th chunk, parts merged
// in chunk order, so the result does not depend on the thread count.
static part compute(const kernel *k, const float *values, size_t count, int histogram, int threads) {
    size_t chunks = count ? (count + CHUNK - 1) / CHUNK : 1;
    part *parts = calloc(chunks, sizeof *parts);
    int workers = threads < (int)chunks ? threads : (int)chunks;
    if (workers < 1) workers = 1;
    job jobs[16];
    pthread_t ids[16];
    for (int w = 0; w < workers; w++) {
        jobs[w] = (job){k, values, count, chunks, histogram, w, workers, parts, 0};
        if (w > 0) pthread_create(&ids[w], NULL, worker_main, &jobs[w]);
    }
    worker_main(&jobs[0]);
    for (int w = 1; w < workers; w++) pthread_join(ids[w], NULL);
    busiest_worker_seconds = 0;
    for (int w = 0; w < workers; w++)
        if (jobs[w].cpu_seconds > busiest_worker_seconds) busiest_worker_seconds = jobs[w].cpu_seconds;
    part result = parts[0];
    for (size_t c = 1; c < chunks; c++) {
        merge(&result, &parts[c]);
        free(parts[c].counts);
    }
    free(parts);
    return result;
}

// ---------------------------------------------------------------------------------------------

typedef struct {
    const char *name;
    float *values;  // the largest size; smaller sizes are its prefixes
} data_set;

static cpu_description cpu;

static uint64_t fnv(uint64_t hash, const void *bytes, size_t count) {
    const unsigned char *p = bytes;
    for (size_t i = 0; i < count; i++) hash = (hash ^ p[i]) * 0x100000001B3ull;
    return hash;
}

// Checks every path's counts against upper_bound and the paths' moments against each other; prints a
// digest of the result so that two builds (before/after a change) can be compared bit for bit.
static int check(const data_set *d, size_t count) {
    int32_t *expected = calloc((size_t)buckets, sizeof *expected);
    for (size_t i = 0; i < count; i++)
        if (isfinite(d->values[i])) expected[upper_bound_index(d->values[i])]++;
    // (count 0: the chunking still makes one empty part, as GradientStatisticsKernel does)
    int failures = 0;
    part first = {0};
    for (size_t k = 0; k < sizeof kernels / sizeof *kernels; k++) {
        for (int threads = 1; threads <= 2; threads++) {
            part p = compute(&kernels[k], d->values, count, 1, threads);
            if (memcmp(p.counts, expected, (size_t)buckets * sizeof *expected) != 0) {
                printf("MISMATCH: %s %s n=%zu threads=%d: counts differ from upper_bound\n", kernels[k].name, d->name, count, threads);
                failures++;
            }
            if (k == 0 && threads == 1) {
                first = p;
                continue;
            }
            if (memcmp(&p.stats, &first.stats, sizeof p.stats) != 0) {
                printf("MISMATCH: %s %s n=%zu threads=%d: moments differ from dispatch, 1 thread\n", kernels[k].name, d->name, count, threads);
                failures++;
            }
            free(p.counts);
        }
    }
    uint64_t digest = fnv(fnv(0xCBF29CE484222325ull, &first.stats, sizeof first.stats), first.counts, (size_t)buckets * 4);
    printf("check %-10s n=%-9zu counts = upper_bound, paths agree; digest %016llx (sum_sq %.17g)\n", d->name, count,
           (unsigned long long)digest, first.stats.sum_squares);
    free(first.counts);
    free(expected);
    return failures;
}

// The table against upper_bound: every float within 300 ulps of every edge, and random floats;
// all 2^32 floats with --exhaustive.
static int check_table(int exhaustive) {
    long mismatches = 0, probes = 0;
    if (exhaustive) {
        for (uint64_t b = 0; b <= 0xFFFFFFFFull; b++) {
            float v = float_of((uint32_t)b);
            if (!isfinite(v)) continue;
            probes++;
            if (TABLE_INDEX(table, v) != upper_bound_index(v)) mismatches++;
        }
    } else {
        for (int l = 0; l < limit_count; l++) {
            float center = (float)limits[l];
            if (!isfinite(center)) center = limits[l] > 0 ? FLT_MAX : -FLT_MAX;
            float up = center, down = center;
            for (int s = 0; s < 300; s++) {
                float pair[2] = {up, down};
                for (int q = 0; q < 2; q++) {
                    if (!isfinite(pair[q])) continue;  // non-finite values are counted apart, never looked up
                    probes++;
                    if (TABLE_INDEX(table, pair[q]) != upper_bound_index(pair[q])) mismatches++;
                }
                up = nextafterf(up, INFINITY);
                down = nextafterf(down, -INFINITY);
            }
        }
        uint64_t state = 17;
        for (int i = 0; i < 1 << 22; i++) {
            float v = float_of((uint32_t)splitmix(&state));
            if (!isfinite(v)) continue;
            probes++;
            if (TABLE_INDEX(table, v) != upper_bound_index(v)) mismatches++;
        }
    }
    printf("table check%s: %ld floats, %ld mismatches against upper_bound\n", exhaustive ? " (all 2^32)" : "", probes, mismatches);
    return mismatches != 0;
}

// Elements/s of one configuration: median of single calls, interleaved with the other configurations
// by the caller, so a drifting machine moves all of them alike.
typedef struct {
    const data_set *d;
    size_t count;
    const kernel *k;
    int histogram, threads;
    double *rates, *cpu_rates;  // per call: by the wall clock, and by the busiest worker's CPU time
    int measured;
} config;

static void measure_once(config *c, double budget) {
    double start = now_seconds(), elapsed;
    do {
        double t0 = now_seconds();
        part p = compute(c->k, c->d->values, c->count, c->histogram, c->threads);
        double t1 = now_seconds();
        free(p.counts);
        c->cpu_rates[c->measured] = (double)c->count / busiest_worker_seconds;
        c->rates[c->measured++] = (double)c->count / (t1 - t0);
        elapsed = t1 - start;
    } while (elapsed < budget && c->measured % 64 != 0);
}

static size_t parse_count(const char *s) { return (size_t)strtod(s, NULL); }

int main(int argc, char **argv) {
    size_t sizes[8] = {100000, 1000000, 10000000};
    int size_count = 3, rounds = 7, only_check = 0, exhaustive = 0, threads_max = 2;
    const char *only_data = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--sizes") && i + 1 < argc) {
            size_count = 0;
            for (char *s = strtok(argv[++i], ","); s && size_count < 8; s = strtok(NULL, ",")) sizes[size_count++] = parse_count(s);
        } else if (!strcmp(argv[i], "--rounds") && i + 1 < argc) rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) only_data = argv[++i];
        else if (!strcmp(argv[i], "--check")) only_check = 1;
        else if (!strcmp(argv[i], "--exhaustive")) exhaustive = 1;
        else if (!strcmp(argv[i], "--one-thread")) threads_max = 1;
        else {
            fprintf(stderr, "usage: %s [--sizes 1e5,1e6,1e7] [--rounds 7] [--data sigma1e-3|sigma1|loguniform] [--check] [--exhaustive] [--one-thread]\n", argv[0]);
            return 2;
        }
    }
    describe_cpu(&cpu);
    printf("cpu: %s\n", cpu.tag);
    printf("cpu flags: %s\n", cpu.flags);
    printf("logical cpus %d, siblings %d, cores %d, L1d %s, L2 %s; kernel path: %s\n", cpu.logical, cpu.siblings,
           cpu.cores_per_socket, cpu.l1d, cpu.l2, dispatch_implementation());

    build_limits();
    buckets = limit_count;
    table = BUILD_TABLE();
    if (check_table(exhaustive)) return 1;

    size_t largest = 0;
    for (int s = 0; s < size_count; s++) if (sizes[s] > largest) largest = sizes[s];
    data_set sets[] = {{"sigma1e-3", NULL}, {"sigma1", NULL}, {"loguniform", NULL}};
    int set_count = 0;
    data_set chosen[3];
    for (int s = 0; s < 3; s++) {
        if (only_data && strcmp(only_data, sets[s].name)) continue;
        chosen[set_count] = sets[s];
        chosen[set_count].values = aligned_alloc(64, (largest * sizeof(float) + 63) & ~(size_t)63);
        if (s == 0) fill_normal(chosen[set_count].values, largest, 1e-3, 0x12345678);
        if (s == 1) fill_normal(chosen[set_count].values, largest, 1.0, 0x12345678);
        if (s == 2) fill_log_uniform(chosen[set_count].values, largest, -12, 20, 0x12345678);
        set_count++;
    }
    int failures = 0;
    for (int s = 0; s < set_count; s++)
        for (int z = 0; z < size_count; z++) failures += check(&chosen[s], sizes[z]);
    // Blocks with NaN and infinities, zeros of both signs, subnormals, and lengths that leave tails.
    data_set awkward = {"awkward", aligned_alloc(64, 2 * CHUNK * sizeof(float) + 64)};
    fill_awkward(awkward.values, 2 * CHUNK + 9, 99);
    size_t awkward_sizes[] = {0, 1, 7, 8, 9, 100, 4099, 100003, 2 * CHUNK + 9};
    for (size_t z = 0; z < sizeof awkward_sizes / sizeof *awkward_sizes; z++) failures += check(&awkward, awkward_sizes[z]);
    if (failures) return 1;
    if (only_check) return 0;

    // Every configuration, measured in rounds so that all of them see the same machine.
    int max_configs = set_count * size_count * 2 * 2 * 2;
    config *configs = calloc((size_t)max_configs, sizeof *configs);
    int n = 0;
    for (int s = 0; s < set_count; s++)
        for (int z = 0; z < size_count; z++)
            for (int k = 0; k < 2; k++)
                for (int histogram = 1; histogram >= 0; histogram--)
                    for (int threads = 1; threads <= threads_max; threads++) {
                        // Two threads only where there are two chunks to share, and not for the
                        // generic path, which differs only in the moments' vector loop.
                        if (threads == 2 && (sizes[z] <= CHUNK || k == 1)) continue;
                        // Norms only: one data set tells it all (no table, no counts).
                        if (!histogram && s > 0) continue;
                        configs[n++] = (config){&chosen[s], sizes[z], &kernels[k], histogram, threads,
                                                calloc(64 * (size_t)rounds + 64, sizeof(double)),
                                                calloc(64 * (size_t)rounds + 64, sizeof(double)), 0};
                    }
    for (int c = 0; c < n; c++) {  // warm-up: page faults, the table into cache, threads' first start
        part p = compute(configs[c].k, configs[c].d->values, configs[c].count, configs[c].histogram, configs[c].threads);
        free(p.counts);
    }
    for (int r = 0; r < rounds; r++)
        for (int c = 0; c < n; c++) measure_once(&configs[c], 0.05);

    // Elements/s: the median over calls by the wall clock, and by the CPU time of the busiest worker
    // thread, which leaves out the time other processes had its core: on a quiet machine the two
    // agree; with 2 threads the second is what the call takes when each worker has a core.
    printf("\n%-10s %-8s %-8s %-16s %-7s %11s %11s %6s  cpu\n", "data", "elements", "path", "mode", "threads", "wall", "cpu-time", "calls");
    for (int c = 0; c < n; c++) {
        config *x = &configs[c];
        printf("%-10s %-8.0e %-8s %-16s %-7d %11.3e %11.3e %6d  %s\n", x->histogram ? x->d->name : "(any)", (double)x->count,
               x->k == &kernels[0] ? dispatch_implementation() : "generic", x->histogram ? "stats+histogram" : "norms only",
               x->threads, median(x->rates, x->measured), median(x->cpu_rates, x->measured), x->measured, cpu.tag);
    }
    return 0;
}
