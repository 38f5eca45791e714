import Foundation

/// The dashboard: one self-contained page (no outside URL; charts drawn as
/// inline SVG by a few lines of our own JavaScript). Live, it reads
/// `/dashboard/data` and `/v1/batches` every five seconds with the API key
/// kept in the tab's session storage (asked for once, never put in a URL);
/// as a bill (`wafer usage --format html`), the data is embedded and drawn once.
public enum DashboardPage {
    /// The live page.
    public static var live: String { page(embedding: nil) }

    /// A bill: the page with `data` (`DashboardData` as JSON) inside it.
    public static func bill(_ data: Data) -> String { page(embedding: data) }

    static func page(embedding data: Data?) -> String {
        // "<" escaped so that no string in the data can close the script element.
        let json = data.map { String(decoding: $0, as: UTF8.self).replacingOccurrences(of: "<", with: "\\u003c") } ?? "null"
        return template.replacingOccurrences(of: "/*DATA*/null", with: json)
    }

    private static let template = #"""
    <!doctype html>
    <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
    <title>Wafer — cost, tokens and speed</title>
    <style>
    body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2330; background: #f4f5f8; }
    header { background: #1d2330; color: #fff; padding: 12px 24px; display: flex; gap: 24px; align-items: baseline; flex-wrap: wrap; }
    header h1 { font-size: 20px; margin: 0; }
    main { padding: 16px 24px; display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 16px; }
    section { background: #fff; border-radius: 8px; padding: 12px 16px; box-shadow: 0 1px 2px #0002; }
    section.wide { grid-column: 1 / -1; }
    h2 { font-size: 15px; margin: 0 0 8px; }
    .figures { display: flex; gap: 28px; flex-wrap: wrap; }
    .figure .value { font-size: 22px; font-weight: 600; display: block; }
    .figure .label { color: #667; font-size: 12px; }
    table { border-collapse: collapse; width: 100%; }
    th, td { text-align: right; padding: 3px 6px; border-bottom: 1px solid #eee; }
    th:first-child, td:first-child { text-align: left; }
    svg { width: 100%; height: 170px; }
    svg rect.bar { fill: #3b6fd6; } svg rect.bar:hover { fill: #1d4fb8; }
    svg text { font-size: 10px; fill: #667; }
    .progress { background: #e6e9f0; border-radius: 4px; height: 10px; width: 160px; display: inline-block; }
    .progress span { background: #2e9e5b; display: block; height: 10px; border-radius: 4px; }
    #key-form { padding: 16px 24px; } .muted { color: #889; }
    </style></head>
    <body>
    <header><h1>Wafer</h1><span id="title"></span><span id="updated" class="muted"></span></header>
    <form id="key-form" hidden>This server needs an API key to show usage:
      <input id="key-input" type="password" autocomplete="off" placeholder="API key"> <button>Show</button>
      <span id="key-error" class="muted"></span></form>
    <main>
      <section class="wide"><h2 id="month-title">This month</h2><div class="figures">
        <div class="figure"><span class="value" id="total-cost"></span><span class="label">billed (USD)</span></div>
        <div class="figure"><span class="value" id="total-tokens"></span><span class="label">tokens</span></div>
        <div class="figure"><span class="value" id="total-prompt"></span><span class="label">prompt tokens</span></div>
        <div class="figure"><span class="value" id="total-completion"></span><span class="label">completion tokens</span></div>
        <div class="figure"><span class="value" id="total-requests"></span><span class="label">requests</span></div>
      </div></section>
      <section id="live" class="wide"><h2>The engine now</h2><div class="figures">
        <div class="figure"><span class="value" id="live-tps"></span><span class="label">tokens/s</span></div>
        <div class="figure"><span class="value" id="live-running"></span><span class="label">running sequences</span></div>
        <div class="figure"><span class="value" id="live-queued"></span><span class="label">queued sequences</span></div>
        <div class="figure"><span class="value" id="live-ttft"></span><span class="label">time to first token P50 / P99 (ms)</span></div>
        <div class="figure"><span class="value" id="live-itl"></span><span class="label">inter-token latency P50 / P99 (ms)</span></div>
      </div></section>
      <section><h2>Cost per day (USD)</h2><svg id="chart-days"></svg></section>
      <section><h2>Tokens per hour, last 24 hours</h2><svg id="chart-hours"></svg></section>
      <section><h2>By key</h2><table id="by-key"></table></section>
      <section><h2>By model</h2><table id="by-model"></table></section>
      <section><h2>By tier</h2><table id="by-tier"></table></section>
      <section><h2>By route (local, or the overflow upstream)</h2><table id="by-route"></table></section>
      <section><h2>The same tokens elsewhere</h2><table id="reference"></table></section>
      <section id="batches" class="wide"><h2>Batch jobs</h2><table id="batch-table"></table></section>
    </main>
    <script>
    "use strict";
    const embedded = /*DATA*/null;
    const $ = id => document.getElementById(id);
    const count = n => Number(n).toLocaleString("en-US");
    const usd = v => "$" + String(v);
    const ms = v => v == null ? "–" : Number(v).toFixed(1);

    function text(id, shown, value) { const e = $(id); e.textContent = shown; e.dataset.value = value === undefined ? shown : value; }

    // Bars of `points` ([label, value]) into an SVG, scaled to the largest.
    function bars(svg, points) {
      const w = svg.clientWidth || 600, h = 170, pad = 18, n = Math.max(points.length, 1);
      const top = Math.max(...points.map(p => Number(p[1])), 0) || 1, step = (w - 8) / n;
      let out = `<text x="4" y="10">${Number(top.toPrecision(3))}</text>`;
      points.forEach(([label, value], i) => {
        const bh = (h - 2 * pad) * Number(value) / top, x = 4 + i * step;
        out += `<rect class="bar" x="${x + 1}" y="${h - pad - bh}" width="${Math.max(step - 2, 1)}" height="${bh}">` +
               `<title>${label}: ${value}</title></rect>`;
        if (n <= 31 && (n <= 12 || i % 3 === 0)) out += `<text x="${x}" y="${h - 4}">${label}</text>`;
      });
      svg.innerHTML = points.length ? out : `<text x="4" y="20">no requests yet</text>`;
    }

    function table(el, head, rows) {
      el.innerHTML = "<tr>" + head.map(c => `<th>${c}</th>`).join("") + "</tr>" +
        rows.map(r => "<tr>" + r.map(c => `<td>${c}</td>`).join("") + "</tr>").join("");
    }

    function usageTable(id, report) {
      table($(id), ["", "requests", "prompt", "completion", "USD"],
            report.data.map(l => [l.group, count(l.requests), count(l.prompt_tokens), count(l.completion_tokens), usd(l.cost_usd)]));
    }

    function render(d) {
      const total = d.by_day.total;
      $("title").textContent = (d.live && d.live.model ? d.live.model + " · " : "") + (d.key ? "key " + d.key : "all keys");
      $("updated").textContent = "as of " + new Date(d.generated_at * 1000).toISOString().replace("T", " ").slice(0, 19) + " UTC" +
        (d.live ? " · kernels " + d.live.kernels : "");
      $("month-title").textContent = "Month " + d.month + (embedded ? "" : " so far");
      text("total-cost", usd(total.cost_usd), String(total.cost_usd));
      text("total-tokens", count(total.total_tokens), total.total_tokens);
      text("total-prompt", count(total.prompt_tokens), total.prompt_tokens);
      text("total-completion", count(total.completion_tokens), total.completion_tokens);
      text("total-requests", count(total.requests), total.requests);
      bars($("chart-days"), d.by_day.data.map(l => [l.group.slice(8), l.cost_usd]));
      bars($("chart-hours"), d.by_hour.data.map(l => [l.group.slice(11) + "h", l.total_tokens]));
      usageTable("by-key", d.by_key);
      usageTable("by-model", d.by_model);
      usageTable("by-tier", d.by_tier);
      usageTable("by-route", { data: d.by_day.by_route });
      table($("reference"), ["provider", "USD", "saved"],
            d.by_day.reference.map(c => [c.provider, usd(c.cost_usd), c.saving_percent + "%"]));
      if (d.live) {
        text("live-tps", d.live.tokens_per_second.toFixed(1));
        text("live-running", d.live.running_sequences);
        text("live-queued", d.live.queued_sequences);
        text("live-ttft", ms(d.live.ttft_p50_ms) + " / " + ms(d.live.ttft_p99_ms));
        text("live-itl", ms(d.live.itl_p50_ms) + " / " + ms(d.live.itl_p99_ms));
      }
      document.body.dataset.rendered = "yes";
    }

    function renderBatches(list) {
      table($("batch-table"), ["batch", "status", "endpoint", "progress", "done / failed / total"], list.map(b => {
        const c = b.request_counts || { completed: 0, failed: 0, total: 0 };
        const share = c.total ? 100 * (c.completed + c.failed) / c.total : 0;
        return [b.id, b.status, b.endpoint, `<span class="progress"><span style="width:${share.toFixed(0)}%"></span></span>`,
                `${c.completed} / ${c.failed} / ${c.total}`];
      }));
    }

    async function get(path) {
      const key = sessionStorage.getItem("wafer-key");
      const r = await fetch(path, { headers: key ? { Authorization: "Bearer " + key } : {} });
      if (r.status === 401) { $("key-form").hidden = false; throw new Error("a key is needed"); }
      if (!r.ok) throw new Error(path + ": " + r.status);
      return r.json();
    }

    async function refresh() {
      try {
        render(await get("/dashboard/data"));
        $("key-form").hidden = true;
        renderBatches((await get("/v1/batches?limit=20")).data || []);
      } catch (e) { $("key-error").textContent = String(e.message); }
    }

    $("key-form").addEventListener("submit", e => {
      e.preventDefault();
      sessionStorage.setItem("wafer-key", $("key-input").value);
      $("key-input").value = "";
      refresh();
    });

    if (embedded) {
      $("live").hidden = true;
      $("batches").hidden = true;
      render(embedded);
    } else {
      refresh();
      setInterval(refresh, 5000);
    }
    </script>
    </body></html>
    """#
}
