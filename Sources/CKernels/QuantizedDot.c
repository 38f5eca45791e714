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

// Per block of 32: d = amax/127 and q = round-half-even(x·127/amax), as
// nearbyintf does in the default rounding mode and as ggml's AVX2 path does.
void wafer_quantize_rows_q8(const float *x, int rows, int blocks, int8_t *q, float *scale, float *sum) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (size_t b = 0; b < (size_t)rows * blocks; b++) {
        const float *v = x + b * 32;
        __m256 part[4], top = _mm256_setzero_ps();
        for (int i = 0; i < 4; i++) {
            part[i] = _mm256_loadu_ps(v + 8 * i);
            top = _mm256_max_ps(top, _mm256_andnot_ps(sign, part[i]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(top), _mm256_extractf128_ps(top, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float amax = _mm_cvtss_f32(m);
        const float d = amax / 127.0f;
        const __m256 inverse = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
        __m256i n[4];
        for (int i = 0; i < 4; i++) {
            n[i] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(part[i], inverse), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        }
        const __m256i total = _mm256_add_epi32(_mm256_add_epi32(n[0], n[1]), _mm256_add_epi32(n[2], n[3]));
        __m128i t = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
        t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
        // packs work within 128-bit halves; the permutation restores element order.
        const __m256i bytes = _mm256_packs_epi16(_mm256_packs_epi32(n[0], n[1]), _mm256_packs_epi32(n[2], n[3]));
        _mm256_storeu_si256((__m256i *)(q + b * 32), _mm256_permutevar8x32_epi32(bytes, order));
        scale[b] = d;
        sum[b] = d * (float)_mm_cvtsi128_si32(t);
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

static inline __m256i broadcast4(const int8_t *p) {
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// The eight-row layouts, told apart by a constant so that every (layout,
// scale format, tile) combination is compiled as its own loop. The K-quant
// layouts keep the file's bit widths: a header of F16 super-block scales
// every 8 blocks, then per block the integer sub-block scales and the values
// at their own width (the sub-block scales are multiplied out in F32, exactly).
enum { FOUR_BIT = 4, FIVE_BIT = 5, SIGNED_BYTE = 8, FOUR_BIT_K = 40, SIX_BIT_K = 60, FIVE_BIT_SIGNED = 50 };

// Bytes per group of eight rows and block of 32 inputs (see the Swift packers);
// for the K layouts, per block without its share of the header.
static inline int group_block_bytes(int kind, int wide) {
    switch (kind) {
    case FOUR_BIT: return 160;
    case FIVE_BIT: return wide ? 320 : 288;
    case FOUR_BIT_K: return 144;        // sc[8] u8 | min[8] u8 | 4 nibble chunks
    case SIX_BIT_K: return 208;         // sc[2][8] i8 | 4 nibble chunks | 2 chunks of high bit pairs
    case FIVE_BIT_SIGNED: return 176;   // d[8] f16 | 4 nibble chunks | 1 chunk of fifth bits
    default: return 272;                // SIGNED_BYTE: d[8] f16 | 8 byte chunks
    }
}

// The K layouts' header before every 8 blocks: d[8] and dmin[8] F16 (Q4_K), d[8] F16 (Q6_K).
static inline int header_bytes(int kind) { return kind == FOUR_BIT_K ? 32 : kind == SIX_BIT_K ? 16 : 0; }

static inline size_t group_bytes(int kind, int wide, int blocks) {
    if (header_bytes(kind)) return (size_t)(blocks / 8) * (header_bytes(kind) + 8 * group_block_bytes(kind, wide));
    return (size_t)blocks * group_block_bytes(kind, wide);
}

static inline const uint8_t *header_at(int kind, int wide, const uint8_t *group, int b) {
    return group + (size_t)(b / 8) * (header_bytes(kind) + 8 * group_block_bytes(kind, wide));
}

static inline const uint8_t *block_at(int kind, int wide, const uint8_t *group, int b) {
    if (header_bytes(kind)) return header_at(kind, wide, group, b) + header_bytes(kind) + (b % 8) * group_block_bytes(kind, wide);
    return group + (size_t)b * group_block_bytes(kind, wide);
}

// Eight F32 from eight unsigned or signed bytes.
static inline __m256 bytes_u8_to_ps(const uint8_t *p) { return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)p))); }
static inline __m256 bytes_i8_to_ps(const uint8_t *p) { return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p))); }

