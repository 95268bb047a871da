/**
 * The `kith` help texts: the overview and one page per command.
 *
 * @module
 */
import { API_TOKEN_FILE } from "../api.ts";
import { KEY_FILE_NAME } from "../identity.ts";
import { VERSION } from "../version.ts";
import { DEFAULT_API_ADDRESS, DEFAULT_DATA_DIR } from "./args.ts";

/** `kith --help`: the command list and the common options. */
export const USAGE = `kith ${VERSION}: a peer-to-peer network node

Usage: kith <command> [options]

Commands:
  init        Create the data directory and this node's identity; print the node id
  id          Print the node id and public key of an initialised data directory
  start       Run a node until SIGINT/SIGTERM (initialises on the fly if needed)
  status      Show a running node's status
  peers       List a running node's peers
  trust       Show a running node's trust in its peers, and why
  publish     Broadcast a message through a running node
  subscribe   Print the messages a running node receives
  topics      List a running node's topics, or (--peers T) its peers in topic T
  dht         Ask the DHT through a running node: find-peer, provide, providers, put, get
  history     Print the messages a running node's log holds of a topic
  devnet      Run several nodes on loopback in this process, with a live summary
  dashboard   Print a one-time address that opens a running node's dashboard

Common options:
  --data-dir DIR   Data directory (default ${DEFAULT_DATA_DIR}, or $KITH_DATA_DIR)
  --api HOST:PORT  Control API address (default ${DEFAULT_API_ADDRESS})
  --json           Machine-readable output
  --debug          Show stack traces with errors
  -h, --help       Show help (also: kith <command> --help)
  -V, --version    Show the version

Exit codes: 0 ok, 1 runtime failure, 2 usage or configuration error.`;

