// Checks gradalert_find_record_header (dispatched, hardware and portable paths) against a naive
// reference, a bit at a time, on: every count from 0 to 12 and beyond; random bytes, zeros, 0xff;
// headers planted at every offset near both ends of buffers of many sizes and alignments, with
// lengths either side of every bound; real event files (Tests/Fixtures) with random corruption;
// and chance CRC matches found by brute force. Every search is also repeated from just past each
// hit, so each path must find every header in order, not only the first.
//
//   make -C Tools/benchmarks/resync check        (or see the Makefile for the build line)

#include "CGradAlertCRC32C.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t rng_state = 0x243f6a8885a308d3ull;
static uint64_t next_random(void) {  // SplitMix64
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint32_t reference_crc(const uint8_t *p, size_t n) {
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int bit = 0; bit < 8; bit++) crc = (crc & 1u) ? (crc >> 1) ^ 0x82f63b78u : crc >> 1;
    }
    return ~crc;
}

static uint32_t reference_masked(const uint8_t *p) {
    uint32_t crc = reference_crc(p, 8);
    return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static uint64_t le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static int reference_is_header(const uint8_t *p, uint64_t max_length) {
    return reference_masked(p) == le32(p + 8) && le64(p) <= max_length;
}

// A reference that remembers which offsets hold a header (the CRC is slow a bit at a time).
typedef struct {
    const uint8_t *data;
    size_t count;
    uint64_t max_length;
    uint8_t *is_header;  // one flag per candidate
} reference_index;

static reference_index index_headers(const uint8_t *data, size_t count, uint64_t max_length) {
    reference_index index = {data, count, max_length, NULL};
    size_t candidates = count >= 12 ? count - 11 : 0;
    index.is_header = calloc(candidates + 1, 1);
    for (size_t i = 0; i < candidates; i++) index.is_header[i] = (uint8_t)reference_is_header(data + i, max_length);
    return index;
}

static size_t reference_find(const reference_index *index, size_t from) {
    size_t candidates = index->count >= 12 ? index->count - 11 : 0;
    for (size_t i = from; i < candidates; i++) {
        if (index->is_header[i]) return i;
    }
    return index->count;
}

typedef size_t (*find_fn)(const void *, size_t, uint64_t);
static const struct {
    const char *name;
    find_fn find;
} paths[] = {
    {"dispatched", gradalert_find_record_header},
    {"hardware", gradalert_find_record_header_hardware},
    {"portable", gradalert_find_record_header_portable},
};
#define PATHS (sizeof paths / sizeof paths[0])

static long checks, failures, hits_seen;

// Every path finds, from each starting point (0, then just past each hit), what the reference
// finds: every header in order. Searches also start at a few offsets inside the buffer, so the
// data pointer takes every alignment.
static void check_all(const char *what, const uint8_t *given, size_t count, uint64_t max_length) {
    // A copy in a buffer of exactly `count` bytes, so that a read past the end is caught (build with
    // -fsanitize=address: `make check-asan`).
    uint8_t *data = count ? malloc(count) : NULL;
    if (count) memcpy(data, given, count);
    reference_index index = index_headers(data, count, max_length);
    for (size_t path = 0; path < PATHS; path++) {
        size_t from = 0;
        for (;;) {
            size_t expected = reference_find(&index, from);
            size_t got = paths[path].find(data + from, count - from, max_length);
            got = got == count - from ? count : from + got;
            checks++;
            if (got != expected) {
                if (failures++ < 20)
                    fprintf(stderr, "FAIL %s, %s path, %zu bytes, max_length %llu, from %zu: got %zu, expected %zu\n", what,
                            paths[path].name, count, (unsigned long long)max_length, from, got, expected);
                break;
            }
            if (expected == count) break;
            if (path == 0) hits_seen++;
            from = expected + 1;
        }
        for (size_t start = 1; start < 9 && start <= count; start++) {
            size_t expected = reference_find(&index, start);
            size_t got = paths[path].find(data + start, count - start, max_length);
            got = got == count - start ? count : start + got;
            checks++;
            if (got != expected && failures++ < 20)
                fprintf(stderr, "FAIL %s, %s path, %zu bytes, from %zu: got %zu, expected %zu\n", what, paths[path].name, count,
                        start, got, expected);
        }
    }
    free(index.is_header);
    free(data);
}

static void plant(uint8_t *at, uint64_t length) {
    for (int i = 0; i < 8; i++) at[i] = (uint8_t)(length >> (8 * i));
    uint32_t masked = reference_masked(at);
    for (int i = 0; i < 4; i++) at[8 + i] = (uint8_t)(masked >> (8 * i));
}

static const uint64_t max_lengths[] = {UINT64_MAX, 1ull << 31, (1ull << 28) - 16, 4080, 0, (1ull << 32) - 1, 1ull << 32, 1ull << 40};
#define MAX_LENGTHS (sizeof max_lengths / sizeof max_lengths[0])

// Lengths either side of each bound, and ones that differ from a short one only in a high byte.
static const uint64_t planted_lengths[] = {0, 1, 24, 4080, 4081, (1ull << 28) - 16, (1ull << 31) - 1, 1ull << 31, (1ull << 31) + 1,
                                           (1ull << 32) - 1, 1ull << 32, 0x0100000000000018ull, 0x0000000100000018ull,
                                           0x0000010000000018ull, 1ull << 40, UINT64_MAX};
#define PLANTED (sizeof planted_lengths / sizeof planted_lengths[0])

static void fill(uint8_t *p, size_t n, int kind) {
    for (size_t i = 0; i < n; i++) {
        switch (kind) {
        case 0: p[i] = (uint8_t)next_random(); break;
        case 1: p[i] = 0; break;
        case 2: p[i] = 0xff; break;
        default: p[i] = (next_random() & 7) == 0 ? (uint8_t)next_random() : 0; break;  // mostly zeros
        }
    }
}

static const char *kind_names[] = {"random", "zeros", "0xff", "sparse"};

static void small_counts(void) {
    uint8_t buffer[64];
    for (int kind = 0; kind < 4; kind++) {
        for (size_t count = 0; count <= 40; count++) {
            for (size_t l = 0; l < PLANTED; l++) {
                fill(buffer, sizeof buffer, kind);
                if (count >= 12) plant(buffer + (next_random() % (count - 11)), planted_lengths[l]);
                for (size_t m = 0; m < MAX_LENGTHS; m++) check_all(kind_names[kind], buffer, count, max_lengths[m]);
            }
        }
    }
    // Count 0 with a null pointer: nothing is read.
    for (size_t path = 0; path < PATHS; path++) {
        checks++;
        if (paths[path].find(NULL, 0, UINT64_MAX) != 0 && failures++ < 20) fprintf(stderr, "FAIL null, 0 bytes\n");
    }
}

// A header at every offset near the start and the end of buffers whose sizes straddle the group
// size, with other fill; then two headers, to check the first is the one returned.
static void planted_near_ends(void) {
    static const size_t sizes[] = {12, 13, 31, 32, 42, 43, 44, 45, 63, 64, 75, 76, 100, 107, 128, 139, 1000, 4096 + 11};
    uint8_t *buffer = malloc(8192);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t count = sizes[s];
        size_t candidates = count - 11;
        for (size_t at = 0; at < candidates; at++) {
            if (at >= 80 && at + 80 < candidates) continue;
            for (int kind = 0; kind < 4; kind++) {
                uint64_t length = planted_lengths[next_random() % PLANTED];
                fill(buffer, count, kind);
                plant(buffer + at, length);
                check_all("planted", buffer, count, UINT64_MAX);
                check_all("planted", buffer, count, 1ull << 31);
                check_all("planted", buffer, count, length);
                if (length > 0) check_all("planted", buffer, count, length - 1);
                if (candidates > 1) {
                    size_t second = (size_t)(next_random() % candidates);
                    plant(buffer + second, planted_lengths[next_random() % PLANTED]);
                    check_all("planted twice", buffer, count, 1ull << 31);
                }
            }
        }
    }
    free(buffer);
}

