/**
 * The dashboard in a real browser (Debian's chromium, driven by playwright-core): login through the one-time code,
 * the peers table, publishing through the form, a hostile payload and a hostile topic name rendered as text, the
 * topics panel, the catch-up panel, the topology with announced
 * neighbours, a phone-sized window, keyboard navigation and the devnet page. Exits 0 when every check holds. playwright needs broad permissions, so tests run this script as a subprocess:
 *
 *   deno run -A scripts/browser-check.ts [--screenshot docs/dashboard.png] [--devnet-screenshot docs/devnet.png]
 *     [--phone-screenshot docs/dashboard-phone.png]
 */
import assert from "node:assert/strict";
import { parseArgs } from "node:util";
import { chromium } from "playwright-core";
import { ControlApi, loadOrCreateApiToken } from "../lib/api.ts";
import { KithNode } from "../lib/node.ts";

const CHROMIUM = "/usr/bin/chromium";
const args = parseArgs({
  args: Deno.args,
  options: {
    screenshot: { type: "string" },
    "devnet-screenshot": { type: "string" },
    "phone-screenshot": { type: "string" },
  },
}).values;

async function loginUrl(address: string, token: string): Promise<string> {
  const response = await fetch(`http://${address}/v1/login-code`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
  });
  const { code } = await response.json();
  return `http://${address}/#code=${code}`;
}

