// The eight-row integer kernels, once per instruction set: QuantizedDot.c
// includes this file with ISA(name) naming the variant's functions and
// DOT_U8_S8(acc, u, s) adding, per 32-bit lane, the four products of
// unsigned bytes u and signed bytes s (vpmaddubsw + vpmaddwd on AVX2, one
// vpdpbusd with VNNI). The integer sums are exact either way (no 16-bit sum
// saturates, see each layout), so every variant gives the same bits.

// Four nibble chunks (Q4_0, Q4_1, Q4_K): lane j of chunk u holds row j's
// elements 4u..4u+3 (low nibbles) and 16+4u..16+4u+3 (high). Each 16-bit
// lane adds 8 product pairs of at most 2·15·127: no overflow before widening.
static inline __attribute__((always_inline)) void ISA(four_bit_sums)(const uint8_t *quants, const int8_t *const x[4], int tile,
                                                                     __m256i s[4]) {
    const __m256i nibble = _mm256_set1_epi8(0x0F);
#if WAFER_VNNI
    for (int i = 0; i < tile; i++) s[i] = _mm256_setzero_si256();
    for (int u = 0; u < 4; u++) {
        const __m256i c = _mm256_loadu_si256((const __m256i *)(quants + 32 * u));
        const __m256i low = _mm256_and_si256(c, nibble), high = _mm256_and_si256(_mm256_srli_epi16(c, 4), nibble);
        for (int i = 0; i < tile; i++) {
            s[i] = DOT_U8_S8(s[i], low, broadcast4(x[i] + 4 * u));
            s[i] = DOT_U8_S8(s[i], high, broadcast4(x[i] + 16 + 4 * u));
        }
    }
#else
    const __m256i ones = _mm256_set1_epi16(1);
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
#endif
}

// Q5x8 (Q5_1, Q5_K): 8 chunks of 32 bytes whose lane j holds row j's values
// 4k..4k+3 (0..31). Pairs reach 2·31·127, so four steps add up in 16 bits
// before widening.
static inline __attribute__((always_inline)) void ISA(five_bit_sums)(const uint8_t *quants, const int8_t *const x[4], int tile,
                                                                     __m256i s[4]) {
    for (int i = 0; i < tile; i++) s[i] = _mm256_setzero_si256();
#if WAFER_VNNI
    for (int k = 0; k < 8; k++) {
        const __m256i w = _mm256_loadu_si256((const __m256i *)(quants + 32 * k));
        for (int i = 0; i < tile; i++) s[i] = DOT_U8_S8(s[i], w, broadcast4(x[i] + 4 * k));
    }
#else
    const __m256i ones = _mm256_set1_epi16(1);
    for (int half = 0; half < 2; half++) {
        __m256i h[4];
        for (int i = 0; i < tile; i++) h[i] = _mm256_setzero_si256();
        for (int k = 4 * half; k < 4 * half + 4; k++) {
            const __m256i w = _mm256_loadu_si256((const __m256i *)(quants + 32 * k));
            for (int i = 0; i < tile; i++) h[i] = _mm256_add_epi16(h[i], _mm256_maddubs_epi16(w, broadcast4(x[i] + 4 * k)));
        }
        for (int i = 0; i < tile; i++) s[i] = _mm256_add_epi32(s[i], _mm256_madd_epi16(h[i], ones));
    }
#endif
}

// acc + the products of signed weights v with four activation bytes per
// lane, as |v| × (x with v's sign) (pairs reach 2·127·127: widened at once).
static inline __m256i ISA(add_signed)(__m256i acc, __m256i v, __m256i x) {
    return DOT_U8_S8(acc, _mm256_sign_epi8(v, v), _mm256_sign_epi8(x, v));
}

// Q8x8 (Q8_0): 8 chunks of 32 signed bytes, lane j holding row j's elements 4k..4k+3.
static inline __attribute__((always_inline)) void ISA(signed_byte_sums)(const uint8_t *quants, const int8_t *const x[4], int tile,
                                                                   __m256i s[4][2]) {
    for (int i = 0; i < tile; i++) s[i][0] = s[i][1] = _mm256_setzero_si256();
    for (int k = 0; k < 8; k++) {
        const __m256i w = _mm256_loadu_si256((const __m256i *)(quants + 32 * k));
        for (int i = 0; i < tile; i++) s[i][k / 4] = ISA(add_signed)(s[i][k / 4], w, broadcast4(x[i] + 4 * k));
    }
}