// Four nibble chunks (Q4_0, Q4_1, Q4_K): lane j of chunk u holds row j's
// elements 4u..4u+3 (low nibbles) and 16+4u..16+4u+3 (high). Each 16-bit
// lane adds 8 product pairs of at most 2·15·127: no overflow before widening.
static inline __attribute__((always_inline)) void four_bit_sums(const uint8_t *quants, const int8_t *const x[4], int tile,
                                                                __m256i s[4]) {
    const __m256i nibble = _mm256_set1_epi8(0x0F), ones = _mm256_set1_epi16(1);
    __m256i h[4];
    for (int i = 0; i < tile; i++) h[i] = _mm256_setzero_si256();
    for (int u = 0; u < 4; u++) {
        const __m256i c = _mm256_loadu_si256((const __m256i *)(quants + 32 * u));
        const __m256i low = _mm256_and_si256(c, nibble), high = _mm256_and_si256(_mm256_srli_epi16(c, 4), nibble);
        for (int i = 0; i < tile; i++) {
            h[i] = _mm256_add_epi16(h[i], _mm256_maddubs_epi16(low, broadcast4(x[i] + 4 * u)));
            h[i] = _mm256_add_epi16(h[i], _mm256_maddubs_epi16(high, broadcast4(x[i] + 16 + 4 * u)));
        }
    }
    for (int i = 0; i < tile; i++) s[i] = _mm256_madd_epi16(h[i], ones);
}

// Q5x8 (Q5_1, Q5_K): 8 chunks of 32 bytes whose lane j holds row j's values
// 4k..4k+3 (0..31). Pairs reach 2·31·127, so four steps add up in 16 bits
// before widening.
static inline __attribute__((always_inline)) void five_bit_sums(const uint8_t *quants, const int8_t *const x[4], int tile,
                                                                __m256i s[4]) {
    const __m256i ones = _mm256_set1_epi16(1);
    for (int i = 0; i < tile; i++) s[i] = _mm256_setzero_si256();
    for (int half = 0; half < 2; half++) {
        __m256i h[4];
        for (int i = 0; i < tile; i++) h[i] = _mm256_setzero_si256();
        for (int k = 4 * half; k < 4 * half + 4; k++) {
            const __m256i w = _mm256_loadu_si256((const __m256i *)(quants + 32 * k));
            for (int i = 0; i < tile; i++) h[i] = _mm256_add_epi16(h[i], _mm256_maddubs_epi16(w, broadcast4(x[i] + 4 * k)));
        }
        for (int i = 0; i < tile; i++) s[i] = _mm256_add_epi32(s[i], _mm256_madd_epi16(h[i], ones));
    }
}

// Signed weights v against four activation bytes per lane, widened at once
// (pairs reach 2·127·127): through vpmaddubsw as |v| × (x with v's sign).
static inline __m256i signed_products(__m256i v, __m256i x) {
    return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(v, v), _mm256_sign_epi8(x, v)), _mm256_set1_epi16(1));
}

// Q8x8 (Q8_0): 8 chunks of 32 signed bytes, lane j holding row j's elements 4k..4k+3.
static inline __attribute__((always_inline)) void signed_byte_sums(const uint8_t *quants, const int8_t *const x[4], int tile,
                                                                   __m256i s[4][2]) {
    for (int i = 0; i < tile; i++) s[i][0] = s[i][1] = _mm256_setzero_si256();
    for (int k = 0; k < 8; k++) {
        const __m256i w = _mm256_loadu_si256((const __m256i *)(quants + 32 * k));
        for (int i = 0; i < tile; i++) s[i][k / 4] = _mm256_add_epi32(s[i][k / 4], signed_products(w, broadcast4(x[i] + 4 * k)));
    }
}

// The high bits of nibble chunk u moved to bits 4 (and 5) of each byte. A
// 16-bit shift moves each byte's bits within the byte for the bits kept.
static inline __m256i fifth_bit_low(__m256i bits, int u) { return _mm256_and_si256(_mm256_slli_epi16(bits, 4 - u), _mm256_set1_epi8(0x10)); }
static inline __m256i fifth_bit_high(__m256i bits, int u) { return _mm256_and_si256(_mm256_srli_epi16(bits, u), _mm256_set1_epi8(0x10)); }
static inline __m256i bit_pair(__m256i bits, int u) {
    const __m256i moved = u < 2 ? _mm256_slli_epi16(bits, 4 - 2 * u) : u == 2 ? bits : _mm256_srli_epi16(bits, 2);
    return _mm256_and_si256(moved, _mm256_set1_epi8(0x30));
}

