// The vector operations of the eight-row kernels (EightRows.h), on 8 lanes
// (v8_: AVX2, one group of eight rows) or 16 (v16_: AVX-512, groups g and
// g+1 side by side). Each lane does the same operations either way, so both
// give the same bits. Weight loads take `next`, the bytes from group g's data
// to the same place in group g+1's; 8 lanes ignore it.

#define LANE_FN static inline __attribute__((always_inline))
#define LANE_FN16 LANE_FN __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

typedef __m256i v8i;
typedef __m256 v8f;

LANE_FN v8i v8_zero(void) { return _mm256_setzero_si256(); }
LANE_FN v8i v8_bytes(int c) { return _mm256_set1_epi8((char)c); }
LANE_FN v8i v8_and(v8i a, v8i b) { return _mm256_and_si256(a, b); }
LANE_FN v8i v8_or(v8i a, v8i b) { return _mm256_or_si256(a, b); }
LANE_FN v8i v8_add32(v8i a, v8i b) { return _mm256_add_epi32(a, b); }
LANE_FN v8i v8_sub32(v8i a, v8i b) { return _mm256_sub_epi32(a, b); }
LANE_FN v8i v8_mul32(v8i a, v8i b) { return _mm256_mullo_epi32(a, b); }
LANE_FN v8i v8_madd16(v8i a, v8i b) { return _mm256_madd_epi16(a, b); }
LANE_FN v8i v8_shl32(v8i a, int n) { return _mm256_slli_epi32(a, n); }
LANE_FN v8i v8_shl16(v8i a, int n) { return _mm256_slli_epi16(a, n); }
LANE_FN v8i v8_shr16(v8i a, int n) { return _mm256_srli_epi16(a, n); }
// Four activation bytes in every lane.
LANE_FN v8i v8_broadcast4(const void *p) {
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}
// 32 bytes of weights.
LANE_FN v8i v8_load(const uint8_t *p, size_t next) {
    (void)next;
    return _mm256_loadu_si256((const __m256i *)p);
}
// Eight bytes, one per row, as 32-bit lanes.
LANE_FN v8i v8_row_bytes(const uint8_t *p, size_t next, int is_signed) {
    (void)next;
    const __m128i b = _mm_loadl_epi64((const __m128i *)p);
    return is_signed ? _mm256_cvtepi8_epi32(b) : _mm256_cvtepu8_epi32(b);
}
// 8 bytes at a and 8 at b, interleaved (a0 b0 a1 b1 ...), as 16-bit lanes.
LANE_FN v8i v8_interleaved(const uint8_t *a, const uint8_t *b, size_t next, int is_signed) {
    (void)next;
    const __m128i i = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)a), _mm_loadl_epi64((const __m128i *)b));
    return is_signed ? _mm256_cvtepi8_epi16(i) : _mm256_cvtepu8_epi16(i);
}
// Eight F16 values, one per row.
LANE_FN v8f v8_halves(const uint8_t *p, size_t next) {
    (void)next;
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}
LANE_FN v8f v8_fzero(void) { return _mm256_setzero_ps(); }
LANE_FN v8f v8_fset(float f) { return _mm256_set1_ps(f); }
LANE_FN v8f v8_fmul(v8f a, v8f b) { return _mm256_mul_ps(a, b); }
LANE_FN v8f v8_fmadd(v8f a, v8f b, v8f c) { return _mm256_fmadd_ps(a, b, c); }
LANE_FN v8f v8_fnmadd(v8f a, v8f b, v8f c) { return _mm256_fnmadd_ps(a, b, c); }
LANE_FN v8f v8_float(v8i a) { return _mm256_cvtepi32_ps(a); }
LANE_FN void v8_store(float *y, v8f v, int both) {
    (void)both;
    _mm256_storeu_ps(y, v);
}
// The products of signed weights v and signed activation bytes x as |v| × (x with v's sign), for vpdpbusd.
LANE_FN v8i v8_magnitude(v8i v) { return _mm256_sign_epi8(v, v); }
LANE_FN v8i v8_signed_like(v8i x, v8i v) { return _mm256_sign_epi8(x, v); }

