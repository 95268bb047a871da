/**
 * A node's identity: an Ed25519 key pair, its node id, and the key file that
 * keeps it across restarts.
 *
 * The node id is the lowercase hex SHA-256 of the 32-byte public key, so
 * anyone holding the public key can check a claimed id.
 *
 * @module
 */
import { IdentityError } from "./errors.ts";
import { fromHex, sha256, toHex } from "./bytes.ts";
import {
  createSigner,
  generateSecretKey,
  isAcceptablePointEncoding,
  publicKeyFromSecret,
  SECRET_KEY_LENGTH,
  verifySignature,
} from "./ed25519.ts";

/** File name of the key file inside a data directory. */
export const KEY_FILE_NAME = "identity.key";

/** The node id (lowercase hex SHA-256) of a 32-byte Ed25519 public key. */
export function nodeIdFromPublicKey(publicKey: Uint8Array): string {
  return toHex(sha256(publicKey));
}

/**
 * An Ed25519 key pair and the node id derived from it.
 *
 * @example
 * ```ts
 * import { Identity } from "./identity.ts";
 * const id = Identity.generate();
 * const msg = new TextEncoder().encode("hello");
 * const sig = id.sign(msg);
 * Identity.verify(sig, msg, id.publicKey); // true
 * console.log(id.nodeId.length); // 64
 * ```
 */
export class Identity {
  /** The 32-byte Ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** SHA-256 of the public key, 32 bytes (the binary form of {@link Identity.nodeId}). */
  readonly nodeIdBytes: Uint8Array;
  /** Lowercase hex SHA-256 of the public key, 64 characters. */
  readonly nodeId: string;
  readonly #secretKey: Uint8Array;
  readonly #sign: (message: Uint8Array) => Uint8Array;

  private constructor(secretKey: Uint8Array) {
    this.#secretKey = secretKey.slice();
    this.publicKey = publicKeyFromSecret(this.#secretKey);
    this.nodeIdBytes = sha256(this.publicKey);
    this.nodeId = toHex(this.nodeIdBytes);
    this.#sign = createSigner(this.#secretKey);
  }

  /** A new identity from a fresh random key. */
  static generate(): Identity {
    return new Identity(generateSecretKey());
  }

  /**
   * The identity of an existing 32-byte secret key (the Ed25519 seed).
   * @throws {IdentityError} `KEY_INVALID` when the key is not 32 bytes.
   */
  static fromSecretKey(secretKey: Uint8Array): Identity {
    if (secretKey.length !== SECRET_KEY_LENGTH) {
      throw new IdentityError("KEY_INVALID", `an Ed25519 secret key is 32 bytes, got ${secretKey.length}`);
    }
    return new Identity(secretKey);
  }

  /** Signs `message`; Ed25519 signatures are deterministic. */
  sign(message: Uint8Array): Uint8Array {
    return this.#sign(message);
  }

  /** Verifies a signature by kith's acceptance rule (see `lib/ed25519.ts`). */
  static verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
    return verifySignature(signature, message, publicKey);
  }

  /** A copy of the 32-byte secret key, for saving. Keep it secret. */
  exportSecretKey(): Uint8Array {
    return this.#secretKey.slice();
  }
}

interface KeyFile {
  kith: "ed25519-secret-key";
  version: 1;
  secretKey: string;
  publicKey: string;
  nodeId: string;
}

function describeIoError(action: string, path: string, error: unknown): IdentityError {
  if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
    const flag = action === "read" ? "--allow-read" : "--allow-write";
    const slash = path.lastIndexOf("/");
    const dir = slash > 0 ? path.slice(0, slash) : ".";
    return new IdentityError(
      "KEY_IO",
      `cannot ${action} key file ${path}: permission denied (run with ${flag}=${dir}, or check the directory's owner)`,
      { cause: error },
    );
  }
  const reason = error instanceof Error ? error.message : String(error);
  return new IdentityError("KEY_IO", `cannot ${action} key file ${path}: ${reason}`, { cause: error });
}

/**
 * Loads the identity from a key file written by {@link saveIdentity}.
 *
 * @throws {IdentityError} `KEY_PERMISSIONS` when the file is readable by group
 * or others, `KEY_MALFORMED` when it is truncated or not a kith key file,
 * `KEY_IO` when it cannot be read.
 */