// Q6Kx8: nibble chunks as in Q4x8 plus two chunks of high bit pairs (bits
// 2u, 2u+1 of byte 4j+i: element 4u+i in the first, 16+4u+i in the second);
// v = q - 32, summed per 16 values.
static inline __attribute__((always_inline)) void six_bit_sums(const uint8_t *quants, const int8_t *const x[4], int tile,
                                                               __m256i s[4][2]) {
    const __m256i nibble = _mm256_set1_epi8(0x0F), offset = _mm256_set1_epi8(32);
    const __m256i top0 = _mm256_loadu_si256((const __m256i *)(quants + 128)), top1 = _mm256_loadu_si256((const __m256i *)(quants + 160));
    for (int i = 0; i < tile; i++) s[i][0] = s[i][1] = _mm256_setzero_si256();
    for (int u = 0; u < 4; u++) {
        const __m256i c = _mm256_loadu_si256((const __m256i *)(quants + 32 * u));
        const __m256i low = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(c, nibble), bit_pair(top0, u)), offset);
        const __m256i high = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), nibble), bit_pair(top1, u)), offset);
        for (int i = 0; i < tile; i++) {
            s[i][0] = _mm256_add_epi32(s[i][0], signed_products(low, broadcast4(x[i] + 4 * u)));
            s[i][1] = _mm256_add_epi32(s[i][1], signed_products(high, broadcast4(x[i] + 16 + 4 * u)));
        }
    }
}

// Q50x8: nibble chunks plus one chunk of fifth bits (bit u of byte 4j+i:
// element 4u+i; bit 4+u: element 16+4u+i); v = q - 16.
static inline __attribute__((always_inline)) void five_signed_sums(const uint8_t *quants, const int8_t *const x[4], int tile,
                                                                   __m256i s[4]) {
    const __m256i nibble = _mm256_set1_epi8(0x0F), offset = _mm256_set1_epi8(16);
    const __m256i fifth = _mm256_loadu_si256((const __m256i *)(quants + 128));
    for (int i = 0; i < tile; i++) s[i] = _mm256_setzero_si256();
    for (int u = 0; u < 4; u++) {
        const __m256i c = _mm256_loadu_si256((const __m256i *)(quants + 32 * u));
        const __m256i low = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(c, nibble), fifth_bit_low(fifth, u)), offset);
        const __m256i high = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), nibble), fifth_bit_high(fifth, u)), offset);
        for (int i = 0; i < tile; i++) {
            s[i] = _mm256_add_epi32(s[i], signed_products(low, broadcast4(x[i] + 4 * u)));
            s[i] = _mm256_add_epi32(s[i], signed_products(high, broadcast4(x[i] + 16 + 4 * u)));
        }
    }
}

