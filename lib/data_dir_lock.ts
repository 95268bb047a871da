/**
 * One node per data directory: an exclusive advisory lock on `DIR/node.lock`, held while the node runs.
 * The operating system drops the lock when the process ends, however it ends (a crash or SIGKILL cannot
 * leave it stuck), and taking it needs only read and write access to DIR: no process listing, no signals,
 * so it works under `deno task start`'s narrow permissions. The file holds the holder's PID and listen
 * address, which a refused second node names.
 *
 * @module
 */
import { KithError } from "./errors.ts";

/** The lock file's name inside the data directory. */
export const LOCK_FILE_NAME = "node.lock";

/** What the lock file says about the node holding it. */
export interface LockHolder {
  /** The holder's process id. */
  pid: number;
  /** The holder's listen address, once it listens. */
  address?: string;
}

/** The held lock of one data directory; {@link DataDirLock.release} it when the node stops. */
export class DataDirLock {
  readonly #file: Deno.FsFile;
  readonly #path: string;

  private constructor(file: Deno.FsFile, path: string) {
    this.#file = file;
    this.#path = path;
  }

  /**
   * Takes the lock of `dataDir` (which must exist), recording this process's PID.
   *
   * @throws {KithError} `DATA_DIR_IN_USE` naming the running node's PID and address when another holds it;
   * `DATA_DIR_LOCK` when the lock file is a symbolic link or cannot be opened
   */
  static async acquire(dataDir: string): Promise<DataDirLock> {
    const path = `${dataDir}/${LOCK_FILE_NAME}`;
    // The lock file is truncated and written: followed, a symbolic link planted there would have this node
    // empty whatever it points at (its key file, say).
    const link = await Deno.lstat(path).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    });
    if (link?.isSymlink) {
      throw new KithError("DATA_DIR_LOCK", `${path} is a symbolic link; kith will not write through it (remove it)`);
    }
    // Never truncated on open: the holder's record must stay readable by the node it refuses.
    const file = await Deno.open(path, { read: true, write: true, create: true, mode: 0o600 }).catch((error) => {
      // A missing Deno grant stays NotCapable (the CLI names the permissions to add); anything the file system
      // refused (a directory in the way, EACCES on the directory) is said in one line naming the file.
      if (error instanceof Deno.errors.NotCapable) throw error;
      throw new KithError("DATA_DIR_LOCK", `cannot open the lock file ${path}: ${(error as Error).message}`);
    });
    let locked = false;
    try {
      locked = await file.tryLock(true);
      if (!locked) {
        const holder = await readHolder(file);
        const who = holder
          ? `pid ${holder.pid}, ${holder.address ? `listening on ${holder.address}` : "starting"}`
          : "pid unknown";
        throw new KithError(
          "DATA_DIR_IN_USE",
          `${dataDir} is in use by a running node (${who}); stop it first, or give this node its own data directory`,
        );
      }
      const lock = new DataDirLock(file, path);
      await lock.#write({ pid: Deno.pid });
      return lock;
    } catch (error) {
      if (locked) await file.unlock().catch(() => {});
      file.close();
      throw error;
    }
  }

  /** Records the address the node listens on, for a refused second node to name. */
  async recordAddress(address: string): Promise<void> {
    await this.#write({ pid: Deno.pid, address });
  }

  /** Releases the lock (the file stays: removing it could let two later nodes lock two different files). */
  async release(): Promise<void> {
    try {
      await this.#file.truncate(0);
      await this.#file.unlock();
    } finally {
      this.#file.close();
    }
  }

  /** The lock file's path. */
  get path(): string {
    return this.#path;
  }

  async #write(holder: LockHolder): Promise<void> {
    const bytes = new TextEncoder().encode(JSON.stringify(holder) + "\n");
    await this.#file.truncate(0);
    await this.#file.seek(0, Deno.SeekMode.Start);
    let written = 0;
    while (written < bytes.length) written += await this.#file.write(bytes.subarray(written));
  }
}

/** The holder's record, or undefined when the file is empty or not a record (bounded read: at most 1 KiB). */
async function readHolder(file: Deno.FsFile): Promise<LockHolder | undefined> {
  const buffer = new Uint8Array(1024);
  await file.seek(0, Deno.SeekMode.Start);
  const n = await file.read(buffer);
  if (!n) return undefined;
  try {
    const value = JSON.parse(new TextDecoder().decode(buffer.subarray(0, n)));
    if (!Number.isSafeInteger(value?.pid)) return undefined;
    return { pid: value.pid, address: typeof value.address === "string" ? value.address.slice(0, 300) : undefined };
  } catch {
    return undefined;
  }
}
