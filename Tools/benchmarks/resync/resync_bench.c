// How fast the search after damage looks for a record header at every offset
// (gradalert_find_record_header), over 200 MB of random bytes, 200 MB of zeros and 200 MB of
// intact event files (Tests/Fixtures repeated: a header every ~80 bytes, each found and the search
// started again after it), by each path, with the reader's length bound (the pre-filter on) and
// without one (a CRC at every offset); then the gzip case: GBs of zeros decompressed into a 1 MiB
// window and searched as they come, against decompressing alone. Prints the CPU, and the median
// and range of several runs of each. GB = 10^9 bytes.
//
//   make -C Tools/benchmarks/resync bench        (RUNS=9 MB=200 GZIP_GB=3 to change; on a shared
//                                                 machine, taskset -c 1 make ... steadies it)

#define _GNU_SOURCE
#include "CGradAlertCRC32C.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng_state = 1;
static uint64_t next_random(void) {
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void print_cpu(void) {
    FILE *info = fopen("/proc/cpuinfo", "r");
    if (!info) {
        printf("cpu: (no /proc/cpuinfo)\n");
        return;
    }
    char line[8192];
    int seen_model = 0, seen_family = 0, seen_number = 0, seen_flags = 0;
    while (fgets(line, sizeof line, info)) {
        line[strcspn(line, "\n")] = 0;
        if (!seen_model && strncmp(line, "model name", 10) == 0) seen_model = printf("cpu: %s\n", strchr(line, ':') + 2);
        else if (!seen_family && strncmp(line, "cpu family", 10) == 0) seen_family = printf("cpu family: %s\n", strchr(line, ':') + 2);
        else if (!seen_number && strncmp(line, "model\t", 6) == 0) seen_number = printf("cpu model number: %s\n", strchr(line, ':') + 2);
        else if (!seen_flags && (strncmp(line, "flags", 5) == 0 || strncmp(line, "Features", 8) == 0)) {
            static const char *wanted[] = {"sse4_2", "pclmulqdq", "avx2", "avx512f", "vpclmulqdq", "crc32", "pmull", NULL};
            printf("cpu flags (of interest):");
            for (int i = 0; wanted[i]; i++) {
                char padded[64];
                snprintf(padded, sizeof padded, " %s", wanted[i]);
                char *at = strstr(line, padded);
                if (at && (at[strlen(padded)] == ' ' || at[strlen(padded)] == 0)) printf(" %s", wanted[i]);
            }
            printf("\n");
            seen_flags = 1;
        }
    }
    fclose(info);
}

typedef size_t (*find_fn)(const void *, size_t, uint64_t);

static volatile size_t sink;

// The whole buffer searched the way the reader does it: 1 MiB blocks, each next block starting
// where the last one's unchecked candidates (its final 11 bytes) start; after a hit, from the
// next offset. Returns how many headers were found.
static size_t search_all(find_fn find, const uint8_t *data, size_t count, uint64_t max_length) {
    const size_t block = 1 << 20;
    size_t position = 0, hits = 0;
    while (count - position >= 12) {
        size_t n = count - position < block ? count - position : block;
        size_t found = find(data + position, n, max_length);
        if (found == n) {
            position += n - 11;
        } else {
            hits++;
            position += found + 1;
        }
    }
    return hits;
}

// What the reader did before: one CRC call per offset (without the Swift around it).
static size_t search_one_at_a_time(const uint8_t *data, size_t count, uint64_t max_length) {
    size_t hits = 0;
    for (size_t i = 0; i + 12 <= count; i++) {
        uint32_t stored;
        uint64_t length;
        memcpy(&stored, data + i + 8, 4);
        memcpy(&length, data + i, 8);
        if (gradalert_crc32c_masked(data + i, 8) == stored && length <= max_length) hits++;
    }
    return hits;
}

static int runs = 9;

static void measure(const char *data_name, const char *path_name, const char *filter_name, find_fn find, int one_at_a_time,
                    const uint8_t *data, size_t count, uint64_t max_length) {
    double times[64];
    size_t hits = 0;
    for (int r = 0; r < runs; r++) {
        double start = now();
        hits = one_at_a_time ? search_one_at_a_time(data, count, max_length) : search_all(find, data, count, max_length);
        times[r] = now() - start;
        sink = hits;
    }
    qsort(times, (size_t)runs, sizeof times[0], compare_doubles);
    double median = times[runs / 2];
    printf("| %-14s | %-24s | %-26s | %7.2f | %5.2f–%5.2f | %zu |\n", data_name, path_name, filter_name, (double)count / median / 1e9,
           (double)count / times[runs - 1] / 1e9, (double)count / times[0] / 1e9, hits);
    fflush(stdout);
}

static size_t append_file(uint8_t **buffer, size_t *count, size_t *capacity, const char *path) {
    FILE *file = fopen(path, "rb");
    if (!file) return 0;
    uint8_t chunk[1 << 16];
    size_t n, total = 0;
    while ((n = fread(chunk, 1, sizeof chunk, file)) > 0) {
        if (*count + n > *capacity) {
            *capacity = (*count + n) * 2;
            *buffer = realloc(*buffer, *capacity);
        }
        memcpy(*buffer + *count, chunk, n);
        *count += n;
        total += n;
    }
    fclose(file);
    return total;
}

static void collect(uint8_t **buffer, size_t *count, size_t *capacity, const char *directory) {
    DIR *dir = opendir(directory);
    if (!dir) return;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (entry->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", directory, entry->d_name);
        struct stat info;
        if (stat(path, &info) != 0) continue;
        if (S_ISDIR(info.st_mode)) collect(buffer, count, capacity, path);
        else if (strstr(entry->d_name, "tfevents") && !strstr(entry->d_name, ".gz")) append_file(buffer, count, capacity, path);
    }
    closedir(dir);
}

// The gzip case: `gigabytes` of zeros compressed once, then decompressed into a 1 MiB window as
// the reader's GzipInput does, each fill searched (with the candidates that straddle fills carried
// over, as the reader carries them) or not searched, for the cost of decompression alone.
static void gzip_zeros(double gigabytes) {
    size_t total = (size_t)(gigabytes * 1e9);
    size_t capacity = total / 500 + (1 << 20);
    uint8_t *compressed = malloc(capacity);
    z_stream out = {0};
    deflateInit2(&out, 6, Z_DEFLATED, 16 + 15, 8, Z_DEFAULT_STRATEGY);
    static uint8_t zeros[1 << 20];
    size_t left = total;
    out.next_out = compressed;
    out.avail_out = (uInt)capacity;
    while (left > 0) {
        size_t n = left < sizeof zeros ? left : sizeof zeros;
        out.next_in = zeros;
        out.avail_in = (uInt)n;
        left -= n;
        deflate(&out, left == 0 ? Z_FINISH : Z_NO_FLUSH);
    }
    size_t compressed_count = out.total_out;
    deflateEnd(&out);
    printf("\ngzip: %.2f GB of zeros compressed (level 6) to %.2f MB; decompressed into a 1 MiB window\n\n", (double)total / 1e9,
           (double)compressed_count / 1e6);
    printf("| work | GB/s of decompressed data, median | range | headers found |\n|---|---|---|---|\n");
    uint8_t *window = malloc(1 << 20);
    for (int searched = 0; searched < 2; searched++) {
        double times[64];
        size_t hits = 0;
        for (int r = 0; r < (runs < 5 ? runs : 5); r++) {
            double start = now();
            z_stream in = {0};
            inflateInit2(&in, 16 + 15);
            in.next_in = compressed;
            in.avail_in = (uInt)compressed_count;
            size_t held = 0, produced = 0;
            hits = 0;
            for (;;) {
                in.next_out = window + held;
                in.avail_out = (uInt)((1 << 20) - held);
                int status = inflate(&in, Z_NO_FLUSH);
                size_t now_held = (1 << 20) - in.avail_out;
                produced += now_held - held;
                held = now_held;
                if (searched) {
                    size_t position = 0;
                    while (held - position >= 12) {
                        size_t found = gradalert_find_record_header(window + position, held - position, 1ull << 31);
                        if (found == held - position) {
                            position = held - 11;
                        } else {
                            hits++;
                            position += found + 1;
                        }
                    }
                    memmove(window, window + position, held - position);  // the straddling candidates
                    held -= position;
                } else {
                    held = 0;
                }
                if (status != Z_OK) break;
            }
            inflateEnd(&in);
            times[r] = now() - start;
            if (produced != total) printf("decompressed %zu bytes, expected %zu\n", produced, total);
        }
        int n = runs < 5 ? runs : 5;
        qsort(times, (size_t)n, sizeof times[0], compare_doubles);
        printf("| %s | %.2f | %.2f–%.2f | %zu |\n", searched ? "decompress and search" : "decompress only",
               (double)total / times[n / 2] / 1e9, (double)total / times[n - 1] / 1e9, (double)total / times[0] / 1e9, hits);
        fflush(stdout);
    }
    free(window);
    free(compressed);
}

int main(int argc, char **argv) {
    const char *fixtures = argc > 1 ? argv[1] : "../../../Tests/Fixtures";
    if (getenv("RUNS")) runs = atoi(getenv("RUNS"));
    if (runs < 1) runs = 1;
    if (runs > 64) runs = 64;
    size_t count = (size_t)(getenv("MB") ? atof(getenv("MB")) : 200) * 1000000;
    double gzip_gb = getenv("GZIP_GB") ? atof(getenv("GZIP_GB")) : 3;

    print_cpu();
    printf("crc32c implementation: %s; hardware paths: %s\n", gradalert_crc32c_implementation(),
           gradalert_crc32c_has_hardware() ? "yes" : "no");
    printf("median of %d runs; each run searches the whole buffer in 1 MiB blocks\n\n", runs);

    uint8_t *random_bytes = malloc(count), *zeros = calloc(count, 1);
    for (size_t i = 0; i + 8 <= count; i += 8) {
        uint64_t r = next_random();
        memcpy(random_bytes + i, &r, 8);
    }
    memset(zeros, 0, count);  // touch every page before timing
    size_t events_capacity = 1 << 20, events_count = 0;
    uint8_t *events = malloc(events_capacity);
    collect(&events, &events_count, &events_capacity, fixtures);
    if (events_count > 0) {
        // Repeated to the same size: intact records, each header found in turn.
        size_t one = events_count;
        events = realloc(events, count);
        while (events_count < count) {
            size_t n = count - events_count < one ? count - events_count : one;
            memcpy(events + events_count, events, n);
            events_count += n;
        }
    }

    const struct {
        const char *name;
        const uint8_t *data;
    } inputs[] = {{"random", random_bytes}, {"zeros", zeros}, {"event files", events_count ? events : NULL}};
    const struct {
        const char *name;
        find_fn find;
        int one_at_a_time;
    } paths[] = {
        {"dispatched", gradalert_find_record_header, 0},
        {"hardware (crc32)", gradalert_find_record_header_hardware, 0},
        {"portable (tables)", gradalert_find_record_header_portable, 0},
        {"one crc32c call per offset", NULL, 1},
    };
    printf("| data (%zu MB) | path | lengths | GB/s | range | headers |\n|---|---|---|---|---|---|\n", count / 1000000);
    for (size_t d = 0; d < sizeof inputs / sizeof inputs[0]; d++) {
        if (!inputs[d].data) continue;
        for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
            if (paths[p].one_at_a_time && d == 2) continue;
            measure(inputs[d].name, paths[p].name, "≤ 2^31 (the reader's)", paths[p].find, paths[p].one_at_a_time, inputs[d].data, count,
                    1ull << 31);
            if (!paths[p].one_at_a_time)
                measure(inputs[d].name, paths[p].name, "any (CRC at every offset)", paths[p].find, 0, inputs[d].data, count, UINT64_MAX);
        }
    }
    if (gzip_gb > 0) gzip_zeros(gzip_gb);
    free(random_bytes);
    free(zeros);
    free(events);
    return 0;
}
