// What one core of this machine sustains for the instruction mixes an AVX2
// int8 kernel is made of: the ceiling Wafer's kernels are measured against
// (bench/RESULTS.md). Each loop keeps eight independent accumulators so that
// throughput, not latency, is measured; the empty asm statements stop the
// compiler from hoisting or merging the work.
//
//     clang -O2 -march=x86-64-v3 bench/int8_ceiling.c -o /tmp/int8_ceiling && /tmp/int8_ceiling
#include <immintrin.h>
#include <stdio.h>
#include <time.h>

enum { ITERATIONS = 100000000 };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void report(const char *mix, double seconds, __m256i sink) {
    const double maddubs = 8.0 * ITERATIONS / seconds;
    printf("%-46s %5.2f G vpmaddubsw/s = %6.1f G multiply-adds/s  (%d)\n", mix, maddubs / 1e9, 32 * maddubs / 1e9,
           _mm256_extract_epi16(sink, 0));
}

int main(void) {
    static int activations[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    int *x = activations;
    __m256i a = _mm256_set1_epi8(3), b0 = _mm256_set1_epi8(1), b1 = _mm256_set1_epi8(2), b2 = _mm256_set1_epi8(4),
            b3 = _mm256_set1_epi8(5);
    __m256i h0, h1, h2, h3, h4, h5, h6, h7;
#define ZERO() h0 = h1 = h2 = h3 = h4 = h5 = h6 = h7 = _mm256_setzero_si256()
#define SINK() _mm256_add_epi16(_mm256_add_epi16(_mm256_add_epi16(h0, h1), _mm256_add_epi16(h2, h3)), \
                                _mm256_add_epi16(_mm256_add_epi16(h4, h5), _mm256_add_epi16(h6, h7)))

    ZERO();
    double t = now();
    for (long n = 0; n < ITERATIONS; n++) {
        __asm__ volatile("" : "+x"(a), "+x"(b0), "+x"(b1), "+x"(b2), "+x"(b3));
        h0 = _mm256_maddubs_epi16(a, b0), h1 = _mm256_maddubs_epi16(a, b1), h2 = _mm256_maddubs_epi16(a, b2);
        h3 = _mm256_maddubs_epi16(a, b3);
        __asm__ volatile("" : "+x"(h0), "+x"(h1), "+x"(h2), "+x"(h3));
        h4 = _mm256_maddubs_epi16(b0, a), h5 = _mm256_maddubs_epi16(b1, a), h6 = _mm256_maddubs_epi16(b2, a);
        h7 = _mm256_maddubs_epi16(b3, a);
        __asm__ volatile("" : "+x"(h4), "+x"(h5), "+x"(h6), "+x"(h7));
    }
    report("vpmaddubsw alone", now() - t, SINK());

    ZERO();
    t = now();
    for (long n = 0; n < ITERATIONS; n++) {
        __asm__ volatile("" : "+x"(a), "+x"(b0), "+x"(b1), "+x"(b2), "+x"(b3));
        h0 = _mm256_add_epi16(h0, _mm256_maddubs_epi16(a, b0)), h1 = _mm256_add_epi16(h1, _mm256_maddubs_epi16(a, b1));
        h2 = _mm256_add_epi16(h2, _mm256_maddubs_epi16(a, b2)), h3 = _mm256_add_epi16(h3, _mm256_maddubs_epi16(a, b3));
        h4 = _mm256_add_epi16(h4, _mm256_maddubs_epi16(b0, a)), h5 = _mm256_add_epi16(h5, _mm256_maddubs_epi16(b1, a));
        h6 = _mm256_add_epi16(h6, _mm256_maddubs_epi16(b2, a)), h7 = _mm256_add_epi16(h7, _mm256_maddubs_epi16(b3, a));
    }
    report("vpmaddubsw + vpaddw (the AVX2 accumulate)", now() - t, SINK());

    ZERO();
    t = now();
    for (long n = 0; n < ITERATIONS; n++) {
        __asm__ volatile("" : "+x"(a), "+r"(x));
#define STEP(h, i) h = _mm256_add_epi16(h, _mm256_maddubs_epi16(a, _mm256_set1_epi32(x[i])))
        STEP(h0, 0), STEP(h1, 1), STEP(h2, 2), STEP(h3, 3), STEP(h4, 4), STEP(h5, 5), STEP(h6, 6), STEP(h7, 7);
    }
    report("+ vpbroadcastd of the activations from memory", now() - t, SINK());
    return 0;
}
