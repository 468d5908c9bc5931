// Agent desk: knowledge-base search as the agent types, article view, 用此答复, 没有找到, flags.
// Text from the server is only ever inserted with textContent.
(function () {
  "use strict";
  const root = document.getElementById("kb-desk");
  if (!root) return;

  const DEBOUNCE_MS = 150;   // search while typing
  const SETTLE_MS = 2000;    // a query left unchanged this long counts as asked (gap if empty)
  const csrf = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const $ = (id) => document.getElementById(id);
  const input = $("kb-q"), category = $("kb-category"), results = $("kb-results");
  const status = $("kb-status"), noneButton = $("kb-none"), view = $("kb-article");
  const useButton = $("kb-use"), useStatus = $("kb-use-status");
  const flagForm = $("kb-flag-form");

  let typingTimer = null, settleTimer = null, inflight = null, seq = 0;
  let hits = [], query = "", current = null;
  const recorded = new Set();

  // The call tracking feature marks the current call with data-current-call-id.
  function currentCallId() {
    const el = document.querySelector("[data-current-call-id]");
    return el && el.dataset.currentCallId ? el.dataset.currentCallId : null;
  }

  async function api(method, url, body) {
    const init = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (body !== undefined) {
      init.headers["Content-Type"] = "application/json";
      init.headers["X-CSRF-Token"] = csrf;
      init.body = JSON.stringify(body);
    }
    const resp = await fetch(url, init);
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      const msg = data && data.error ? data.error.message_zh || data.error.message : "HTTP " + resp.status;
      throw new Error(msg);
    }
    return data;
  }

  function setStatus(text) { status.textContent = text; }

  function renderHits() {
    results.replaceChildren();
    hits.forEach((hit, i) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "kb-hit";
      button.dataset.id = hit.id;
      button.setAttribute("data-testid", "kb-hit");
      const title = document.createElement("span");
      title.className = "kb-hit-title";
      // Whether the article answers the question on the call or is only related to it.
      const tier = document.createElement("span");
      tier.className = "kb-tier " + (hit.tier === "answers" ? "answers" : "related");
      tier.setAttribute("data-testid", "kb-tier");
      tier.textContent = hit.tier_label;
      title.append(tier, document.createTextNode(hit.title));
      const meta = document.createElement("span");
      meta.className = "kb-hit-meta muted";
      meta.textContent = hit.id + (hit.category ? " · " + hit.category : "") + " · " + Math.round(hit.score);
      const snippet = document.createElement("span");
      snippet.className = "kb-snippet";
      for (const piece of hit.snippet) {
        const node = document.createElement(piece.hit ? "mark" : "span");
        node.textContent = piece.text;
        snippet.appendChild(node);
      }
      button.append(title, meta, snippet);
      button.addEventListener("click", () => openArticle(hit.id));
      if (current && current.id === hit.id) button.classList.add("active");
      li.appendChild(button);
      results.appendChild(li);
      if (i === 0) li.classList.add("first");
    });
    noneButton.hidden = hits.length === 0;
  }

  async function search(record) {
    const q = input.value.trim();
    clearTimeout(typingTimer);
    if (!q) {
      seq++; hits = []; query = ""; renderHits(); setStatus(""); return;
    }
    const mine = ++seq;
    if (inflight) inflight.abort();
    inflight = new AbortController();
    const params = new URLSearchParams({ q, limit: "8", record: record ? "1" : "0" });
    if (category.value) params.set("category", category.value);
    let data;
    try {
      const resp = await fetch("/api/v1/kb/search?" + params, {
        credentials: "same-origin", headers: { Accept: "application/json" }, signal: inflight.signal });
      data = await resp.json();
      if (!resp.ok) throw new Error(data && data.error ? data.error.message_zh || data.error.message : "HTTP " + resp.status);
    } catch (e) {
      if (e.name === "AbortError") return;
      if (mine === seq) setStatus("查询失败：" + e.message);
      return;
    }
    if (mine !== seq) return;  // a newer query is on its way
    hits = data.hits; query = q;
    if (record) recorded.add(q + "\u0000" + category.value);
    renderHits();
    if (!hits.length && data.notice && data.notice.code === "no_answer") {
      setStatus(data.notice.message + "，请按需创建工单" + (data.gap_recorded ? "（已记录为知识缺口）" : ""));
    } else if (data.notice) setStatus(data.notice.message);
    else {
      const answering = hits.filter((h) => h.tier === "answers").length;
      setStatus("找到 " + hits.length + " 条，其中可直接答复 " + answering + " 条" +
        (data.truncated ? "（查询内容过长，已截断）" : ""));
    }
  }

  function settled() {
    const q = input.value.trim();
    if (q && !hits.length && !recorded.has(q + "\u0000" + category.value)) search(true);
  }

  input.addEventListener("input", () => {
    clearTimeout(typingTimer); clearTimeout(settleTimer);
    typingTimer = setTimeout(() => search(false), DEBOUNCE_MS);
    settleTimer = setTimeout(settled, SETTLE_MS);
  });
  // Desk shortcuts (shown by the panel's title): Alt+S to the search box, Alt+U 用此答复.
  document.addEventListener("keydown", (ev) => {
    if (!ev.altKey) return;
    if (ev.key === "s" || ev.key === "S") { ev.preventDefault(); input.focus(); input.select(); }
    if ((ev.key === "u" || ev.key === "U") && !view.hidden && !useButton.disabled) {
      ev.preventDefault(); useButton.click();
    }
  });

  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault(); clearTimeout(settleTimer); search(true);
    } else if (ev.key === "ArrowDown" && hits.length) {
      ev.preventDefault(); results.querySelector("button.kb-hit").focus();
    }
  });
  results.addEventListener("keydown", (ev) => {
    const buttons = Array.from(results.querySelectorAll("button.kb-hit"));
    const i = buttons.indexOf(document.activeElement);
    if (ev.key === "ArrowDown" && i >= 0 && i < buttons.length - 1) { ev.preventDefault(); buttons[i + 1].focus(); }
    if (ev.key === "ArrowUp" && i > 0) { ev.preventDefault(); buttons[i - 1].focus(); }
    if (ev.key === "ArrowUp" && i === 0) { ev.preventDefault(); input.focus(); }
  });
  category.addEventListener("change", () => search(false));

  noneButton.addEventListener("click", async () => {
    if (!query) return;
    try {
      await api("POST", "/api/v1/kb/gaps", { query });
      recorded.add(query + "\u0000" + category.value);
      setStatus("已记录：知识库没有合适的答案（" + query + "）");
    } catch (e) { setStatus("记录失败：" + e.message); }
  });

  function fillList(id, items) {
    const ul = $(id);
    ul.replaceChildren();
    for (const item of items || []) {
      const li = document.createElement("li");
      li.textContent = item;
      ul.appendChild(li);
    }
  }

  async function openArticle(id) {
    let a;
    try { a = await api("GET", "/api/v1/kb/articles/" + encodeURIComponent(id)); }
    catch (e) { setStatus("无法打开 " + id + "：" + e.message); return; }
    current = a;
    $("kb-a-title").textContent = a.title;
    $("kb-a-id").textContent = a.id;
    $("kb-a-category").textContent = a.category || "";
    $("kb-a-version").textContent = a.version;
    $("kb-a-updated").textContent = (a.updated_at || "").slice(0, 10);
    for (const f of ["answer", "unit", "basis", "time_limit", "fee", "contact"]) {
      $("kb-a-" + f).textContent = a[f] || "—";
    }
    fillList("kb-a-materials", a.materials);
    fillList("kb-a-questions", a.questions);
    useStatus.textContent = "";
    useButton.disabled = a.status !== "published";
    flagForm.hidden = true;
    view.hidden = false;
    renderHits();
  }

  useButton.addEventListener("click", async () => {
    if (!current) return;
    useButton.disabled = true;
    try {
      await api("POST", "/api/v1/kb/articles/" + encodeURIComponent(current.id) + "/answers",
        { version: current.version, query: query || null, call_id: currentCallId() });
      useStatus.textContent = "已记录：本次来电用 " + current.id + " 答复";
      // A 受理单 on the same page (the desk) can record the call as answered on the spot.
      document.dispatchEvent(new CustomEvent("hotline:kb-answer", {
        detail: { id: current.id, title: current.title, query: query || "" } }));
    } catch (e) {
      useStatus.textContent = "记录失败：" + e.message;
      useButton.disabled = false;
    }
  });

  $("kb-flag-open").addEventListener("click", () => { flagForm.hidden = !flagForm.hidden; });
  flagForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!current) return;
    const form = new FormData(flagForm);
    try {
      await api("POST", "/api/v1/kb/articles/" + encodeURIComponent(current.id) + "/flags",
        { kind: form.get("kind"), note: form.get("note"), version: current.version });
      flagForm.reset(); flagForm.hidden = true;
      useStatus.textContent = "已提交反馈，知识库编辑会处理";
    } catch (e) { useStatus.textContent = "反馈失败：" + e.message; }
  });

  api("GET", "/api/v1/kb/categories").then((data) => {
    for (const c of data.categories) {
      const opt = document.createElement("option");
      opt.value = c.name;
      opt.textContent = c.name + "（" + c.count + "）";
      category.appendChild(opt);
    }
  }).catch(() => {});
})();
