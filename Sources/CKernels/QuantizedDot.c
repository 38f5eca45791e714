// Matrix products on quantised weights with 8-bit activations.
//
// Single-stream decode reads every weight once per token, and a batch of
// decode rows multiplies each weight block with every row: integer dot
// products (32 multiply-adds per vpmaddubsw) do both several times cheaper
// than float FMAs. Each block's integer sum is exact, so a row's result
// depends only on its own fixed sequence of float operations: one FMA per
// block into an 8-lane accumulator, then a fixed horizontal sum. Rows are
// processed four at a time to share the unpacked weights, and the one-row
// tail performs exactly the same operations (batch invariance).
//
// Compiled without floating-point contraction (see Package.swift) so the
// compiler cannot fuse differently in the two paths.

#include "CKernels.h"
#include <immintrin.h>
#include <math.h>

void wafer_quantize_rows_q8(const float *x, int rows, int blocks, int8_t *q, float *scale, float *sum) {
    for (int r = 0; r < rows; r++) {
        for (int b = 0; b < blocks; b++) {
            const float *v = x + ((size_t)r * blocks + b) * 32;
            int8_t *out = q + ((size_t)r * blocks + b) * 32;
            float amax = 0.0f;
            for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(v[j]));
            const float d = amax / 127.0f;
            const float inverse = amax > 0.0f ? 127.0f / amax : 0.0f;
            int total = 0;
            for (int j = 0; j < 32; j++) {
                const int value = (int)nearbyintf(v[j] * inverse);
                out[j] = (int8_t)value;
                total += value;
            }
            scale[(size_t)r * blocks + b] = d;
            sum[(size_t)r * blocks + b] = d * (float)total;
        }
    }
}

static inline float half_to_float(const uint8_t *p) {
    uint16_t h;
    __builtin_memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

// The 32 4-bit values of a Q4_1 block: low nibbles are elements 0..15, high nibbles 16..31.
static inline __m256i unpack_nibbles(const uint8_t *qs) {
    const __m128i bytes = _mm_loadu_si128((const __m128i *)qs);
    const __m256i both = _mm256_set_m128i(_mm_srli_epi16(bytes, 4), bytes);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// Eight partial sums of unsigned × signed byte products (exact in int32), as floats.
static inline __m256 products(__m256i unsigned_bytes, __m256i signed_bytes) {
    const __m256i pairs = _mm256_maddubs_epi16(unsigned_bytes, signed_bytes);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

static inline float horizontal_sum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline __m256i load_row_block(const int8_t *q, int blocks, int r, int b) {
    return _mm256_loadu_si256((const __m256i *)(q + ((size_t)r * blocks + b) * 32));
}

// One row's share of a Q4_1 block: acc += (d_w·d_x) · Σ w·q, minimum += m_w · (d_x Σ q).
#define Q4_1_STEP(acc, minimum, r)                                                                 \
    do {                                                                                           \
        const size_t at = (size_t)(r) * blocks + b;                                                \
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dw * scale[at]), products(w4, load_row_block(q, blocks, r, b)), acc); \
        minimum = minimum + mw * sum[at];                                                          \
    } while (0)

void wafer_q4_1_rows(const uint8_t *w, size_t row_bytes, int blocks, int out_begin, int out_end,
                     const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    for (int o = out_begin; o < out_end; o++) {
        const uint8_t *row = w + (size_t)o * row_bytes;
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            float m0 = 0.0f, m1 = 0.0f, m2 = 0.0f, m3 = 0.0f;
            for (int b = 0; b < blocks; b++) {
                const uint8_t *block = row + (size_t)b * 20;
                const float dw = half_to_float(block), mw = half_to_float(block + 2);
                const __m256i w4 = unpack_nibbles(block + 4);
                Q4_1_STEP(a0, m0, r);
                Q4_1_STEP(a1, m1, r + 1);
                Q4_1_STEP(a2, m2, r + 2);
                Q4_1_STEP(a3, m3, r + 3);
            }
            y[(size_t)r * ldy + o] = horizontal_sum(a0) + m0;
            y[(size_t)(r + 1) * ldy + o] = horizontal_sum(a1) + m1;
            y[(size_t)(r + 2) * ldy + o] = horizontal_sum(a2) + m2;
            y[(size_t)(r + 3) * ldy + o] = horizontal_sum(a3) + m3;
        }
        for (; r < rows; r++) {
            __m256 a0 = _mm256_setzero_ps();
            float m0 = 0.0f;
            for (int b = 0; b < blocks; b++) {
                const uint8_t *block = row + (size_t)b * 20;
                const float dw = half_to_float(block), mw = half_to_float(block + 2);
                const __m256i w4 = unpack_nibbles(block + 4);
                Q4_1_STEP(a0, m0, r);
            }
            y[(size_t)r * ldy + o] = horizontal_sum(a0) + m0;
        }
    }
}

