// Matrix products on quantised weights with 8-bit activations.
//
// Single-stream decode reads every weight once per token, and a batch of
// decode rows multiplies each weight block with every row: integer dot
// products (32 multiply-adds per vpmaddubsw) do both several times cheaper
// than float FMAs. Each block's integer sum is exact, so a row's result
// depends only on its own fixed sequence of float operations: one FMA per
// block (per super-block for the K-quants) into an accumulator lane. Rows are
// processed four (AVX-512: eight) at a time to share the unpacked weights, and
// the one-row tail performs exactly the same operations (batch invariance).
//
// Compiled without floating-point contraction (see Package.swift) so the
// compiler cannot fuse differently in the two paths.

#include "CKernels.h"
#include <immintrin.h>
#include <stdatomic.h>
#include "Lanes.h"

// The largest |x| of n floats (n a multiple of 8).
static inline float absolute_max(const float *v, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 top = _mm256_setzero_ps();
    for (int i = 0; i < n; i += 8) top = _mm256_max_ps(top, _mm256_andnot_ps(sign, _mm256_loadu_ps(v + i)));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(top), _mm256_extractf128_ps(top, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

// Σ of the eight 32-bit lanes of v.
static inline int lane_sum(__m256i v) {
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
    return _mm_cvtsi128_si32(t);
}

// q = round-half-even(x · inverse) for 32 floats, as nearbyintf does in the
// default rounding mode and as ggml's AVX2 path does; half[h] = Σq over
// elements 16h..16h+15.
static inline void quantize_block(const float *v, __m256 inverse, int8_t *q, int half[2]) {
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    __m256i n[4];
    for (int i = 0; i < 4; i++) {
        n[i] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(v + 8 * i), inverse),
                                                  _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    half[0] = lane_sum(_mm256_add_epi32(n[0], n[1]));
    half[1] = lane_sum(_mm256_add_epi32(n[2], n[3]));
    // packs work within 128-bit halves; the permutation restores element order.
    const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(n[0], n[1]), _mm256_packs_epi32(n[2], n[3]));
    _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(bytes, order));
}

// Per block of 32: d = amax/127, q = round-half-even(x·127/amax), sum = d·Σq.
void wafer_quantize_rows_q8(const float *x, int rows, int blocks, int8_t *q, float *scale, float *sum) {
    for (size_t b = 0; b < (size_t)rows * blocks; b++) {
        const float amax = absolute_max(x + b * 32, 32);
        const float d = amax / 127.0f;
        int half[2];
        quantize_block(x + b * 32, _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f), q + b * 32, half);
        scale[b] = d;
        sum[b] = d * (float)(half[0] + half[1]);
    }
}

