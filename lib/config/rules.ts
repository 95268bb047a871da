/**
 * The rule table `NetworkConfig`'s scalar settings are checked by: each setting's kind (an integer in a range, a
 * number in [0, 1], a bounded string, a host, a `host:port`, a boolean, one of some names), and the check that
 * refuses a value against its rule with one line naming the key.
 *
 * @module
 */
import { formatHostPort, parseHostPort } from "../address.ts";
import { ConfigError } from "../errors.ts";

/** What one setting must be. */
export type Rule =
  | { kind: "int"; min: number; max: number }
  | { kind: "unit" }
  | { kind: "string"; maxBytes: number }
  | { kind: "host" }
  | { kind: "address" }
  | { kind: "bool" }
  | { kind: "enum"; values: readonly string[] };

/** An integer in `min..max`. */
export const int = (min: number, max = Number.MAX_SAFE_INTEGER): Rule => ({ kind: "int", min, max });

/**
 * Checks each of `config`'s settings named in `rules` against its rule, in the table's order.
 *
 * @throws {ConfigError} for the first that fails: one line naming the key, the value and what is allowed
 */
export function checkRules<T extends object>(config: T, rules: { readonly [K in keyof T]?: Rule }): void {
  for (const [key, rule] of Object.entries(rules) as [keyof T & string, Rule][]) {
    const value = config[key] as unknown;
    const fail = (allowed: string) => {
      throw new ConfigError(key, `${key} must be ${allowed}, got ${JSON.stringify(value)}`);
    };
    switch (rule.kind) {
      case "int":
        if (typeof value !== "number" || !Number.isSafeInteger(value) || value < rule.min || value > rule.max) {
          fail(`an integer in ${rule.min}..${rule.max}`);
        }
        break;
      case "unit":
        if (typeof value !== "number" || !(value >= 0 && value <= 1)) fail("a number in [0, 1]");
        break;
      case "string":
        if (typeof value !== "string" || value.length === 0 || new TextEncoder().encode(value).length > rule.maxBytes) {
          fail(`a string of 1 to ${rule.maxBytes} bytes`);
        }
        break;
      case "host":
        if (typeof value !== "string" || parseHostPort(formatHostPort(value, 1)) === undefined) {
          fail("an IP address or host name");
        }
        break;
      case "bool":
        if (typeof value !== "boolean") fail("true or false");
        break;
      case "enum":
        if (typeof value !== "string" || !rule.values.includes(value)) fail(`one of ${rule.values.join(", ")}`);
        break;
      case "address":
        if (typeof value !== "string" || (value !== "" && parseHostPort(value) === undefined)) fail('"" or host:port');
        break;
    }
  }
}