// Signed × signed through vpmaddubsw: |w| × (x with w's sign).
#define Q8_0_STEP(acc, r)                                                                          \
    do {                                                                                           \
        const __m256i x8 = load_row_block(q, blocks, r, b);                                        \
        acc = _mm256_fmadd_ps(_mm256_set1_ps(dw * scale[(size_t)(r) * blocks + b]),                \
                              products(magnitude, _mm256_sign_epi8(x8, w8)), acc);                 \
    } while (0)

void wafer_q8_0_rows(const uint8_t *w, size_t row_bytes, int blocks, int out_begin, int out_end,
                     const int8_t *q, const float *scale, int rows, float *y, size_t ldy) {
    for (int o = out_begin; o < out_end; o++) {
        const uint8_t *row = w + (size_t)o * row_bytes;
        int r = 0;
        for (; r + 4 <= rows; r += 4) {
            __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
            for (int b = 0; b < blocks; b++) {
                const uint8_t *block = row + (size_t)b * 34;
                const float dw = half_to_float(block);
                const __m256i w8 = _mm256_loadu_si256((const __m256i *)(block + 2));
                const __m256i magnitude = _mm256_sign_epi8(w8, w8);
                Q8_0_STEP(a0, r);
                Q8_0_STEP(a1, r + 1);
                Q8_0_STEP(a2, r + 2);
                Q8_0_STEP(a3, r + 3);
            }
            y[(size_t)r * ldy + o] = horizontal_sum(a0);
            y[(size_t)(r + 1) * ldy + o] = horizontal_sum(a1);
            y[(size_t)(r + 2) * ldy + o] = horizontal_sum(a2);
            y[(size_t)(r + 3) * ldy + o] = horizontal_sum(a3);
        }
        for (; r < rows; r++) {
            __m256 a0 = _mm256_setzero_ps();
            for (int b = 0; b < blocks; b++) {
                const uint8_t *block = row + (size_t)b * 34;
                const float dw = half_to_float(block);
                const __m256i w8 = _mm256_loadu_si256((const __m256i *)(block + 2));
                const __m256i magnitude = _mm256_sign_epi8(w8, w8);
                Q8_0_STEP(a0, r);
            }
            y[(size_t)r * ldy + o] = horizontal_sum(a0);
        }
    }
}

// --- 4-bit weights (Q4_0, Q4_1, Q4_K), eight rows at a time -------------------
//
// One output per 32-bit lane: the weights are repacked at load so that each
// lane holds four 4-bit weights of its row (Runtime/Kernels/Q4x8.swift),
// and four activation bytes are broadcast against all eight rows. Each
// block's integer sum is exact (in any order); per output, the float work is
// two FMAs per block in block order, the same whether one activation row is
// computed or many. A tile of `tile` activation rows (a constant where
// inlined, so everything stays in registers) shares each unpacked chunk.

