/**
 * The DHT (issue 24): Kademlia's XOR metric (`distance.ts`) and the routing table's k-buckets with replacement
 * and netgroup diversity (`routing_table.ts`), the iterative lookup with disjoint paths (`lookup.ts`), signed
 * records (`records.ts`), the store of records and providers with its bounds (`store.ts`), the service that
 * answers and runs lookups over an injected network (`service.ts`) and the wire payloads (`wire.ts`). A node runs
 * it over its links and transient ones in `lib/node_dht.ts`.
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
export { DEFAULT_LOOKUP_CONFIG, IterativeLookup, type LookupConfig, type LookupContact } from "./lookup.ts";
export {
  MAX_RECORD_LIFETIME_MS,
  MAX_RECORD_NAME_BYTES,
  MAX_RECORD_VALUE_BYTES,
  RecordError,
  recordKey,
  type SignedRecord,
  signRecord,
  topicKey,
  verifyRecord,
} from "./records.ts";
export {
  DEFAULT_DHT_STORE_CONFIG,
  DhtStore,
  type DhtStoreConfig,
  type ProviderRecord,
  type PutOutcome,
} from "./store.ts";
export {
  DEFAULT_DHT_CONFIG,
  type DhtConfig,
  type DhtNetwork,
  type DhtOperation,
  type DhtRequest,
  type DhtRequester,
  type DhtResponse,
  DhtService,
  type DhtServiceOptions,
  type DhtStats,
  DhtStatus,
  type LookupOutcome,
} from "./service.ts";
export {
  DhtRequests,
  MAX_DHT_REQUESTS_IN_FLIGHT,
  requestFrom,
  requestPayload,
  responseFrom,
  responsePayload,
} from "./wire.ts";
