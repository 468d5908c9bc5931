// 受理单: while the agent types, ask for suggested units and similar tickets
// (POST /api/v1/tickets/advice) and offer them; a suggestion click selects its unit.
// Ctrl+Enter submits. Text from the server is only ever inserted with textContent.
(function () {
  "use strict";
  const form = document.getElementById("new-ticket");
  if (!form) return;
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const field = (name) => form.elements[name];
  const $ = (id) => document.getElementById(id);
  let timer = null, asked = "";

  function unitName(code) {
    const option = Array.from(field("unit_code").options).find((o) => o.value === code);
    return option ? option.textContent : code;
  }

  async function advise() {
    const text = field("content").value.trim();
    const key = [text, field("district").value, field("category").value].join("|");
    if (text.length < 6 || key === asked) return;
    asked = key;
    let data;
    try {
      const resp = await fetch("/api/v1/tickets/advice", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ text: text, district: field("district").value || null,
                               category: field("category").value || null }),
      });
      if (!resp.ok) return;
      data = await resp.json();
    } catch (err) { return; }
    const list = $("tf-suggestions");
    list.replaceChildren();
    for (const s of data.suggestions || []) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button"; button.className = "link";
      button.textContent = unitName(s.unit_code);
      button.addEventListener("click", () => { field("unit_code").value = s.unit_code; });
      const why = document.createElement("span");
      why.className = "muted"; why.textContent = " " + (s.reasons || []).join("；");
      li.append(button, why); list.appendChild(li);
    }
    const similar = $("tf-similar");
    similar.replaceChildren();
    for (const c of data.similar || []) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = "/tickets/" + encodeURIComponent(c.number); a.target = "_blank";
      a.textContent = c.number;
      li.append(a, document.createTextNode("（" + (c.status_label || c.status || "") + "）" +
                                           (c.content || "").slice(0, 40)));
      similar.appendChild(li);
    }
    $("tf-similar-title").hidden = !similar.children.length;
    $("tf-advice").hidden = !list.children.length && !similar.children.length;
  }

  function later() { clearTimeout(timer); timer = setTimeout(advise, 600); }
  field("content").addEventListener("input", later);
  field("district").addEventListener("change", later);
  field("category").addEventListener("change", later);
  form.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); form.requestSubmit(); }
  });
  // The desk fills the form from the popped call (calls/static/desk.js sends this event).
  // The desk fills the form from the popped call (calls/static/desk.js sends this event);
  // a new call replaces the previous caller's number unless the agent is writing a ticket.
  document.addEventListener("hotline:call", (e) => {
    const pop = e.detail || {};
    if (!pop.uniqueid || field("content").value.trim()) return;
    field("call_id").value = pop.uniqueid;
    field("caller_phone").value = pop.caller || "";
    // The IVR's tag: a merged hotline's category (市场监管...), or the menu's kind of request
    // (咨询, 投诉举报...), which names a ticket type instead.
    const tag = pop.ivr_category || "";
    if (!tag) return;
    const category = Array.from(field("category").options).find((o) => o.value && o.value === tag);
    if (category) { field("category").value = category.value; return; }
    const type = Array.from(field("type").options).find((o) => o.value && (tag.includes(o.value) || o.value.includes(tag)));
    if (type) field("type").value = type.value;
  });
  if (field("content").value) later();

  if (form.dataset.desk !== "1") return;
  // On the desk: options from the API, a fresh key per ticket, submitted without leaving.
  const result = $("tf-result");
  const newKey = () => (window.crypto && crypto.randomUUID ? crypto.randomUUID() :
                        String(Date.now()) + Math.random().toString(16).slice(2)).replace(/[^A-Za-z0-9_.:-]/g, "");
  field("idempotency_key").value = newKey();

  function fill(select, items, keep) {
    if (select.options.length > 1 || (!keep && select.options.length)) return;
    for (const item of items) {
      const option = document.createElement("option");
      option.value = item.value; option.textContent = item.label;
      select.appendChild(option);
    }
  }
  fetch("/api/v1/tickets/form-options", { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : null)).then((data) => {
      if (!data) return;
      fill(field("type"), data.types.map((t) => ({ value: t, label: t })), false);
      fill(field("category"), data.categories.map((c) => ({ value: c, label: c })), true);
      fill(field("district"), data.districts.map((d) => ({ value: d, label: d })), true);
      fill(field("unit_code"), data.units.map((u) => ({ value: u.code, label: u.name })), true);
    }).catch(() => {});

  // 当场解答: after 用此答复 in the knowledge base, one click records the call as a ticket
  // answered on the spot with that article (closed at once, never dispatched).
  let spot = null;
  document.addEventListener("hotline:kb-answer", (e) => {
    spot = e.detail || null;
    if (!spot || !$("tf-spot")) return;
    $("tf-spot-article").textContent = "用 " + spot.id + "《" + (spot.title || "") + "》答复";
    $("tf-spot").hidden = false;
  });

  function payload() {
    const body = {};
    for (const name of ["caller_phone", "caller_name", "type", "category", "district", "address",
                        "content", "call_id", "unit_code"]) {
      const value = field(name).value.trim();
      body[name] = value === "" ? null : value;
    }
    body.content = body.content || "";
    body.urgency = field("urgent").checked ? "urgent" : "normal";
    body.confidential = field("confidential").checked;
    return body;
  }

  if ($("tf-spot-button")) {
    $("tf-spot-button").addEventListener("click", () => {
      if (!spot) return;
      if (!field("content").value.trim()) {
        field("content").value = (spot.query ? "咨询：" + spot.query + "。" : "") +
          "已按知识库 " + spot.id + "《" + (spot.title || "") + "》当场答复。";
      }
      send({ answered_on_spot: true, kb_article_id: spot.id, unit_code: null });
    });
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); send({}); });

  async function send(extra) {
    const button = form.querySelector("button[type=submit]");
    button.disabled = true;
    result.className = ""; result.textContent = "正在提交…";
    try {
      const resp = await fetch("/api/v1/tickets", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf,
                   "Idempotency-Key": field("idempotency_key").value },
        body: JSON.stringify(Object.assign(payload(), extra)),
      });
      const data = await resp.json().catch(() => ({}));
      if (!resp.ok) {
        result.className = "error";
        result.textContent = (data.error && (data.error.message_zh || data.error.message)) || "提交失败，请重试";
        return;
      }
      const t = data.ticket;
      result.className = "ok";
      result.replaceChildren();
      const link = document.createElement("a");
      link.href = "/tickets/" + encodeURIComponent(t.number); link.target = "_blank";
      link.textContent = "工单 " + t.number;
      result.append(link, document.createTextNode(
        t.status === "closed" ? " 已记为当场解答（已办结）" :
        " 已受理" + (t.main_unit ? "并派至 " + unitName(t.main_unit) : "，尚未派单")));
      const keepCall = field("call_id").value, keepPhone = field("caller_phone").value;
      form.reset();
      field("call_id").value = keepCall; field("caller_phone").value = keepPhone;
      field("idempotency_key").value = newKey();
      $("tf-advice").hidden = true; asked = "";
      spot = null; if ($("tf-spot")) $("tf-spot").hidden = true;
    } catch (err) {
      result.className = "error"; result.textContent = "网络错误，工单未确认提交，请重试（不会重复受理）";
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("keydown", (e) => {
    if (e.altKey && (e.key === "n" || e.key === "N")) { e.preventDefault(); field("content").focus(); }
  });
})();
