/**
 * What the payload check says of a list of fields, for the strict-decoding tests beside each golden vector:
 * the refusal's code, or `"accepted"`.
 */
import assert from "node:assert/strict";
import { ProtocolError } from "../lib/errors.ts";
import type { MessageType } from "../lib/protocol/mod.ts";
import { readPayload } from "../lib/protocol/schema.ts";

/** The code `readPayload` refuses `fields` of `type` with, or `"accepted"` when it takes them. */
export function refused(type: MessageType, fields: unknown[]): string {
  try {
    readPayload(type, fields);
  } catch (error) {
    assert.ok(error instanceof ProtocolError, String(error));
    return error.code;
  }
  return "accepted";
}