const dir = await Deno.makeTempDir();
const nodes: KithNode[] = [];
const apis: ControlApi[] = [];
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
  ],
});
try {
  for (let i = 0; i < 5; i++) {
    const node = new KithNode({
      config: {
        listenHost: `127.0.8${i}.1`,
        listenPort: 0,
        minPeers: 2,
        bootstrap: i ? [nodes[0].address] : [],
        peerMaintenanceIntervalMs: 100,
      },
    });
    await node.start();
    nodes.push(node);
  }
  const addresses: string[] = [], tokens: string[] = [];
  for (const [i, node] of nodes.slice(0, 2).entries()) {
    await Deno.mkdir(`${dir}/${i}`);
    tokens.push(await loadOrCreateApiToken(`${dir}/${i}`));
    const api = new ControlApi({ node, token: tokens[i], port: 0 });
    addresses.push(await api.start());
    apis.push(api);
  }
  const deadline = Date.now() + 20_000;
  while (
    !nodes.slice(0, 2).every((n) => n.peers().filter((p) => p.state === "active").length >= 2) &&
    Date.now() < deadline
  ) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const dialogs: string[] = [];
  const pages = [];
  for (let i = 0; i < 2; i++) {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on("dialog", async (dialog) => {
      dialogs.push(dialog.message());
      await dialog.dismiss();
    });
    await page.goto(await loginUrl(addresses[i], tokens[i]));
    await page.waitForSelector("#peers tr", { timeout: 15_000 });
    assert.ok(!page.url().includes("code="), "the code is dropped from the address bar");
    pages.push(page);
  }
  // Publish through node 0's form; node 1's page shows it.
  await pages[0].fill("#topic", ""); // the network-wide topic: node 1 carries it without subscribing
  await pages[0].fill("#text", "hello from the form");
  await pages[0].click("button[type=submit]");
  await pages[1].waitForSelector("#feed li:has-text('hello from the form')", { timeout: 15_000 });
  // The topics panel lists node 1's topics with their peers; a hostile topic name is text too (a relay-all
  // node's topics are named by whoever publishes).
  const hostileTopic = "<img src=x onerror=alert(3)><b>t</b>";
  nodes[1].subscribe(hostileTopic);
  nodes[2].subscribe(hostileTopic);
  await nodes[1].waitForTopicPeers(hostileTopic, 1, { timeout: 15_000 });
  await pages[1].waitForSelector("#topics td:has-text('onerror')", { timeout: 15_000 });
  const topicRow = await pages[1].locator("#topics tr").first().allTextContents();
  assert.ok(topicRow[0].startsWith(hostileTopic + "subscribed"), `the topic row: ${topicRow}`);
  assert.equal(await pages[1].locator("#topics img, #topics b").count(), 0, "no element was created from its name");
  await pages[1].waitForSelector("#topics tr td:nth-child(3):text-is('1')", { timeout: 15_000 });
  assert.match(await pages[0].locator("#topics-note").textContent() ?? "", /In no topic/);
  // Node 1 and node 2 share the topic: they reconcile it, and node 1's catch-up panel counts the session.
  await pages[1].waitForSelector("#catchup dd:text-matches('^[1-9][0-9]* \\\\(')", { timeout: 15_000 });
  const catchupLabels = await pages[1].locator("#catchup dt").allTextContents();
  assert.deepEqual(catchupLabels, ["sessions", "fetched", "refused", "served", "bytes"]);
  assert.match(await pages[1].locator("#catchup dd").last().textContent() ?? "", /KiB reconciling, .* KiB of bodies/);
  // A hostile payload from a peer is shown as text and runs nothing.
  const payload = "<img src=x onerror=alert(1)><script>alert(2)</script>";
  nodes[3].broadcast(payload, { topic: "" });
  await pages[1].waitForSelector("#feed li:has-text('onerror')", { timeout: 15_000 });
  const texts = await pages[1].locator("#feed li").allTextContents();
  assert.ok(texts.some((t) => t.includes(payload)), "the payload appears verbatim, as text");
  assert.equal(await pages[1].locator("#feed img").count(), 0, "no element was created from it");
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(dialogs, [], "no script ran");
  await pages[1].waitForSelector("#traffic dt", { timeout: 15_000 });
  // The trust events that moved a peer's trust are shown as text beside its history line.
  await pages[1].waitForSelector("#peers small:has-text('valid_message')", { timeout: 15_000 });
  await pages[1].waitForSelector("#topology line[stroke-dasharray]", { state: "attached", timeout: 15_000 });
  await pages[1].screenshot({ path: `${dir}/dashboard.png` });
  // Without the session cookie, the API refuses.
  const anonymous = await fetch(`http://${addresses[1]}/v1/peers`);
  assert.equal(anonymous.status, 401);
  await anonymous.body?.cancel();
  if (args.screenshot) await Deno.copyFile(`${dir}/dashboard.png`, args.screenshot);
  // The topology draws this node's peers and, dashed, the neighbours they announced.
  await pages[1].waitForSelector("#topology line[stroke-dasharray]", { state: "attached", timeout: 15_000 });
  assert.match(await pages[1].locator("#topology-note").textContent() ?? "", /connected peers .*announced/);
  // A phone-sized window: the page fits its width (no sideways scrolling of the page itself).
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await phone.goto(await loginUrl(addresses[1], tokens[1]));
  await phone.waitForSelector("#peers tr", { timeout: 15_000 });
  const overflow = await phone.evaluate("document.documentElement.scrollWidth - innerWidth") as number;
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than a phone's window`);
  if (args["phone-screenshot"]) await phone.screenshot({ path: args["phone-screenshot"], fullPage: true });
  // Keyboard only: Tab reaches the sort buttons, the publish form's fields and its button.
  const reached = new Set<string>();
  for (let i = 0; i < 40; i++) {
    await phone.keyboard.press("Tab");
    reached.add(
      // A string, not a function: this script is type-checked without the DOM's types.
      await phone.evaluate(
        `(() => { const e = document.activeElement;
          return e ? (e.id || (e.closest("th") ? "sort" : e.tagName.toLowerCase())) : ""; })()`,
      ) as string,
    );
  }
  for (const want of ["sort", "topic", "text"]) {
    assert.ok(reached.has(want), `Tab never reaches ${want}: ${[...reached]}`);
  }
  // The devnet page: every node, and a broadcast reaching the other four with their delivery times.
  const devnetApi = new ControlApi({ node: nodes[0], token: "e".repeat(64), port: 0, devnet: nodes });
  apis.push(devnetApi);
  const devnetAddress = await devnetApi.start();
  const devnetPage = await browser.newPage({ viewport: { width: 760, height: 720 } });
  await devnetPage.goto(`http://${devnetAddress}/devnet#code=${devnetApi.loginCode()}`);
  await devnetPage.waitForSelector("#net circle", { timeout: 15_000 });
  await devnetPage.click("#broadcast");
  await devnetPage.waitForSelector("#progress:has-text('4 of 4 nodes reached')", { timeout: 15_000 });
  assert.equal(await devnetPage.locator("#net circle").count(), 5);
  const labels = await devnetPage.locator("#net text").allTextContents();
  assert.equal(labels.filter((l) => /\+\d+ ms, hop \d+ via #\d/.test(l)).length, 4, `hop labels: ${labels}`);
  if (args["devnet-screenshot"]) await devnetPage.screenshot({ path: args["devnet-screenshot"] });
} finally {
  await browser.close();
  for (const api of apis) await api.stop();
  await Promise.all(nodes.map((n) => n.stop()));
  await Deno.remove(dir, { recursive: true });
}
console.log(JSON.stringify({ ok: true }));
