// Drives the dashboard in headless Chromium (playwright-core) against a running cluster;
// dashboard_browser_test.cc starts the cluster and runs this with one JSON argument:
//   {"url", "chromium", "pkgctl", "socket", "screenshot_dir",
//    "nodes": [...], "owners": {"PKG": "NODE"}, "refused": {"package", "node", "code"},
//    "move": {"package", "to"}}
// It checks what the page shows, moves a package with pkgctl and waits for the page to
// show it by itself (no reload), makes the data unreachable and back, and saves
// screenshots. Exit 0 when everything held; 1 with the reason otherwise.
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";

const config = JSON.parse(process.argv[2]);
// playwright-core lives in the build folder (run.sh), not in the source tree.
const require = createRequire(path.join(process.env.CMCL_BROWSER_MODULES, "noop.js"));
const { chromium } = require("playwright-core");

const REFRESH_WAIT_MS = 10000;  // Five refreshes of the page (every 2 s).

function fail(message) {
  throw new Error(message);
}

// Rows of the table `id` as arrays of cell texts (th and td): each cell's own first text,
// without the small notes under it ("coordinator", a package's reason).
async function rows(page, id) {
  return page.$$eval(`#${id} tbody tr`, (trs) =>
    trs.map((tr) => Array.from(tr.children).map(
        (c) => (c.firstChild ? c.firstChild.textContent : "").trim())));
}

async function waitForRow(page, id, first, predicate, what) {
  const deadline = Date.now() + REFRESH_WAIT_MS;
  let seen = [];
  while (Date.now() < deadline) {
    seen = await rows(page, id);
    const row = seen.find((r) => r[0] === first);
    if (row && predicate(row)) return row;
    await page.waitForTimeout(200);
  }
  fail(`${what}: not seen within ${REFRESH_WAIT_MS} ms; #${id} shows ${JSON.stringify(seen)}`);
}

async function main() {
  const browser = await chromium.launch({
    executablePath: config.chromium,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  const problems = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const origin = new URL(config.url).origin;
    page.on("console", (m) => { if (m.type() === "error") problems.push("console: " + m.text()); });
    page.on("pageerror", (e) => problems.push("page error: " + e.message));
    page.on("request", (r) => {
      if (!r.url().startsWith(origin + "/")) problems.push("request elsewhere: " + r.url());
    });

    await page.goto(config.url, { waitUntil: "load" });
    await page.waitForFunction(() => Number(document.body.dataset.updates || 0) >= 1,
                               null, { timeout: REFRESH_WAIT_MS });
    // A marker a full reload would lose: the page must update in place.
    await page.evaluate(() => { window.cmclMarker = "still here"; });

    const name = await page.textContent("#cluster-name");
    if (!name || name === "(loading)") fail(`cluster name not shown: ${name}`);
    for (const node of config.nodes) {
      await waitForRow(page, "nodes", node, (r) => r[1] === "up", `node ${node} up`);
    }
    for (const [pkg, owner] of Object.entries(config.owners)) {
      await waitForRow(page, "packages", pkg, (r) => r[1] === "up" && r[2] === owner,
                       `package ${pkg} up on ${owner}`);
    }
    // The readiness matrix: the refused cell names the code, its title the message.
    const matrixHead = await page.$$eval("#readiness thead th",
                                         (ths) => ths.map((t) => t.textContent));
    const column = matrixHead.indexOf(config.refused.node);
    if (column < 1) fail(`readiness has no column ${config.refused.node}: ${matrixHead}`);
    const refusedRow = await waitForRow(page, "readiness", config.refused.package,
        (r) => r[column].includes(config.refused.code),
        `readiness ${config.refused.package} x ${config.refused.node} refused`);
    const title = await page.$eval(
        `#readiness tbody tr:nth-child(${(await rows(page, "readiness"))
            .findIndex((r) => r[0] === config.refused.package) + 1}) td:nth-child(${column + 1})`,
        (td) => td.title);
    if (!title.startsWith(config.refused.code + ": ")) fail(`refusal tooltip: "${title}"`);
    const refusals = await page.$$eval("#refusals li", (lis) => lis.map((l) => l.textContent));
    if (!refusals.some((t) => t.includes(config.refused.code))) {
      fail(`refusal list: ${JSON.stringify(refusals)}`);
    }
    if ((await rows(page, "events")).length < 1) fail("no events shown");
    console.log(`shown: cluster ${name}; readiness row ${JSON.stringify(refusedRow)}`);
    await page.screenshot({ path: path.join(config.screenshot_dir, "dashboard-before.png") });

    // Change something through pkgctl; the page must follow within a few refreshes.
    const updatesBefore = await page.evaluate(() => Number(document.body.dataset.updates));
    execFileSync(config.pkgctl, ["--socket", config.socket, "move", config.move.package,
                                 "-n", config.move.to], { stdio: "inherit", timeout: 60000 });
    await waitForRow(page, "packages", config.move.package,
                     (r) => r[1] === "up" && r[2] === config.move.to,
                     `package ${config.move.package} moved to ${config.move.to}`);
    await page.waitForFunction(
        (pkg) => Array.from(document.querySelectorAll("#events tbody td"))
            .some((td) => td.textContent.includes(pkg + ": move from")),
        config.move.package, { timeout: REFRESH_WAIT_MS });
    const marker = await page.evaluate(() => window.cmclMarker);
    const updatesAfter = await page.evaluate(() => Number(document.body.dataset.updates));
    if (marker !== "still here") fail("the page was reloaded instead of updated in place");
    if (!(updatesAfter > updatesBefore)) fail(`no refresh counted (${updatesBefore})`);
    const screenshot = path.join(config.screenshot_dir, "dashboard.png");
    await page.screenshot({ path: screenshot });
    console.log(`screenshot: ${screenshot}`);

    // Unreachable: every fetch of the data fails; the page says so, then recovers.
    await page.route("**/dashboard.json", (route) => route.abort("connectionrefused"));
    await page.waitForSelector("#unreachable:not([hidden])", { timeout: REFRESH_WAIT_MS });
    const banner = await page.textContent("#unreachable");
    if (!banner.startsWith("STALE: cannot reach")) fail(`unreachable banner: "${banner}"`);
    const stale = path.join(config.screenshot_dir, "dashboard-unreachable.png");
    await page.screenshot({ path: stale });
    console.log(`screenshot: ${stale}`);
    await page.unroute("**/dashboard.json");
    await page.waitForSelector("#unreachable", { state: "hidden", timeout: REFRESH_WAIT_MS });

    // Read-only: nothing on the page to press or fill in.
    const controls = await page.$$eval("button, input, select, textarea, form, a[href]",
                                       (els) => els.length);
    if (controls !== 0) fail(`${controls} interactive element(s) on a read-only page`);
    // The aborted fetches log network errors by design; anything else is a problem.
    const real = problems.filter((p) => !p.includes("net::ERR_CONNECTION_REFUSED") &&
                                        !p.includes("Failed to load resource"));
    if (real.length > 0) fail(real.join("\n"));
  } finally {
    await browser.close();
  }
}

main().then(() => {
  console.log("dashboard in Chromium: ok");
}, (error) => {
  console.error(`dashboard in Chromium: FAILED: ${error.message}`);
  process.exit(1);
});
