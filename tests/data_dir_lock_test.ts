/** The data directory's lock file (lib/data_dir_lock.ts): what it will not write through. */
import assert from "node:assert/strict";
import { DataDirLock, LOCK_FILE_NAME } from "../lib/data_dir_lock.ts";
import { KithError } from "../lib/errors.ts";

Deno.test("a symbolic link planted as the lock file is refused (DATA_DIR_LOCK), and the file it points at is left intact", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/precious`, "keep me\n");
    await Deno.symlink(`${dir}/precious`, `${dir}/${LOCK_FILE_NAME}`);
    await assert.rejects(
      () => DataDirLock.acquire(dir),
      (e) => e instanceof KithError && e.code === "DATA_DIR_LOCK" && e.message.includes("symbolic link"),
    );
    assert.equal(await Deno.readTextFile(`${dir}/precious`), "keep me\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a lock file the file system will not open (a directory in its place) is refused in one line naming it (DATA_DIR_LOCK)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${dir}/${LOCK_FILE_NAME}`);
    await assert.rejects(
      () => DataDirLock.acquire(dir),
      (e) => e instanceof KithError && e.code === "DATA_DIR_LOCK" && e.message.includes(`${dir}/${LOCK_FILE_NAME}`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
