/*
 * ChaCha20-Poly1305 AEAD (RFC 8439), compiled to WebAssembly for kith's sealed records.
 *
 * Why: in Deno, node:crypto's cipher objects cost about 10 µs per small record on this project's machines, most
 * of it in creating the object and its Buffers, not in the cipher, and Deno 2.9.6's node:crypto computes a wrong
 * tag on rare inputs. This module is kith's only record cipher, for every size. The caller copies key, nonce,
 * additional data and text into fixed buffers in this module's memory: a record that fits the text buffer is
 * sealed or opened in place by one call (seal, open); a larger one goes through the buffer chunk by chunk
 * (begin, then seal_chunk ... seal_end, or mac_chunk ... verify, then decrypt_chunk), so any size is handled with
 * the same fixed memory and the same code: seal and open are those steps on one chunk.
 *
 * ChaCha20 runs four blocks at a time in 128-bit SIMD lanes (one block per lane) when 256 bytes or more remain,
 * one block at a time for the rest; Poly1305 takes two blocks at a time in 64-bit lanes (Horner's rule by r^2) when
 * 64 bytes or more remain. Each gives what the one-at-a-time code gives (tests compare against references); the
 * SIMD code halves the cost per byte (BENCHMARKS.md, "Record cipher").
 *
 * Written from RFC 8439 (sections 2.3, 2.4, 2.5 and 2.8). Poly1305 uses five 26-bit limbs with 64-bit products
 * (the layout of Andrew Moon's public-domain poly1305-donna-32). No branch or memory index depends on secret
 * data; the tag is compared in constant time. Build: scripts/build-wasm.sh (clang --target=wasm32).
 */
#include <stdint.h>
#include <wasm_simd128.h>

#define MAX_TEXT 65536
#define MAX_AAD 256

static uint8_t key_buf[32];
static uint8_t nonce_buf[12];
static uint8_t tag_buf[16];
static uint8_t aad_buf[MAX_AAD];
static uint8_t text_buf[MAX_TEXT];

__attribute__((export_name("key"))) uint8_t *key(void) { return key_buf; }
__attribute__((export_name("nonce"))) uint8_t *nonce(void) { return nonce_buf; }
__attribute__((export_name("tag"))) uint8_t *tag(void) { return tag_buf; }
__attribute__((export_name("aad"))) uint8_t *aad(void) { return aad_buf; }
__attribute__((export_name("text"))) uint8_t *text(void) { return text_buf; }
__attribute__((export_name("max_text"))) uint32_t max_text(void) { return MAX_TEXT; }
__attribute__((export_name("max_aad"))) uint32_t max_aad(void) { return MAX_AAD; }

static inline uint32_t load32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline void store32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

#define ROTL(v, n) (((v) << (n)) | ((v) >> (32 - (n))))
#define QR(a, b, c, d)                                                                                               \
  a += b; d ^= a; d = ROTL(d, 16);                                                                                   \
  c += d; b ^= c; b = ROTL(b, 12);                                                                                   \
  a += b; d ^= a; d = ROTL(d, 8);                                                                                    \
  c += d; b ^= c; b = ROTL(b, 7);

/* One 64-byte ChaCha20 block for `counter` (RFC 8439 2.3). */
static void chacha20_block(uint32_t counter, uint8_t out[64]) {
  uint32_t s[16], x[16];
  s[0] = 0x61707865;
  s[1] = 0x3320646e;
  s[2] = 0x79622d32;
  s[3] = 0x6b206574;
  for (int i = 0; i < 8; i++) s[4 + i] = load32(key_buf + 4 * i);
  s[12] = counter;
  for (int i = 0; i < 3; i++) s[13 + i] = load32(nonce_buf + 4 * i);
  for (int i = 0; i < 16; i++) x[i] = s[i];
  for (int i = 0; i < 10; i++) {
    QR(x[0], x[4], x[8], x[12]);
    QR(x[1], x[5], x[9], x[13]);
    QR(x[2], x[6], x[10], x[14]);
    QR(x[3], x[7], x[11], x[15]);
    QR(x[0], x[5], x[10], x[15]);
    QR(x[1], x[6], x[11], x[12]);
    QR(x[2], x[7], x[8], x[13]);
    QR(x[3], x[4], x[9], x[14]);
  }
  for (int i = 0; i < 16; i++) store32(out + 4 * i, x[i] + s[i]);
}

