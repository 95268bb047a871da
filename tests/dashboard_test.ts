import assert from "node:assert/strict";
import { ControlApi, loadOrCreateApiToken } from "../lib/api.ts";
import { runCli } from "../lib/cli/mod.ts";
import { DASHBOARD_HTML, DASHBOARD_SCRIPT, DASHBOARD_SCRIPT_HASH } from "../lib/dashboard.ts";
import { KithNode } from "../lib/node.ts";

async function withDashboard(
  fn: (ctx: { address: string; token: string; dir: string; node: KithNode }) => Promise<void>,
) {
  const dir = await Deno.makeTempDir();
  const node = new KithNode({ config: { listenHost: "127.0.51.1", listenPort: 0, minPeers: 0 } });
  let api: ControlApi | undefined;
  try {
    await node.start();
    const token = await loadOrCreateApiToken(dir);
    api = new ControlApi({ node, token, port: 0 });
    const address = await api.start();
    await fn({ address, token, dir, node });
  } finally {
    await api?.stop();
    await node.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** A raw HTTP/1.1 request, so the Host header can be anything (fetch will not forge it). */
async function rawGet(address: string, host: string, path: string): Promise<number> {
  const [hostname, port] = [
    address.slice(0, address.lastIndexOf(":")),
    Number(address.slice(address.lastIndexOf(":") + 1)),
  ];
  const conn = await Deno.connect({ hostname, port });
  try {
    await conn.write(new TextEncoder().encode(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    const buffer = new Uint8Array(4096);
    const n = await conn.read(buffer);
    return Number(new TextDecoder().decode(buffer.subarray(0, n ?? 0)).split(" ")[1]);
  } finally {
    conn.close();
  }
}

Deno.test("the dashboard page is self-contained and never renders peer data as HTML", async () => {
  await withDashboard(async ({ address }) => {
    const response = await fetch(`http://${address}/`);
    assert.equal(response.status, 200);
    const csp = response.headers.get("content-security-policy")!;
    assert.ok(csp.includes(`'sha256-${DASHBOARD_SCRIPT_HASH}'`), csp);
    assert.ok(!/script-src[^;]*unsafe-inline/.test(csp), "only the page's own script may run");
    const html = await response.text();
    assert.equal(html, DASHBOARD_HTML);
    for (
      const risky of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "http://", "https://"]
    ) {
      // The SVG namespace is an identifier, not an address anything is fetched from.
      const script = DASHBOARD_SCRIPT.replaceAll("http://www.w3.org/2000/svg", "");
      assert.ok(!script.includes(risky), `the script must not use ${risky}`);
    }
    assert.ok(!/<(script|link)[^>]+src=/.test(html), "nothing loaded from elsewhere");
    // The script parses (a syntax error would leave an empty page).
    assert.doesNotThrow(() => new Function(DASHBOARD_SCRIPT));
  });
});

Deno.test("kith dashboard prints a one-time code that buys an HttpOnly, SameSite=Strict session", async () => {
  await withDashboard(async ({ address, dir }) => {
    const lines: string[] = [];
    const code = await runCli(["dashboard", "--data-dir", dir, "--api", address], {
      out: (l) => lines.push(l),
      err: () => {},
    });
    assert.equal(code, 0);
    const url = new URL(lines[0]);
    assert.equal(url.host, address);
    assert.ok(!lines[0].includes((await Deno.readTextFile(`${dir}/api.token`)).trim()), "the token is not in the URL");
    const loginCode = /code=([0-9a-f]+)/.exec(url.hash)![1];
    const session = await fetch(`http://${address}/v1/session`, {
      method: "POST",
      body: JSON.stringify({ code: loginCode }),
    });
    assert.equal(session.status, 200);
    await session.body?.cancel();
    const cookie = session.headers.get("set-cookie")!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    const sessionCookie = cookie.split(";")[0];
    const status = await fetch(`http://${address}/v1/status`, { headers: { cookie: sessionCookie } });
    assert.equal(status.status, 200);
    await status.body?.cancel();
    const reuse = await fetch(`http://${address}/v1/session`, {
      method: "POST",
      body: JSON.stringify({ code: loginCode }),
    });
    assert.equal(reuse.status, 401, "a code works once");
    await reuse.body?.cancel();
    const anonymous = await fetch(`http://${address}/v1/status`);
    assert.equal(anonymous.status, 401, "no cookie, no token: 401");
    await anonymous.body?.cancel();
  });
});

Deno.test("requests for another Host (DNS rebinding) and cross-origin writes are refused", async () => {
  await withDashboard(async ({ address, token }) => {
    assert.equal(await rawGet(address, address, "/"), 200);
    assert.equal(await rawGet(address, "evil.example", "/"), 403);
    assert.equal(await rawGet(address, `evil.example:${address.split(":").at(-1)}`, "/v1/status"), 403);
    const crossSite = await fetch(`http://${address}/v1/publish`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, origin: "http://evil.example", "content-type": "application/json" },
      body: JSON.stringify({ data: "x" }),
    });
    assert.equal(crossSite.status, 403);
    await crossSite.body?.cancel();
    const sameSite = await fetch(`http://${address}/v1/publish`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, origin: `http://${address}`, "content-type": "application/json" },
      body: JSON.stringify({ data: "x" }),
    });
    assert.equal(sameSite.status, 200);
    await sameSite.body?.cancel();
  });
});