static inline __m256i broadcast4(const int8_t *p) {
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// Packed group block: d[8], m[8] (F16, or F32 when `wide`), then 4 chunks of 32
// bytes whose lane j holds row j's elements 4u..4u+3 (low nibbles) and
// 16+4u..16+4u+3 (high).
static inline __attribute__((always_inline)) void q4x8_tile(const uint8_t *group, int blocks, int wide, const int8_t *q,
                                                            const float *scale, const float *sum, int r, int tile,
                                                            float *y, size_t ldy, int o) {
    const int bytes = wide ? 192 : 160, quants = wide ? 64 : 32;
    const __m256i nibble = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    for (int i = 0; i < tile; i++) acc[i] = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        const uint8_t *p = group + (size_t)b * bytes;
        __m256i s[4];
        for (int i = 0; i < tile; i++) s[i] = _mm256_setzero_si256();
        for (int u = 0; u < 4; u++) {
            const __m256i c = _mm256_loadu_si256((const __m256i *)(p + quants + 32 * u));
            const __m256i low = _mm256_and_si256(c, nibble), high = _mm256_and_si256(_mm256_srli_epi16(c, 4), nibble);
            for (int i = 0; i < tile; i++) {
                const int8_t *x = q + ((size_t)(r + i) * blocks + b) * 32;
                // Each 16-bit lane adds 8 products pairs of at most 2·15·127: no overflow.
                s[i] = _mm256_add_epi16(s[i], _mm256_maddubs_epi16(low, broadcast4(x + 4 * u)));
                s[i] = _mm256_add_epi16(s[i], _mm256_maddubs_epi16(high, broadcast4(x + 16 + 4 * u)));
            }
        }
        const __m256 d = wide ? _mm256_loadu_ps((const float *)p) : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
        const __m256 m = wide ? _mm256_loadu_ps((const float *)(p + 32)) : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)));
        for (int i = 0; i < tile; i++) {
            const size_t at = (size_t)(r + i) * blocks + b;
            const __m256 isum = _mm256_cvtepi32_ps(_mm256_madd_epi16(s[i], ones));
            acc[i] = _mm256_fmadd_ps(isum, _mm256_mul_ps(d, _mm256_set1_ps(scale[at])), acc[i]);
            acc[i] = _mm256_fmadd_ps(m, _mm256_set1_ps(sum[at]), acc[i]);
        }
    }
    for (int i = 0; i < tile; i++) _mm256_storeu_ps(y + (size_t)(r + i) * ldy + o, acc[i]);
}

// `wide` a constant where inlined, so each scale format gets its own loop.
static inline __attribute__((always_inline)) void q4x8_rows(const uint8_t *packed, int blocks, int wide, int group_begin,
                                                            int group_end, const int8_t *q, const float *scale,
                                                            const float *sum, int rows, float *y, size_t ldy) {
    for (int g = group_begin; g < group_end; g++) {
        const uint8_t *group = packed + (size_t)g * blocks * (wide ? 192 : 160);
        int r = 0;
        for (; r + 4 <= rows; r += 4) q4x8_tile(group, blocks, wide, q, scale, sum, r, 4, y, ldy, 8 * g);
        for (; r < rows; r++) q4x8_tile(group, blocks, wide, q, scale, sum, r, 1, y, ldy, 8 * g);
    }
}

void wafer_q4x8_rows(const uint8_t *packed, int blocks, int wide_scales, int group_begin, int group_end,
                     const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    if (wide_scales) {
        q4x8_rows(packed, blocks, 1, group_begin, group_end, q, scale, sum, rows, y, ldy);
    } else {
        q4x8_rows(packed, blocks, 0, group_begin, group_end, q, scale, sum, rows, y, ldy);
    }
}

