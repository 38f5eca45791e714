// The eight-row integer kernels, once per instruction set: QuantizedDot.c
// includes this file with ISA(name) naming the variant's functions and
// DOT_U8_S8(acc, u, s) adding, per 32-bit lane, the four products of
// unsigned bytes u and signed bytes s (vpmaddubsw + vpmaddwd on AVX2, one
// vpdpbusd with VNNI). The integer sums are exact either way (no 16-bit sum
// saturates, see each layout), so every variant gives the same bits.
//
// Sums of products that are scaled in integers before they are widened
// ("pairs") are 16-bit pairs on AVX2 (vpmaddubsw, added up) and 32-bit lanes
// with VNNI; ISA(scaled) multiplies lane j's sum by row j's integer scale.

#if WAFER_VNNI
static inline __m256i ISA(add_pairs)(__m256i h, __m256i u, __m256i s) { return DOT_U8_S8(h, u, s); }
static inline __m256i ISA(widen)(__m256i h) { return h; }
// Eight integer scales (one per row), unsigned or signed bytes, as 32-bit lanes.
static inline __m256i ISA(row_scales)(const uint8_t *p, int is_signed) {
    const __m128i b = _mm_loadl_epi64((const __m128i *)p);
    return is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
}
static inline __m256i ISA(scaled)(__m256i h, __m256i scales) { return _mm256_mullo_epi32(h, scales); }
#else
static inline __m256i ISA(add_pairs)(__m256i h, __m256i u, __m256i s) { return _mm256_add_epi16(h, _mm256_maddubs_epi16(u, s)); }
static inline __m256i ISA(widen)(__m256i h) { return _mm256_madd_epi16(h, _mm256_set1_epi16(1)); }
// Eight integer scales, each repeated for both 16-bit halves of its row's lane.
static inline __m256i ISA(row_scales)(const uint8_t *p, int is_signed) {
    return is_signed ? interleaved_i8_to_i16(p, p) : interleaved_u8_to_i16(p, p);
}
static inline __m256i ISA(scaled)(__m256i h, __m256i scales) { return _mm256_madd_epi16(h, scales); }
#endif

// Four nibble chunks (Q4_0, Q4_1, Q4_K): lane j of chunk u holds row j's
// elements 4u..4u+3 (low nibbles) and 16+4u..16+4u+3 (high). Each 16-bit
// lane adds 8 product pairs of at most 2·15·127: no overflow before widening.
static inline __attribute__((always_inline)) void ISA(four_bit_pairs)(const uint8_t *quants, const int8_t *const x[4], int tile,
                                                                      __m256i h[4]) {
    const __m256i nibble = _mm256_set1_epi8(0x0F);
    for (int i = 0; i < tile; i++) h[i] = _mm256_setzero_si256();
    for (int u = 0; u < 4; u++) {
        const __m256i c = _mm256_loadu_si256((const __m256i *)(quants + 32 * u));
        const __m256i low = _mm256_and_si256(c, nibble), high = _mm256_and_si256(_mm256_srli_epi16(c, 4), nibble);
        for (int i = 0; i < tile; i++) {
            h[i] = ISA(add_pairs)(h[i], low, broadcast4(x[i] + 4 * u));
            h[i] = ISA(add_pairs)(h[i], high, broadcast4(x[i] + 16 + 4 * u));
        }
    }
}

static inline __attribute__((always_inline)) void ISA(four_bit_sums)(const uint8_t *quants, const int8_t *const x[4], int tile,
                                                                     __m256i s[4]) {
    ISA(four_bit_pairs)(quants, x, tile, s);
    for (int i = 0; i < tile; i++) s[i] = ISA(widen)(s[i]);
}

