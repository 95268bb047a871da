import assert from "node:assert/strict";
import { toHex } from "../lib/bytes.ts";
import { Identity } from "../lib/identity.ts";
import { createMessage, MessageType } from "../lib/protocol/mod.ts";
import { VirtualClock } from "../lib/sim/mod.ts";
import { type ReceivedMessage, Subscriptions } from "../lib/subscriptions.ts";

Deno.test("a delivered message's id, made only when read, is its id's hex in reads, spreads, JSON and keys", () => {
  const clock = new VirtualClock(1_000_000);
  const subscriptions = new Subscriptions(clock, () => {});
  const got: ReceivedMessage[] = [];
  const subscription = subscriptions.subscribe("t", (m) => got.push(m));
  const origin = Identity.generate();
  const messages = [1, 2, 3].map((n) =>
    createMessage(origin, MessageType.CUSTOM_DATA, { topic: "t", data: new Uint8Array([n]) }, {
      timestamp: 1_000_000 + n,
    })
  );
  for (const message of messages) subscriptions.deliver(message, "peer");
  assert.equal(got.length, 3);
  got.forEach((received, i) => {
    const hex = toHex(messages[i].id);
    assert.deepEqual(Object.keys(received), ["id", "origin", "topic", "data", "timestamp", "from"]);
    assert.equal(JSON.parse(JSON.stringify(received)).id, hex);
    assert.equal({ ...received }.id, hex);
    assert.equal(received.id, hex);
    assert.equal(received.id, hex, "the same string when read again");
  });
  // Written over like any property (an application may reuse the object).
  got[0].id = "replaced";
  assert.equal(got[0].id, "replaced");
  assert.equal(JSON.parse(JSON.stringify(got[0])).id, "replaced");
  subscription.unsubscribe();
});
