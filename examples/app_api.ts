import { KithNode } from "@kith/kith";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const config = { listenHost: "127.0.0.1", listenPort: 0, minPeers: 1 };

const alice = new KithNode({ config });
alice.handle("upper/1", (data) => text(data).toUpperCase()); // request/response: serve a protocol
alice.onDirect((message) => console.log(`direct from ${message.from.slice(0, 8)}: ${text(message.data)}`));
await alice.start();

const watching = (async () => { // events: an async iterator with a bounded buffer, ended by stop()
  for await (const event of alice.watch()) console.log(`event ${event.type} ${event.nodeId.slice(0, 8)}`);
})();

const bob = new KithNode({ config: { ...config, bootstrap: [alice.address] } });
await bob.start();
await bob.waitForPeers(1, { timeout: 10_000 });

bob.sendDirect(alice.nodeId, "hello, alice"); // to this peer only: signed, never gossiped
const answer = await bob.request(alice.nodeId, "upper/1", "shout this", { timeout: 5_000 });
console.log(`answer: ${text(answer)}`); // "SHOUT THIS"

const gone = new Promise((resolve) => alice.events.addEventListener("peer-disconnected", resolve, { once: true }));
await bob.stop();
await gone;
await alice.stop();
await watching;