#define VROTL(v, n) wasm_v128_or(wasm_i32x4_shl((v), (n)), wasm_u32x4_shr((v), 32 - (n)))
/* Rotations by 16 and 8 move whole bytes: one shuffle each instead of two shifts and an or. */
#define VROTL16(v) wasm_i8x16_shuffle((v), (v), 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13)
#define VROTL8(v) wasm_i8x16_shuffle((v), (v), 3, 0, 1, 2, 7, 4, 5, 6, 11, 8, 9, 10, 15, 12, 13, 14)
#define VQR(a, b, c, d)                                                                                              \
  a = wasm_i32x4_add(a, b); d = wasm_v128_xor(d, a); d = VROTL16(d);                                                 \
  c = wasm_i32x4_add(c, d); b = wasm_v128_xor(b, c); b = VROTL(b, 12);                                               \
  a = wasm_i32x4_add(a, b); d = wasm_v128_xor(d, a); d = VROTL8(d);                                                  \
  c = wasm_i32x4_add(c, d); b = wasm_v128_xor(b, c); b = VROTL(b, 7);

/* XORs the 256 bytes at p with the key stream of blocks counter..counter+3, one block per SIMD lane. */
static void chacha20_xor4(uint32_t counter, uint8_t *p) {
  v128_t s[16], x[16];
  s[0] = wasm_i32x4_splat(0x61707865);
  s[1] = wasm_i32x4_splat(0x3320646e);
  s[2] = wasm_i32x4_splat(0x79622d32);
  s[3] = wasm_i32x4_splat(0x6b206574);
  for (int i = 0; i < 8; i++) s[4 + i] = wasm_i32x4_splat((int32_t)load32(key_buf + 4 * i));
  s[12] = wasm_i32x4_make((int32_t)counter, (int32_t)(counter + 1), (int32_t)(counter + 2), (int32_t)(counter + 3));
  for (int i = 0; i < 3; i++) s[13 + i] = wasm_i32x4_splat((int32_t)load32(nonce_buf + 4 * i));
  for (int i = 0; i < 16; i++) x[i] = s[i];
  for (int i = 0; i < 10; i++) {
    VQR(x[0], x[4], x[8], x[12]);
    VQR(x[1], x[5], x[9], x[13]);
    VQR(x[2], x[6], x[10], x[14]);
    VQR(x[3], x[7], x[11], x[15]);
    VQR(x[0], x[5], x[10], x[15]);
    VQR(x[1], x[6], x[11], x[12]);
    VQR(x[2], x[7], x[8], x[13]);
    VQR(x[3], x[4], x[9], x[14]);
  }
  for (int i = 0; i < 16; i++) x[i] = wasm_i32x4_add(x[i], s[i]);
  /* Lane j of x[i] is word i of block j: transpose each group of four words into four blocks' 16 bytes. */
  for (int g = 0; g < 16; g += 4) {
    v128_t t0 = wasm_i32x4_shuffle(x[g], x[g + 1], 0, 4, 1, 5);
    v128_t t1 = wasm_i32x4_shuffle(x[g], x[g + 1], 2, 6, 3, 7);
    v128_t t2 = wasm_i32x4_shuffle(x[g + 2], x[g + 3], 0, 4, 1, 5);
    v128_t t3 = wasm_i32x4_shuffle(x[g + 2], x[g + 3], 2, 6, 3, 7);
    v128_t b[4] = {
      wasm_i64x2_shuffle(t0, t2, 0, 2),
      wasm_i64x2_shuffle(t0, t2, 1, 3),
      wasm_i64x2_shuffle(t1, t3, 0, 2),
      wasm_i64x2_shuffle(t1, t3, 1, 3),
    };
    for (int j = 0; j < 4; j++) {
      uint8_t *q = p + 64 * j + 4 * g;
      wasm_v128_store(q, wasm_v128_xor(wasm_v128_load(q), b[j]));
    }
  }
}

