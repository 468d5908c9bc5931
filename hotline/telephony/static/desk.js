// Agent desk: screen pop. The server pushes the agent's own calls (Server-Sent Events); the
// card shows the caller, earlier calls and tickets, and marks the call for 用此答复.
// Text from the server is only ever inserted with textContent.
(function () {
  "use strict";
  const card = document.getElementById("call-pop");
  if (!card || !window.EventSource) return;
  const $ = (id) => document.getElementById(id);
  const OUTCOMES = { answered: "已接通", abandoned: "放弃", timed_out: "超时离队", unknown: "未知", waiting: "排队中" };

  function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
  function time(iso) { return iso ? iso.replace("T", " ").slice(0, 19) : ""; }

  function show(pop) {
    if (pop.type === "complete") {
      if (card.dataset.currentCallId === pop.uniqueid) {
        $("call-state").textContent = "通话结束（" + (pop.talk_s == null ? "?" : pop.talk_s) + " 秒）";
      }
      return;
    }
    card.dataset.currentCallId = pop.uniqueid;
    $("call-state").textContent = "通话中";
    $("call-body").hidden = false;
    $("call-caller").textContent = pop.caller || "（未显示号码）";
    $("call-dialled").textContent = pop.dialled || "";
    $("call-hold").textContent = pop.hold_s == null ? "?" : pop.hold_s;
    $("call-ring").textContent = pop.ring_s == null ? "?" : pop.ring_s;
    $("call-at").textContent = time(pop.at);
    $("call-new-ticket").href = "/tickets/new?call_id=" + encodeURIComponent(pop.uniqueid) +
      "&phone=" + encodeURIComponent(pop.caller || "");
    const history = $("call-history");
    history.replaceChildren();
    for (const c of pop.earlier_calls || []) {
      const tr = document.createElement("tr");
      cell(tr, time(c.enter_at));
      cell(tr, OUTCOMES[c.outcome] || c.outcome);
      cell(tr, c.agent || "");
      cell(tr, (c.wait_s == null ? "-" : c.wait_s) + " / " + (c.talk_s == null ? "-" : c.talk_s));
      history.appendChild(tr);
    }
    if (!history.children.length) {
      const tr = document.createElement("tr"); cell(tr, "首次来电"); history.appendChild(tr);
    }
    const tickets = $("call-tickets");
    tickets.replaceChildren();
    for (const t of pop.tickets || []) {
      const li = document.createElement("li");
      li.textContent = t.number + " · " + (t.status_label || t.status) + " · " + time(t.created_at) + " · " + t.content;
      tickets.appendChild(li);
    }
    if (!tickets.children.length) { const li = document.createElement("li"); li.textContent = "无"; tickets.appendChild(li); }
  }

  const source = new EventSource("/api/v1/calls/pops");
  source.addEventListener("call", (e) => { try { show(JSON.parse(e.data)); } catch (err) { console.error(err); } });
  source.addEventListener("status", (e) => {
    const s = JSON.parse(e.data);
    if (!s.enabled) { $("call-state").textContent = "未接入话务系统"; source.close(); }
  });
})();