// Unsigned 5-bit values (Q5_0, Q5_1, Q5_K; `five_bit_values`): chunks 0-1 into
// h[i][0], chunks 2-3 into h[i][1], so that a 16-bit lane adds 4 pairs of at
// most 2·31·127.
static inline __attribute__((always_inline)) void ISA(five_bit_pairs)(const uint8_t *quants, const int8_t *const x[4], int tile,
                                                                      __m256i h[4][2]) {
    const __m256i fifth = _mm256_loadu_si256((const __m256i *)(quants + 128));
    for (int i = 0; i < tile; i++) h[i][0] = h[i][1] = _mm256_setzero_si256();
    for (int u = 0; u < 4; u++) {
        __m256i low, high;
        five_bit_values(quants, fifth, u, &low, &high);
        for (int i = 0; i < tile; i++) {
            h[i][u / 2] = ISA(add_pairs)(h[i][u / 2], low, broadcast4(x[i] + 4 * u));
            h[i][u / 2] = ISA(add_pairs)(h[i][u / 2], high, broadcast4(x[i] + 16 + 4 * u));
        }
    }
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

// Q6Kx8: six chunks of values in bits 0-5 (`six_bit_values`), q in 0..63
// with scale sc[0] for elements 0..15 and sc[1] for 16..31. Adds
// Σ_h sc_h·(q_h·x_h) per row to total; the caller takes 32·Σ_h sc_h·Σx_h off.
// On AVX2 scaled every two chunks: a 16-bit lane then holds 2 pairs of at most
// 2·63·127; with VNNI's 32-bit lanes once per block.
static inline __attribute__((always_inline)) void ISA(six_bit_block)(const uint8_t *p, const int8_t *const x[4], int tile,
                                                                     __m256i total[4]) {
    const uint8_t *quants = p + 16;
    const __m256i sc0 = ISA(row_scales)(p, 1), sc1 = ISA(row_scales)(p + 8, 1);
    const int chunks = WAFER_VNNI ? 4 : 2;
    for (int first = 0; first < 4; first += chunks) {
        __m256i h[4][2];
        for (int i = 0; i < tile; i++) h[i][0] = h[i][1] = _mm256_setzero_si256();
        for (int u = first; u < first + chunks; u++) {
            const __m256i low = six_bit_values(quants, u), high = six_bit_values(quants + 96, u);
            for (int i = 0; i < tile; i++) {
                h[i][0] = ISA(add_pairs)(h[i][0], low, broadcast4(x[i] + 4 * u));
                h[i][1] = ISA(add_pairs)(h[i][1], high, broadcast4(x[i] + 16 + 4 * u));
            }
        }
        for (int i = 0; i < tile; i++) {
            total[i] = _mm256_add_epi32(total[i], _mm256_add_epi32(ISA(scaled)(h[i][0], sc0), ISA(scaled)(h[i][1], sc1)));
        }
    }
}

// `tile` activation rows from r against the eight outputs from o of one group.
// Per block the float work is fixed by the layout alone: with a minimum,
// acc += isum·(d·d_x) + m·(d_x Σq) (Q4_0 and Q5_0 with m = -8d, -16d exactly:
// their values taken unsigned); signed (Q8_0), acc += isum·(d·d_x).
static inline __attribute__((always_inline)) void ISA(eight_row_tile)(int kind, const uint8_t *group, int blocks,
                                                                 const int8_t *q, const float *scale, const float *sum,
                                                                 int r, int prefetch, int tile, float *y, size_t ldy, int o) {
    const int bytes = group_block_bytes(kind);
    __m256 acc[4];
    for (int i = 0; i < tile; i++) acc[i] = _mm256_setzero_ps();
    for (int b = 0; b < blocks; b++) {
        const uint8_t *p = group + (size_t)b * bytes;
        if (prefetch) for (int line = 0; line < bytes; line += 64) _mm_prefetch((const char *)p + PREFETCH_AHEAD + line, _MM_HINT_T0);
        const int8_t *x[4];
        for (int i = 0; i < tile; i++) x[i] = q + ((size_t)(r + i) * blocks + b) * 32;
        if (kind == SIGNED_BYTE) {
            __m256i s[4][2];
            ISA(signed_byte_sums)(p + 16, x, tile, s);
            const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
            for (int i = 0; i < tile; i++) {
                const __m256 xs = _mm256_set1_ps(scale[(size_t)(r + i) * blocks + b]);
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(s[i][0], s[i][1])), _mm256_mul_ps(d, xs), acc[i]);
            }
        } else {
            __m256i s[4];
            __m256 d, m;
            d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
            if (kind == FOUR_BIT_CENTERED) {
                ISA(four_bit_sums)(p + 16, x, tile, s);
                m = _mm256_mul_ps(d, _mm256_set1_ps(-8.0f));  // exact
            } else if (kind == FOUR_BIT) {
                ISA(four_bit_sums)(p + 32, x, tile, s);
                m = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)));
            } else {
                const int centered = kind == FIVE_BIT_CENTERED;
                __m256i h[4][2];
                ISA(five_bit_pairs)(p + (centered ? 16 : 32), x, tile, h);
                for (int i = 0; i < tile; i++) s[i] = _mm256_add_epi32(ISA(widen)(h[i][0]), ISA(widen)(h[i][1]));
                m = centered ? _mm256_mul_ps(d, _mm256_set1_ps(-16.0f)) : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16)));
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

