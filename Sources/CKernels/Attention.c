// Attention for the query heads that share one KV head (grouped-query
// attention) over a sequence's cached keys and values, F32 or F16, each KV
// head's positions contiguous. Keys and values are read from memory once for
// all the heads of the group, block by block; each head's arithmetic is the
// same as if it were computed alone, in an order fixed by its own length, so
// its result does not depend on the other rows of the step (batch
// invariance). Keys go eight at a time: eight independent FMA chains (one per
// key, or per key and head for two heads and four keys) keep both FMA pipes
// busy, then one transpose-add gives the eight dot products with the same
// summation tree for every key. Two heads at a time share each F16
// conversion, which otherwise costs as much as the FMA it feeds.

#include "CKernels.h"
#include "VectorMath.h"
#include <math.h>

static inline __attribute__((always_inline)) __m256 load8(const void *base, size_t at, int half) {
    if (half) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)base + at)));
    return _mm256_loadu_ps((const float *)base + at);
}

static inline __attribute__((always_inline)) float load1(const void *base, size_t at, int half) {
    return half ? _cvtsh_ss(((const uint16_t *)base)[at]) : ((const float *)base)[at];
}

static inline float sum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// Lane j of the result: the sum of a[j]'s eight lanes, ((0+1)+(2+3))+((4+5)+(6+7)).
static inline __m256 transpose_sum8(const __m256 a[8]) {
    const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
    const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
    const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// Eight dot products over the vector part of hd: `heads` (1 or 2) queries
// against the `count` (≤ 8 / heads) keys from `keys`; lane h·(8 / heads) + k
// is query h with key k, lanes of keys past `count` are zero. `heads` and
// `count` are constants where it is inlined, so the eight accumulators live
// in registers; each key is converted once for both queries.
static inline __attribute__((always_inline)) __m256 dots8(const float *const queries[2], int heads, const void *keys, size_t stride,
                                                          int vector_dims, int count, int half) {
    const int per_query = 8 / heads;
    __m256 acc[8];
    for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
    for (int d = 0; d < vector_dims; d += 8) {
        __m256 q[2];
        for (int h = 0; h < heads; h++) q[h] = _mm256_loadu_ps(queries[h] + d);
        for (int k = 0; k < count; k++) {
            const __m256 key = load8(keys, (size_t)k * stride + d, half);
            for (int h = 0; h < heads; h++) acc[h * per_query + k] = _mm256_fmadd_ps(key, q[h], acc[h * per_query + k]);
        }
    }
    return transpose_sum8(acc);
}

// scores[k] = (dots[k] + the rest of hd in element order) · scale.
static inline __attribute__((always_inline)) void finish_scores(const float *query, const void *first, const float *dots, int count,
                                                                int hd, float scale, float *scores, int half) {
    for (int k = 0; k < count; k++) {
        float dot = dots[k];
        for (int d = hd & ~7; d < hd; d++) dot += load1(first, (size_t)k * hd + d, half) * query[d];
        scores[k] = dot * scale;
    }
}

// scores[k] = (q · key_k) · scale for the `count` (≤ 8) keys from `first`:
// hd's multiple-of-8 part in vectors, the rest added after in element order.
static inline __attribute__((always_inline)) void score_block(const float *query, const void *first, int count, int hd,
                                                              float scale, float *scores, int half) {
    const int vector_dims = hd & ~7;
    const float *const one[2] = {query, query};
    float dots[8];
    switch (count) {
    case 8: _mm256_storeu_ps(dots, dots8(one, 1, first, hd, vector_dims, 8, half)); break;
    case 7: _mm256_storeu_ps(dots, dots8(one, 1, first, hd, vector_dims, 7, half)); break;
    case 6: _mm256_storeu_ps(dots, dots8(one, 1, first, hd, vector_dims, 6, half)); break;
    case 5: _mm256_storeu_ps(dots, dots8(one, 1, first, hd, vector_dims, 5, half)); break;
    case 4: _mm256_storeu_ps(dots, dots8(one, 1, first, hd, vector_dims, 4, half)); break;
    case 3: _mm256_storeu_ps(dots, dots8(one, 1, first, hd, vector_dims, 3, half)); break;
    case 2: _mm256_storeu_ps(dots, dots8(one, 1, first, hd, vector_dims, 2, half)); break;
    default: _mm256_storeu_ps(dots, dots8(one, 1, first, hd, vector_dims, 1, half)); break;
    }
    finish_scores(query, first, dots, count, hd, scale, scores, half);
}

// Two heads' scores for a full block of eight keys, as score_block gives each.
static inline __attribute__((always_inline)) void score_block_pair(const float *a, const float *b, const void *first, int hd,
                                                                   float scale, float *scores_a, float *scores_b, int half) {
    const int vector_dims = hd & ~7;
    const float *const both[2] = {a, b};
    const __m256 low = dots8(both, 2, first, hd, vector_dims, 4, half);
    const __m256 high = dots8(both, 2, (const char *)first + (size_t)4 * hd * (half ? 2 : 4), hd, vector_dims, 4, half);
    const __m256 dots_a = _mm256_permute2f128_ps(low, high, 0x20), dots_b = _mm256_permute2f128_ps(low, high, 0x31);
    if (vector_dims == hd) {
        _mm256_storeu_ps(scores_a, _mm256_mul_ps(dots_a, _mm256_set1_ps(scale)));
        _mm256_storeu_ps(scores_b, _mm256_mul_ps(dots_b, _mm256_set1_ps(scale)));
    } else {
        float dots[8];
        _mm256_storeu_ps(dots, dots_a);
        finish_scores(a, first, dots, 8, hd, scale, scores_a, half);
        _mm256_storeu_ps(dots, dots_b);
        finish_scores(b, first, dots, 8, hd, scale, scores_b, half);
    }
}

// scores[j] ← e^(scores[j] - max); returns 1 / Σ.
static float exponentiate(float *scores, int visible) {
    __m256 top = _mm256_set1_ps(-INFINITY);
    int j = 0;
    for (; j + 8 <= visible; j += 8) top = _mm256_max_ps(top, _mm256_loadu_ps(scores + j));
    float maximum = -INFINITY, lanes[8];
    _mm256_storeu_ps(lanes, top);
    for (int k = 0; k < 8; k++) maximum = fmaxf(maximum, lanes[k]);
    for (; j < visible; j++) maximum = fmaxf(maximum, scores[j]);

    const __m256 m = _mm256_set1_ps(maximum);
    __m256 total = _mm256_setzero_ps();
    j = 0;
    for (; j + 8 <= visible; j += 8) {
        const __m256 e = wafer_exp8(_mm256_sub_ps(_mm256_loadu_ps(scores + j), m));
        _mm256_storeu_ps(scores + j, e);
        total = _mm256_add_ps(total, e);
    }
    float sum = sum8(total);
    if (j < visible) {
        float rest[8] = {0};
        for (int k = 0; j + k < visible; k++) rest[k] = scores[j + k] - maximum;
        _mm256_storeu_ps(rest, wafer_exp8(_mm256_loadu_ps(rest)));
        for (int k = 0; j + k < visible; k++) {
            scores[j + k] = rest[k];
            sum += rest[k];
        }
    }
    return 1.0f / sum;
}

// sums[h][0 ..< 8·chunks] += Σ weights[h][j] · v_j[0 ..< 8·chunks] over
// `count` keys for `heads` (1 or 2) heads, each value converted once for both:
// one FMA chain per head and 8 dimensions, continued from the stored sums (a
// float store and load change nothing); `heads` and `chunks` are constants
// where inlined.
static inline __attribute__((always_inline)) void weighted_chunks(const float *const weights[2], int heads, const void *values, int hd,
                                                                  int count, int chunks, float *const sums[2], int half) {
    __m256 acc[2][8];
    for (int h = 0; h < heads; h++) {
        for (int c = 0; c < chunks; c++) acc[h][c] = _mm256_loadu_ps(sums[h] + 8 * c);
    }
    for (int j = 0; j < count; j++) {
        __m256 p[2];
        for (int h = 0; h < heads; h++) p[h] = _mm256_set1_ps(weights[h][j]);
        for (int c = 0; c < chunks; c++) {
            const __m256 v = load8(values, (size_t)j * hd + 8 * c, half);
            for (int h = 0; h < heads; h++) acc[h][c] = _mm256_fmadd_ps(p[h], v, acc[h][c]);
        }
    }
    for (int h = 0; h < heads; h++) {
        for (int c = 0; c < chunks; c++) _mm256_storeu_ps(sums[h] + 8 * c, acc[h][c]);
    }
}

// sums[h][0 ..< hd & ~7] += Σ weights[h][j] · v_j over `count` keys, 64 / heads
// dimensions at a time (eight accumulators).
static inline __attribute__((always_inline)) void weighted_block(const float *const weights[2], int heads, const void *values, int hd,
                                                                 int count, float *const sums[2], int half) {
    const int vector_dims = hd & ~7, bytes = half ? 2 : 4, span = 64 / heads;
    for (int d0 = 0; d0 < vector_dims; d0 += span) {
        const void *first = (const char *)values + (size_t)d0 * bytes;
        float *const at[2] = {sums[0] + d0, sums[1] + d0};
        switch ((vector_dims - d0 < span ? vector_dims - d0 : span) / 8) {
        case 8: weighted_chunks(weights, heads, first, hd, count, 8, at, half); break;
        case 7: weighted_chunks(weights, heads, first, hd, count, 7, at, half); break;
        case 6: weighted_chunks(weights, heads, first, hd, count, 6, at, half); break;
        case 5: weighted_chunks(weights, heads, first, hd, count, 5, at, half); break;
        case 4: weighted_chunks(weights, heads, first, hd, count, 4, at, half); break;
        case 3: weighted_chunks(weights, heads, first, hd, count, 3, at, half); break;
        case 2: weighted_chunks(weights, heads, first, hd, count, 2, at, half); break;
        default: weighted_chunks(weights, heads, first, hd, count, 1, at, half); break;
        }
    }
}

// Keys per block of the weighted sum: their values (8 KB in F16 at hd 64)
// stay in L1 while every head of the group uses them.
enum { VALUE_BLOCK = 64 };

static inline __attribute__((always_inline)) void attend_group(const float *queries, const void *keys, const void *values,
                                                               int visible, int hd, int heads, float scale, float *scratch,
                                                               float *out, int half) {
    const int bytes = half ? 2 : 4, vector_dims = hd & ~7;
    float *inverses = scratch, *sums = scratch + heads;
    float *scores = sums + (size_t)heads * hd;
    for (int j0 = 0; j0 < visible; j0 += 8) {
        const void *first = (const char *)keys + (size_t)j0 * hd * bytes;
        const int count = visible - j0 < 8 ? visible - j0 : 8;
        int h = 0;
        if (count == 8) {
            for (; h + 2 <= heads; h += 2) {
                score_block_pair(queries + (size_t)h * hd, queries + (size_t)(h + 1) * hd, first, hd, scale,
                                 scores + (size_t)h * visible + j0, scores + (size_t)(h + 1) * visible + j0, half);
            }
        }
        for (; h < heads; h++) score_block(queries + (size_t)h * hd, first, count, hd, scale, scores + (size_t)h * visible + j0, half);
    }
    for (int h = 0; h < heads; h++) {
        inverses[h] = exponentiate(scores + (size_t)h * visible, visible);
        for (int d = 0; d < vector_dims; d++) sums[(size_t)h * hd + d] = 0.0f;
    }
    for (int j0 = 0; j0 < visible; j0 += VALUE_BLOCK) {
        const void *first = (const char *)values + (size_t)j0 * hd * bytes;
        const int count = visible - j0 < VALUE_BLOCK ? visible - j0 : VALUE_BLOCK;
        int h = 0;
        for (; h + 2 <= heads; h += 2) {
            const float *const weights[2] = {scores + (size_t)h * visible + j0, scores + (size_t)(h + 1) * visible + j0};
            float *const at[2] = {sums + (size_t)h * hd, sums + (size_t)(h + 1) * hd};
            weighted_block(weights, 2, first, hd, count, at, half);
        }
        if (h < heads) {
            const float *const weights = scores + (size_t)h * visible + j0;
            float *const at = sums + (size_t)h * hd;
            weighted_block((const float *const[2]){weights, weights}, 1, first, hd, count, (float *const[2]){at, at}, half);
        }
    }
    for (int h = 0; h < heads; h++) {
        const float *weights = scores + (size_t)h * visible, inverse = inverses[h];
        float *o = out + (size_t)h * hd;
        for (int d = 0; d < vector_dims; d += 8) _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_loadu_ps(sums + (size_t)h * hd + d), _mm256_set1_ps(inverse)));
        for (int d = vector_dims; d < hd; d++) {
            float acc = 0.0f;
            for (int j = 0; j < visible; j++) acc += weights[j] * load1(values, (size_t)j * hd + d, half);
            o[d] = acc * inverse;
        }
    }
}

void wafer_attend_group_f32(const float *queries, const float *keys, const float *values, int visible, int hd, int heads,
                            float scale, float *scratch, float *out) {
    attend_group(queries, keys, values, visible, hd, heads, scale, scratch, out, 0);
}

void wafer_attend_group_f16(const float *queries, const uint16_t *keys, const uint16_t *values, int visible, int hd, int heads,
                            float scale, float *scratch, float *out) {
    attend_group(queries, keys, values, visible, hd, heads, scale, scratch, out, 1);
}

void wafer_to_f16(const float *x, uint16_t *out, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128((__m128i *)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++) out[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}
