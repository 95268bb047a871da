import assert from "node:assert/strict";
import { BYTE_ARENA_FIRST_CHUNK, ByteArena, bytesKey, idKey } from "../lib/bytes.ts";

Deno.test("ByteArena copies share one chunk until it is full, then start the next", () => {
  const arena = new ByteArena(256);
  const a = arena.copy(new Uint8Array(40).fill(1));
  const b = arena.copy(new Uint8Array(40).fill(2));
  assert.equal(a.buffer, b.buffer);
  assert.equal(a.buffer.byteLength, 256);
  for (let i = 0; i < 4; i++) arena.copy(new Uint8Array(40)); // 240 of 256 bytes used
  const next = arena.copy(new Uint8Array(40).fill(3));
  assert.notEqual(next.buffer, a.buffer);
  assert.deepEqual([a[0], a[39], b[0], b[39], next[0]], [1, 1, 2, 2, 3]);
});

Deno.test("ByteArena copies are copies: later changes to the source or a neighbour do not reach them", () => {
  const arena = new ByteArena(256);
  const source = new Uint8Array([1, 2, 3]);
  const kept = arena.copy(source);
  source[0] = 9;
  const neighbour = arena.copy(new Uint8Array([4, 5]));
  neighbour.fill(0);
  assert.deepEqual([...kept], [1, 2, 3]);
  assert.equal(kept.length, 3);
});

Deno.test("ByteArena gives a byte string over a quarter of a chunk a buffer of its own", () => {
  const arena = new ByteArena(256);
  const small = arena.copy(new Uint8Array(64));
  const large = arena.copy(new Uint8Array(65).fill(7));
  assert.notEqual(large.buffer, small.buffer);
  assert.equal(large.buffer.byteLength, 65);
  assert.equal(large[64], 7);
  assert.throws(() => new ByteArena(10), RangeError);
});

Deno.test("ByteArena starts with a small chunk and doubles it up to chunkBytes, so a few copies hold little", () => {
  const arena = new ByteArena(64 * 1024);
  const first = arena.copy(new Uint8Array(300).fill(1));
  assert.equal(first.buffer.byteLength, BYTE_ARENA_FIRST_CHUNK);
  const sizes = [first.buffer.byteLength];
  let last = first.buffer;
  for (let i = 0; i < 2_000; i++) {
    const kept = arena.copy(new Uint8Array(300).fill(i & 255));
    if (kept.buffer !== last) sizes.push((last = kept.buffer).byteLength);
    assert.equal(kept[299], i & 255);
  }
  assert.deepEqual(sizes.slice(0, 7), [1024, 2048, 4096, 8192, 16384, 32768, 65536]);
  assert.ok(sizes.slice(7).every((size) => size === 64 * 1024));
  assert.equal(first[0], 1);
});

Deno.test("ByteArena's next chunk is large enough for the byte string that did not fit", () => {
  const arena = new ByteArena(64 * 1024);
  arena.copy(new Uint8Array(10));
  const big = arena.copy(new Uint8Array(9_000).fill(5)); // under a quarter of 64 KiB, over 2 KiB
  assert.equal(big.buffer.byteLength, 16 * 1024);
  assert.equal(big[8_999], 5);
});

Deno.test("idKey gives bytesKey's string for every id, whichever ids came before it, same bytes or not", () => {
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) & 255;
  const ids = Array.from({ length: 200 }, () => Uint8Array.from({ length: 32 }, next));
  // Equal bytes in another array, an empty id and a longer one among them, each asked for once and twice running.
  ids.push(ids[3].slice(), new Uint8Array(0), new Uint8Array(64).fill(9), ids[3]);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < ids.length; i++) {
      const id = ids[(i * 37 + round) % ids.length];
      assert.equal(idKey(id), bytesKey(id));
      assert.equal(idKey(id), bytesKey(id));
    }
  }
});