// The same rule per super-block of 256, with Σq per 16 values and per 32 kept as integers.
void wafer_quantize_rows_q8_super(const float *x, int rows, int supers, int8_t *q, float *scale, int16_t *sums) {
    for (size_t s = 0; s < (size_t)rows * supers; s++) {
        const float amax = absolute_max(x + s * 256, 256);
        const __m256 inverse = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        int16_t *sum = sums + s * WAFER_SUPER_SUMS;
        for (size_t b = 0; b < 8; b++) {
            int half[2];
            quantize_block(x + s * 256 + b * 32, inverse, q + s * 256 + b * 32, half);
            sum[2 * b] = (int16_t)half[0];
            sum[2 * b + 1] = (int16_t)half[1];
            sum[16 + b] = (int16_t)(half[0] + half[1]);
        }
        scale[s] = amax / 127.0f;
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

// --- Quantised weights, eight rows at a time (Runtime/Kernels/Q4x8, Q4Kx8, Q5x8, Q50x8, Q6Kx8, Q8x8) ---
//
// One output per 32-bit lane: the weights are repacked at load so that each
// lane holds four values of its row, and four activation bytes are broadcast
// against all eight rows. Each
// block's integer sum is exact (in any order); per output, the float work is
// two FMAs per block in block order, the same whether one activation row is
// computed or many. A tile of `tile` activation rows (a constant where
// inlined, so everything stays in registers) shares each unpacked chunk.

// Single-stream decode streams each matrix once, in chunks of outputs that
// the pool threads claim (Linear.Applies). The hardware prefetcher restarts
// at every chunk and every new matrix; prefetching 2 KB ahead in software
// kept decode at 77-81% of the bandwidth limit against 63-70% without, in
// paired runs (wafer bench). Only a group's first tile prefetches: later
// tiles find the group in cache.
enum { PREFETCH_AHEAD = 2048 };

// Rows per pass of the groups (eight_row_groups): 64 rows of activations
// (96 KB at 1536 inputs) stay in cache while every group passes over them:
// 101 against 96 G multiply-adds/s with all 512 prompt rows in one pass
// (Q4_K, one Zen 3 core).
enum { ROW_BLOCK = 64 };

// The eight-row layouts, told apart by a constant so that every (layout,
// tile) combination is compiled as its own loop. The K-quant layouts keep the
// file's bit widths: per super-block of 256 inputs a header of F16 scales,
// then per block of 32 the integer sub-block scales and the values at their
// own width (see MinimumKx8.swift, Q6Kx8.swift).
enum { FOUR_BIT = 4, FOUR_BIT_CENTERED = 3, FIVE_BIT = 5, SIGNED_BYTE = 8, FOUR_BIT_K = 40, FIVE_BIT_K = 45, SIX_BIT_K = 60,
       FIVE_BIT_CENTERED = 50 };

// Bytes per group of eight rows and block of 32 inputs of the other layouts (see the Swift packers).
static inline int group_block_bytes(int kind) {
    switch (kind) {
    case FOUR_BIT: return 160;          // d[8] f16 | m[8] f16 | 4 nibble chunks
    case FOUR_BIT_CENTERED: return 144; // d[8] f16 | 4 nibble chunks (Q4_0: m = -8d)
    case FIVE_BIT: return 192;          // d[8] f16 | m[8] f16 | 4 nibble chunks | 1 chunk of fifth bits
    case FIVE_BIT_CENTERED: return 176; // d[8] f16 | 4 nibble chunks | 1 chunk of fifth bits (Q5_0: m = -16d)
    default: return 272;                // SIGNED_BYTE: d[8] f16 | 8 byte chunks
    }
}

static inline int is_k_quant(int kind) { return kind == FOUR_BIT_K || kind == FIVE_BIT_K || kind == SIX_BIT_K; }

// K layouts: bytes per block of 32 (after the super-block's header) and header bytes.
static inline int k_block_bytes(int kind) { return kind == FOUR_BIT_K ? 144 : kind == FIVE_BIT_K ? 176 : 208; }
static inline int k_header_bytes(int kind) { return kind == SIX_BIT_K ? 16 : 32; }

#define ISA(name) name##_avx2
#define DOT_U8_S8(acc, u, s) _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)))
#define WAFER_VNNI 0
#define LANES 8
#include "EightRows.h"
#undef ISA
#undef DOT_U8_S8
#undef WAFER_VNNI

// The VNNI variants' code with vpdpbusd emulated exactly on AVX2 (each
// product fits 16 bits: u8 · s8 lies in -32640...32385), so that a machine
// without VNNI runs and tests that code too. Never chosen for speed.
static inline __m256i dpbusd_emulated(__m256i acc, __m256i u, __m256i s) {
    const __m256i low_bytes = _mm256_set1_epi16(0x00FF);
    const __m256i u_even = _mm256_and_si256(u, low_bytes), u_odd = _mm256_srli_epi16(u, 8);
    const __m256i s_even = _mm256_srai_epi16(_mm256_slli_epi16(s, 8), 8), s_odd = _mm256_srai_epi16(s, 8);
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(u_even, s_even), _mm256_madd_epi16(u_odd, s_odd)));
}

#define ISA(name) name##_vnni_emulated
#define DOT_U8_S8(acc, u, s) dpbusd_emulated(acc, u, s)
#define WAFER_VNNI 1
#include "EightRows.h"
#undef ISA
#undef DOT_U8_S8
#undef WAFER_VNNI

#pragma clang attribute push(__attribute__((target("avxvnni"))), apply_to = function)
#define ISA(name) name##_avxvnni
#define DOT_U8_S8(acc, u, s) _mm256_dpbusd_avx_epi32(acc, u, s)
#define WAFER_VNNI 1
#include "EightRows.h"
#undef ISA
#undef DOT_U8_S8
#undef WAFER_VNNI
#pragma clang attribute pop

#undef LANES

// AVX-512: two groups side by side in 16 lanes, vpdpbusd on 512 bits (Zen 5
// retires as many a second at either width, 8.4 G on one core, so twice the
// multiply-adds). Fewer than four rows (decode) stream the weights instead, one
// group per vector: reading two groups at once decoded slower on Zen 5
// (Qwen2.5-Coder-1.5B, alternating: 34.1, 35.4, 36.5 tok/s against 52.9, 41.1, 42.2).
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))), apply_to = function)
#define ISA(name) name##_avx512vnni_narrow
#define DOT_U8_S8(acc, u, s) _mm256_dpbusd_epi32(acc, u, s)
#define WAFER_VNNI 1
#define LANES 8
#include "EightRows.h"
#undef ISA
#undef DOT_U8_S8
#undef WAFER_VNNI
#undef LANES
#define ISA(name) name##_avx512vnni
#define DOT_U8_S8(acc, u, s) _mm512_dpbusd_epi32(acc, u, s)
#define WAFER_VNNI 1
#define LANES 16
#include "EightRows.h"
#undef ISA
#undef DOT_U8_S8
#undef WAFER_VNNI
#undef LANES
#pragma clang attribute pop

