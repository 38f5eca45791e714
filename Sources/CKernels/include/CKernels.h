#ifndef WAFER_CKERNELS_H
#define WAFER_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// Quantises `rows` activation rows of `blocks` × 32 floats to 8 bits per
/// block of 32: q = round(x / d) with d = max|x| / 127, and sum = d · Σq.
/// Layout: q [rows][blocks·32], scale and sum [rows][blocks].
void wafer_quantize_rows_q8(const float *x, int rows, int blocks, int8_t *q, float *scale, float *sum);
/// The same per super-block of 256 floats (the K-quant kernels' activations),
/// with Σq as integers: per super-block the sums of its 16 runs of 16 values,
/// then of its 8 blocks of 32. Layout: q [rows][supers·256],
/// scale [rows][supers], sums [rows][supers·WAFER_SUPER_SUMS].
enum { WAFER_SUPER_SUMS = 24 };
void wafer_quantize_rows_q8_super(const float *x, int rows, int supers, int8_t *q, float *scale, int16_t *sums);

/// y[r·ldy + o] = Σ over blocks of W[o] · activation row r, for o in
/// [out_begin, out_end) and r in [0, rows), with W in Q4_1 or Q8_0 blocks
/// (`row_bytes` apart) and the activations from wafer_quantize_rows_q8.
/// A row's result is the same fixed sequence of operations whatever `rows` is.
void wafer_q4_1_rows(const uint8_t *w, size_t row_bytes, int blocks, int out_begin, int out_end,
                     const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy);
/// The instruction sets the eight-row kernels are compiled for; the best the
/// CPU has is chosen at the first call (cpuid). Every variant gives the same bits.
/// WAFER_ISA_VNNI_EMULATED runs the VNNI variants' code on AVX2 (for tests; never chosen).
enum { WAFER_ISA_AVX2 = 0, WAFER_ISA_AVX_VNNI = 1, WAFER_ISA_AVX512_VNNI = 2, WAFER_ISA_VNNI_EMULATED = 3 };
int wafer_isa_supported(int isa);
/// The variant chosen at the first call: the best this CPU has.
int wafer_best_isa(void);
/// The variant in use.
int wafer_isa(void);
/// Uses `isa` from now on if the CPU has it (tests run every variant); returns whether it does.
int wafer_set_isa(int isa);
const char *wafer_isa_name(int isa);
/// Weights repacked eight rows at a time by Runtime's packers (Q4x8: Q4_0,
/// Q4_1; MinimumKx8: Q4_K, Q5_K; FiveBitx8: Q5_0, Q5_1; Q6Kx8: Q6_K; Q8x8:
/// Q8_0): outputs 8·group_begin ..< 8·group_end.
/// A different, equally fixed order of operations per output than wafer_q4_1_rows.
/// The K layouts take activations from wafer_quantize_rows_q8_super and `supers`
/// super-blocks per row; the others blocks of 32 from wafer_quantize_rows_q8.
void wafer_q4x8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                     const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy);
void wafer_q40x8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy);
void wafer_q4kx8_rows(const uint8_t *packed, int supers, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const int16_t *sums, int rows, float *y, size_t ldy);
void wafer_q5kx8_rows(const uint8_t *packed, int supers, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const int16_t *sums, int rows, float *y, size_t ldy);
void wafer_q51x8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy);
void wafer_q50x8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const float *sum, int rows, float *y, size_t ldy);
void wafer_q6kx8_rows(const uint8_t *packed, int supers, int group_begin, int group_end,
                      const int8_t *q, const float *scale, const int16_t *sums, int rows, float *y, size_t ldy);
void wafer_q8x8_rows(const uint8_t *packed, int blocks, int group_begin, int group_end,
                     const int8_t *q, const float *scale, int rows, float *y, size_t ldy);
void wafer_q8_0_rows(const uint8_t *w, size_t row_bytes, int blocks, int out_begin, int out_end,
                     const int8_t *q, const float *scale, int rows, float *y, size_t ldy);

/// The `heads` query heads (`queries`, hd floats apart) that share one KV
/// head, over its `visible` cached positions (keys and values contiguous, F32
/// or F16): out[h] = softmax((q_h · k_j) · scale) · V, with `scratch` as room
/// for heads · (visible + hd + 1) floats. Each head's operations are fixed by
/// `visible`, whatever else the step holds and however many heads share the call.
void wafer_attend_group_f32(const float *queries, const float *keys, const float *values, int visible, int hd, int heads,
                            float scale, float *scratch, float *out);
void wafer_attend_group_f16(const float *queries, const uint16_t *keys, const uint16_t *values, int visible, int hd, int heads,
                            float scale, float *scratch, float *out);
/// gate[i] ← silu(gate[i]) · up[i] = gate[i] / (1 + e^-gate[i]) · up[i], with a vector exp.
void wafer_swiglu(float *gate, const float *up, int n);
/// gate[i] ← gelu_tanh(gate[i]) · up[i] (Gemma's gated feed-forward), with the same vector exp.
void wafer_geglu(float *gate, const float *up, int n);
/// The sum of `n` bytes: reads them all (memory bandwidth probe).
uint64_t wafer_read_bytes(const uint8_t *p, size_t n);
/// F32 to F16, round to nearest even.
void wafer_to_f16(const float *x, uint16_t *out, int n);

#endif
