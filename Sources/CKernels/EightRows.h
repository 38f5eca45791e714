// The eight-row integer kernels, once per instruction set: QuantizedDot.c
// includes this file with ISA(name) naming the variant's functions,
// DOT_U8_S8(acc, u, s) adding, per 32-bit lane, the four products of
// unsigned bytes u and signed bytes s (vpmaddubsw + vpmaddwd on AVX2, one
// vpdpbusd with VNNI), and LANES: 8 (one group of eight rows per vector) or
// 16 (AVX-512: groups g and g+1 side by side, see Lanes.h). The integer sums
// are exact either way (no 16-bit sum saturates, see each layout), and each
// output's float operations are the same, so every variant gives the same bits.
//
// Sums of products that are scaled in integers before they are widened
// ("pairs") are 16-bit pairs on AVX2 (vpmaddubsw, added up) and 32-bit lanes
// with VNNI; ISA(scaled) multiplies lane j's sum by row j's integer scale.

// Activation rows per tile: 16 lanes have the registers for eight.
#if LANES == 16
#define TILE 8
#define V(op) v16_##op
#define VI v16i
#define VF v16f
#else
#define TILE 4
#define V(op) v8_##op
#define VI v8i
#define VF v8f
#endif

#if WAFER_VNNI
static inline VI ISA(add_pairs)(VI h, VI u, VI s) { return DOT_U8_S8(h, u, s); }
static inline VI ISA(widen)(VI h) { return h; }
// One integer scale per row, unsigned or signed bytes, as 32-bit lanes.
static inline VI ISA(row_scales)(const uint8_t *p, size_t next, int is_signed) { return V(row_bytes)(p, next, is_signed); }
static inline VI ISA(scaled)(VI h, VI scales) { return V(mul32)(h, scales); }
#else
static inline VI ISA(add_pairs)(VI h, VI u, VI s) { return _mm256_add_epi16(h, _mm256_maddubs_epi16(u, s)); }
static inline VI ISA(widen)(VI h) { return _mm256_madd_epi16(h, _mm256_set1_epi16(1)); }
// Eight integer scales, each repeated for both 16-bit halves of its row's lane.
static inline VI ISA(row_scales)(const uint8_t *p, size_t next, int is_signed) { return V(interleaved)(p, p, next, is_signed); }
static inline VI ISA(scaled)(VI h, VI scales) { return _mm256_madd_epi16(h, scales); }
#endif

// The high bits of nibble chunk u moved to bits 4 (and 5) of each byte. A
// 16-bit shift moves each byte's bits within the byte for the bits kept.
static inline VI ISA(fifth_bit_low)(VI bits, int u) { return V(and)(V(shl16)(bits, 4 - u), V(bytes)(0x10)); }
static inline VI ISA(fifth_bit_high)(VI bits, int u) { return V(and)(V(shr16)(bits, u), V(bytes)(0x10)); }

// The 5-bit values of nibble chunk u with the fifth-bit chunk `fifth` (bit u
// of byte 4j+i: element 4u+i; bit 4+u: element 16+4u+i): row j's elements
// 4u..4u+3 in lane j of *low, 16+4u..16+4u+3 in *high.
static inline __attribute__((always_inline)) void ISA(five_bit_values)(const uint8_t *nibbles, size_t next, VI fifth, int u,
                                                                       VI *low, VI *high) {
    const VI nibble = V(bytes)(0x0F), c = V(load)(nibbles + 32 * u, next);
    *low = V(or)(V(and)(c, nibble), ISA(fifth_bit_low)(fifth, u));
    *high = V(or)(V(and)(V(shr16)(c, 4), nibble), ISA(fifth_bit_high)(fifth, u));
}

// Chunk u of a half block of Q6Kx8: lane j holds row j's elements 4u..4u+3.
// Chunks 0-2 are bits 0-5 of the stored vectors; chunk 3's values are split
// over their bits 6-7 (bits 2k, 2k+1 in vector k): 8 operations for it, one
// each for the others.
static inline __attribute__((always_inline)) VI ISA(six_bit_values)(const uint8_t *v, size_t next, int u) {
    const VI top = V(bytes)(0xC0);
    if (u < 3) return V(and)(V(load)(v + 32 * u, next), V(bytes)(0x3F));
    // Masked to bits 6-7 of each byte first, the 16-bit shifts move nothing across bytes.
    VI t = V(and)(V(load)(v, next), top);
    t = V(or)(V(shr16)(t, 2), V(and)(V(load)(v + 32, next), top));
    t = V(or)(V(shr16)(t, 2), V(and)(V(load)(v + 64, next), top));
    return V(shr16)(t, 2);
}

