// Manager dashboard: live board (pushed as it changes) and call metrics (every 10 s), with alarms.
// Text from the server is only ever inserted with textContent.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  if (!$("live-board")) return;
  const STATES = { available: "空闲", ringing: "振铃", talking: "通话", "wrap-up": "话后整理", paused: "示忙", unavailable: "离线" };
  const METRIC = { connect_rate: "接通率", service_level: "及时接听率" };
  const pct = (v) => (v == null ? "-" : (v * 100).toFixed(1) + "%");
  const num = (v) => (v == null ? "-" : String(v));

  function row(cells) {
    const tr = document.createElement("tr");
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
    return tr;
  }
  async function get(url) {
    const r = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!r.ok) {
      let data = null;
      try { data = await r.json(); } catch (e) { data = null; }
      throw new Error(data && data.error ? data.error.message_zh || data.error.message : "HTTP " + r.status);
    }
    return r.json();
  }

  function render(b) {
      $("board-status").textContent = !b.enabled ? "未接入话务系统" : b.connected ? "已连接 · " + (b.pbx_time || "").replace("T", " ") : "连接中断，正在重连…";
      $("waiting-count").textContent = b.waiting.length;
      $("waiting").replaceChildren(...b.waiting.map((w) => row([w.position, w.caller, w.wait_s])));
      $("agents").replaceChildren(...b.agents.map((a) => {
        const tr = row([a.name, (STATES[a.state] || a.state) + (a.pause_reason ? "（" + a.pause_reason + "）" : ""), a.seconds_in_state, a.caller || ""]);
        tr.dataset.state = a.state;
        return tr;
      }));
  }
  async function live() {
    try { render(await get("/api/v1/calls/live")); }
    catch (e) { $("board-status").textContent = "刷新失败：" + e.message; }
  }

  async function figures() {
    try {
      const m = await get("/api/v1/calls/metrics?bucket=" + encodeURIComponent($("bucket").value));
      const line = (label, x) => row([label, x.offered, x.answered, x.abandoned, x.timed_out, pct(x.connect_rate), pct(x.service_level), num(x.asa_s), num(x.longest_wait_s)]);
      $("metrics-summary").replaceChildren(line("近" + m.window.minutes + "分钟", m.window), line("今日", m.today), line("近24小时", m.rolling_24h));
      $("metrics-buckets").replaceChildren(...m.buckets.map((b) => row([b.start.slice(11, 16), b.offered, b.answered, b.abandoned, pct(b.connect_rate), pct(b.service_level)])));
      $("metrics-agents").replaceChildren(...Object.entries(m.rolling_24h.agents).map(([name, a]) => row([name, a.answered, a.ring_no_answer, pct(a.ring_compliance), a.talk_s])));
      const box = $("alarms");
      box.replaceChildren();
      box.hidden = m.alarms.length === 0;
      for (const a of m.alarms) {
        const p = document.createElement("p");
        p.className = "error";
        p.setAttribute("role", "alert");
        p.textContent = "告警：近" + a.window_minutes + "分钟" + (METRIC[a.metric] || a.metric) + " " + pct(a.value) + "，低于目标 " + pct(a.target) + "（呼入 " + a.offered + " 通）";
        box.appendChild(p);
      }
    } catch (e) { /* the live part reports connection trouble */ }
  }

  $("bucket").addEventListener("change", figures);
  figures();
  setInterval(figures, 10000);
  if (window.EventSource) {  // the board as it changes (within 0.1 s of the PBX's event)
    const source = new EventSource("/api/v1/calls/live/stream");
    source.addEventListener("board", (e) => { try { render(JSON.parse(e.data)); } catch (err) { console.error(err); } });
  } else {
    live();
    setInterval(live, 2000);
  }
})();
