/**
 * What the control API answers with: JSON bodies and errors, the pages with
 * their content security policy, and the JSON of status, messages and the
 * devnet's state.
 *
 * @module
 */
import type { KithNode, ReceivedMessage } from "./node.ts";
import { PROTOCOL_VERSION } from "./protocol/mod.ts";
import { VERSION } from "./version.ts";

/** `body` as a JSON response with `status`. */
export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

/** A page whose only script is its inline one (allowed by hash): nothing from elsewhere, no framing, no referrer. */
export function page(html: string, scriptHash: string): Response {
  return new Response(html, {
    headers: {
      "content-type": "text/html; charset=utf-8",
      "content-security-policy":
        `default-src 'none'; script-src 'sha256-${scriptHash}'; style-src 'unsafe-inline'; connect-src 'self'`,
      "x-frame-options": "DENY",
      "referrer-policy": "no-referrer",
    },
  });
}

/** An error answer: JSON `{"error": {"code", "message"}}` with `status`. */
export function problem(status: number, code: string, message: string): Response {
  return json({ error: { code, message } }, status);
}

/** A received message as the API shows it: text when it is UTF-8, and always base64. */
export function messageJson(message: ReceivedMessage): Record<string, unknown> {
  let text: string | undefined;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(message.data);
  } catch {
    text = undefined;
  }
  return {
    id: message.id,
    origin: message.origin,
    from: message.from,
    topic: message.topic,
    timestamp: message.timestamp,
    ...(text !== undefined ? { data: text } : {}),
    dataBase64: btoa(String.fromCharCode(...message.data)),
    ...(message.missing ? { missing: message.missing } : {}),
    ...(message.replayed ? { replayed: true } : {}),
  };
}

/** Bytes from base64, or undefined when `text` is not base64. */
export function base64ToBytes(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** The body of `GET /v1/status`. */
export function statusJson(node: KithNode): Record<string, unknown> {
  const peers = node.peers();
  const count = (state: string) => peers.filter((p) => p.state === state).length;
  return {
    nodeId: node.nodeId,
    version: VERSION,
    protocol: PROTOCOL_VERSION,
    address: node.address,
    profile: node.preset,
    uptimeMs: node.uptimeMs,
    peers: { active: count("active"), connecting: count("connecting"), known: count("known") },
    stats: node.stats(),
  };
}

/** The body of `GET /v1/devnet`: each node with its links (by index), and its gossip counters. */
export function devnetStateJson(nodes: KithNode[]): Record<string, unknown> {
  const index = new Map(nodes.map((n, i) => [n.nodeId, i]));
  return {
    nodes: nodes.map((n, i) => {
      const peers = n.peers().filter((p) => p.state === "active");
      const stats = n.stats().gossip;
      return {
        index: i,
        nodeId: n.nodeId,
        address: n.address,
        links: peers.map((p) => ({ to: index.get(p.nodeId) ?? -1, trust: p.trust })).filter((l) => l.to >= 0),
        published: stats.published,
        delivered: stats.delivered,
        duplicates: stats.duplicates,
      };
    }),
  };
}

/** One topic's message counters in its own overlay (first copies, copies relayed, duplicates, refusals). */
export interface TopicMessageCounts {
  /** Messages this node published through the topic's overlay (publishes from outside go to `fanoutPublished`). */
  published: number;
  /** First copies received and delivered. */
  delivered: number;
  /** Copies sent on while relaying. */
  forwarded: number;
  /** Copies of messages already seen. */
  duplicates: number;
  /** Envelopes refused as invalid. */
  invalid: number;
  /** Envelopes dropped by the per-peer rate limit. */
  rateLimited: number;
  /** Messages dropped by the per-origin rate limit. */
  originLimited: number;
}

/** The counters of `topic`'s overlay at `node`, or zeros when the node is not in it (or not started). */
export function topicMessageCounts(node: KithNode, topic: string): TopicMessageCounts {
  let stats;
  try {
    stats = node.components.topics.gossipOf(topic)?.stats;
  } catch {
    stats = undefined; // not started
  }
  return {
    published: stats?.published ?? 0,
    delivered: stats?.delivered ?? 0,
    forwarded: stats?.forwarded ?? 0,
    duplicates: stats?.duplicates ?? 0,
    invalid: stats?.invalid ?? 0,
    rateLimited: stats?.rateLimited ?? 0,
    originLimited: stats?.originLimited ?? 0,
  };
}

/**
 * The body of `GET /v1/topics`: each named topic this node is in (subscribed, or relayed for every topic) with
 * its peers, eager links and message counters, and the node's topic routing counters.
 */
export function topicsJson(node: KithNode): Record<string, unknown> {
  return {
    topics: node.topics().map((info) => {
      const { count, bytes, oldest, newest } = node.components.topicLog.summary(info.topic);
      return { ...info, messages: topicMessageCounts(node, info.topic), log: { count, bytes, oldest, newest } };
    }),
    routing: node.stats().topics,
  };
}

/**
 * The body of `GET /v1/topics/peers?topic=T`: the connected peers that said they are in `topic` (or relay every
 * topic), with their address and trust, whether or not this node is in it (`""`: every connected peer).
 */
export function topicPeersJson(node: KithNode, topic: string): Record<string, unknown> {
  const byId = new Map(node.peers().map((peer) => [peer.nodeId, peer]));
  const membership = node.components.topics.membership;
  return {
    topic,
    member: topic === "" || node.topics().some((info) => info.topic === topic),
    peers: node.topicPeers(topic).map((nodeId) => ({
      nodeId,
      address: byId.get(nodeId)?.address ?? "",
      trust: byId.get(nodeId)?.trust ?? 0,
      relaysAll: membership.relaysAll(nodeId),
    })),
  };
}
