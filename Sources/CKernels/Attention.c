// Attention over an F16 KV cache: one query head at a time, in a fixed
// order of operations (8-lane FMA chains, a fixed horizontal sum), so a
// row's result does not depend on the other rows of the step.

#include "CKernels.h"
#include <immintrin.h>

static inline float sum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline float half_at(const uint16_t *p) { return _cvtsh_ss(*p); }

void wafer_scores_f16(const float *query, const uint16_t *keys, size_t stride, int visible, int hd, float scale, float *scores) {
    for (int j = 0; j < visible; j++) {
        const uint16_t *k = keys + (size_t)j * stride;
        __m256 acc = _mm256_setzero_ps();
        int d = 0;
        for (; d + 8 <= hd; d += 8) {
            acc = _mm256_fmadd_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(k + d))), _mm256_loadu_ps(query + d), acc);
        }
        float dot = sum8(acc);
        for (; d < hd; d++) dot += half_at(k + d) * query[d];
        scores[j] = dot * scale;
    }
}

void wafer_weighted_sum_f16(const float *weights, const uint16_t *values, size_t stride, int visible, int hd, float *out) {
    int d = 0;
    for (; d + 8 <= hd; d += 8) {
        __m256 acc = _mm256_setzero_ps();
        for (int j = 0; j < visible; j++) {
            const __m256 v = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(values + (size_t)j * stride + d)));
            acc = _mm256_fmadd_ps(_mm256_set1_ps(weights[j]), v, acc);
        }
        _mm256_storeu_ps(out + d, acc);
    }
    for (; d < hd; d++) {
        float acc = 0.0f;
        for (int j = 0; j < visible; j++) acc += weights[j] * half_at(values + (size_t)j * stride + d);
        out[d] = acc;
    }
}

void wafer_to_f16(const float *x, uint16_t *out, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        _mm_storeu_si128((__m128i *)(out + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    }
    for (; i < n; i++) out[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}
