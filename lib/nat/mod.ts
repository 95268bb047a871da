/**
 * Reachability behind NATs: observed addresses (`observed.ts`), the reachability check this node asks for
 * (`reachability.ts`), the dial-backs it does for others (`dial_back.ts`), their settings (`config.ts`) and
 * the messages on the links (`service.ts`).
 *
 * @module
 */
export { DEFAULT_NAT_CONFIG, type NatConfig, resolveNatConfig } from "./config.ts";
export { DEFAULT_OBSERVED_CONFIG, ObservedAddresses, type ObservedConfig, type ObservedReport } from "./observed.ts";
export {
  type DialBackPeer,
  Reachability,
  type ReachabilityOptions,
  type ReachabilityState,
  type ReachabilityStats,
} from "./reachability.ts";
export {
  type DialBackAsker,
  DialBackServer,
  type DialBackServerOptions,
  type DialBackServerStats,
} from "./dial_back.ts";
export { NAT_TYPES, type NatPeer, NatService, type NatServiceOptions, type NatStatus } from "./service.ts";