// --- 5-bit values with a minimum (Q5_1, Q5_K), eight rows at a time ------------
//
// Runtime/Kernels/Q5x8.swift: d[8], m[8] (F16, or F32 when `wide`), then 8
// chunks of 32 bytes whose lane j holds row j's values 4s..4s+3 (0..31).
// Unsigned × signed pairs reach 2·31·127, so four steps add up in 16 bits
// before widening. The float work per block is Q4x8's: two FMAs in block order.

static inline __attribute__((always_inline)) void q5x8_tile(const uint8_t *group, int blocks, int wide, const int8_t *q,
                                                            const float *scale, const float *sum, int r, int tile,
                                                            float *y, size_t ldy, int o) {
    const int bytes = wide ? 320 : 288, quants = wide ? 64 : 32;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    for (int i = 0; i < tile; i++) acc[i] = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        const uint8_t *p = group + (size_t)b * bytes;
        __m256i s[4];
        for (int i = 0; i < tile; i++) s[i] = _mm256_setzero_si256();
        for (int half = 0; half < 2; half++) {
            __m256i h[4];
            for (int i = 0; i < tile; i++) h[i] = _mm256_setzero_si256();
            for (int step = 4 * half; step < 4 * half + 4; step++) {
                const __m256i w = _mm256_loadu_si256((const __m256i *)(p + quants + 32 * step));
                for (int i = 0; i < tile; i++) {
                    const int8_t *x = q + ((size_t)(r + i) * blocks + b) * 32;
                    h[i] = _mm256_add_epi16(h[i], _mm256_maddubs_epi16(w, broadcast4(x + 4 * step)));
                }
            }
            for (int i = 0; i < tile; i++) s[i] = _mm256_add_epi32(s[i], _mm256_madd_epi16(h[i], ones));
        }
        const __m256 d = wide ? _mm256_loadu_ps((const float *)p) : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
        const __m256 m = wide ? _mm256_loadu_ps((const float *)(p + 32)) : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)));
        for (int i = 0; i < tile; i++) {
            const size_t at = (size_t)(r + i) * blocks + b;
            acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i]), _mm256_mul_ps(d, _mm256_set1_ps(scale[at])), acc[i]);
            acc[i] = _mm256_fmadd_ps(m, _mm256_set1_ps(sum[at]), acc[i]);
        }
    }
    for (int i = 0; i < tile; i++) _mm256_storeu_ps(y + (size_t)(r + i) * ldy + o, acc[i]);
}

static inline __attribute__((always_inline)) void q5x8_rows(const uint8_t *packed, int blocks, int wide, int group_begin,
                                                            int group_end, const int8_t *q, const float *scale,
                                                            const float *sum, int rows, float *y, size_t ldy) {
    for (int g = group_begin; g < group_end; g++) {
        const uint8_t *group = packed + (size_t)g * blocks * (wide ? 320 : 288);
        int r = 0;
        for (; r + 4 <= rows; r += 4) q5x8_tile(group, blocks, wide, q, scale, sum, r, 4, y, ldy, 8 * g);
        for (; r < rows; r++) q5x8_tile(group, blocks, wide, q, scale, sum, r, 1, y, ldy, 8 * g);
    }
}

void wafer_q5x8_rows(const uint8_t *packed, int blocks, int wide_scales, int group_begin, int group_end,
                     const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    if (wide_scales) {
        q5x8_rows(packed, blocks, 1, group_begin, group_end, q, scale, sum, rows, y, ldy);
    } else {
        q5x8_rows(packed, blocks, 0, group_begin, group_end, q, scale, sum, rows, y, ldy);
    }
}

// --- Signed bytes (Q8_0, Q5_0, Q6_K), eight weight rows at a time ----------------
//
// Per group of eight rows and block (Runtime/Kernels/Q8x8.swift): d[8] f16
// per 32 values, or (`wide`) d[2][8] f32 per 16 values; then 8 chunks of 32
// bytes whose lane j holds row j's elements 4s..4s+3. Signed × signed goes
// through vpmaddubsw as |w| × (x with w's sign); each step's pairs reach
// 2·127·127, so they are widened to 32 bits at once.

