// Attention for one query head over a sequence's cached keys and values, F32
// or F16. A (row, head) is always computed alone, in an order of operations
// fixed by its own length, so its result does not depend on the other rows
// of the step (batch invariance). Keys go eight at a time: eight independent
// FMA chains (one per key) keep both FMA pipes busy, then one transpose-add
// gives the eight dot products with the same summation tree for every key.

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

// Eight keys' dot products with q over the vector part of hd (keys past
// `count` contribute zero lanes). `count` is a constant where it is inlined,
// so the eight accumulators live in registers.
static inline __attribute__((always_inline)) __m256 dots8(const float *query, const void *keys, size_t stride, int vector_dims,
                                                          int count, int half) {
    __m256 acc[8];
    for (int k = 0; k < 8; k++) acc[k] = _mm256_setzero_ps();
    for (int d = 0; d < vector_dims; d += 8) {
        const __m256 q = _mm256_loadu_ps(query + d);
        for (int k = 0; k < count; k++) acc[k] = _mm256_fmadd_ps(load8(keys, (size_t)k * stride + d, half), q, acc[k]);
    }
    return transpose_sum8(acc);
}

// scores[j] = (q · k_j) · scale for j < visible; hd's multiple-of-8 part in
// vectors, the rest added after in element order.
static inline __attribute__((always_inline)) void scores_of(const float *query, const void *keys, size_t stride, int visible,
                                                            int hd, float scale, float *scores, int half) {
    const int vector_dims = hd & ~7, bytes = half ? 2 : 4;
    for (int j0 = 0; j0 < visible; j0 += 8) {
        const int count = visible - j0 < 8 ? visible - j0 : 8;
        const void *first = (const char *)keys + (size_t)j0 * stride * bytes;
        float dots[8];
        switch (count) {
        case 8: _mm256_storeu_ps(dots, dots8(query, first, stride, vector_dims, 8, half)); break;
        case 7: _mm256_storeu_ps(dots, dots8(query, first, stride, vector_dims, 7, half)); break;
        case 6: _mm256_storeu_ps(dots, dots8(query, first, stride, vector_dims, 6, half)); break;
        case 5: _mm256_storeu_ps(dots, dots8(query, first, stride, vector_dims, 5, half)); break;
        case 4: _mm256_storeu_ps(dots, dots8(query, first, stride, vector_dims, 4, half)); break;
        case 3: _mm256_storeu_ps(dots, dots8(query, first, stride, vector_dims, 3, half)); break;
        case 2: _mm256_storeu_ps(dots, dots8(query, first, stride, vector_dims, 2, half)); break;
        default: _mm256_storeu_ps(dots, dots8(query, first, stride, vector_dims, 1, half)); break;
        }
        for (int k = 0; k < count; k++) {
            float dot = dots[k];
            for (int d = vector_dims; d < hd; d++) dot += load1(keys, (size_t)(j0 + k) * stride + d, half) * query[d];
            scores[j0 + k] = dot * scale;
        }
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

// out[0 ..< 8·chunks] = inverse · Σ weights[j] · v_j[0 ..< 8·chunks]: one
// FMA chain per 8 dimensions; `chunks` is a constant where it is inlined.
static inline __attribute__((always_inline)) void weighted_chunks(const float *weights, float inverse, const void *values,
                                                                  size_t stride, int visible, int chunks, float *out, int half) {
    __m256 acc[8];
    for (int c = 0; c < 8; c++) acc[c] = _mm256_setzero_ps();
    for (int j = 0; j < visible; j++) {
        const __m256 p = _mm256_set1_ps(weights[j]);
        for (int c = 0; c < chunks; c++) acc[c] = _mm256_fmadd_ps(p, load8(values, (size_t)j * stride + 8 * c, half), acc[c]);
    }
    for (int c = 0; c < chunks; c++) _mm256_storeu_ps(out + 8 * c, _mm256_mul_ps(acc[c], _mm256_set1_ps(inverse)));
}

// out = inverse · Σ weights[j] · v_j, 64 dimensions at a time.
static inline __attribute__((always_inline)) void weighted_sum(const float *weights, float inverse, const void *values,
                                                               size_t stride, int visible, int hd, float *out, int half) {
    const int vector_dims = hd & ~7, bytes = half ? 2 : 4;
    for (int d0 = 0; d0 < vector_dims; d0 += 64) {
        const void *first = (const char *)values + (size_t)d0 * bytes;
        switch ((vector_dims - d0 < 64 ? vector_dims - d0 : 64) / 8) {
        case 8: weighted_chunks(weights, inverse, first, stride, visible, 8, out + d0, half); break;
        case 7: weighted_chunks(weights, inverse, first, stride, visible, 7, out + d0, half); break;
        case 6: weighted_chunks(weights, inverse, first, stride, visible, 6, out + d0, half); break;
        case 5: weighted_chunks(weights, inverse, first, stride, visible, 5, out + d0, half); break;
        case 4: weighted_chunks(weights, inverse, first, stride, visible, 4, out + d0, half); break;
        case 3: weighted_chunks(weights, inverse, first, stride, visible, 3, out + d0, half); break;
        case 2: weighted_chunks(weights, inverse, first, stride, visible, 2, out + d0, half); break;
        default: weighted_chunks(weights, inverse, first, stride, visible, 1, out + d0, half); break;
        }
    }
    for (int d = vector_dims; d < hd; d++) {
        float acc = 0.0f;
        for (int j = 0; j < visible; j++) acc += weights[j] * load1(values, (size_t)j * stride + d, half);
        out[d] = acc * inverse;
    }
}

static inline __attribute__((always_inline)) void attend(const float *query, const void *keys, const void *values, size_t stride,
                                                         int visible, int hd, float scale, float *scores, float *out, int half) {
    scores_of(query, keys, stride, visible, hd, scale, scores, half);
    const float inverse = exponentiate(scores, visible);
    weighted_sum(scores, inverse, values, stride, visible, hd, out, half);
}

void wafer_attend_f32(const float *query, const float *keys, const float *values, size_t stride, int visible, int hd,
                      float scale, float *scores, float *out) {
    attend(query, keys, values, stride, visible, hd, scale, scores, out, 0);
}

void wafer_attend_f16(const float *query, const uint16_t *keys, const uint16_t *values, size_t stride, int visible, int hd,
                      float scale, float *scores, float *out) {
    attend(query, keys, values, stride, visible, hd, scale, scores, out, 1);
}

void wafer_to_f16(const float *x, uint16_t *out, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128((__m128i *)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++) out[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}