// Four nibble chunks (Q4_0, Q4_1, Q4_K): lane j of chunk u holds row j's
// elements 4u..4u+3 (low nibbles) and 16+4u..16+4u+3 (high). Each 16-bit
// lane adds 8 product pairs of at most 2·15·127: no overflow before widening.
static inline __attribute__((always_inline)) void ISA(four_bit_pairs)(const uint8_t *quants, size_t next, const int8_t *const x[TILE],
                                                                      int tile, VI h[TILE]) {
    const VI nibble = V(bytes)(0x0F);
    for (int i = 0; i < tile; i++) h[i] = V(zero)();
    for (int u = 0; u < 4; u++) {
        const VI c = V(load)(quants + 32 * u, next);
        const VI low = V(and)(c, nibble), high = V(and)(V(shr16)(c, 4), nibble);
        for (int i = 0; i < tile; i++) {
            h[i] = ISA(add_pairs)(h[i], low, V(broadcast4)(x[i] + 4 * u));
            h[i] = ISA(add_pairs)(h[i], high, V(broadcast4)(x[i] + 16 + 4 * u));
        }
    }
}

static inline __attribute__((always_inline)) void ISA(four_bit_sums)(const uint8_t *quants, size_t next, const int8_t *const x[TILE],
                                                                     int tile, VI s[TILE]) {
    ISA(four_bit_pairs)(quants, next, x, tile, s);
    for (int i = 0; i < tile; i++) s[i] = ISA(widen)(s[i]);
}

// Unsigned 5-bit values (Q5_0, Q5_1, Q5_K; `five_bit_values`): chunks 0-1 into
// h[i][0], chunks 2-3 into h[i][1], so that a 16-bit lane adds 4 pairs of at
// most 2·31·127.
static inline __attribute__((always_inline)) void ISA(five_bit_pairs)(const uint8_t *quants, size_t next, const int8_t *const x[TILE],
                                                                      int tile, VI h[TILE][2]) {
    const VI fifth = V(load)(quants + 128, next);
    for (int i = 0; i < tile; i++) h[i][0] = h[i][1] = V(zero)();
    for (int u = 0; u < 4; u++) {
        VI low, high;
        ISA(five_bit_values)(quants, next, fifth, u, &low, &high);
        for (int i = 0; i < tile; i++) {
            h[i][u / 2] = ISA(add_pairs)(h[i][u / 2], low, V(broadcast4)(x[i] + 4 * u));
            h[i][u / 2] = ISA(add_pairs)(h[i][u / 2], high, V(broadcast4)(x[i] + 16 + 4 * u));
        }
    }
}

// acc + the products of signed weights v with four activation bytes per
// lane, as |v| × (x with v's sign) (pairs reach 2·127·127: widened at once).
static inline VI ISA(add_signed)(VI acc, VI v, VI x) { return DOT_U8_S8(acc, V(magnitude)(v), V(signed_like)(x, v)); }

// Q8x8 (Q8_0): 8 chunks of 32 signed bytes, lane j holding row j's elements 4k..4k+3.
static inline __attribute__((always_inline)) void ISA(signed_byte_sums)(const uint8_t *quants, size_t next, const int8_t *const x[TILE],
                                                                        int tile, VI s[TILE][2]) {
    for (int i = 0; i < tile; i++) s[i][0] = s[i][1] = V(zero)();
    for (int k = 0; k < 8; k++) {
        const VI w = V(load)(quants + 32 * k, next);
        for (int i = 0; i < tile; i++) s[i][k / 4] = ISA(add_signed)(s[i][k / 4], w, V(broadcast4)(x[i] + 4 * k));
    }
}