/* XORs text_buf[0..len) with the key stream from block `counter` on (RFC 8439 2.4). */
static void chacha20_xor(uint32_t counter, uint32_t len) {
  uint8_t block[64];
  uint32_t offset = 0;
  for (; offset + 256 <= len; offset += 256, counter += 4) chacha20_xor4(counter, text_buf + offset);
  for (; offset + 64 <= len; offset += 64, counter++) {
    chacha20_block(counter, block);
    for (uint32_t i = 0; i < 64; i += 4) store32(text_buf + offset + i, load32(text_buf + offset + i) ^ load32(block + i));
  }
  if (offset < len) {
    chacha20_block(counter, block);
    for (uint32_t i = 0; offset + i < len; i++) text_buf[offset + i] ^= block[i];
  }
  for (int i = 0; i < 64; i++) ((volatile uint8_t *)block)[i] = 0;
}

typedef struct {
  uint32_t r0, r1, r2, r3, r4, s1, s2, s3, s4;
  uint32_t h0, h1, h2, h3, h4;
  uint32_t pad0, pad1, pad2, pad3;
  uint32_t q0, q1, q2, q3, q4; /* r^2 mod p, for two blocks at a time */
} poly1305_state;

/* h = h * r mod p, partially reduced: each limb under 2^26 but the second, which may carry a little past it. */
static void poly1305_mul(uint32_t h[5], const uint32_t r[5]) {
  uint32_t s1 = r[1] * 5, s2 = r[2] * 5, s3 = r[3] * 5, s4 = r[4] * 5;
  uint64_t d0 = (uint64_t)h[0] * r[0] + (uint64_t)h[1] * s4 + (uint64_t)h[2] * s3 + (uint64_t)h[3] * s2 + (uint64_t)h[4] * s1;
  uint64_t d1 = (uint64_t)h[0] * r[1] + (uint64_t)h[1] * r[0] + (uint64_t)h[2] * s4 + (uint64_t)h[3] * s3 + (uint64_t)h[4] * s2;
  uint64_t d2 = (uint64_t)h[0] * r[2] + (uint64_t)h[1] * r[1] + (uint64_t)h[2] * r[0] + (uint64_t)h[3] * s4 + (uint64_t)h[4] * s3;
  uint64_t d3 = (uint64_t)h[0] * r[3] + (uint64_t)h[1] * r[2] + (uint64_t)h[2] * r[1] + (uint64_t)h[3] * r[0] + (uint64_t)h[4] * s4;
  uint64_t d4 = (uint64_t)h[0] * r[4] + (uint64_t)h[1] * r[3] + (uint64_t)h[2] * r[2] + (uint64_t)h[3] * r[1] + (uint64_t)h[4] * r[0];
  uint32_t c = (uint32_t)(d0 >> 26);
  h[0] = (uint32_t)d0 & 0x3ffffff;
  d1 += c; c = (uint32_t)(d1 >> 26); h[1] = (uint32_t)d1 & 0x3ffffff;
  d2 += c; c = (uint32_t)(d2 >> 26); h[2] = (uint32_t)d2 & 0x3ffffff;
  d3 += c; c = (uint32_t)(d3 >> 26); h[3] = (uint32_t)d3 & 0x3ffffff;
  d4 += c; c = (uint32_t)(d4 >> 26); h[4] = (uint32_t)d4 & 0x3ffffff;
  h[0] += c * 5; c = h[0] >> 26; h[0] &= 0x3ffffff;
  h[1] += c;
}