// Q6Kx8: nibble chunks as in Q4x8 plus two chunks of high bit pairs (bits
// 2u, 2u+1 of byte 4j+i: element 4u+i in the first, 16+4u+i in the second);
// v = q - 32, summed per 16 values.
static inline __attribute__((always_inline)) void ISA(six_bit_sums)(const uint8_t *quants, const int8_t *const x[4], int tile,
                                                               __m256i s[4][2]) {
    const __m256i nibble = _mm256_set1_epi8(0x0F), offset = _mm256_set1_epi8(32);
    const __m256i top0 = _mm256_loadu_si256((const __m256i *)(quants + 128)), top1 = _mm256_loadu_si256((const __m256i *)(quants + 160));
    for (int i = 0; i < tile; i++) s[i][0] = s[i][1] = _mm256_setzero_si256();
    for (int u = 0; u < 4; u++) {
        const __m256i c = _mm256_loadu_si256((const __m256i *)(quants + 32 * u));
        const __m256i low = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(c, nibble), bit_pair(top0, u)), offset);
        const __m256i high = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), nibble), bit_pair(top1, u)), offset);
        for (int i = 0; i < tile; i++) {
            s[i][0] = ISA(add_signed)(s[i][0], low, broadcast4(x[i] + 4 * u));
            s[i][1] = ISA(add_signed)(s[i][1], high, broadcast4(x[i] + 16 + 4 * u));
        }
    }
}

// Q50x8: nibble chunks plus one chunk of fifth bits (bit u of byte 4j+i:
// element 4u+i; bit 4+u: element 16+4u+i); v = q - 16.
static inline __attribute__((always_inline)) void ISA(five_signed_sums)(const uint8_t *quants, const int8_t *const x[4], int tile,
                                                                   __m256i s[4]) {
    const __m256i nibble = _mm256_set1_epi8(0x0F), offset = _mm256_set1_epi8(16);
    const __m256i fifth = _mm256_loadu_si256((const __m256i *)(quants + 128));
    for (int i = 0; i < tile; i++) s[i] = _mm256_setzero_si256();
    for (int u = 0; u < 4; u++) {
        const __m256i c = _mm256_loadu_si256((const __m256i *)(quants + 32 * u));
        const __m256i low = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(c, nibble), fifth_bit_low(fifth, u)), offset);
        const __m256i high = _mm256_sub_epi8(_mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(c, 4), nibble), fifth_bit_high(fifth, u)), offset);
        for (int i = 0; i < tile; i++) {
            s[i] = ISA(add_signed)(s[i], low, broadcast4(x[i] + 4 * u));
            s[i] = ISA(add_signed)(s[i], high, broadcast4(x[i] + 16 + 4 * u));
        }
    }
}

