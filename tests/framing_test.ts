import assert from "node:assert/strict";
import { ProtocolError } from "../lib/errors.ts";
import { encodeFrame, FrameDecoder } from "../lib/framing.ts";

const bodies = [new Uint8Array([1]), Uint8Array.from({ length: 300 }, (_, i) => i & 0xff), new Uint8Array([7, 7, 7])];
const stream = Uint8Array.from(bodies.flatMap((b) => [...encodeFrame(b)]));

Deno.test("encodeFrame writes a 4-byte big-endian length before the body", () => {
  assert.deepEqual([...encodeFrame(new Uint8Array(258)).subarray(0, 4)], [0, 0, 1, 2]);
});

Deno.test("a stream cut into two at every split point yields the same frames", () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const decoder = new FrameDecoder();
    const frames = [...decoder.push(stream.subarray(0, cut)), ...decoder.push(stream.subarray(cut))];
    assert.deepEqual(frames, bodies, `cut at ${cut}`);
    assert.equal(decoder.bufferedBytes, 0);
  }
});

Deno.test("a stream fed one byte at a time, or all at once, yields the same frames", () => {
  const decoder = new FrameDecoder();
  const frames: Uint8Array[] = [];
  for (let i = 0; i < stream.length; i++) frames.push(...decoder.push(stream.subarray(i, i + 1)));
  assert.deepEqual(frames, bodies);
  assert.deepEqual(new FrameDecoder().push(stream), bodies);
});

Deno.test("frames returned are copies: reusing the read buffer does not change them", () => {
  const decoder = new FrameDecoder();
  const chunk = encodeFrame(new Uint8Array([5, 6]));
  const [frame] = decoder.push(chunk);
  chunk.fill(0);
  assert.deepEqual([...frame], [5, 6]);
});

Deno.test("with views, whole frames are views of the chunk and a frame split across chunks is still a copy", () => {
  const decoder = new FrameDecoder();
  const chunk = encodeFrame(new Uint8Array([5, 6]));
  const [frame] = decoder.push(chunk, true);
  assert.equal(frame.buffer, chunk.buffer);
  chunk.fill(0);
  assert.deepEqual([...frame], [0, 0]);
  const split = encodeFrame(new Uint8Array([8, 9]));
  assert.deepEqual(decoder.push(split.subarray(0, 5), true), []);
  const [joined] = decoder.push(split.subarray(5), true);
  split.fill(0);
  assert.deepEqual([...joined], [8, 9]);
});

Deno.test("an oversize length prefix is refused before the body is buffered", () => {
  const decoder = new FrameDecoder(1024);
  const header = new Uint8Array([0x00, 0x00, 0x04, 0x01]); // 1025
  assert.deepEqual(decoder.push(header.subarray(0, 3)), []);
  assert.throws(
    () => decoder.push(header.subarray(3)),
    (e: unknown) => e instanceof ProtocolError && e.code === "FRAME_TOO_LARGE",
  );
  assert.ok(decoder.bufferedBytes <= 4);
  const huge = new FrameDecoder();
  assert.throws(() => huge.push(new Uint8Array([0xff, 0xff, 0xff, 0xff, 1, 2])), ProtocolError);
  assert.ok(huge.bufferedBytes <= 4);
});

Deno.test("a frame of exactly the maximum is accepted, one byte more is not", () => {
  const decoder = new FrameDecoder(1024);
  assert.equal(decoder.push(encodeFrame(new Uint8Array(1024)))[0].length, 1024);
  assert.throws(() => new FrameDecoder(1024).push(encodeFrame(new Uint8Array(1025))), ProtocolError);
});

Deno.test("a zero length prefix is refused", () => {
  assert.throws(
    () => new FrameDecoder().push(new Uint8Array(4)),
    (e: unknown) => e instanceof ProtocolError && e.code === "FRAME_EMPTY",
  );
});

Deno.test("the buffer never holds more than one maximum frame plus its header", () => {
  const decoder = new FrameDecoder(100);
  const frame = encodeFrame(new Uint8Array(100));
  for (let i = 0; i < 103; i++) {
    decoder.push(frame.subarray(i, i + 1));
    assert.ok(decoder.bufferedBytes <= 104);
  }
});

Deno.test("a maximum frame size outside 1..64 MiB is a RangeError", () => {
  assert.throws(() => new FrameDecoder(0), RangeError);
  assert.throws(() => new FrameDecoder(2 ** 30), RangeError);
});