export async function loadIdentity(path: string): Promise<Identity> {
  let info: Deno.FileInfo;
  let text: string;
  try {
    info = await Deno.stat(path);
    text = await Deno.readTextFile(path);
  } catch (error) {
    throw describeIoError("read", path, error);
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(3, "0");
    throw new IdentityError(
      "KEY_PERMISSIONS",
      `key file ${path} is readable by other users (mode ${mode}); run: chmod 600 ${path}`,
    );
  }
  const malformed = (why: string) =>
    new IdentityError(
      "KEY_MALFORMED",
      `key file ${path} is not a valid kith key (${why}); restore it from a backup or move it away to create a new identity`,
    );
  let parsed: Partial<KeyFile>;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw malformed("not JSON, perhaps truncated");
  }
  if (typeof parsed !== "object" || parsed === null || parsed.kith !== "ed25519-secret-key") {
    throw malformed("missing kith header");
  }
  if (parsed.version !== 1) throw malformed(`unsupported version ${JSON.stringify(parsed.version)}`);
  const secret = typeof parsed.secretKey === "string" ? fromHex(parsed.secretKey) : undefined;
  if (secret === undefined || secret.length !== SECRET_KEY_LENGTH) throw malformed("secretKey is not 64 hex digits");
  const identity = Identity.fromSecretKey(secret);
  if (parsed.publicKey !== toHex(identity.publicKey) || parsed.nodeId !== identity.nodeId) {
    throw malformed("publicKey or nodeId does not match secretKey");
  }
  if (!isAcceptablePointEncoding(identity.publicKey)) throw malformed("the key is unusable");
  return identity;
}

/**
 * Writes the identity's key file atomically with mode 0600: a temporary file
 * is written and synced, then linked into place, which fails rather than
 * replace a key that already exists.
 *
 * @throws {IdentityError} `KEY_EXISTS` when `path` exists, `KEY_IO` on I/O failure.
 */
export async function saveIdentity(identity: Identity, path: string): Promise<void> {
  const body: KeyFile = {
    kith: "ed25519-secret-key",
    version: 1,
    secretKey: toHex(identity.exportSecretKey()),
    publicKey: toHex(identity.publicKey),
    nodeId: identity.nodeId,
  };
  const tmp = `${path}.tmp-${crypto.randomUUID()}`;
  try {
    const file = await Deno.open(tmp, { write: true, createNew: true, mode: 0o600 });
    try {
      await file.write(new TextEncoder().encode(JSON.stringify(body, null, 2) + "\n"));
      await file.sync();
    } finally {
      file.close();
    }
    // open() applies the umask; make sure of 0600 whatever it was.
    if (Deno.build.os !== "windows") await Deno.chmod(tmp, 0o600);
    await Deno.link(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    if (error instanceof Deno.errors.AlreadyExists) {
      throw new IdentityError("KEY_EXISTS", `key file ${path} already exists; refusing to replace an identity`);
    }
    throw describeIoError("write", path, error);
  }
  await Deno.remove(tmp).catch(() => {});
}

/**
 * Loads the identity kept in `dataDir`, creating the directory (mode 0700)
 * and a new identity on first use. An existing key is never replaced: a bad
 * key file is an error, not a reason to make a new one.
 *
 * @returns the identity and whether it was created just now
 */
export async function loadOrCreateIdentity(dataDir: string): Promise<{ identity: Identity; created: boolean }> {
  const path = `${dataDir}/${KEY_FILE_NAME}`;
  try {
    await Deno.mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw describeIoError("create the directory of", path, error);
  }
  try {
    await Deno.lstat(path);
    return { identity: await loadIdentity(path), created: false };
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) {
      throw error instanceof IdentityError ? error : describeIoError("read", path, error);
    }
  }
  const identity = Identity.generate();
  try {
    await saveIdentity(identity, path);
  } catch (error) {
    // Another process created it between our check and our write: use theirs.
    if (error instanceof IdentityError && error.code === "KEY_EXISTS") {
      return { identity: await loadIdentity(path), created: false };
    }
    throw error;
  }
  return { identity, created: true };
}