Deno.test("the devnet page shows every node and link, and each broadcast's deliveries as they happen", async () => {
  const nodes: KithNode[] = [];
  let api: ControlApi | undefined;
  try {
    for (let i = 0; i < 4; i++) {
      const node = new KithNode({
        config: { listenHost: `127.0.9${i}.1`, listenPort: 0, minPeers: 2, bootstrap: i ? [nodes[0].address] : [] },
      });
      await node.start();
      nodes.push(node);
    }
    api = new ControlApi({ node: nodes[0], token: "f".repeat(64), port: 0, devnet: nodes });
    const address = await api.start();
    const session = await fetch(`http://${address}/v1/session`, {
      method: "POST",
      body: JSON.stringify({ code: api.loginCode() }),
    });
    const cookie = session.headers.get("set-cookie")!.split(";")[0];
    await session.body?.cancel();
    const page = await fetch(`http://${address}/devnet`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /kith devnet/);
    const deadline = Date.now() + 10_000;
    let state: { nodes: { links: unknown[] }[] } = { nodes: [] };
    while (Date.now() < deadline) {
      state = await (await fetch(`http://${address}/v1/devnet`, { headers: { cookie } })).json();
      if (state.nodes.every((n) => n.links.length >= 1)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(state.nodes.length, 4);
    const events = await fetch(`http://${address}/v1/devnet/events`, { headers: { cookie } });
    const reader = events.body!.pipeThrough(new TextDecoderStream()).getReader();
    const sent = await (await fetch(`http://${address}/v1/devnet/broadcast`, { method: "POST", headers: { cookie } }))
      .json();
    const reached = new Set<number>();
    let buffer = "";
    while (reached.size < 3 && Date.now() < deadline + 10_000) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (const line of buffer.split("\n").filter((l) => l.startsWith("data: "))) {
        const event = JSON.parse(line.slice(6));
        if (event.id !== sent.id) continue;
        reached.add(event.node);
        // Each delivery names the devnet node that relayed it: a real, other node.
        assert.ok(Number.isInteger(event.from) && event.from >= 0 && event.from < 4 && event.from !== event.node);
      }
      buffer = buffer.slice(buffer.lastIndexOf("\n") + 1);
    }
    await reader.cancel();
    assert.equal(reached.size, 3, "the three other nodes reported their delivery");
    assert.ok(!reached.has(sent.origin));
  } finally {
    await api?.stop();
    await Promise.all(nodes.map((n) => n.stop()));
  }
});