// Q6Kx8: six chunks of values in bits 0-5 (`six_bit_values`), q in 0..63
// with scale sc[0] for elements 0..15 and sc[1] for 16..31. Adds
// Σ_h sc_h·(q_h·x_h) per row to total; the caller takes 32·Σ_h sc_h·Σx_h off.
// Each half (16 values, one scale) is scaled, on AVX2 every two chunks (a
// 16-bit lane then holds 2 pairs of at most 2·63·127), with VNNI's 32-bit
// lanes once.
static inline __attribute__((always_inline)) void ISA(six_bit_block)(const uint8_t *p, size_t next, const int8_t *const x[TILE],
                                                                     int tile, VI total[TILE]) {
    const int chunks = WAFER_VNNI ? 4 : 2;
    for (int half = 0; half < 2; half++) {  // one at a time: fewer registers live than for both at once
        const uint8_t *quants = p + 16 + 96 * half;
        const VI sc = ISA(row_scales)(p + 8 * half, next, 1);
        for (int first = 0; first < 4; first += chunks) {
            VI h[TILE];
            for (int i = 0; i < tile; i++) h[i] = V(zero)();
            for (int u = first; u < first + chunks; u++) {
                const VI v = ISA(six_bit_values)(quants, next, u);
                for (int i = 0; i < tile; i++) h[i] = ISA(add_pairs)(h[i], v, V(broadcast4)(x[i] + 16 * half + 4 * u));
            }
            for (int i = 0; i < tile; i++) total[i] = V(add32)(total[i], ISA(scaled)(h[i], sc));
        }
    }
}

// Prefetches the weights PREFETCH_AHEAD bytes on from p (and from p + next, the other group's).
static inline void ISA(prefetch)(const uint8_t *p, int bytes, size_t next) {
    for (int line = 0; line < bytes; line += 64) {
        _mm_prefetch((const char *)p + PREFETCH_AHEAD + line, _MM_HINT_T0);
        if (LANES == 16) _mm_prefetch((const char *)p + next + PREFETCH_AHEAD + line, _MM_HINT_T0);
    }
}

// `tile` activation rows from r against the eight outputs from o of one group
// (with 16 lanes, and the next eight of the group `next` bytes on; `both`
// false: an odd last group in both halves, of which the first is stored).
// Per block the float work is fixed by the layout alone: with a minimum,
// acc += isum·(d·d_x) + m·(d_x Σq) (Q4_0 and Q5_0 with m = -8d, -16d exactly:
// their values taken unsigned); signed (Q8_0), acc += isum·(d·d_x).
static inline __attribute__((always_inline)) void ISA(eight_row_tile)(int kind, const uint8_t *group, size_t next, int both, int blocks,
                                                                      const int8_t *q, const float *scale, const float *sum,
                                                                      int r, int prefetch, int tile, float *y, size_t ldy, int o) {
    const int bytes = group_block_bytes(kind);
    VF acc[TILE];
    for (int i = 0; i < tile; i++) acc[i] = V(fzero)();
    for (int b = 0; b < blocks; b++) {
        const uint8_t *p = group + (size_t)b * bytes;
        if (prefetch) ISA(prefetch)(p, bytes, next);
        const int8_t *x[TILE];
        for (int i = 0; i < tile; i++) x[i] = q + ((size_t)(r + i) * blocks + b) * 32;
        const VF d = V(halves)(p, next);
        if (kind == SIGNED_BYTE) {
            VI s[TILE][2];
            ISA(signed_byte_sums)(p + 16, next, x, tile, s);
            for (int i = 0; i < tile; i++) {
                const VF xs = V(fset)(scale[(size_t)(r + i) * blocks + b]);
                acc[i] = V(fmadd)(V(float)(V(add32)(s[i][0], s[i][1])), V(fmul)(d, xs), acc[i]);
            }
        } else {
            VI s[TILE];
            VF m;
            if (kind == FOUR_BIT_CENTERED) {
                ISA(four_bit_sums)(p + 16, next, x, tile, s);
                m = V(fmul)(d, V(fset)(-8.0f));  // exact
            } else if (kind == FOUR_BIT) {
                ISA(four_bit_sums)(p + 32, next, x, tile, s);
                m = V(halves)(p + 16, next);
            } else {
                const int centered = kind == FIVE_BIT_CENTERED;
                VI h[TILE][2];
                ISA(five_bit_pairs)(p + (centered ? 16 : 32), next, x, tile, h);
                for (int i = 0; i < tile; i++) s[i] = V(add32)(ISA(widen)(h[i][0]), ISA(widen)(h[i][1]));
                m = centered ? V(fmul)(d, V(fset)(-16.0f)) : V(halves)(p + 16, next);
            }
            for (int i = 0; i < tile; i++) {
                const size_t at = (size_t)(r + i) * blocks + b;
                acc[i] = V(fmadd)(V(float)(s[i]), V(fmul)(d, V(fset)(scale[at])), acc[i]);
                acc[i] = V(fmadd)(m, V(fset)(sum[at]), acc[i]);
            }
        }
    }
    for (int i = 0; i < tile; i++) V(store)(y + (size_t)(r + i) * ldy + o, acc[i], both);
}