// `tile` activation rows from r against the eight outputs from o of one group.
// Per block the float work is fixed by the layout alone: with a minimum,
// acc += isum·(d·d_x) + m·(d_x Σq); signed, acc += isum·(d·d_x) once per 32
// values (F16 d) or once per 16 (Q6_K's d·sc).
static inline __attribute__((always_inline)) void ISA(eight_row_tile)(int kind, int wide, const uint8_t *group, int blocks,
                                                                 const int8_t *q, const float *scale, const float *sum,
                                                                 int r, int tile, float *y, size_t ldy, int o) {
    const int bytes = group_block_bytes(kind, wide);
    __m256 acc[4];
    for (int i = 0; i < tile; i++) acc[i] = _mm256_setzero_ps();
    __m256 super_d = _mm256_setzero_ps(), super_m = super_d;  // the K layouts' header, read once per 8 blocks
    for (int b = 0; b < blocks; b++) {
        const uint8_t *p = block_at(kind, wide, group, b);
        if (header_bytes(kind) && b % 8 == 0) {
            const uint8_t *h = header_at(kind, wide, group, b);
            super_d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h));
            if (kind == FOUR_BIT_K) super_m = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + 16)));
        }
        if (r == 0) for (int line = 0; line < bytes; line += 64) _mm_prefetch((const char *)p + PREFETCH_AHEAD + line, _MM_HINT_T0);
        const int8_t *x[4];
        for (int i = 0; i < tile; i++) x[i] = q + ((size_t)(r + i) * blocks + b) * 32;
        if (kind == SIGNED_BYTE || kind == SIX_BIT_K) {
            __m256i s[4][2];
            if (kind == SIGNED_BYTE) ISA(signed_byte_sums)(p + 16, x, tile, s); else ISA(six_bit_sums)(p + 16, x, tile, s);
            // Q6_K's d·sc per 16 values (exact in F32).
            const __m256 d0 = _mm256_mul_ps(super_d, bytes_i8_to_ps(p)), d1 = _mm256_mul_ps(super_d, bytes_i8_to_ps(p + 8));
            for (int i = 0; i < tile; i++) {
                const __m256 xs = _mm256_set1_ps(scale[(size_t)(r + i) * blocks + b]);
                if (kind == SIX_BIT_K) {
                    acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i][0]), _mm256_mul_ps(d0, xs), acc[i]);
                    acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i][1]), _mm256_mul_ps(d1, xs), acc[i]);
                } else {
                    const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
                    acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s[i][0], s[i][1])), _mm256_mul_ps(d, xs), acc[i]);
                }
            }
        } else if (kind == FIVE_BIT_SIGNED) {
            __m256i s[4];
            ISA(five_signed_sums)(p + 16, x, tile, s);
            const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
            for (int i = 0; i < tile; i++) {
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s[i]), _mm256_mul_ps(d, _mm256_set1_ps(scale[(size_t)(r + i) * blocks + b])), acc[i]);
            }
        } else {
            __m256i s[4];
            __m256 d, m;
            if (kind == FOUR_BIT_K) {
                ISA(four_bit_sums)(p + 16, x, tile, s);
                d = _mm256_mul_ps(super_d, bytes_u8_to_ps(p));
                m = _mm256_xor_ps(_mm256_mul_ps(super_m, bytes_u8_to_ps(p + 8)), _mm256_set1_ps(-0.0f));
            } else if (kind == FOUR_BIT) {
                ISA(four_bit_sums)(p + 32, x, tile, s);
                d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
                m = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)));
            } else {
                ISA(five_bit_sums)(p + (wide ? 64 : 32), x, tile, s);
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
static inline __attribute__((always_inline)) void ISA(eight_row_groups)(int kind, int wide, const uint8_t *packed, int blocks,
                                                                   int group_begin, int group_end, const int8_t *q,
                                                                   const float *scale, const float *sum, int rows,
                                                                   float *y, size_t ldy) {
    for (int g = group_begin; g < group_end; g++) {
        const uint8_t *group = packed + (size_t)g * group_bytes(kind, wide, blocks);
        int r = 0;
        for (; r + 4 <= rows; r += 4) ISA(eight_row_tile)(kind, wide, group, blocks, q, scale, sum, r, 4, y, ldy, 8 * g);
        for (; r < rows; r++) ISA(eight_row_tile)(kind, wide, group, blocks, q, scale, sum, r, 1, y, ldy, 8 * g);
    }
}

void ISA(wafer_q4x8_rows)(const uint8_t *packed, int blocks, int group_begin, int group_end,
                     const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    ISA(eight_row_groups)(FOUR_BIT, 0, packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy);
}

void ISA(wafer_q4kx8_rows)(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    ISA(eight_row_groups)(FOUR_BIT_K, 0, packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy);
}

void ISA(wafer_q5x8_rows)(const uint8_t *packed, int blocks, int wide_scales, int group_begin, int group_end,
                     const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    if (wide_scales) ISA(eight_row_groups)(FIVE_BIT, 1, packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy);
    else ISA(eight_row_groups)(FIVE_BIT, 0, packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy);
}

void ISA(wafer_q50x8_rows)(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, int rows, float *y, size_t ldy) {
    ISA(eight_row_groups)(FIVE_BIT_SIGNED, 0, packed, blocks, group_begin, group_end, q, scale, NULL, rows, y, ldy);
}

void ISA(wafer_q8x8_rows)(const uint8_t *packed, int blocks, int group_begin, int group_end,
                     const int8_t *q, const float *scale, int rows, float *y, size_t ldy) {
    ISA(eight_row_groups)(SIGNED_BYTE, 0, packed, blocks, group_begin, group_end, q, scale, NULL, rows, y, ldy);
}

void ISA(wafer_q6kx8_rows)(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, int rows, float *y, size_t ldy) {
    ISA(eight_row_groups)(SIX_BIT_K, 0, packed, blocks, group_begin, group_end, q, scale, NULL, rows, y, ldy);
}

