// Shared by the standalone C harnesses of the statistics kernel (harness.c, experiments.c):
// TensorFlow's bucket edges and the bucket table built the way Sources/GradientHooks/BucketTable.swift
// builds them, the upper_bound reference, the benchmark's data, the CPU description, a clock.
// Header-only on purpose: each harness is one compiler invocation (see build.sh).
#ifndef STATS_C_COMMON_H
#define STATS_C_COMMON_H

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// ---------------------------------------------------------------------------------------------
// TensorFlow's default layout (Sources/TensorBoardEvents/Summaries/TensorFlowBuckets.swift):
// powers 1e-12 * 1.1^k by repeated multiplication while below 1e20, mirrored, 0 in the middle,
// -DBL_MAX and DBL_MAX at the ends.

#define MAX_LIMITS 2048
static double limits[MAX_LIMITS];
static int limit_count;

static void build_limits(void) {
    double powers[MAX_LIMITS];
    int n = 0;
    for (double value = 1.0e-12; value < 1.0e20; value *= 1.1) powers[n++] = value;
    limit_count = 0;
    limits[limit_count++] = -DBL_MAX;
    for (int k = n - 1; k >= 0; k--) limits[limit_count++] = -powers[k];
    limits[limit_count++] = 0;
    for (int k = 0; k < n; k++) limits[limit_count++] = powers[k];
    limits[limit_count++] = DBL_MAX;
}

// The reference: the first limit greater than value (std::upper_bound), the last bucket for DBL_MAX.
static int upper_bound_index(double value) {
    int low = 0, high = limit_count;
    while (low < high) {
        int middle = (low + high) / 2;
        if (limits[middle] > value) high = middle; else low = middle + 1;
    }
    return low < limit_count - 1 ? low : limit_count - 1;
}

static inline uint32_t bits_of(float value) { uint32_t b; memcpy(&b, &value, 4); return b; }
static inline float float_of(uint32_t bits) { float f; memcpy(&f, &bits, 4); return f; }

static inline int32_t sortable_bits(uint32_t bits) {
    uint32_t flip = (uint32_t)((int32_t)bits >> 31) & 0x7FFFFFFFu;
    return (int32_t)(bits ^ flip);
}

// ---------------------------------------------------------------------------------------------
// The bucket tables. FloatBucketTable (BucketTable.swift) builds the x-table since issue 19; the
// kernel's header describes it. The 16,384-entry table of 64-bit words it built before (key =
// sign, exponent, top 5 mantissa bits; base bucket in the low 32 bits, the threshold as a sortable
// integer in the high 32) stays here for the harness's "before" builds and the experiments.

#define TABLE_SLICES 16384
#define TABLE_SHIFT 18

static uint64_t table_entry(int base, float threshold) {
    // A threshold of 0 must also admit -0.0, which sorts just below +0.0.
    int32_t key = threshold == 0 ? sortable_bits(bits_of(-0.0f)) : sortable_bits(bits_of(threshold));
    return (uint64_t)(uint32_t)key << 32 | (uint32_t)base;
}

// Per slice: the bucket of its smallest value, and the smallest float at or above the one edge
// inside it (+inf when there is none). Returns 0, or -1 if a slice held two edges.
static int slice_info(uint32_t key, int shift, int *base_out, float *threshold_out) {
    uint32_t first = key << shift, last = first | ((1u << shift) - 1);
    float a = float_of(first), b = float_of(last);
    if (!isfinite(a) || !isfinite(b)) { *base_out = limit_count - 1; *threshold_out = INFINITY; return 0; }
    float low = a < b ? a : b, high = a < b ? b : a;
    int base = upper_bound_index(low);
    float threshold = INFINITY;
    if (base < limit_count - 1) {
        double edge = limits[base];
        if (edge <= (double)high) {
            float candidate = (float)edge;
            if ((double)candidate < edge) candidate = nextafterf(candidate, INFINITY);
            while ((double)nextafterf(candidate, -INFINITY) >= edge) candidate = nextafterf(candidate, -INFINITY);
            threshold = candidate;
            if (!(base + 1 >= limit_count - 1 || limits[base + 1] > (double)high)) return -1;
        }
    }
    *base_out = base;
    *threshold_out = threshold;
    return 0;
}

static inline uint64_t *build_table(void) {
    uint64_t *table = aligned_alloc(64, TABLE_SLICES * sizeof *table);
    for (uint32_t key = 0; key < TABLE_SLICES; key++) {
        int base;
        float threshold;
        if (slice_info(key, TABLE_SHIFT, &base, &threshold) != 0) { fprintf(stderr, "slice %u holds two edges\n", key); exit(1); }
        table[key] = table_entry(base, threshold);
    }
    return table;
}

