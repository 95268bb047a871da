/**
 * A map held at its bound, one entry in and its oldest out per operation (the seen ids and the message
 * store at messageCacheSize, once per delivery): the oldest taken by iterating the Map against a KeyQueue
 * kept beside it. Run: deno task bench
 */
import { KeyQueue } from "../../lib/key_queue.ts";

const BOUND = 10_000;
const byIterator = new Map<string, number>();
const byQueue = new Map<string, number>();
const order = new KeyQueue<string>();
let n = 0;

Deno.bench("oldest of 10,000 by map.keys().next()", { group: "bounded map", baseline: true }, () => {
  byIterator.set(`k${n++}`, n);
  if (byIterator.size > BOUND) byIterator.delete(byIterator.keys().next().value!);
});
Deno.bench("oldest of 10,000 by a KeyQueue beside the map", { group: "bounded map" }, () => {
  const key = `k${n++}`;
  byQueue.set(key, n);
  order.push(key);
  if (byQueue.size > BOUND) byQueue.delete(order.shift()!);
});
