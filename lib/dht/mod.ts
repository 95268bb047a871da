/**
 * The DHT (issue 24), in progress: Kademlia's XOR metric (`distance.ts`) and the routing table's k-buckets with
 * replacement and netgroup diversity (`routing_table.ts`). Lookups, records, the wire messages and the node's
 * wiring are not built yet.
 *
 * @module
 */
export { commonPrefixLength, compareDistance, ID_BITS, ID_BYTES, xorDistance } from "./distance.ts";
export {
  type AddOutcome,
  addressGroups,
  DEFAULT_ROUTING_TABLE_CONFIG,
  type DhtContact,
  RoutingTable,
  type RoutingTableConfig,
} from "./routing_table.ts";