static inline int table_index(const uint64_t *table, float value) {
    uint32_t bits = bits_of(value);
    uint64_t entry = table[bits >> TABLE_SHIFT];
    return (int)(uint32_t)entry + (sortable_bits(bits) >= (int32_t)(uint32_t)(entry >> 32));
}

// The x-table: 8,192 slices (sign, exponent, top 4 mantissa bits), entry = (t - 1) << 13 | base,
// with t the threshold's position in its slice (low 19 bits of x = bits ^ (bits >>s 31)), 2^19 when
// the slice holds no edge. A port of FloatBucketTable.init, line for line.
#define XTABLE_SLICES 8192
#define XTABLE_SHIFT 19

static inline uint32_t *build_xtable(void) {
    uint32_t *table = aligned_alloc(64, XTABLE_SLICES * sizeof *table);
    for (uint32_t key = 0; key < XTABLE_SLICES; key++) {
        int base;
        float threshold;
        if (slice_info(key, XTABLE_SHIFT, &base, &threshold) != 0) { fprintf(stderr, "slice %u holds two edges\n", key); exit(1); }
        uint32_t position = 1u << XTABLE_SHIFT;  // no edge: t - 1 is all ones, which nothing passes
        if (!isinf(threshold)) {
            // A threshold of 0 must also admit -0.0 (IEEE: -0.0 >= 0), the largest value of its slice.
            uint32_t b = threshold == 0 ? bits_of(-0.0f) : bits_of(threshold);
            position = (b ^ (uint32_t)((int32_t)b >> 31)) & ((1u << XTABLE_SHIFT) - 1);
            if (position == 0) { fprintf(stderr, "slice %u: threshold at its first value\n", key); exit(1); }
        }
        table[key] = (position - 1) << (32 - XTABLE_SHIFT) | (uint32_t)base;
    }
    return table;
}

static inline int xtable_index(const uint32_t *table, float value) {
    uint32_t bits = bits_of(value);
    uint32_t entry = table[bits >> XTABLE_SHIFT];
    uint32_t key = (bits ^ (uint32_t)((int32_t)bits >> 31)) << (32 - XTABLE_SHIFT);
    return (int)(entry & ((1u << (32 - XTABLE_SHIFT)) - 1)) + (entry < key);
}

// ---------------------------------------------------------------------------------------------
// Data: the same splitmix64 generator as the Swift benchmark and tests.

