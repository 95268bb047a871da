import assert from "node:assert/strict";
import { KeyQueue } from "../lib/key_queue.ts";

Deno.test("key queue: keys come out in the order they went in, across wrap-arounds and growth", () => {
  const queue = new KeyQueue<string>();
  assert.equal(queue.peek(), undefined);
  assert.equal(queue.shift(), undefined);
  const expected: string[] = [];
  let next = 0;
  // Interleaved pushes and shifts: the ring's head moves round it, and it grows while wrapped.
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 7; i++) {
      queue.push(`k${next}`);
      expected.push(`k${next++}`);
    }
    for (let i = 0; i < 5; i++) assert.equal(queue.shift(), expected.shift());
    assert.equal(queue.size, expected.length);
    assert.equal(queue.peek(), expected[0]);
  }
  while (expected.length > 0) assert.equal(queue.shift(), expected.shift());
  assert.equal(queue.size, 0);
  assert.equal(queue.shift(), undefined);
});