static inline __attribute__((always_inline)) void q8x8_tile(const uint8_t *group, int blocks, int wide, const int8_t *q,
                                                            const float *scale, int r, int tile, float *y, size_t ldy, int o) {
    const int bytes = wide ? 320 : 272, quants = wide ? 64 : 16;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc[4];
    for (int i = 0; i < tile; i++) acc[i] = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        const uint8_t *p = group + (size_t)b * bytes;
        __m256i s[4][2];  // the block's first and second 16 values
        for (int i = 0; i < tile; i++) s[i][0] = s[i][1] = _mm256_setzero_si256();
        for (int step = 0; step < 8; step++) {
            const __m256i w = _mm256_loadu_si256((const __m256i *)(p + quants + 32 * step));
            const __m256i magnitude = _mm256_sign_epi8(w, w);
            for (int i = 0; i < tile; i++) {
                const int8_t *x = q + ((size_t)(r + i) * blocks + b) * 32;
                const __m256i pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(broadcast4(x + 4 * step), w));
                s[i][step / 4] = _mm256_add_epi32(s[i][step / 4], _mm256_madd_epi16(pairs, ones));
            }
        }
        for (int i = 0; i < tile; i++) {
            const __m256 xs = _mm256_set1_ps(scale[(size_t)(r + i) * blocks + b]);
            if (wide) {
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i][0]), _mm256_mul_ps(_mm256_loadu_ps((const float *)p), xs), acc[i]);
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i][1]), _mm256_mul_ps(_mm256_loadu_ps((const float *)(p + 32)), xs), acc[i]);
            } else {
                const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s[i][0], s[i][1])), _mm256_mul_ps(d, xs), acc[i]);
            }
        }
    }
    for (int i = 0; i < tile; i++) _mm256_storeu_ps(y + (size_t)(r + i) * ldy + o, acc[i]);
}

static inline __attribute__((always_inline)) void q8x8_rows(const uint8_t *packed, int blocks, int wide, int group_begin,
                                                            int group_end, const int8_t *q, const float *scale, int rows,
                                                            float *y, size_t ldy) {
    for (int g = group_begin; g < group_end; g++) {
        const uint8_t *group = packed + (size_t)g * blocks * (wide ? 320 : 272);
        int r = 0;
        for (; r + 4 <= rows; r += 4) q8x8_tile(group, blocks, wide, q, scale, r, 4, y, ldy, 8 * g);
        for (; r < rows; r++) q8x8_tile(group, blocks, wide, q, scale, r, 1, y, ldy, 8 * g);
    }
}

void wafer_q8x8_rows(const uint8_t *packed, int blocks, int wide_scales, int group_begin, int group_end,
                     const int8_t *q, const float *scale, int rows, float *y, size_t ldy) {
    if (wide_scales) {
        q8x8_rows(packed, blocks, 1, group_begin, group_end, q, scale, rows, y, ldy);
    } else {
        q8x8_rows(packed, blocks, 0, group_begin, group_end, q, scale, rows, y, ldy);
    }
}

// --- Memory bandwidth probe ----------------------------------------------------

uint64_t wafer_read_bytes(const uint8_t *p, size_t n) {
    const __m256i zero = _mm256_setzero_si256();
    __m256i a = zero, b = zero;
    size_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a = _mm256_add_epi64(a, _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)(p + i)), zero));
        b = _mm256_add_epi64(b, _mm256_sad_epu8(_mm256_loadu_si256((const __m256i *)(p + i + 32)), zero));
    }
    uint64_t lanes[4];
    _mm256_storeu_si256((__m256i *)lanes, _mm256_add_epi64(a, b));
    uint64_t total = lanes[0] + lanes[1] + lanes[2] + lanes[3];
    for (; i < n; i++) total += p[i];
    return total;
}