static inline uint64_t splitmix(uint64_t *state) {
    *state += 0x9E3779B97F4A7C15ull;
    uint64_t z = *state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

// Normal values with standard deviation sigma (Box-Muller, as HooksBenchmarks.swift makes them).
static void fill_normal(float *values, size_t count, double sigma, uint64_t seed) {
    uint64_t state = seed;
    for (size_t i = 0; i < count; i += 2) {
        uint64_t z = splitmix(&state);
        double u1 = (double)(z >> 11) * 0x1p-53;
        if (u1 < 1e-300) u1 = 1e-300;
        double u2 = (double)(z & 0x7FF) / 2048;
        double radius = sqrt(-2 * log(u1)) * sigma;
        values[i] = (float)(radius * cos(2 * M_PI * u2));
        if (i + 1 < count) values[i + 1] = (float)(radius * sin(2 * M_PI * u2));
    }
}

// Magnitudes log-uniform over [10^lo, 10^hi], random signs: every bucket in that range about equally
// likely, the widest spread a gradient buffer can have over the table.
static void fill_log_uniform(float *values, size_t count, double lo, double hi, uint64_t seed) {
    uint64_t state = seed;
    for (size_t i = 0; i < count; i++) {
        uint64_t z = splitmix(&state);
        double u = (double)(z >> 11) * 0x1p-53;
        double magnitude = pow(10.0, lo + (hi - lo) * u);
        values[i] = (float)((z & 1) ? -magnitude : magnitude);
    }
}

// What StatisticsTests.awkwardValues makes: NaN, ±Inf, zeros, subnormals, huge values, and small
// values of several scales, so that blocks take the element-by-element path too.
static void fill_awkward(float *values, size_t count, uint64_t seed) {
    uint64_t state = seed;
    for (size_t i = 0; i < count; i++) {
        uint64_t z = splitmix(&state);
        int pick = (int)(z % 100);
        double u = (double)(z >> 11) * 0x1p-53 * 2 - 1;
        if (pick == 0) values[i] = NAN;
        else if (pick == 1) values[i] = INFINITY;
        else if (pick == 2) values[i] = -INFINITY;
        else if (pick < 8) values[i] = (pick & 1) ? 0.0f : -0.0f;
        else if (pick < 10) values[i] = 0x1p-149f * (float)((int)(z >> 40) % 201 - 100);
        else if (pick < 12) values[i] = (float)(u * 3e38);
        else values[i] = (float)(u * (double)(i % 7 + 1) * 1e-3);
    }
}

// ---------------------------------------------------------------------------------------------
// The CPU, printed beside every figure: a figure from another CPU is another figure.

typedef struct {
    char model[128];
    int family, model_number, stepping;
    int logical, cores_per_socket, siblings;  // siblings > cores: SMT threads share a core
    char l1d[32], l2[32];
    char flags[4096];
    char tag[256];  // one line: model, family/model, microarchitecture guess, the flags that matter here
} cpu_description;

static int cpu_has(const cpu_description *cpu, const char *flag) {
    size_t n = strlen(flag);
    for (const char *p = cpu->flags; (p = strstr(p, flag)) != NULL; p += n) {
        if ((p == cpu->flags || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0' || p[n] == '\n')) return 1;
    }
    return 0;
}

static const char *amd_core_name(int family, int model) {
    if (family == 0x17) {
        if (model < 0x30) return "Zen/Zen+";
        return "Zen 2";
    }
    if (family == 0x19) {
        if (model < 0x10 || (model >= 0x20 && model < 0x60)) return "Zen 3";
        return "Zen 4";
    }
    if (family == 0x1A) return "Zen 5";
    return "?";
}

static void read_sysfs(const char *path, char *out, size_t size) {
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    if (fgets(out, (int)size, f)) out[strcspn(out, "\n")] = '\0';
    fclose(f);
}

static void describe_cpu(cpu_description *cpu) {
    memset(cpu, 0, sizeof *cpu);
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    int vendor_amd = 0;
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon) continue;
        char *value = colon + 1;
        while (*value == ' ') value++;
        value[strcspn(value, "\n")] = '\0';
        char *end = colon;  // the key, without the tabs and spaces before the colon
        while (end > line && (end[-1] == ' ' || end[-1] == '\t')) end--;
        *end = '\0';
        if (!strcmp(line, "processor")) cpu->logical++;
        if (cpu->logical > 1) continue;  // the first processor describes them all
        if (!strcmp(line, "vendor_id")) vendor_amd = strstr(value, "AMD") != NULL;
        else if (!strcmp(line, "model name")) snprintf(cpu->model, sizeof cpu->model, "%s", value);
        else if (!strcmp(line, "cpu family")) cpu->family = atoi(value);
        else if (!strcmp(line, "model")) cpu->model_number = atoi(value);
        else if (!strcmp(line, "stepping")) cpu->stepping = atoi(value);
        else if (!strcmp(line, "siblings")) cpu->siblings = atoi(value);
        else if (!strcmp(line, "cpu cores")) cpu->cores_per_socket = atoi(value);
        else if (!strcmp(line, "flags")) snprintf(cpu->flags, sizeof cpu->flags, "%s", value);
    }
    if (f) fclose(f);
    read_sysfs("/sys/devices/system/cpu/cpu0/cache/index0/size", cpu->l1d, sizeof cpu->l1d);
    read_sysfs("/sys/devices/system/cpu/cpu0/cache/index2/size", cpu->l2, sizeof cpu->l2);
    static const char *interesting[] = {"avx2", "avx512f", "pclmulqdq", "vpclmulqdq", "bmi2", NULL};
    char flags[128] = "";
    for (int i = 0; interesting[i]; i++) {
        if (cpu_has(cpu, interesting[i])) {
            strcat(flags, flags[0] ? " " : "");
            strcat(flags, interesting[i]);
        }
    }
    const char *core = vendor_amd ? amd_core_name(cpu->family, cpu->model_number) : "";
    snprintf(cpu->tag, sizeof cpu->tag, "%s, family %d model %d%s%s%s, %s, L1d %s, %s", cpu->model, cpu->family,
             cpu->model_number, core[0] ? " (" : "", core, core[0] ? ")" : "", flags, cpu->l1d,
             cpu->siblings > cpu->cores_per_socket ? "SMT" : "no SMT");
}

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

// CPU time of the calling thread: unlike the wall clock, it stops while another process has the
// core (this VM is shared and noisy), though not while caches and memory are shared.
static inline double thread_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *values, int count) {
    qsort(values, (size_t)count, sizeof *values, compare_doubles);
    return count % 2 ? values[count / 2] : 0.5 * (values[count / 2 - 1] + values[count / 2]);
}

#endif