static void poly1305_init(poly1305_state *st, const uint8_t otk[32]) {
  /* r is clamped as RFC 8439 2.5 says, then split into 26-bit limbs. */
  st->r0 = load32(otk + 0) & 0x3ffffff;
  st->r1 = (load32(otk + 3) >> 2) & 0x3ffff03;
  st->r2 = (load32(otk + 6) >> 4) & 0x3ffc0ff;
  st->r3 = (load32(otk + 9) >> 6) & 0x3f03fff;
  st->r4 = (load32(otk + 12) >> 8) & 0x00fffff;
  st->s1 = st->r1 * 5;
  st->s2 = st->r2 * 5;
  st->s3 = st->r3 * 5;
  st->s4 = st->r4 * 5;
  st->h0 = st->h1 = st->h2 = st->h3 = st->h4 = 0;
  uint32_t r[5] = {st->r0, st->r1, st->r2, st->r3, st->r4}, q[5] = {st->r0, st->r1, st->r2, st->r3, st->r4};
  poly1305_mul(q, r);
  st->q0 = q[0]; st->q1 = q[1]; st->q2 = q[2]; st->q3 = q[3]; st->q4 = q[4];
  st->pad0 = load32(otk + 16);
  st->pad1 = load32(otk + 20);
  st->pad2 = load32(otk + 24);
  st->pad3 = load32(otk + 28);
}

/*
 * Adds pairs of 16-byte blocks (len a multiple of 32, at least 64) two at a time, one per 64-bit SIMD lane: lane 0
 * takes the accumulator and the odd blocks, lane 1 the even ones, each multiplied by r^2 per pair (Horner's rule
 * by r^2), and the last pair by r^2 and r, so the lanes' sum is what one block at a time would give.
 */