// `tile` activation rows from r against the eight outputs from o of one group.
// Per block the float work is fixed by the layout alone: with a minimum,
// acc += isum·(d·d_x) + m·(d_x Σq); signed, acc += isum·(d·d_x) once per 32
// values (F16 d) or once per 16 (Q6_K's d·sc).
static inline __attribute__((always_inline)) void eight_row_tile(int kind, int wide, const uint8_t *group, int blocks,
                                                                 const int8_t *q, const float *scale, const float *sum,
                                                                 int r, int tile, float *y, size_t ldy, int o) {
    const int bytes = group_block_bytes(kind, wide);
    __m256 acc[4];
    for (int i = 0; i < tile; i++) acc[i] = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        const uint8_t *p = block_at(kind, wide, group, b);
        if (r == 0) for (int line = 0; line < bytes; line += 64) _mm_prefetch((const char *)p + PREFETCH_AHEAD + line, _MM_HINT_T0);
        const int8_t *x[4];
        for (int i = 0; i < tile; i++) x[i] = q + ((size_t)(r + i) * blocks + b) * 32;
        if (kind == SIGNED_BYTE || kind == SIX_BIT_K) {
            __m256i s[4][2];
            if (kind == SIGNED_BYTE) signed_byte_sums(p + 16, x, tile, s); else six_bit_sums(p + 16, x, tile, s);
            for (int i = 0; i < tile; i++) {
                const __m256 xs = _mm256_set1_ps(scale[(size_t)(r + i) * blocks + b]);
                if (kind == SIX_BIT_K) {
                    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)header_at(kind, wide, group, b)));
                    acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i][0]), _mm256_mul_ps(_mm256_mul_ps(d, bytes_i8_to_ps(p)), xs), acc[i]);
                    acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i][1]), _mm256_mul_ps(_mm256_mul_ps(d, bytes_i8_to_ps(p + 8)), xs), acc[i]);
                } else {
                    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
                    acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s[i][0], s[i][1])), _mm256_mul_ps(d, xs), acc[i]);
                }
            }
        } else if (kind == FIVE_BIT_SIGNED) {
            __m256i s[4];
            five_signed_sums(p + 16, x, tile, s);
            const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
            for (int i = 0; i < tile; i++) {
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i]), _mm256_mul_ps(d, _mm256_set1_ps(scale[(size_t)(r + i) * blocks + b])), acc[i]);
            }
        } else {
            __m256i s[4];
            __m256 d, m;
            if (kind == FOUR_BIT_K) {
                const uint8_t *h = header_at(kind, wide, group, b);
                four_bit_sums(p + 16, x, tile, s);
                d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h)), bytes_u8_to_ps(p));
                m = _mm256_xor_ps(_mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + 16))), bytes_u8_to_ps(p + 8)),
                                  _mm256_set1_ps(-0.0f));
            } else if (kind == FOUR_BIT) {
                four_bit_sums(p + 32, x, tile, s);
                d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
                m = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)));
            } else {
                five_bit_sums(p + (wide ? 64 : 32), x, tile, s);
                d = wide ? _mm256_loadu_ps((const float *)p) : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
                m = wide ? _mm256_loadu_ps((const float *)(p + 32)) : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)));
            }
            for (int i = 0; i < tile; i++) {
                const size_t at = (size_t)(r + i) * blocks + b;
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i]), _mm256_mul_ps(d, _mm256_set1_ps(scale[at])), acc[i]);
                acc[i] = _mm256_fmadd_ps(m, _mm256_set1_ps(sum[at]), acc[i]);
            }
        }
    }
    for (int i = 0; i < tile; i++) _mm256_storeu_ps(y + (size_t)(r + i) * ldy + o, acc[i]);
}

// Groups [group_begin, group_end) for every row: tiles of four, then one by one.
static inline __attribute__((always_inline)) void eight_row_groups(int kind, int wide, const uint8_t *packed, int blocks,
                                                                   int group_begin, int group_end, const int8_t *q,
                                                                   const float *scale, const float *sum, int rows,
                                                                   float *y, size_t ldy) {
    for (int g = group_begin; g < group_end; g++) {
        const uint8_t *group = packed + (size_t)g * group_bytes(kind, wide, blocks);
        int r = 0;
        for (; r + 4 <= rows; r += 4) eight_row_tile(kind, wide, group, blocks, q, scale, sum, r, 4, y, ldy, 8 * g);
        for (; r < rows; r++) eight_row_tile(kind, wide, group, blocks, q, scale, sum, r, 1, y, ldy, 8 * g);
    }
}

void wafer_q4x8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                     const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    eight_row_groups(FOUR_BIT, 0, packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy);
}

void wafer_q4kx8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    eight_row_groups(FOUR_BIT_K, 0, packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy);
}

void wafer_q5x8_rows(const uint8_t *packed, int blocks, int wide_scales, int group_begin, int group_end,
                     const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    if (wide_scales) eight_row_groups(FIVE_BIT, 1, packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy);
    else eight_row_groups(FIVE_BIT, 0, packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy);
}

void wafer_q50x8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, int rows, float *y, size_t ldy) {
    eight_row_groups(FIVE_BIT_SIGNED, 0, packed, blocks, group_begin, group_end, q, scale, NULL, rows, y, ldy);
}

void wafer_q8x8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                     const int8_t *q, const float *scale, int rows, float *y, size_t ldy) {
    eight_row_groups(SIGNED_BYTE, 0, packed, blocks, group_begin, group_end, q, scale, NULL, rows, y, ldy);
}

void wafer_q6kx8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, int rows, float *y, size_t ldy) {
    eight_row_groups(SIX_BIT_K, 0, packed, blocks, group_begin, group_end, q, scale, NULL, rows, y, ldy);
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