// The K layouts against activations with one scale per super-block: the
// blocks' integer scales, Q4_K/Q5_K's minima and Q6_K's offset of 32 (against
// the activations' Σq per 32 and per 16 values) are applied in integers, so the float
// work is once per super-block and row rather than once per block:
//     acc += d_x·d·Σ_b sc_b·(q_b·x_b) - d_x·dmin·Σ_b m_b·Σx_b                    (Q4_K, Q5_K)
//     acc += d_x·d·(Σ_h sc_h·(q_h·x_h) - 32·Σ_h sc_h·Σx_h), h: 16 values         (Q6_K)
// Integer totals stay below 2^31 (Q6_K: 16·128·16·63·127 and 32·16·128·16·127).
static inline __attribute__((always_inline)) void ISA(k_quant_tile)(int kind, const uint8_t *group, int supers, const int8_t *q,
                                                               const float *scale, const int16_t *sums, int r, int prefetch, int tile,
                                                               float *y, size_t ldy, int o) {
    const int header = k_header_bytes(kind), bytes = k_block_bytes(kind);
    const size_t inputs = (size_t)supers * 256;
    __m256 acc[4];
    for (int i = 0; i < tile; i++) acc[i] = _mm256_setzero_ps();
    for (int s = 0; s < supers; s++) {
        const uint8_t *head = group + (size_t)s * (header + 8 * bytes);
        __m256i total[4];
        for (int i = 0; i < tile; i++) total[i] = _mm256_setzero_si256();
        for (int b = 0; b < 8; b++) {
            const uint8_t *p = head + header + b * bytes;
            if (prefetch) for (int line = 0; line < bytes; line += 64) _mm_prefetch((const char *)p + PREFETCH_AHEAD + line, _MM_HINT_T0);
            const int8_t *x[4];
            for (int i = 0; i < tile; i++) x[i] = q + (size_t)(r + i) * inputs + 256 * s + 32 * b;
            if (kind == FOUR_BIT_K) {
                __m256i h[4];
                ISA(four_bit_pairs)(p + 16, x, tile, h);
                const __m256i sc = ISA(row_scales)(p, 0);
                for (int i = 0; i < tile; i++) total[i] = _mm256_add_epi32(total[i], ISA(scaled)(h[i], sc));
            } else if (kind == FIVE_BIT_K) {
                __m256i h[4][2];
                ISA(five_bit_pairs)(p + 16, x, tile, h);
                const __m256i sc = ISA(row_scales)(p, 0);
                for (int i = 0; i < tile; i++) {
                    total[i] = _mm256_add_epi32(total[i], _mm256_add_epi32(ISA(scaled)(h[i][0], sc), ISA(scaled)(h[i][1], sc)));
                }
            } else {
                ISA(six_bit_block)(p, x, tile, total);
            }
        }
        // Σ_b c_b·Σx_b per row, in 16-bit pairs: Q4_K and Q5_K the minima of
        // blocks 2k, 2k+1 against their sums of 32; Q6_K block b's two scales
        // against the sums of its halves.
        const int16_t *row_sums[4];
        for (int i = 0; i < tile; i++) row_sums[i] = sums + ((size_t)(r + i) * supers + s) * WAFER_SUPER_SUMS;
        __m256i offset[4];
        for (int i = 0; i < tile; i++) offset[i] = _mm256_setzero_si256();
        const int pairs = kind == SIX_BIT_K ? 8 : 4;
        for (int k = 0; k < pairs; k++) {
            __m256i c;
            int at;
            if (kind == SIX_BIT_K) {
                const uint8_t *p = head + header + k * bytes;
                c = interleaved_i8_to_i16(p, p + 8), at = 2 * k;
            } else {
                const uint8_t *p = head + header + 2 * k * bytes;
                c = interleaved_u8_to_i16(p + 8, p + bytes + 8), at = 16 + 2 * k;
            }
            for (int i = 0; i < tile; i++) offset[i] = _mm256_add_epi32(offset[i], _mm256_madd_epi16(c, broadcast4((const int8_t *)(row_sums[i] + at))));
        }
        const __m256 d = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)head));
        if (kind != SIX_BIT_K) {
            const __m256 dmin = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(head + 16)));
            for (int i = 0; i < tile; i++) {
                const __m256 xs = _mm256_set1_ps(scale[(size_t)(r + i) * supers + s]);
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(total[i]), _mm256_mul_ps(d, xs), acc[i]);
                acc[i] = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(offset[i]), _mm256_mul_ps(dmin, xs), acc[i]);
            }
        } else {
            for (int i = 0; i < tile; i++) {
                const __m256 xs = _mm256_set1_ps(scale[(size_t)(r + i) * supers + s]);
                const __m256i net = _mm256_sub_epi32(total[i], _mm256_slli_epi32(offset[i], 5));
                acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(net), _mm256_mul_ps(d, xs), acc[i]);
            }
        }
    }
    for (int i = 0; i < tile; i++) _mm256_storeu_ps(y + (size_t)(r + i) * ldy + o, acc[i]);
}