static void poly1305_pairs(poly1305_state *st, const uint8_t *m, uint32_t len) {
  const v128_t mask = wasm_i64x2_splat(0x3ffffff), hibit = wasm_i64x2_splat(1 << 24);
  /* Multipliers in 32-bit lanes 0 and 1 (what extmul_low reads): r^2 for both lanes, then r^2 and r. */
  const v128_t R0 = wasm_i32x4_splat((int32_t)st->q0), R1 = wasm_i32x4_splat((int32_t)st->q1);
  const v128_t R2 = wasm_i32x4_splat((int32_t)st->q2), R3 = wasm_i32x4_splat((int32_t)st->q3);
  const v128_t R4 = wasm_i32x4_splat((int32_t)st->q4);
  const v128_t F0 = wasm_i32x4_make((int32_t)st->q0, (int32_t)st->r0, 0, 0);
  const v128_t F1 = wasm_i32x4_make((int32_t)st->q1, (int32_t)st->r1, 0, 0);
  const v128_t F2 = wasm_i32x4_make((int32_t)st->q2, (int32_t)st->r2, 0, 0);
  const v128_t F3 = wasm_i32x4_make((int32_t)st->q3, (int32_t)st->r3, 0, 0);
  const v128_t F4 = wasm_i32x4_make((int32_t)st->q4, (int32_t)st->r4, 0, 0);
  v128_t H0 = wasm_u64x2_make(st->h0, 0), H1 = wasm_u64x2_make(st->h1, 0), H2 = wasm_u64x2_make(st->h2, 0);
  v128_t H3 = wasm_u64x2_make(st->h3, 0), H4 = wasm_u64x2_make(st->h4, 0);
  for (; len >= 32; m += 32, len -= 32) {
    v128_t a = wasm_v128_load(m), b = wasm_v128_load(m + 16);
    v128_t lo = wasm_i64x2_shuffle(a, b, 0, 2), hi = wasm_i64x2_shuffle(a, b, 1, 3);
    H0 = wasm_i64x2_add(H0, wasm_v128_and(lo, mask));
    H1 = wasm_i64x2_add(H1, wasm_v128_and(wasm_u64x2_shr(lo, 26), mask));
    H2 = wasm_i64x2_add(H2, wasm_v128_and(wasm_v128_or(wasm_u64x2_shr(lo, 52), wasm_i64x2_shl(hi, 12)), mask));
    H3 = wasm_i64x2_add(H3, wasm_v128_and(wasm_u64x2_shr(hi, 14), mask));
    H4 = wasm_i64x2_add(H4, wasm_v128_or(wasm_u64x2_shr(hi, 40), hibit));
    v128_t r0 = R0, r1 = R1, r2 = R2, r3 = R3, r4 = R4;
    if (len == 32) {
      r0 = F0; r1 = F1; r2 = F2; r3 = F3; r4 = F4;
    }
    v128_t s1 = wasm_i32x4_mul(r1, wasm_i32x4_splat(5)), s2 = wasm_i32x4_mul(r2, wasm_i32x4_splat(5));
    v128_t s3 = wasm_i32x4_mul(r3, wasm_i32x4_splat(5)), s4 = wasm_i32x4_mul(r4, wasm_i32x4_splat(5));
    /* Each limb is under 2^32 here: its 32-bit halves go to lanes 0 and 1 for extmul_low. */
    v128_t p0 = wasm_i32x4_shuffle(H0, H0, 0, 2, 0, 2), p1 = wasm_i32x4_shuffle(H1, H1, 0, 2, 0, 2);
    v128_t p2 = wasm_i32x4_shuffle(H2, H2, 0, 2, 0, 2), p3 = wasm_i32x4_shuffle(H3, H3, 0, 2, 0, 2);
    v128_t p4 = wasm_i32x4_shuffle(H4, H4, 0, 2, 0, 2);
#define MUL(x, y) wasm_u64x2_extmul_low_u32x4((x), (y))
#define ADD5(a, b, c, d, e) wasm_i64x2_add(wasm_i64x2_add(wasm_i64x2_add(a, b), wasm_i64x2_add(c, d)), e)
    v128_t d0 = ADD5(MUL(p0, r0), MUL(p1, s4), MUL(p2, s3), MUL(p3, s2), MUL(p4, s1));
    v128_t d1 = ADD5(MUL(p0, r1), MUL(p1, r0), MUL(p2, s4), MUL(p3, s3), MUL(p4, s2));
    v128_t d2 = ADD5(MUL(p0, r2), MUL(p1, r1), MUL(p2, r0), MUL(p3, s4), MUL(p4, s3));
    v128_t d3 = ADD5(MUL(p0, r3), MUL(p1, r2), MUL(p2, r1), MUL(p3, r0), MUL(p4, s4));
    v128_t d4 = ADD5(MUL(p0, r4), MUL(p1, r3), MUL(p2, r2), MUL(p3, r1), MUL(p4, r0));
#undef MUL
#undef ADD5
    v128_t c = wasm_u64x2_shr(d0, 26);
    H0 = wasm_v128_and(d0, mask);
    d1 = wasm_i64x2_add(d1, c); c = wasm_u64x2_shr(d1, 26); H1 = wasm_v128_and(d1, mask);
    d2 = wasm_i64x2_add(d2, c); c = wasm_u64x2_shr(d2, 26); H2 = wasm_v128_and(d2, mask);
    d3 = wasm_i64x2_add(d3, c); c = wasm_u64x2_shr(d3, 26); H3 = wasm_v128_and(d3, mask);
    d4 = wasm_i64x2_add(d4, c); c = wasm_u64x2_shr(d4, 26); H4 = wasm_v128_and(d4, mask);
    H0 = wasm_i64x2_add(H0, wasm_i64x2_add(c, wasm_i64x2_shl(c, 2)));
    c = wasm_u64x2_shr(H0, 26);
    H0 = wasm_v128_and(H0, mask);
    H1 = wasm_i64x2_add(H1, c);
  }
  /* The sum of the lanes, carried back into 26-bit limbs. */
  uint32_t h0 = (uint32_t)(wasm_u64x2_extract_lane(H0, 0) + wasm_u64x2_extract_lane(H0, 1));
  uint32_t h1 = (uint32_t)(wasm_u64x2_extract_lane(H1, 0) + wasm_u64x2_extract_lane(H1, 1));
  uint32_t h2 = (uint32_t)(wasm_u64x2_extract_lane(H2, 0) + wasm_u64x2_extract_lane(H2, 1));
  uint32_t h3 = (uint32_t)(wasm_u64x2_extract_lane(H3, 0) + wasm_u64x2_extract_lane(H3, 1));
  uint32_t h4 = (uint32_t)(wasm_u64x2_extract_lane(H4, 0) + wasm_u64x2_extract_lane(H4, 1));
  uint32_t c;
  c = h0 >> 26; h0 &= 0x3ffffff;
  h1 += c; c = h1 >> 26; h1 &= 0x3ffffff;
  h2 += c; c = h2 >> 26; h2 &= 0x3ffffff;
  h3 += c; c = h3 >> 26; h3 &= 0x3ffffff;
  h4 += c; c = h4 >> 26; h4 &= 0x3ffffff;
  h0 += c * 5; c = h0 >> 26; h0 &= 0x3ffffff;
  h1 += c;
  st->h0 = h0; st->h1 = h1; st->h2 = h2; st->h3 = h3; st->h4 = h4;
}

