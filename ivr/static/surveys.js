// Manager dashboard: post-call survey scores per agent and day (every 60 s).
// Text from the server is only ever inserted with textContent.
(function () {
  "use strict";
  const $ = (id) => document.getElementById(id);
  if (!$("ivr-surveys")) return;
  function row(cells) {
    const tr = document.createElement("tr");
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.appendChild(td); }
    return tr;
  }
  async function load() {
    try {
      const r = await fetch("/api/v1/ivr/surveys?days=7", { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!r.ok) throw new Error("HTTP " + r.status);
      const data = await r.json();
      $("surveys").replaceChildren(...data.rows.map((s) => {
        const scored = s.satisfied + s.fairly_satisfied + s.unsatisfied;
        const rate = scored ? (((s.satisfied + s.fairly_satisfied) / scored) * 100).toFixed(1) + "%" : "-";
        return row([s.day, s.agent || "-", s.satisfied, s.fairly_satisfied, s.unsatisfied, s.no_answer, rate]);
      }));
      $("surveys-status").textContent = data.rows.length ? "" : "暂无评价";
    } catch (e) { $("surveys-status").textContent = "刷新失败：" + e.message; }
  }
  load();
  setInterval(load, 60000);
})();
