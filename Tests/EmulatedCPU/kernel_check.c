// Runs every eight-row integer kernel under every instruction-set variant the
// CPU offers on random weights in each repacked layout, and compares each
// variant's outputs bit for bit with the AVX2 variant's. Built twice: as a
// Linux program, and freestanding (BARE_METAL) for an emulated CPU with
// AVX-VNNI or AVX-512 VNNI, booted by boot.S. Both print the same checksum of
// the AVX2 outputs, so the emulator's AVX2 is checked against the host too.
#include "CKernels.h"
#include <stdint.h>

#ifdef BARE_METAL
static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port) { uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static void put_char(char c) { while (!(inb(0x3FD) & 0x20)) {} outb(0x3F8, (uint8_t)c); }
void *memset(void *d, int c, unsigned long n) { uint8_t *p = d; while (n--) *p++ = (uint8_t)c; return d; }
void *memcpy(void *d, const void *s, unsigned long n) { uint8_t *p = d; const uint8_t *q = s; while (n--) *p++ = *q++; return d; }
#else
#include <stdio.h>
static void put_char(char c) { putchar(c); }
#endif

static void put(const char *s) { while (*s) put_char(*s++); }
static void put_number(uint64_t v) { char b[24]; int n = 0; do { b[n++] = (char)('0' + v % 10); v /= 10; } while (v); while (n) put_char(b[--n]); }
static void put_hex(uint32_t v) { for (int i = 7; i >= 0; i--) put_char("0123456789abcdef"[(v >> (4 * i)) & 15]); }

static uint64_t state = 0x9E3779B97F4A7C15ull;
static uint32_t next_random(void) { state ^= state << 13; state ^= state >> 7; state ^= state << 17; return (uint32_t)(state >> 16); }

enum { INPUTS = 512, OUTPUTS = 24, ROWS = 13, GROUPS = OUTPUTS / 8, BLOCKS = INPUTS / 32, SUPERS = INPUTS / 256, SEEDS = 12 };

enum Kernel { Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K, Q5_K, Q6_K };
// Bytes per group of eight rows and unit: a block of 32 inputs, or a
// super-block of 256 for the K-quants; the F16 fields come first.
typedef struct { const char *name; enum Kernel kernel; int header; int unit_bytes; } Layout;
static const Layout layouts[] = {
    {"q4_0", Q4_0, 16, 144}, {"q4_1", Q4_1, 32, 160}, {"q5_0", Q5_0, 16, 176}, {"q5_1", Q5_1, 32, 192},
    {"q8_0", Q8_0, 16, 272}, {"q4_K", Q4_K, 32, 1184}, {"q5_K", Q5_K, 32, 1440}, {"q6_K", Q6_K, 16, 1680},
};
static int is_super(const Layout *l) { return l->kernel >= Q4_K; }
enum { LAYOUTS = sizeof layouts / sizeof layouts[0], MAX_BYTES = GROUPS * BLOCKS * 1440 };

static uint8_t packed[MAX_BYTES];
static float x[ROWS * INPUTS], y[4][ROWS * OUTPUTS];
static int8_t q[ROWS * INPUTS];
static float scale[ROWS * BLOCKS], sum[ROWS * BLOCKS];
static int16_t sums[ROWS * SUPERS * WAFER_SUPER_SUMS];

// A finite F16 of magnitude 2^-12 ... 2^-4, either sign.
static uint16_t random_half(void) { uint32_t r = next_random(); return (uint16_t)((r & 0x8000) | ((3 + r % 9) << 10) | (r >> 20 & 0x3FF)); }

// Random bytes in the layout, with its F16 fields finite and, for the
// K-quants, 6-bit scales and minima; Q8_0 weights in -127...127 as the file's.
static void fill(const Layout *l) {
    const int units = is_super(l) ? SUPERS : BLOCKS, bytes = GROUPS * units * l->unit_bytes;
    for (int i = 0; i < bytes; i++) packed[i] = (uint8_t)next_random();
    for (int u = 0; u < GROUPS * units; u++) {
        uint8_t *p = packed + u * l->unit_bytes;
        for (int h = 0; h < l->header / 2; h++) { const uint16_t v = random_half(); p[2 * h] = (uint8_t)v; p[2 * h + 1] = (uint8_t)(v >> 8); }
        if (l->kernel == Q8_0) for (int i = 16; i < 272; i++) if (p[i] == 0x80) p[i] = 0x81;
        if (l->kernel == Q4_K || l->kernel == Q5_K) {
            const int sub_bytes = (l->unit_bytes - 32) / 8;
            for (int s = 0; s < 8; s++) for (int i = 0; i < 16; i++) p[32 + s * sub_bytes + i] &= 0x3F;
        }
    }
}

static void run(const Layout *l, float *out) {
    switch (l->kernel) {
    case Q4_0: wafer_q40x8_rows(packed, BLOCKS, 0, GROUPS, q, scale, sum, ROWS, out, OUTPUTS); break;
    case Q4_1: wafer_q4x8_rows(packed, BLOCKS, 0, GROUPS, q, scale, sum, ROWS, out, OUTPUTS); break;
    case Q5_0: wafer_q50x8_rows(packed, BLOCKS, 0, GROUPS, q, scale, sum, ROWS, out, OUTPUTS); break;
    case Q5_1: wafer_q51x8_rows(packed, BLOCKS, 0, GROUPS, q, scale, sum, ROWS, out, OUTPUTS); break;
    case Q8_0: wafer_q8x8_rows(packed, BLOCKS, 0, GROUPS, q, scale, ROWS, out, OUTPUTS); break;
    case Q4_K: wafer_q4kx8_rows(packed, SUPERS, 0, GROUPS, q, scale, sums, ROWS, out, OUTPUTS); break;
    case Q5_K: wafer_q5kx8_rows(packed, SUPERS, 0, GROUPS, q, scale, sums, ROWS, out, OUTPUTS); break;
    case Q6_K: wafer_q6kx8_rows(packed, SUPERS, 0, GROUPS, q, scale, sums, ROWS, out, OUTPUTS); break;
    }
}

static int is_nan(uint32_t bits) { return (bits & 0x7F800000u) == 0x7F800000u && (bits & 0x7FFFFFu); }

int check_kernels(void) {
    static const int sets[] = {WAFER_ISA_AVX2, WAFER_ISA_VNNI_EMULATED, WAFER_ISA_AVX_VNNI, WAFER_ISA_AVX512_VNNI};
    int mismatches = 0;
    put("chosen at start: "); put(wafer_isa_name(wafer_isa())); put("\n");
    put("instruction sets: ");
    for (int s = 0; s < 4; s++) { put(wafer_isa_name(sets[s])); put(wafer_isa_supported(sets[s]) ? " yes" : " no"); put(s < 3 ? ", " : "\n"); }
    for (int t = 0; t < LAYOUTS; t++) {
        const Layout *l = &layouts[t];
        uint32_t checksum = 2166136261u;
        uint64_t compared[4] = {0}, finite = 0;
        for (int seed = 0; seed < SEEDS; seed++) {
            for (int i = 0; i < ROWS * INPUTS; i++) x[i] = (float)((int32_t)next_random() % 20000) / 10000.0f;
            if (is_super(l)) wafer_quantize_rows_q8_super(x, ROWS, SUPERS, q, scale, sums);
            else wafer_quantize_rows_q8(x, ROWS, BLOCKS, q, scale, sum);
            fill(l);
            for (int s = 0; s < 4; s++) {
                if (!wafer_set_isa(sets[s])) continue;
                for (int i = 0; i < ROWS * OUTPUTS; i++) y[s][i] = -1.0f;
                run(l, y[s]);
                for (int i = 0; i < ROWS * OUTPUTS; i++) {
                    uint32_t a, b;
                    __builtin_memcpy(&a, &y[0][i], 4);
                    __builtin_memcpy(&b, &y[s][i], 4);
                    if (s == 0) {
                        for (int k = 0; k < 4; k++) checksum = (checksum ^ (a >> (8 * k) & 0xFF)) * 16777619u;
                        finite += (a & 0x7F800000u) != 0x7F800000u;
                    } else if (a != b && !(is_nan(a) && is_nan(b))) {
                        if (mismatches++ < 8) { put("MISMATCH "); put(l->name); put(" "); put(wafer_isa_name(sets[s])); put(" output "); put_number((uint64_t)i); put(": "); put_hex(b); put(" against avx2 "); put_hex(a); put("\n"); }
                    }
                    compared[s]++;
                }
            }
        }
        put(l->name); put(": avx2 checksum "); put_hex(checksum); put(", "); put_number(finite); put(" of "); put_number(compared[0]); put(" finite");
        for (int s = 1; s < 4; s++) if (compared[s]) { put("; "); put(wafer_isa_name(sets[s])); put(" compared "); put_number(compared[s]); }
        put("\n");
    }
    put(mismatches ? "KERNEL CHECK FAILED: " : "KERNEL CHECK PASSED: "); put_number((uint64_t)mismatches); put(" mismatches\n");
    return mismatches != 0;
}

#ifdef BARE_METAL
void kernel_main(void) {
    outb(0x3F8 + 1, 0); outb(0x3F8 + 3, 0x80); outb(0x3F8, 1); outb(0x3F8 + 1, 0); outb(0x3F8 + 3, 3); outb(0x3F8 + 2, 0xC7);
    check_kernels();
    while (!(inb(0x3FD) & 0x40)) {}  // the last byte has left the UART
    for (const char *s = "Shutdown"; *s; s++) outb(0x8900, (uint8_t)*s);  // Bochs's power-off port
}
#else
int main(void) { return check_kernels(); }
#endif