// The K layouts against activations with one scale per super-block: the
// blocks' integer scales, Q4_K/Q5_K's minima and Q6_K's offset of 32 (against
// the activations' Σq per 32 and per 16 values) are applied in integers, so the float
// work is once per super-block and row rather than once per block:
//     acc += d_x·d·Σ_b sc_b·(q_b·x_b) - d_x·dmin·Σ_b m_b·Σx_b                    (Q4_K, Q5_K)
//     acc += d_x·d·(Σ_h sc_h·(q_h·x_h) - 32·Σ_h sc_h·Σx_h), h: 16 values         (Q6_K)
// Integer totals stay below 2^31 (Q6_K: 16·128·16·63·127 and 32·16·128·16·127).
static inline __attribute__((always_inline)) void ISA(k_quant_tile)(int kind, const uint8_t *group, size_t next, int both, int supers,
                                                                    const int8_t *q, const float *scale, const int16_t *sums,
                                                                    int r, int prefetch, int tile, float *y, size_t ldy, int o) {
    const int header = k_header_bytes(kind), bytes = k_block_bytes(kind);
    const size_t inputs = (size_t)supers * 256;
    VF acc[TILE];
    for (int i = 0; i < tile; i++) acc[i] = V(fzero)();
    for (int s = 0; s < supers; s++) {
        const uint8_t *head = group + (size_t)s * (header + 8 * bytes);
        VI total[TILE];
        for (int i = 0; i < tile; i++) total[i] = V(zero)();
        for (int b = 0; b < 8; b++) {
            const uint8_t *p = head + header + b * bytes;
            if (prefetch) ISA(prefetch)(p, bytes, next);
            const int8_t *x[TILE];
            for (int i = 0; i < tile; i++) x[i] = q + (size_t)(r + i) * inputs + 256 * s + 32 * b;
            if (kind == FOUR_BIT_K) {
                VI h[TILE];
                ISA(four_bit_pairs)(p + 16, next, x, tile, h);
                const VI sc = ISA(row_scales)(p, next, 0);
                for (int i = 0; i < tile; i++) total[i] = V(add32)(total[i], ISA(scaled)(h[i], sc));
            } else if (kind == FIVE_BIT_K) {
                VI h[TILE][2];
                ISA(five_bit_pairs)(p + 16, next, x, tile, h);
                const VI sc = ISA(row_scales)(p, next, 0);
                for (int i = 0; i < tile; i++) total[i] = V(add32)(total[i], V(add32)(ISA(scaled)(h[i][0], sc), ISA(scaled)(h[i][1], sc)));
            } else {
                ISA(six_bit_block)(p, next, x, tile, total);
            }
        }
        // Σ_b c_b·Σx_b per row, in 16-bit pairs: Q4_K and Q5_K the minima of
        // blocks 2k, 2k+1 against their sums of 32; Q6_K block b's two scales
        // against the sums of its halves.
        const int16_t *row_sums[TILE];
        for (int i = 0; i < tile; i++) row_sums[i] = sums + ((size_t)(r + i) * supers + s) * WAFER_SUPER_SUMS;
        VI offset[TILE];
        for (int i = 0; i < tile; i++) offset[i] = V(zero)();
        const int pairs = kind == SIX_BIT_K ? 8 : 4;
        for (int k = 0; k < pairs; k++) {
            VI c;
            int at;
            if (kind == SIX_BIT_K) {
                const uint8_t *p = head + header + k * bytes;
                c = V(interleaved)(p, p + 8, next, 1), at = 2 * k;
            } else {
                const uint8_t *p = head + header + 2 * k * bytes;
                c = V(interleaved)(p + 8, p + bytes + 8, next, 0), at = 16 + 2 * k;
            }
            for (int i = 0; i < tile; i++) offset[i] = V(add32)(offset[i], V(madd16)(c, V(broadcast4)(row_sums[i] + at)));
        }
        const VF d = V(halves)(head, next);
        if (kind != SIX_BIT_K) {
            const VF dmin = V(halves)(head + 16, next);
            for (int i = 0; i < tile; i++) {
                const VF xs = V(fset)(scale[(size_t)(r + i) * supers + s]);
                acc[i] = V(fmadd)(V(float)(total[i]), V(fmul)(d, xs), acc[i]);
                acc[i] = V(fnmadd)(V(float)(offset[i]), V(fmul)(dmin, xs), acc[i]);
            }
        } else {
            for (int i = 0; i < tile; i++) {
                const VF xs = V(fset)(scale[(size_t)(r + i) * supers + s]);
                const VI net = V(sub32)(total[i], V(shl32)(offset[i], 5));
                acc[i] = V(fmadd)(V(float)(net), V(fmul)(d, xs), acc[i]);
            }
        }
    }
    for (int i = 0; i < tile; i++) V(store)(y + (size_t)(r + i) * ldy + o, acc[i], both);
}