static void large_fills(void) {
    size_t count = 1 << 20;
    uint8_t *buffer = malloc(count);
    for (int kind = 0; kind < 4; kind++) {
        fill(buffer, count, kind);
        // Some headers, scattered, with lengths of every kind.
        for (int k = 0; k < 200; k++) {
            size_t at = (size_t)(next_random() % (count - 11));
            plant(buffer + at, planted_lengths[next_random() % PLANTED]);
        }
        for (size_t m = 0; m < MAX_LENGTHS; m++) check_all(kind_names[kind], buffer, count, max_lengths[m]);
    }
    free(buffer);
}

// Random bytes hold a chance match every 2^32 offsets, too rarely to meet one here. So make one
// that is not written as a header: keep 12 random bytes, and change only the first four (the
// length's low half) so that the CRC of the 8 length bytes comes out as the 4 random bytes after
// them claim. The CRC is affine in those 32 bits, so that is a linear system over GF(2).
static void chance_matches(void) {
    size_t count = 4096, at = 100;
    uint8_t *buffer = malloc(count);
    fill(buffer, count, 0);
    uint32_t stored = le32(buffer + at + 8) - 0xa282ead8u;
    uint32_t wanted = (stored << 15) | (stored >> 17);  // unmasked: the CRC the length bytes need
    uint8_t word[8];
    memcpy(word, buffer + at, 8);
    memset(word, 0, 4);
    uint32_t zero_crc = reference_crc(word, 8);
    // rows[b]: how flipping bit b of the first four bytes changes the CRC.
    uint32_t rows[32], combos[32];
    for (int bit = 0; bit < 32; bit++) {
        uint8_t probe[8];
        memcpy(probe, word, 8);
        probe[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        rows[bit] = reference_crc(probe, 8) ^ zero_crc;
        combos[bit] = 1u << bit;
    }
    // Gaussian elimination: which bits to flip so the changes add up to wanted ^ zero_crc.
    uint32_t goal = wanted ^ zero_crc, chosen = 0;
    for (int pivot = 31, r = 0; pivot >= 0; pivot--) {
        int found = -1;
        for (int i = r; i < 32 && found < 0; i++) {
            if (rows[i] >> pivot & 1) found = i;
        }
        if (found < 0) continue;
        uint32_t t = rows[found], c = combos[found];
        rows[found] = rows[r], combos[found] = combos[r];
        rows[r] = t, combos[r] = c;
        for (int i = 0; i < 32; i++) {
            if (i != r && (rows[i] >> pivot & 1)) rows[i] ^= rows[r], combos[i] ^= combos[r];
        }
        if (goal >> pivot & 1) goal ^= rows[r], chosen ^= combos[r];
        r++;
    }
    for (int bit = 0; bit < 32; bit++) {
        if (chosen >> bit & 1) word[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    memcpy(buffer + at, word, 4);
    checks++;
    if (!reference_is_header(buffer + at, UINT64_MAX)) {
        failures++;
        fprintf(stderr, "FAIL the chance-match construction did not produce a header\n");
    }
    check_all("chance match", buffer, count, UINT64_MAX);
    check_all("chance match", buffer, count, 1ull << 31);  // its length is random: over 2^31, so none
    free(buffer);
}

static uint8_t *read_file(const char *path, size_t *count) {
    FILE *file = fopen(path, "rb");
    if (!file) return NULL;
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *bytes = malloc((size_t)size + 1);
    *count = fread(bytes, 1, (size_t)size, file);
    fclose(file);
    return bytes;
}

static int files_checked;

static void event_file(const char *path) {
    size_t count;
    uint8_t *bytes = read_file(path, &count);
    if (!bytes) return;
    files_checked++;
    check_all(path, bytes, count, UINT64_MAX);
    check_all(path, bytes, count, 1ull << 31);
    for (int trial = 0; trial < 6; trial++) {
        uint8_t *damaged = malloc(count + 1);
        memcpy(damaged, bytes, count);
        int flips = 1 + (int)(next_random() % 20);
        for (int f = 0; f < flips && count > 0; f++) {
            size_t at = (size_t)(next_random() % count);
            damaged[at] ^= (uint8_t)(1u << (next_random() % 8));
        }
        check_all(path, damaged, count, 1ull << 31);
        check_all(path, damaged, count, 4080);
        free(damaged);
    }
    free(bytes);
}

static void walk(const char *directory) {
    DIR *dir = opendir(directory);
    if (!dir) return;
    struct dirent *entry;
    while ((entry = readdir(dir))) {
        if (entry->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", directory, entry->d_name);
        struct stat info;
        if (stat(path, &info) != 0) continue;
        if (S_ISDIR(info.st_mode)) {
            walk(path);
        } else if (strstr(entry->d_name, "tfevents") && !strstr(entry->d_name, ".gz")) {
            event_file(path);
        }
    }
    closedir(dir);
}

int main(int argc, char **argv) {
    const char *fixtures = argc > 1 ? argv[1] : "../../../Tests/Fixtures";
    printf("implementation: %s, hardware %d\n", gradalert_crc32c_implementation(), gradalert_crc32c_has_hardware());
    small_counts();
    planted_near_ends();
    large_fills();
    chance_matches();
    walk(fixtures);
    printf("%ld checks (%ld headers found), %d event files; %ld failures\n", checks, hits_seen, files_checked, failures);
    if (files_checked == 0) {
        fprintf(stderr, "no event files under %s\n", fixtures);
        return 1;
    }
    return failures != 0;
}