/* Adds full 16-byte blocks (each with the 2^128 bit set) to the accumulator. */
static void poly1305_blocks(poly1305_state *st, const uint8_t *m, uint32_t len) {
  if (len >= 64) {
    uint32_t pairs = len & ~31u;
    poly1305_pairs(st, m, pairs);
    m += pairs;
    len -= pairs;
  }
  const uint32_t hibit = 1u << 24;
  uint32_t r0 = st->r0, r1 = st->r1, r2 = st->r2, r3 = st->r3, r4 = st->r4;
  uint32_t s1 = st->s1, s2 = st->s2, s3 = st->s3, s4 = st->s4;
  uint32_t h0 = st->h0, h1 = st->h1, h2 = st->h2, h3 = st->h3, h4 = st->h4;
  while (len >= 16) {
    h0 += load32(m + 0) & 0x3ffffff;
    h1 += (load32(m + 3) >> 2) & 0x3ffffff;
    h2 += (load32(m + 6) >> 4) & 0x3ffffff;
    h3 += (load32(m + 9) >> 6) & 0x3ffffff;
    h4 += (load32(m + 12) >> 8) | hibit;
    uint64_t d0 = (uint64_t)h0 * r0 + (uint64_t)h1 * s4 + (uint64_t)h2 * s3 + (uint64_t)h3 * s2 + (uint64_t)h4 * s1;
    uint64_t d1 = (uint64_t)h0 * r1 + (uint64_t)h1 * r0 + (uint64_t)h2 * s4 + (uint64_t)h3 * s3 + (uint64_t)h4 * s2;
    uint64_t d2 = (uint64_t)h0 * r2 + (uint64_t)h1 * r1 + (uint64_t)h2 * r0 + (uint64_t)h3 * s4 + (uint64_t)h4 * s3;
    uint64_t d3 = (uint64_t)h0 * r3 + (uint64_t)h1 * r2 + (uint64_t)h2 * r1 + (uint64_t)h3 * r0 + (uint64_t)h4 * s4;
    uint64_t d4 = (uint64_t)h0 * r4 + (uint64_t)h1 * r3 + (uint64_t)h2 * r2 + (uint64_t)h3 * r1 + (uint64_t)h4 * r0;
    uint32_t c = (uint32_t)(d0 >> 26);
    h0 = (uint32_t)d0 & 0x3ffffff;
    d1 += c; c = (uint32_t)(d1 >> 26); h1 = (uint32_t)d1 & 0x3ffffff;
    d2 += c; c = (uint32_t)(d2 >> 26); h2 = (uint32_t)d2 & 0x3ffffff;
    d3 += c; c = (uint32_t)(d3 >> 26); h3 = (uint32_t)d3 & 0x3ffffff;
    d4 += c; c = (uint32_t)(d4 >> 26); h4 = (uint32_t)d4 & 0x3ffffff;
    h0 += c * 5; c = h0 >> 26; h0 &= 0x3ffffff;
    h1 += c;
    m += 16;
    len -= 16;
  }
  st->h0 = h0; st->h1 = h1; st->h2 = h2; st->h3 = h3; st->h4 = h4;
}

/* Adds `len` bytes zero-padded to a multiple of 16 (the AEAD's pad16). */
static void poly1305_padded(poly1305_state *st, const uint8_t *m, uint32_t len) {
  uint32_t full = len & ~15u;
  poly1305_blocks(st, m, full);
  if (full < len) {
    uint8_t last[16] = {0};
    for (uint32_t i = 0; i < len - full; i++) last[i] = m[full + i];
    poly1305_blocks(st, last, 16);
  }
}

