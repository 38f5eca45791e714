// SwiGLU over one row, eight lanes at a time with the vector exp: a fixed
// order of operations per element, so a row's result never depends on the
// other rows of the step.

#include "CKernels.h"
#include "VectorMath.h"

void wafer_swiglu(float *gate, const float *up, int n) {
    int i = 0;
    const __m256 one = _mm256_set1_ps(1.0f);
    for (; i + 8 <= n; i += 8) {
        const __m256 g = _mm256_loadu_ps(gate + i);
        const __m256 silu = _mm256_div_ps(g, _mm256_add_ps(one, wafer_exp8(_mm256_sub_ps(_mm256_setzero_ps(), g))));
        _mm256_storeu_ps(gate + i, _mm256_mul_ps(silu, _mm256_loadu_ps(up + i)));
    }
    if (i < n) {
        float g[8] = {0}, u[8] = {0};
        for (int k = 0; i + k < n; k++) { g[k] = gate[i + k]; u[k] = up[i + k]; }
        const __m256 gv = _mm256_loadu_ps(g);
        const __m256 silu = _mm256_div_ps(gv, _mm256_add_ps(one, wafer_exp8(_mm256_sub_ps(_mm256_setzero_ps(), gv))));
        _mm256_storeu_ps(g, _mm256_mul_ps(silu, _mm256_loadu_ps(u)));
        for (int k = 0; i + k < n; k++) gate[i + k] = g[k];
    }
}