/** `kith <command> --help`, per command; its keys are also the list of known commands. */
export const COMMAND_HELP: Record<string, string> = {
  init: `Usage: kith init [--data-dir DIR] [--json]

Creates DIR (mode 0700) and DIR/${KEY_FILE_NAME} (mode 0600) with a new Ed25519
identity, and prints the node id. An existing identity is kept, never replaced.`,
  id: `Usage: kith id [--data-dir DIR] [--json]

Prints the node id and public key stored in DIR/${KEY_FILE_NAME}.`,
  start: `Usage: kith start [--data-dir DIR] [--listen HOST:PORT] [--bootstrap HOST:PORT]...
                  [--advertise HOST:PORT] [--api HOST:PORT|off] [--profile NAME] [--config FILE.json]
                  [--dial-policy auto|public|private|loopback] [--dial-allow CIDR,...]
                  [--dial-deny CIDR,...] [--log-level debug|info|warn|error]
                  [--log-format text|json] [--address-interval-ms N] [--address-burst N]
                  [--address-cache-ms N] [--feeler-interval-ms N] [--anchors N]
                  [--max-topics N] [--topic-fanout-peers N] [--relay-all-topics]
                  [--min-topic-peers N] [--topic-slots N] [--no-dht] [--dht-k N]
                  [--dht-alpha N] [--dht-paths N] [--dht-transient-links N]
                  [--topic-log-messages N] [--topic-log-bytes N] [--topic-log-age-ms N]
                  [--causal-wait-ms N] [--relay-service] [--reserve-relays N]
                  [--private-relays N] [--no-hole-punching] [--no-reachability-check]
                  [--observed-groups N] [--reachability-peers N] [--reachability-quorum N]
                  [--reachability-timeout-ms N] [--reachability-recheck-ms N]
                  [--reachability-retry-ms N] [--json]

Runs a node from DIR (creating its identity first if there is none),
listening on HOST:PORT (default 0.0.0.0:7400) and joining the network
through the bootstrap nodes (repeat the flag for several; without any, it
reconnects to the peers stored in DIR). --advertise is the address peers
are told to dial when it is not the one bound (a port forward, a NAT with a
known public address; a host name is allowed). The control API listens on --api
(default ${DEFAULT_API_ADDRESS}; off: none) and needs the token in DIR/${API_TOKEN_FILE}.
A bootstrap node that cannot be reached is logged at warn level on each
failed dial, with the reason and the next retry.
--profile picks a preset: default, high-throughput, low-resource,
high-security. --config reads NetworkConfig settings from a JSON object
(flags win). Logs go to stderr. SIGINT or SIGTERM stops the node cleanly
(exit 0).

The dial policy says which addresses the node connects to. auto (default):
loopback-only when listening on loopback, private when listening on a
private address, else public. public refuses loopback, private, CGNAT,
link-local, documentation, multicast and reserved ranges in addresses peers
announce; private also dials RFC 1918 and fc00::/7; loopback dials only
127.0.0.0/8 and ::1. Bootstrap hosts are dialed whatever their range, except
under loopback. --dial-allow adds ranges the preset refuses; --dial-deny
refuses ranges whatever else allows them.

Address gossip and eclipse resistance (the NetworkConfig settings of the
same names; each is a whole number):
  --address-interval-ms N  a peer's unsolicited addresses are taken at one
                           per N ms (addressIntervalMs, default 10000)
  --address-burst N        most of them a peer can save up (addressBurst,
                           default 1000)
  --address-cache-ms N     this node's answer to a request for peers is
                           reused for N ms (addressCacheMs, default 600000)
  --feeler-interval-ms N   a short dial testing one address every N ms on
                           average (feelerIntervalMs, default 120000, at
                           least 1000)
  --anchors N              outbound peers saved and dialed first after a
                           restart (anchors, default 2; 0 disables)

Topics (the NetworkConfig settings of the same names):
  --max-topics N           topics this node may be in at once (maxTopics,
                           default 64; above 64 only with --relay-all-topics)
  --topic-fanout-peers N   peers in a topic that a message published from
                           outside it goes to (topicFanoutPeers, default 6)
  --relay-all-topics       relay every topic peers announce, up to
                           --max-topics (relayAllTopics, default off): an
                           operator's choice; the node carries all their traffic
  --min-topic-peers N      a topic this node is in with fewer peers in it is
                           searched for (minTopicPeers, default 2; 0: never)
  --topic-slots N          outbound links kept for the peers found, beyond
                           the outbound target (topicSlots, default 4)
  --topic-log-messages N   messages of each topic the log keeps, to replay
                           and catch up (topicLogMaxMessages, default 10000;
                           0: no log)
  --topic-log-bytes N      bytes of each topic the log keeps
                           (topicLogMaxBytes, default 16777216)
  --topic-log-age-ms N     oldest message the log keeps, ms
                           (topicLogMaxAgeMs, default 86400000: a day)
  --causal-wait-ms N       longest a message waits for its predecessors
                           before delivery anyway (causalWaitMs, default 10000)
Per-topic settings (fanout, ttl, maxMessageBytes, originRateLimit, peerRateLimit,
logMaxMessages, logMaxBytes, logMaxAgeMs) are set in the --config file only,
under "topicSettings":
{"topicSettings": {"chat": {"fanout": 4, "maxMessageBytes": 4096}}}.

DHT (the NetworkConfig settings of the same names; the others, such as
dhtQueryTimeoutMs and the store's bounds, in the --config file):
  --no-dht                 neither answer nor send DHT queries, and do not
                           announce dht/1 (dhtEnabled, default on)
  --dht-k N                contacts per bucket and copies of each record
                           (dhtK, default 20, at most 32)
  --dht-alpha N            queries in flight per lookup path (dhtAlpha, default 3)
  --dht-paths N            disjoint lookup paths (dhtPaths, default 1; 3
                           against a Sybil region)
  --dht-transient-links N  short links to contacts this node is not connected
                           to, open at once (dhtTransientLinks, default 8)

Relays and hole punching (lib/relay/config.ts; limits in docs/design.md):
  --relay-service          serve circuits to nodes behind NATs (a public
                           node's choice; default off), within hard limits
  --reserve-relays N       reserve at N relays (0..8, default 0) and announce
                           a relayed address, whatever the reachability check
                           says: for a node known to be behind a NAT
  --private-relays N       reserve at N relays (0..8, default 2) while the
                           reachability check says private
  --no-hole-punching       keep relayed links relayed (default: punch)

Reachability (the NetworkConfig settings of the same names): peers tell the
node where they see it; once peers of several subnets agree, it asks a few of
them to dial it back there, and advertises a direct address only if they
reached it (public), none if they could not (private). --advertise is
advertised whatever the verdict.
  --no-reachability-check  never ask; advertise as bound (reachabilityCheck)
  --observed-groups N      subnets that must agree on the observed IP
                           (observedAddressGroups, default 3)
  --reachability-peers N   peers asked per check, one per subnet
                           (reachabilityPeers, default 3)
  --reachability-quorum N  answers from distinct subnets that decide
                           (reachabilityQuorum, default 2)
  --reachability-timeout-ms N   wait for answers (default 15000)
  --reachability-recheck-ms N   time between checks after a verdict
                                (default 900000; sooner on a new IP)
  --reachability-retry-ms N     time before retrying a check that decided
                                nothing (default 60000)`,
  status: `Usage: kith status [--data-dir DIR] [--api HOST:PORT] [--json]

Shows the node id, address, uptime, profile, peer counts, message counters,
and dials attempted and failed, of the node running from DIR. With --json,
an error is one JSON line on stderr too.`,
  peers: `Usage: kith peers [--data-dir DIR] [--api HOST:PORT] [--json]

Lists the node's peers: state, direction, address, trust, reputation, round trip.`,
  trust: `Usage: kith trust [--data-dir DIR] [--api HOST:PORT] [--json]

Shows trust and reputation per peer with their parts (trend, stats) and the
latest trust events that moved them.`,
  publish: `Usage: kith publish [--topic T] [--ttl N] [--data-dir DIR] [--api HOST:PORT] [DATA]

Broadcasts DATA (or, without it, standard input) through the running node and
prints the message id. N (hops) must not exceed the node's maxTtl (16 unless
configured).`,
  subscribe: `Usage: kith subscribe [--topic T] [--since MS] [--count N] [--data-dir DIR] [--api HOST:PORT]
                      [--json]

Prints each message the running node receives (on topic T only, with --topic),
until SIGINT, or until N messages with --count. With --since MS (and --topic),
first the messages T's log holds from that timestamp (ms since the epoch; 0:
all), then live ones, none missed or shown twice between the two.`,
  history: `Usage: kith history TOPIC [--since MS] [--limit N] [--data-dir DIR] [--api HOST:PORT] [--json]

Prints the messages the running node's log holds of TOPIC, oldest first:
what it delivered and published while in the topic, within the topic's
retention (--topic-log-messages, --topic-log-bytes, --topic-log-age-ms of
kith start). --since MS: only from that timestamp (ms since the epoch);
--limit N: at most N (1..10000, default 1000).`,
  topics: `Usage: kith topics [--peers T] [--data-dir DIR] [--api HOST:PORT] [--json]

Lists the topics the running node is in: whether the application subscribed
to each or the node relays it (--relay-all-topics), its connected peers in
the topic, the eager links among them (peers it pushes new messages to in
full), and the messages of the topic delivered there. The network-wide
topic "" is not listed: every node is in it.
With --peers T, lists instead the connected peers that said they are in
topic T (whether or not this node is): node id, address, trust, and whether
the peer relays every topic. --peers "" lists every connected peer.`,
  dht: `Usage: kith dht find-peer ID | provide KEY | providers KEY | put NAME VALUE | get KEY
                [--data-dir DIR] [--api HOST:PORT] [--json]

Asks the DHT through the running node (its control API):
  find-peer ID      the address of node ID (64 hex digits), as the nodes
                    around its id know it
  provide KEY       announce this node as a provider of KEY (again every
                    12 hours while it runs); prints how many nodes took it
  providers KEY     the providers of KEY: node id, address, expiry
  put NAME VALUE    sign VALUE (at most 1 KiB) under NAME as this node's
                    record and store it at the nodes closest to its key;
                    prints the key, to give to \`kith dht get\`
  get KEY           the record under KEY with the highest sequence number
KEY is 64 hex digits, or topic:NAME for a topic's rendezvous key.
Exits 1 when nothing is found.`,
  dashboard: `Usage: kith dashboard [--data-dir DIR] [--api HOST:PORT]

Prints the address of the node's dashboard with a one-time login code (valid
for a minute, in the address's #fragment so it never reaches a server log).
Opening it exchanges the code for a session cookie; the API token itself
never appears in a URL.`,
  devnet: `Usage: kith devnet [--nodes N] [--traffic R] [--duration S] [--api HOST:PORT] [--json]

Starts N nodes (default 5) on loopback in this process, connects them through
the first one, publishes R demo messages per second (default 1) from random
nodes, and prints a summary every 2 seconds: peers, messages and trust of each
node. Runs until SIGINT, or for S seconds. It also serves a page showing every
node and link and each broadcast spreading hop by hop, with the delivery time
at each node, and prints the page's address with a one-time code: on a free
loopback port, or at --api HOST:PORT (--api off: no page).`,
};
