// Gated activations over one row, eight lanes at a time with the vector exp:
// a fixed order of operations per element, so a row's result never depends
// on the other rows of the step.

#include "CKernels.h"
#include "VectorMath.h"

// silu(g) = g / (1 + e^-g)
static inline __m256 silu8(__m256 g) {
    return _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), wafer_exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
}

// gelu_tanh(g) = ½g(1 + tanh u) = g / (1 + e^-2u), u = √(2/π)·g·(1 + 0.044715g²)
static inline __m256 gelu_tanh8(__m256 g) {
    const __m256 g2 = _mm256_mul_ps(g, g);
    const __m256 inner = _mm256_fmadd_ps(_mm256_set1_ps(0.044715f), g2, _mm256_set1_ps(1.0f));
    const __m256 minus2u = _mm256_mul_ps(_mm256_set1_ps(-2.0f * 0.7978845608028654f), _mm256_mul_ps(g, inner));
    return _mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), wafer_exp8(minus2u)));
}

// gate[i] = activation(gate[i]) · up[i]; the tail goes through a zero-padded lane block.
#define GATED(name, activation)                                                              \
    void name(float *gate, const float *up, int n) {                                         \
        int i = 0;                                                                           \
        for (; i + 8 <= n; i += 8) {                                                         \
            const __m256 a = activation(_mm256_loadu_ps(gate + i));                          \
            _mm256_storeu_ps(gate + i, _mm256_mul_ps(a, _mm256_loadu_ps(up + i)));           \
        }                                                                                    \
        if (i < n) {                                                                         \
            float g[8] = {0}, u[8] = {0};                                                    \
            for (int k = 0; i + k < n; k++) { g[k] = gate[i + k]; u[k] = up[i + k]; }      \
            _mm256_storeu_ps(g, _mm256_mul_ps(activation(_mm256_loadu_ps(g)), _mm256_loadu_ps(u))); \
            for (int k = 0; i + k < n; k++) gate[i + k] = g[k];                            \
        }                                                                                    \
    }

GATED(wafer_swiglu, silu8)
GATED(wafer_geglu, gelu_tanh8)