// Groups [group_begin, group_end) for every row, the rows in blocks of
// ROW_BLOCK (their activations stay in cache while every group passes over
// them), each block in tiles of four, then one by one. `steps`: blocks of 32
// or super-blocks per row. Up to four rows (decode), where reading the
// weights is the limit, the first tile of a group prefetches them; with more,
// the prefetches cost more than they save.
static inline __attribute__((always_inline)) void ISA(eight_row_groups)(int kind, const uint8_t *packed, int steps,
                                                                   int group_begin, int group_end, const int8_t *q,
                                                                   const float *scale, const void *sum, int rows,
                                                                   float *y, size_t ldy) {
    const int k_quant = kind == FOUR_BIT_K || kind == FIVE_BIT_K || kind == SIX_BIT_K;
    const size_t bytes = (size_t)steps * (k_quant ? k_header_bytes(kind) + 8 * k_block_bytes(kind) : group_block_bytes(kind));
    for (int first = 0; first < rows; first += ROW_BLOCK) {
        const int end = rows < first + ROW_BLOCK ? rows : first + ROW_BLOCK;
        for (int g = group_begin; g < group_end; g++) {
            const uint8_t *group = packed + (size_t)g * bytes;
            int r = first;
            if (k_quant) {
                for (; r + 4 <= end; r += 4) ISA(k_quant_tile)(kind, group, steps, q, scale, sum, r, rows <= 4, 4, y, ldy, 8 * g);
                for (; r < end; r++) ISA(k_quant_tile)(kind, group, steps, q, scale, sum, r, rows < 4 && r == 0, 1, y, ldy, 8 * g);
            } else {
                for (; r + 4 <= end; r += 4) ISA(eight_row_tile)(kind, group, steps, q, scale, sum, r, rows <= 4, 4, y, ldy, 8 * g);
                for (; r < end; r++) ISA(eight_row_tile)(kind, group, steps, q, scale, sum, r, rows < 4 && r == 0, 1, y, ldy, 8 * g);
            }
        }
    }
}

void ISA(wafer_q4x8_rows)(const uint8_t *packed, int blocks, int group_begin, int group_end,
                     const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    ISA(eight_row_groups)(FOUR_BIT, packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy);
}

void ISA(wafer_q40x8_rows)(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    ISA(eight_row_groups)(FOUR_BIT_CENTERED, packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy);
}

void ISA(wafer_q4kx8_rows)(const uint8_t *packed, int supers, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const int16_t *sums, int rows, float *y, size_t ldy) {
    ISA(eight_row_groups)(FOUR_BIT_K, packed, supers, group_begin, group_end, q, scale, sums, rows, y, ldy);
}

void ISA(wafer_q5kx8_rows)(const uint8_t *packed, int supers, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const int16_t *sums, int rows, float *y, size_t ldy) {
    ISA(eight_row_groups)(FIVE_BIT_K, packed, supers, group_begin, group_end, q, scale, sums, rows, y, ldy);
}

void ISA(wafer_q51x8_rows)(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    ISA(eight_row_groups)(FIVE_BIT, packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy);
}

void ISA(wafer_q50x8_rows)(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy) {
    ISA(eight_row_groups)(FIVE_BIT_CENTERED, packed, blocks, group_begin, group_end, q, scale, sum, rows, y, ldy);
}

void ISA(wafer_q8x8_rows)(const uint8_t *packed, int blocks, int group_begin, int group_end,
                     const int8_t *q, const float *scale, int rows, float *y, size_t ldy) {
    ISA(eight_row_groups)(SIGNED_BYTE, packed, blocks, group_begin, group_end, q, scale, NULL, rows, y, ldy);
}

void ISA(wafer_q6kx8_rows)(const uint8_t *packed, int supers, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const int16_t *sums, int rows, float *y, size_t ldy) {
    ISA(eight_row_groups)(SIX_BIT_K, packed, supers, group_begin, group_end, q, scale, sums, rows, y, ldy);
}