// --- Which variant runs: the best this CPU has, found once at start-up ---------

// Atomic: worker threads read it while a test (or the first call) sets it. Relaxed
// is enough, since every variant gives the same bits; on x86 it is a plain load.
static _Atomic int chosen_isa = -1;

int wafer_isa_supported(int isa) {
    __builtin_cpu_init();
    switch (isa) {
    case WAFER_ISA_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    case WAFER_ISA_AVX_VNNI: return wafer_isa_supported(WAFER_ISA_AVX2) && __builtin_cpu_supports("avxvnni");
    case WAFER_ISA_VNNI_EMULATED: return wafer_isa_supported(WAFER_ISA_AVX2);
    case WAFER_ISA_AVX512_VNNI:
        return wafer_isa_supported(WAFER_ISA_AVX2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
            && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    default: return 0;
    }
}

int wafer_best_isa(void) {
    return wafer_isa_supported(WAFER_ISA_AVX512_VNNI) ? WAFER_ISA_AVX512_VNNI
         : wafer_isa_supported(WAFER_ISA_AVX_VNNI) ? WAFER_ISA_AVX_VNNI : WAFER_ISA_AVX2;
}

int wafer_isa(void) {
    int isa = atomic_load_explicit(&chosen_isa, memory_order_relaxed);
    if (isa < 0) {
        isa = wafer_best_isa();
        atomic_store_explicit(&chosen_isa, isa, memory_order_relaxed);
    }
    return isa;
}

int wafer_set_isa(int isa) {
    if (!wafer_isa_supported(isa)) return 0;
    atomic_store_explicit(&chosen_isa, isa, memory_order_relaxed);
    return 1;
}

const char *wafer_isa_name(int isa) {
    switch (isa) {
    case WAFER_ISA_AVX_VNNI: return "avx-vnni";
    case WAFER_ISA_AVX512_VNNI: return "avx512-vnni";
    case WAFER_ISA_VNNI_EMULATED: return "vnni-emulated";
    default: return "avx2";
    }
}

// The public entry points call the variant `wafer_isa()` chose.
#define DISPATCH(name, args)                                                   \
    switch (wafer_isa()) {                                                     \
    case WAFER_ISA_AVX512_VNNI: if (rows < 4) name##_avx512vnni_narrow args; else name##_avx512vnni args; break; \
    case WAFER_ISA_AVX_VNNI: name##_avxvnni args; break;                       \
    case WAFER_ISA_VNNI_EMULATED: name##_vnni_emulated args; break;            \
    default: name##_avx2 args;                                                 \
    }

void wafer_q4x8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                     const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    DISPATCH(wafer_q4x8_rows, (packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy))
}

void wafer_q40x8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    DISPATCH(wafer_q40x8_rows, (packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy))
}

void wafer_q4kx8_rows(const uint8_t *packed, int supers, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const int16_t *sums, int rows, float *y, size_t ldy) {
    DISPATCH(wafer_q4kx8_rows, (packed, supers, group_begin, group_end, q, scale, sums, rows, y, ldy))
}

void wafer_q5kx8_rows(const uint8_t *packed, int supers, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const int16_t *sums, int rows, float *y, size_t ldy) {
    DISPATCH(wafer_q5kx8_rows, (packed, supers, group_begin, group_end, q, scale, sums, rows, y, ldy))
}

void wafer_q51x8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    DISPATCH(wafer_q51x8_rows, (packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy))
}

void wafer_q50x8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    DISPATCH(wafer_q50x8_rows, (packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy))
}

void wafer_q8x8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                     const int8_t *q, const float *scale, int rows, float *y, size_t ldy) {
    DISPATCH(wafer_q8x8_rows, (packed, blocks, group_begin, group_end, q, scale, rows, y, ldy))
}

void wafer_q6kx8_rows(const uint8_t *packed, int supers, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const int16_t *sums, int rows, float *y, size_t ldy) {
    DISPATCH(wafer_q6kx8_rows, (packed, supers, group_begin, group_end, q, scale, sums, rows, y, ldy))
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
