// The dashboard page (dashboard_page.h). One constant document: everything it shows comes
// from /dashboard.json (dashboard_model.h), put into the page with textContent only, never
// as markup, so no name, reason or event text can inject anything.
#include "cmcld/io/metrics/dashboard_page.h"

namespace cmcl::io::metrics {
namespace {

constexpr std::string_view kPage = R"cmcl_html(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cmcl dashboard</title>
<link rel="icon" href="data:,">
<style>
  :root { --ok: #1b6e20; --bad: #b00020; --warn: #8a5a00; --muted: #5f6368; --line: #d0d4d9; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif;
         color: #1f2328; background: #f6f8fa; }
  header { background: #24292f; color: #fff; padding: 10px 20px; display: flex;
           flex-wrap: wrap; align-items: baseline; gap: 6px 24px; }
  header h1 { font-size: 18px; margin: 0 12px 0 0; }
  header dl { display: flex; flex-wrap: wrap; gap: 4px 18px; margin: 0; }
  header dt { color: #b7bdc6; display: inline; }
  header dd { display: inline; margin: 0 0 0 4px; font-weight: 600; }
  #updated { margin-left: auto; color: #b7bdc6; }
  main { padding: 8px 20px 20px; display: grid; grid-template-columns: 1fr 1fr; gap: 0 24px; }
  section { min-width: 0; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: 15px; margin: 14px 0 6px; }
  p.note { margin: 0 0 6px; color: var(--muted); font-size: 12px; }
  table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
  th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line);
           vertical-align: top; }
  th { background: #eef1f4; font-weight: 600; }
  tbody th { background: #fff; }
  td.empty { color: var(--muted); font-style: italic; }
  .up, .ok { color: var(--ok); font-weight: 600; }
  .down, .failed, .halt_failed, .refused { color: var(--bad); font-weight: 600; }
  .halted, .starting, .halting, .warn, .unknown { color: var(--warn); font-weight: 600; }
  .source { color: var(--muted); }
  .na { color: var(--muted); }
  .nowrap { white-space: nowrap; }
  .net { display: inline-block; margin-right: 10px; white-space: nowrap; }
  .small { font-size: 12px; color: var(--muted); }
  .banner { margin: 8px 20px 0; padding: 8px 12px; border-radius: 4px; border: 1px solid; }
  .banner.info { background: #fff8e1; border-color: #e0c060; }
  .banner.error { background: #fde7e9; border-color: var(--bad); color: var(--bad);
                  font-weight: 600; }
  body.stale main { opacity: 0.55; }
  ol.refusals { margin: 6px 0 0; padding-left: 20px; font-size: 12px; }
  .critical { color: var(--bad); font-weight: 600; }
  td.index { color: var(--muted); font-variant-numeric: tabular-nums; width: 5em; }
  footer { padding: 0 20px 16px; color: var(--muted); font-size: 12px; }
</style>
</head>
<body>
<header>
  <h1>cmcl <span id="cluster-name">(loading)</span></h1>
  <dl>
    <div><dt>answered by</dt><dd id="answered-by">-</dd></div>
    <div><dt>coordinator</dt><dd id="coordinator">-</dd></div>
    <div><dt>quorum</dt><dd id="quorum">-</dd></div>
    <div><dt>cluster</dt><dd id="cluster-status">-</dd></div>
    <div><dt>config version</dt><dd id="config-version">-</dd></div>
    <div><dt>mode</dt><dd id="mode">-</dd></div>
    <div><dt>applied index</dt><dd id="applied-index">-</dd></div>
  </dl>
  <span id="updated" aria-live="polite">not loaded yet</span>
</header>
<div id="unreachable" class="banner error" role="alert" hidden></div>
<div id="banners" role="status"></div>
<main>
  <section>
    <h2 id="nodes-title">Nodes</h2>
    <table id="nodes" aria-labelledby="nodes-title">
      <thead><tr><th scope="col">Node</th><th scope="col">Status</th><th scope="col">State</th>
        <th scope="col">Role</th><th scope="col">Heartbeat networks</th>
        <th scope="col">Lease left</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section>
    <h2 id="packages-title">Packages</h2>
    <table id="packages" aria-labelledby="packages-title">
      <thead><tr><th scope="col">Package</th><th scope="col">Status</th><th scope="col">Owner</th>
        <th scope="col">State</th><th scope="col">Switching</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section class="wide">
    <h2 id="readiness-title">Readiness: would a failover be refused now?</h2>
    <p class="note" id="readiness-note">Every package against every node it may run on other
      than the one its guest is on (pkgctl readiness).</p>
    <table id="readiness" aria-labelledby="readiness-title">
      <thead><tr><th scope="col">Package</th></tr></thead>
      <tbody></tbody>
    </table>
    <ol class="refusals" id="refusals" aria-label="Refusals in detail"></ol>
  </section>
  <section class="wide">
    <h2 id="events-title">Recent events</h2>
    <table id="events" aria-labelledby="events-title">
      <thead><tr><th scope="col">Index</th><th scope="col">Event</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
<footer>Read-only view of one node's applied state, read from /dashboard.json every 2 s.
  Change things with pkgctl.</footer>
<script>
"use strict";
(function () {
  const REFRESH_MS = 2000;
  const TIMEOUT_MS = 1800;
  let lastGood = null;   // Date of the last answer shown.
  let failures = 0;
  let updates = 0;

  // Every piece of data goes into the page as text: no markup is ever built from it.
  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }
  function cell(text, className, title) {
    const td = el("td", text, className);
    if (title) td.title = title;
    return td;
  }
  function rowHeader(text) {
    const th = el("th", text);
    th.scope = "row";
    return th;
  }
  function setText(id, text) { document.getElementById(id).textContent = String(text); }
  // Only a known word becomes a class name.
  const STATUS_CLASSES = ["up", "down", "halted", "starting", "halting", "failed", "halt_failed",
                          "unknown"];
  function statusClass(status) { return STATUS_CLASSES.includes(status) ? status : ""; }
  function fillBody(tableId, rows, columns, emptyText) {
    const body = document.querySelector("#" + tableId + " tbody");
    if (rows.length === 0) {
      const td = cell(emptyText, "empty");
      td.colSpan = columns;
      const tr = el("tr");
      tr.appendChild(td);
      rows = [tr];
    }
    body.replaceChildren(...rows);
  }
  function clock(date) { return date.toLocaleTimeString([], {hour12: false}); }

  function renderHeader(data) {
    const view = data.view;
    const cluster = view.cluster;
    const by = data.answered_by;
    document.title = "cmcl " + cluster.name + " (" + by.node + ")";
    setText("cluster-name", cluster.name);
    setText("answered-by", by.node + (by.is_coordinator ? " (coordinator)" : " (follower)"));
    setText("coordinator", cluster.coordinator === null ? "none" : cluster.coordinator);
    setText("quorum", cluster.quorum ? "yes" : "NO");
    document.getElementById("quorum").className = cluster.quorum ? "" : "down";
    setText("cluster-status", cluster.status);
    setText("config-version", cluster.config_version);
    setText("mode", cluster.mode);
    setText("applied-index", view.as_of.applied_index);
    // Replaced only when they change, so that a screen reader does not hear them again
    // at every refresh.
    const holder = document.getElementById("banners");
    if (holder.dataset.text !== JSON.stringify(data.banners)) {
      holder.dataset.text = JSON.stringify(data.banners);
      holder.replaceChildren(...data.banners.map((text) => el("div", text, "banner info")));
    }
  }

  function renderNodes(data) {
    const by = data.answered_by;
    const rows = data.view.nodes.map((node) => {
      const tr = el("tr");
      const th = rowHeader(node.name);
      const notes = [];
      if (node.name === data.view.cluster.coordinator) notes.push("coordinator");
      if (node.name === by.node) notes.push("answering");
      if (notes.length > 0) th.appendChild(el("div", notes.join(", "), "small"));
      tr.appendChild(th);
      tr.appendChild(cell(node.status, statusClass(node.status)));
      tr.appendChild(cell(node.state + (node.frozen ? " (frozen)" : ""),
                          node.state === "running" ? "" : "warn"));
      tr.appendChild(cell(node.role));
      const nets = cell(null);
      for (const net of node.networks || []) {
        const span = el("span", null, "net");
        span.appendChild(el("span", net.address + " "));
        span.appendChild(el("span", net.status, statusClass(net.status)));
        nets.appendChild(span);
      }
      if (!node.networks || node.networks.length === 0) nets.textContent = "-";
      tr.appendChild(nets);
      if (node.name === by.node) {
        const left = by.lease_remaining_ms;
        tr.appendChild(left === null || left === 0
            ? cell("no lease", "down nowrap")
            : cell(left + " ms", "nowrap"));
      } else {
        tr.appendChild(cell("-", "na", "only the answering node's own lease is known to it"));
      }
      return tr;
    });
    fillBody("nodes", rows, 6, "no nodes");
  }

  function renderPackages(data) {
    const rows = data.view.packages.map((p) => {
      const tr = el("tr");
      tr.appendChild(rowHeader(p.name));
      let status = p.status;
      if (p.stale) status += " (stale)";
      if (p.maintenance) status += " (maintenance)";
      tr.appendChild(cell(status, statusClass(p.status)));
      tr.appendChild(p.node === null ? cell("-", "na", "runs nowhere") : cell(p.node));
      const state = cell(p.state);
      for (const extra of [p.intent, p.pending, p.reason]) {
        if (extra) state.appendChild(el("div", extra, "small"));
      }
      tr.appendChild(state);
      const switching = cell("global " + (p.auto_run ? "on" : "off"));
      const perNode = Object.entries(p.switching || {})
          .map(([node, on]) => node + (on ? " on" : " off")).join(", ");
      if (perNode) switching.appendChild(el("div", perNode, "small"));
      if (p.failed_nodes && p.failed_nodes.length > 0) {
        switching.appendChild(el("div", "failed on: " + p.failed_nodes.join(", "), "small"));
      }
      tr.appendChild(switching);
      return tr;
    });
    fillBody("packages", rows, 5, "no packages configured");
  }

  function renderReadiness(data) {
    const nodes = data.view.nodes.map((n) => n.name);
    const head = el("tr");
    const corner = el("th", "Package");
    corner.scope = "col";
    head.appendChild(corner);
    for (const name of nodes) {
      const th = el("th", name);
      th.scope = "col";
      head.appendChild(th);
    }
    document.querySelector("#readiness thead").replaceChildren(head);
    setText("readiness-note", "Every package against every node it may run on other than the " +
        "one its guest is on, as " + data.answered_by.node + " sees it (pkgctl readiness). " +
        "Hover a cell for the reason; refusals are listed below too.");
    const refusals = [];
    const rows = data.readiness.map((report) => {
      const tr = el("tr");
      tr.appendChild(rowHeader(report.package));
      for (const node of nodes) {
        const result = report.results.find((r) => r.node === node);
        if (report.source === node) {
          tr.appendChild(cell("runs here", "source", "the node its guest is on"));
        } else if (!result) {
          tr.appendChild(cell("-", "na", "not a node this package may fail over to"));
        } else if (result.ok) {
          const unchecked = result.unchecked || [];
          tr.appendChild(cell(unchecked.length === 0 ? "ok" : "ok (" + unchecked.length +
                                  " unchecked)", "ok",
                              unchecked.map((v) => "unchecked " + v.code + ": " + v.message)
                                  .join("\n")));
        } else {
          const codes = result.violations.map((v) => v.code);
          tr.appendChild(cell("refused: " + codes.join(", "), "refused",
                              result.violations.map((v) => v.code + ": " + v.message)
                                  .join("\n")));
          for (const v of result.violations) {
            refusals.push(report.package + " \u2192 " + node + ": " + v.code + ": " + v.message);
          }
        }
      }
      return tr;
    });
    fillBody("readiness", rows, nodes.length + 1, "no packages configured");
    document.getElementById("refusals").replaceChildren(...refusals.map((t) => el("li", t)));
  }

  function renderEvents(data) {
    const rows = data.events.slice().reverse().map((event) => {
      const tr = el("tr");
      tr.appendChild(cell(event.index, "index"));
      tr.appendChild(cell((event.critical ? "! " : "") + event.text,
                          event.critical ? "critical" : ""));
      return tr;
    });
    fillBody("events", rows, 2, "no events yet");
  }

  function showUnreachable(error) {
    const banner = document.getElementById("unreachable");
    if (error === null) {
      banner.hidden = true;
      document.body.classList.remove("stale");
      return;
    }
    const since = lastGood === null ? "nothing loaded yet"
                                    : "the data below is from " + clock(lastGood);
    // The same failure keeps the same text, so that the alert is not announced again at
    // every retry; failures since the last success are counted in data-failures.
    const text = "STALE: cannot reach " + location.host + " (" + error + "); " + since +
        ". Retrying every " + REFRESH_MS / 1000 + " s.";
    if (banner.textContent !== text) banner.textContent = text;
    banner.dataset.failures = String(failures);
    banner.hidden = false;
    document.body.classList.add("stale");
  }

  async function refresh() {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      // Relative: from / and /dashboard alike (and under a proxy's path prefix).
      const response = await fetch("dashboard.json", {cache: "no-store",
                                                      signal: controller.signal});
      if (!response.ok) throw new Error("HTTP " + response.status);
      const data = await response.json();
      renderHeader(data);
      renderNodes(data);
      renderPackages(data);
      renderReadiness(data);
      renderEvents(data);
      lastGood = new Date();
      failures = 0;
      updates += 1;
      document.body.dataset.updates = String(updates);
      setText("updated", "last updated " + clock(lastGood) + " from " + data.answered_by.node);
      showUnreachable(null);
    } catch (error) {
      failures += 1;
      showUnreachable(error.name === "AbortError" ? "no answer in " + TIMEOUT_MS + " ms"
                                                  : String(error.message || error));
    } finally {
      clearTimeout(timer);
      setTimeout(refresh, REFRESH_MS);
    }
  }
  refresh();
})();
</script>
</body>
</html>
)cmcl_html";

}  // namespace

std::string_view DashboardHtml() { return kPage; }

}  // namespace cmcl::io::metrics