static inline __attribute__((always_inline)) void ISA(tile)(int kind, const uint8_t *group, size_t next, int both, int steps,
                                                            const int8_t *q, const float *scale, const void *sum, int r,
                                                            int prefetch, int tile, float *y, size_t ldy, int o) {
    if (is_k_quant(kind)) {
        ISA(k_quant_tile)(kind, group, next, both, steps, q, scale, sum, r, prefetch, tile, y, ldy, o);
    } else {
        ISA(eight_row_tile)(kind, group, next, both, steps, q, scale, sum, r, prefetch, tile, y, ldy, o);
    }
}

// Groups [group_begin, group_end) for every row (with 16 lanes two at a time),
// the rows in blocks of ROW_BLOCK (their activations stay in cache while
// every group passes over them), each block in tiles of TILE rows (16 lanes:
// eight, then four), then one by one. `steps`: blocks of 32 or super-blocks
// per row. Up to four rows (decode), where reading the weights is the limit,
// the first tile of a group prefetches them; with more, the prefetches cost
// more than they save.
static inline __attribute__((always_inline)) void ISA(eight_row_groups)(int kind, const uint8_t *packed, int steps,
                                                                        int group_begin, int group_end, const int8_t *q,
                                                                        const float *scale, const void *sum, int rows,
                                                                        float *y, size_t ldy) {
    const size_t bytes = (size_t)steps * (is_k_quant(kind) ? k_header_bytes(kind) + 8 * k_block_bytes(kind) : group_block_bytes(kind));
    for (int first = 0; first < rows; first += ROW_BLOCK) {
        const int end = rows < first + ROW_BLOCK ? rows : first + ROW_BLOCK;
        for (int g = group_begin; g < group_end; g += LANES / 8) {
            const uint8_t *group = packed + (size_t)g * bytes;
            const int both = LANES == 16 && g + 1 < group_end;
            const size_t next = both ? bytes : 0;
            int r = first;
            for (; r + TILE <= end; r += TILE) ISA(tile)(kind, group, next, both, steps, q, scale, sum, r, rows <= 4, TILE, y, ldy, 8 * g);
            if (TILE > 4) for (; r + 4 <= end; r += 4) ISA(tile)(kind, group, next, both, steps, q, scale, sum, r, rows <= 4, 4, y, ldy, 8 * g);
            for (; r < end; r++) ISA(tile)(kind, group, next, both, steps, q, scale, sum, r, rows < 4 && r == 0, 1, y, ldy, 8 * g);
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

#undef V
#undef VI
#undef VF
#undef TILE
