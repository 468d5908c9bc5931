// The unit's open tickets (GET /api/v1/tickets: a unit's open ones, most overdue first) as
// cards, read again when the unit's count changes (nav.js) and every 60 s. Server text only via
// textContent.
(function () {
  "use strict";
  const list = document.getElementById("uq-list");
  if (!list) return;
  const count = document.getElementById("uq-count");
  const status = document.getElementById("uq-status");
  const DAY = 24 * 3600 * 1000;

  function when(iso) { return iso ? iso.replace("T", " ").slice(0, 16) : ""; }
  function urgency(t) {
    if (t.overdue) return "late";
    if (!t.due) return "";
    const left = Date.parse(t.due) - Date.now();
    return left < DAY ? "soon" : left < 3 * DAY ? "near" : "";
  }

  function card(t) {
    const li = document.createElement("li");
    li.className = "ticket-card " + urgency(t);
    const head = document.createElement("div");
    head.className = "tc-head";
    const a = document.createElement("a");
    a.href = "/unit/tickets/" + encodeURIComponent(t.number);
    a.textContent = t.number;
    const state = document.createElement("span");
    state.className = "status-tag";
    state.textContent = t.status_label + (t.urgency === "urgent" ? " · 紧急" : "");
    head.append(a, state);
    const body = document.createElement("p");
    body.className = "tc-body";
    body.textContent = (t.category ? "【" + t.category + "】" : "") + (t.content || "").slice(0, 60);
    const due = document.createElement("p");
    due.className = "tc-due";
    due.textContent = "办理时限 " + when(t.due) + (t.overdue ? "（已超期）" : "");
    li.append(head, body, due);
    return li;
  }

  async function load() {
    try {
      const resp = await fetch("/api/v1/tickets?limit=100", { credentials: "same-origin" });
      if (!resp.ok) { status.textContent = "工单列表暂时无法刷新"; return; }
      const data = await resp.json();
      list.replaceChildren(...data.tickets.map(card));
      count.textContent = "（" + data.tickets.length + "）";
      status.textContent = data.tickets.length ? "" : "暂无待办工单";
    } catch (err) {
      status.textContent = "网络中断，稍后自动重试";
    }
  }
  load();
  // A ticket dispatched, signed or closed anywhere changes the unit's count (nav.js tells us
  // at once); the slow timer refreshes the deadline colours as time passes.
  document.addEventListener("hotline:counts", (e) => {
    if (e.detail.counts["/unit"] !== e.detail.previous["/unit"]) load();
  });
  setInterval(load, 60000);
})();
