// Agent desk: screen pop. The server pushes the agent's own calls (Server-Sent Events); the
// card shows the caller, earlier calls and tickets, and marks the call for 用此答复.
// Text from the server is only ever inserted with textContent.
(function () {
  "use strict";
  const card = document.getElementById("call-pop");
  if (!card || !window.EventSource) return;
  const $ = (id) => document.getElementById(id);
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const OUTCOMES = { answered: "已接通", abandoned: "放弃", timed_out: "超时离队", unknown: "未知", waiting: "排队中" };
  const STATES = { available: "空闲", ringing: "振铃中", talking: "通话中", "wrap-up": "话后整理（自动）",
                   paused: "示忙", unavailable: "离线" };

  async function send(method, url, data) {
    const resp = await fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(data),
    });
    let answer = {};
    try { answer = await resp.json(); } catch (err) { answer = {}; }
    if (!resp.ok) {
      const e = answer.error || {};
      throw new Error(e.message_zh || "操作失败（" + resp.status + "），请稍后再试");
    }
    return answer;
  }

  // Queue state (示闲/示忙/话后整理): shown only as the PBX's events report it.
  function showState(s) {
    const now = $("qs-now");
    if (!s.known) { now.textContent = "未知（话务系统尚未报告此坐席）"; return; }
    // The queue state the agent chose, then what the line does now (a paused agent may
    // still be on the call that was connected before the pause).
    const chosen = s.wrap_up ? "话后整理" :
      s.paused ? "示忙" + (s.pause_reason ? "（" + s.pause_reason + "）" : "") : "示闲";
    const doing = s.state === "paused" || s.state === "available" ? "" : (STATES[s.state] || s.state);
    now.textContent = chosen + (doing ? " · " + doing : "");
    now.dataset.state = s.wrap_up ? "wrap_up" : s.paused ? "busy" : "available";
  }
  function stateError(text) { const e = $("qs-error"); e.textContent = text; e.hidden = !text; }
  fetch("/api/v1/calls/me/state", { credentials: "same-origin" })
    .then((r) => r.ok ? r.json() : Promise.reject(r))
    .then((s) => {
      const select = $("qs-reason");
      for (const r of s.reasons || []) { const o = document.createElement("option"); o.value = r; o.textContent = r; select.appendChild(o); }
      if (!s.enabled) { $("qs-now").textContent = "未接入话务系统"; return; }
      showState(s);
    })
    .catch(() => stateError("坐席状态读取失败，请刷新页面"));
  for (const button of document.querySelectorAll("#queue-state [data-qs]")) {
    button.addEventListener("click", async () => {
      stateError("");
      try {
        await send("POST", "/api/v1/calls/me/state", { state: button.dataset.qs, reason: $("qs-reason").value });
        $("qs-now").textContent += "（正在切换…）";
      } catch (err) { stateError(err.message); }
    });
  }

  // 通话小结: saved against the current call; Alt+M saves.
  const summaryForm = $("call-summary-form");
  summaryForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const id = card.dataset.currentCallId;
    const status = $("call-summary-status");
    if (!id) { status.textContent = "当前没有来电"; return; }
    try {
      const saved = await send("PUT", "/api/v1/calls/" + encodeURIComponent(id) + "/summary", { text: $("call-summary").value });
      status.textContent = "已保存 " + time(saved.updated_at).slice(11);
    } catch (err) { status.textContent = err.message; }
  });
  document.addEventListener("keydown", (e) => {
    if (e.altKey && (e.key === "m" || e.key === "M")) { e.preventDefault(); summaryForm.requestSubmit(); }
  });

  function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); }
  function time(iso) { return iso ? iso.replace("T", " ").slice(0, 19) : ""; }

  function show(pop) {
    if (pop.type === "complete") {
      if (card.dataset.currentCallId === pop.uniqueid) {
        $("call-state").textContent = "通话结束（" + (pop.talk_s == null ? "?" : pop.talk_s) + " 秒）";
      }
      return;
    }
    if (card.dataset.currentCallId !== pop.uniqueid) {
      $("call-summary").value = pop.summary || "";
      $("call-summary-status").textContent = pop.summary ? "已有小结" : "";
    }
    card.dataset.currentCallId = pop.uniqueid;
    $("call-state").textContent = "通话中";
    $("call-body").hidden = false;
    $("call-caller").textContent = pop.caller || "（未显示号码）";
    $("call-dialled").textContent = pop.dialled || "";
    $("call-ivr").textContent = pop.ivr_category || (pop.ivr_entry ? "未选类别" : "未经语音导航");
    $("call-hold").textContent = pop.hold_s == null ? "?" : pop.hold_s;
    $("call-ring").textContent = pop.ring_s == null ? "?" : pop.ring_s;
    $("call-at").textContent = time(pop.at);
    $("call-new-ticket").href = "/tickets/new?call_id=" + encodeURIComponent(pop.uniqueid) +
      "&phone=" + encodeURIComponent(pop.caller || "");
    // A 受理单 on this page (the desk) takes the call's number and id.
    document.dispatchEvent(new CustomEvent("hotline:call", { detail: pop }));
    const history = $("call-history");
    history.replaceChildren();
    for (const c of pop.earlier_calls || []) {
      const tr = document.createElement("tr");
      cell(tr, time(c.enter_at));
      cell(tr, OUTCOMES[c.outcome] || c.outcome);
      cell(tr, c.agent || "");
      cell(tr, (c.wait_s == null ? "-" : c.wait_s) + " / " + (c.talk_s == null ? "-" : c.talk_s));
      cell(tr, c.summary || "");
      history.appendChild(tr);
    }
    if (!history.children.length) {
      const tr = document.createElement("tr"); cell(tr, "首次来电"); history.appendChild(tr);
    }
    const tickets = $("call-tickets");
    tickets.replaceChildren();
    for (const t of pop.tickets || []) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "/tickets/" + encodeURIComponent(t.number); a.target = "_blank";
      a.textContent = t.number;
      li.append(a, document.createTextNode(" · " + (t.status_label || t.status) + " · " +
                                           time(t.created_at) + " · " + t.content));
      tickets.appendChild(li);
    }
    if (!tickets.children.length) { const li = document.createElement("li"); li.textContent = "无"; tickets.appendChild(li); }
  }

  // With the 受理单 on the same page, the link fills it instead of leaving the desk.
  $("call-new-ticket").addEventListener("click", (e) => {
    const content = document.querySelector("#new-ticket textarea[name=content]");
    if (!content) return;
    e.preventDefault();
    content.focus();
  });

  const source = new EventSource("/api/v1/calls/pops");
  source.addEventListener("call", (e) => { try { show(JSON.parse(e.data)); } catch (err) { console.error(err); } });
  source.addEventListener("state", (e) => { try { stateError(""); showState(JSON.parse(e.data)); } catch (err) { console.error(err); } });
  source.addEventListener("status", (e) => {
    const s = JSON.parse(e.data);
    if (!s.enabled) { $("call-state").textContent = "未接入话务系统"; source.close(); }
  });
})();