typedef __m512i v16i;
typedef __m512 v16f;

LANE_FN16 v16i v16_zero(void) { return _mm512_setzero_si512(); }
LANE_FN16 v16i v16_bytes(int c) { return _mm512_set1_epi8((char)c); }
LANE_FN16 v16i v16_and(v16i a, v16i b) { return _mm512_and_si512(a, b); }
LANE_FN16 v16i v16_or(v16i a, v16i b) { return _mm512_or_si512(a, b); }
LANE_FN16 v16i v16_add32(v16i a, v16i b) { return _mm512_add_epi32(a, b); }
LANE_FN16 v16i v16_sub32(v16i a, v16i b) { return _mm512_sub_epi32(a, b); }
LANE_FN16 v16i v16_mul32(v16i a, v16i b) { return _mm512_mullo_epi32(a, b); }
LANE_FN16 v16i v16_madd16(v16i a, v16i b) { return _mm512_madd_epi16(a, b); }
LANE_FN16 v16i v16_shl32(v16i a, int n) { return _mm512_slli_epi32(a, (unsigned)n); }
LANE_FN16 v16i v16_shl16(v16i a, int n) { return _mm512_slli_epi16(a, (unsigned)n); }
LANE_FN16 v16i v16_shr16(v16i a, int n) { return _mm512_srli_epi16(a, (unsigned)n); }
LANE_FN16 v16i v16_broadcast4(const void *p) {
    int32_t v;
    __builtin_memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}
LANE_FN16 v16i v16_load(const uint8_t *p, size_t next) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p)),
                              _mm256_loadu_si256((const __m256i *)(p + next)), 1);
}
LANE_FN16 v16i v16_row_bytes(const uint8_t *p, size_t next, int is_signed) {
    const __m128i b = _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)p), _mm_loadl_epi64((const __m128i *)(p + next)));
    return is_signed ? _mm512_cvtepi8_epi32(b) : _mm512_cvtepu8_epi32(b);
}
LANE_FN16 v16i v16_interleaved(const uint8_t *a, const uint8_t *b, size_t next, int is_signed) {
    const __m128i first = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)a), _mm_loadl_epi64((const __m128i *)b));
    const __m128i second = _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)(a + next)), _mm_loadl_epi64((const __m128i *)(b + next)));
    const __m256i both = _mm256_set_m128i(second, first);
    return is_signed ? _mm512_cvtepi8_epi16(both) : _mm512_cvtepu8_epi16(both);
}
LANE_FN16 v16f v16_halves(const uint8_t *p, size_t next) {
    return _mm512_cvtph_ps(_mm256_set_m128i(_mm_loadu_si128((const __m128i *)(p + next)), _mm_loadu_si128((const __m128i *)p)));
}
LANE_FN16 v16f v16_fzero(void) { return _mm512_setzero_ps(); }
LANE_FN16 v16f v16_fset(float f) { return _mm512_set1_ps(f); }
LANE_FN16 v16f v16_fmul(v16f a, v16f b) { return _mm512_mul_ps(a, b); }
LANE_FN16 v16f v16_fmadd(v16f a, v16f b, v16f c) { return _mm512_fmadd_ps(a, b, c); }
LANE_FN16 v16f v16_fnmadd(v16f a, v16f b, v16f c) { return _mm512_fnmadd_ps(a, b, c); }
LANE_FN16 v16f v16_float(v16i a) { return _mm512_cvtepi32_ps(a); }
// Both groups' sixteen outputs, or (an odd last group, run in both halves) the first eight.
LANE_FN16 void v16_store(float *y, v16f v, int both) {
    if (both) _mm512_storeu_ps(y, v);
    else _mm256_storeu_ps(y, _mm512_castps512_ps256(v));
}
// No vpsignb on 512 bits: the same products with x negated where v < 0
// (where v = 0, |v| = 0 makes the product 0 whatever x is).
LANE_FN16 v16i v16_magnitude(v16i v) { return _mm512_abs_epi8(v); }
LANE_FN16 v16i v16_signed_like(v16i x, v16i v) { return _mm512_mask_sub_epi8(x, _mm512_movepi8_mask(v), _mm512_setzero_si512(), x); }