static void poly1305_finish(poly1305_state *st, uint8_t out[16]) {
  uint32_t h0 = st->h0, h1 = st->h1, h2 = st->h2, h3 = st->h3, h4 = st->h4, c;
  c = h1 >> 26; h1 &= 0x3ffffff;
  h2 += c; c = h2 >> 26; h2 &= 0x3ffffff;
  h3 += c; c = h3 >> 26; h3 &= 0x3ffffff;
  h4 += c; c = h4 >> 26; h4 &= 0x3ffffff;
  h0 += c * 5; c = h0 >> 26; h0 &= 0x3ffffff;
  h1 += c;
  /* g = h + 5 - 2^130: taken when h >= p, chosen by mask, not by branch. */
  uint32_t g0 = h0 + 5; c = g0 >> 26; g0 &= 0x3ffffff;
  uint32_t g1 = h1 + c; c = g1 >> 26; g1 &= 0x3ffffff;
  uint32_t g2 = h2 + c; c = g2 >> 26; g2 &= 0x3ffffff;
  uint32_t g3 = h3 + c; c = g3 >> 26; g3 &= 0x3ffffff;
  uint32_t g4 = h4 + c - (1u << 26);
  uint32_t mask = (g4 >> 31) - 1;
  g0 &= mask; g1 &= mask; g2 &= mask; g3 &= mask; g4 &= mask;
  mask = ~mask;
  h0 = (h0 & mask) | g0;
  h1 = (h1 & mask) | g1;
  h2 = (h2 & mask) | g2;
  h3 = (h3 & mask) | g3;
  h4 = (h4 & mask) | g4;
  h0 = h0 | (h1 << 26);
  h1 = (h1 >> 6) | (h2 << 20);
  h2 = (h2 >> 12) | (h3 << 14);
  h3 = (h3 >> 18) | (h4 << 8);
  uint64_t f;
  f = (uint64_t)h0 + st->pad0; h0 = (uint32_t)f;
  f = (uint64_t)h1 + st->pad1 + (f >> 32); h1 = (uint32_t)f;
  f = (uint64_t)h2 + st->pad2 + (f >> 32); h2 = (uint32_t)f;
  f = (uint64_t)h3 + st->pad3 + (f >> 32); h3 = (uint32_t)f;
  store32(out + 0, h0);
  store32(out + 4, h1);
  store32(out + 8, h2);
  store32(out + 12, h3);
}

/*
 * The state of one record, sealed or opened chunk by chunk. A record's chunks must be whole 64-byte blocks except
 * its last, so each chunk's key stream and Poly1305 input continue where the previous chunk's ended.
 */
enum { IDLE, SEALING, MACING, DECRYPTING };
static poly1305_state st;
static uint32_t phase = IDLE;
static uint32_t record_aad_len, record_len, counter, decrypted, ended;

/* Starts a record under key_buf and nonce_buf with aad_buf[0..aad_len) (RFC 8439 2.8). Returns 0, or -1. */
static int32_t start(uint32_t aad_len, uint32_t mode) {
  if (aad_len > MAX_AAD) return -1;
  uint8_t otk[64];
  chacha20_block(0, otk);
  poly1305_init(&st, otk);
  for (int i = 0; i < 64; i++) ((volatile uint8_t *)otk)[i] = 0;
  poly1305_padded(&st, aad_buf, aad_len);
  record_aad_len = aad_len;
  record_len = 0;
  counter = 1;
  decrypted = 0;
  ended = 0;
  phase = mode;
  return 0;
}

/* Whether text_buf[0..len) may be the record's next chunk: after a partial block nothing may follow. */
static int accepts(uint32_t len) {
  if (len > MAX_TEXT || ended || record_len + len < record_len) return 0;
  if (len % 64 != 0) ended = 1;
  return 1;
}

