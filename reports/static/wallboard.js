// 大屏: the live board pushed by /api/v1/calls/live/stream, today's figures from
// /api/v1/calls/metrics every POLL_MS, without reloading; each figure green at or above its target, amber within
// AMBER_POINTS percentage points below it, red further below.
(function () {
  "use strict";
  var POLL_MS = 2000, AMBER_POINTS = 0.05;
  var STATES = { available: "空闲", talking: "通话中", ringing: "振铃", "wrap-up": "话后整理", paused: "示忙", unavailable: "离线" };
  var chart = null;

  function pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; }
  function secs(v) { return v === null || v === undefined ? "—" : Math.round(v) + " 秒"; }
  function set(id, text) { var e = document.querySelector("[data-testid=" + id + "]"); if (e) { e.textContent = text; } }
  function colour(metric, value) {
    var box = document.querySelector("[data-metric=" + metric + "]");
    if (!box) { return; }
    box.classList.remove("green", "amber", "red");
    var target = parseFloat(box.dataset.target);
    if (value === null || value === undefined || isNaN(target)) { return; }
    box.classList.add(value >= target ? "green" : value >= target - AMBER_POINTS ? "amber" : "red");
  }
  function get(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); });
  }
  function draw(buckets) {
    var labels = buckets.map(function (b) { return b.start.slice(11, 16); });
    var connect = buckets.map(function (b) { return b.connect_rate === null ? null : b.connect_rate * 100; });
    var sl = buckets.map(function (b) { return b.service_level === null ? null : b.service_level * 100; });
    if (typeof Chart === "undefined") { return; }
    if (!chart) {
      Chart.defaults.color = "#8a99b5";
      Chart.defaults.font.size = 18;
      chart = new Chart(document.getElementById("trend"), { type: "line", data: { labels: [], datasets: [
        { label: "接通率 %", data: [], borderColor: "#22c55e", spanGaps: true, borderWidth: 4 },
        { label: "接听率 %", data: [], borderColor: "#60a5fa", spanGaps: true, borderWidth: 4 }] },
        options: { animation: false, responsive: true, maintainAspectRatio: false,
                   scales: { y: { min: 0, max: 100 } } } });
    }
    chart.data.labels = labels;
    chart.data.datasets[0].data = connect;
    chart.data.datasets[1].data = sl;
    chart.update();
  }
  function renderLive(live) {
    var waiting = live.waiting || [];
    set("wb-waiting", String(waiting.length));
    var longest = waiting.reduce(function (a, c) { return Math.max(a, c.wait_s); }, 0);
    document.getElementById("longest").textContent = waiting.length ? "最长 " + longest + " 秒" : "\u00a0";
    var list = document.getElementById("agents");
    list.textContent = "";
    (live.agents || []).forEach(function (a) {
      var li = document.createElement("li");
      li.className = a.state;
      var name = document.createElement("span"); name.textContent = a.name;
      var state = document.createElement("span"); state.textContent = STATES[a.state] || a.state;
      li.appendChild(name); li.appendChild(state); list.appendChild(li);
    });
    var link = document.getElementById("link");
    link.textContent = live.enabled === false ? "（未接入交换机，显示已存话务）" : live.connected ? "实时" : "交换机未连接";
    link.classList.toggle("down", live.enabled !== false && !live.connected);
  }
  // The board arrives as it changes (Server-Sent Events, within 0.1 s of the PBX's event);
  // the day's figures are read every POLL_MS.
  var pushed = !!window.EventSource;
  if (pushed) {
    var source = new EventSource("/api/v1/calls/live/stream");
    source.addEventListener("board", function (e) {
      try { renderLive(JSON.parse(e.data)); } catch (err) { console.error(err); }
    });
  }
  function tick() {
    var asks = [get("/api/v1/calls/metrics?bucket=hour")];
    if (!pushed) { asks.push(get("/api/v1/calls/live")); }
    Promise.all(asks).then(function (got) {
      var m = got[0], t = m.today, w = m.window;
      set("wb-connect", pct(t.connect_rate)); colour("connect_rate", t.connect_rate);
      set("wb-sl", pct(t.service_level)); colour("service_level", t.service_level);
      set("wb-window", pct(w.connect_rate)); colour("window_connect_rate", w.connect_rate);
      set("wb-offered", String(t.offered));
      document.getElementById("answered").textContent = "接通 " + t.answered + "，放弃 " + t.abandoned;
      set("wb-asa", secs(t.asa_s));
      if (!pushed) { renderLive(got[1]); }
      draw(m.buckets || []);
      document.getElementById("clock").textContent = (m.now || "").slice(11, 19);
    }).catch(function () {
      var link = document.getElementById("link");
      link.textContent = "数据获取失败，稍后重试"; link.classList.add("down");
    }).then(function () { setTimeout(tick, POLL_MS); });
  }
  tick();
})();