/* The tag over what was added so far, with the lengths block (RFC 8439 2.8). Leaves the record IDLE. */
static void tag_of(uint8_t out[16]) {
  uint8_t lengths[16] = {0};
  store32(lengths, record_aad_len);
  store32(lengths + 8, record_len);
  poly1305_blocks(&st, lengths, 16);
  poly1305_finish(&st, out);
  for (int i = 0; i < (int)(sizeof st / 4); i++) ((volatile uint32_t *)&st)[i] = 0;
}

/* Starts a record to seal (mode 1) or open (mode 2). Returns 0, or -1 if aad_len is too large or mode unknown. */
__attribute__((export_name("begin"))) int32_t begin(uint32_t aad_len, uint32_t mode) {
  phase = IDLE;
  if (mode != SEALING && mode != MACING) return -1;
  return start(aad_len, mode);
}

/* Encrypts text_buf[0..len) in place as the record's next chunk and adds it to the tag. Returns 0, or -1. */
__attribute__((export_name("seal_chunk"))) int32_t seal_chunk(uint32_t len) {
  if (phase != SEALING || !accepts(len)) return -1;
  chacha20_xor(counter, len);
  counter += (len + 63) / 64;
  poly1305_padded(&st, text_buf, len);
  record_len += len;
  return 0;
}

/* Writes the sealed record's tag to tag_buf. Returns 0, or -1 when no record is being sealed. */
__attribute__((export_name("seal_end"))) int32_t seal_end(void) {
  if (phase != SEALING) return -1;
  tag_of(tag_buf);
  phase = IDLE;
  return 0;
}

/* Adds the ciphertext text_buf[0..len) (the record's next chunk) to the tag being checked. Returns 0, or -1. */
__attribute__((export_name("mac_chunk"))) int32_t mac_chunk(uint32_t len) {
  if (phase != MACING || !accepts(len)) return -1;
  poly1305_padded(&st, text_buf, len);
  record_len += len;
  return 0;
}

/*
 * Compares the tag of the ciphertext added so far with tag_buf, in constant time. Returns 1 when it matches (the
 * record may then be decrypted, chunk by chunk from its start), 0 when it does not (nothing can be decrypted), -1
 * when no record is being opened.
 */
__attribute__((export_name("verify"))) int32_t verify(void) {
  if (phase != MACING) return -1;
  uint8_t expected[16];
  tag_of(expected);
  uint32_t diff = 0;
  for (int i = 0; i < 16; i++) diff |= (uint32_t)(expected[i] ^ tag_buf[i]);
  phase = diff == 0 ? DECRYPTING : IDLE;
  counter = 1;
  ended = 0;
  return diff == 0;
}

/*
 * Decrypts text_buf[0..len) in place, the next chunk of a record whose tag matched; the chunks must be those that
 * were checked, in order. Returns 0, or -1 (no verified record, a chunk past a partial block, or past its end).
 */
__attribute__((export_name("decrypt_chunk"))) int32_t decrypt_chunk(uint32_t len) {
  if (phase != DECRYPTING || len > record_len - decrypted || !accepts(len)) return -1;
  chacha20_xor(counter, len);
  counter += (len + 63) / 64;
  decrypted += len;
  if (decrypted == record_len) phase = IDLE;
  return 0;
}

/* A record in one chunk: encrypts text_buf[0..len) in place and writes the tag to tag_buf. Returns 0, or -1. */
__attribute__((export_name("seal"))) int32_t seal(uint32_t aad_len, uint32_t len) {
  if (begin(aad_len, SEALING) != 0 || seal_chunk(len) != 0) {
    phase = IDLE;
    return -1;
  }
  return seal_end();
}

/*
 * A record in one chunk: checks tag_buf against the ciphertext in text_buf[0..len) and, only if it matches,
 * decrypts it in place. Returns 1 when it matched, 0 when it did not (text_buf is then untouched), -1 if a length
 * is too large.
 */
__attribute__((export_name("open"))) int32_t open(uint32_t aad_len, uint32_t len) {
  if (begin(aad_len, MACING) != 0 || mac_chunk(len) != 0) {
    phase = IDLE;
    return -1;
  }
  int32_t matched = verify();
  if (matched == 1 && len > 0 && decrypt_chunk(len) != 0) return -1;
  phase = IDLE;
  return matched;
}
