// Unread badges in the navigation bar, live: /api/v1/nav/stream (Server-Sent Events) sends what
// waits per page when the page opens and whenever it changes; where a stream cannot be opened,
// GET /api/v1/nav/counts every 20 s instead. Each change is also told to the page's own lists
// (a "hotline:counts" event with the counts), which reload what changed. The first counts come
// after the page was built, so a change in between would be missed: they go out as a change
// from nothing, and a list whose page has something waiting reads itself once more.
(function () {
  "use strict";
  const links = Array.from(document.querySelectorAll("nav[aria-label=主导航] a"));
  if (!links.length) return;
  let last = null;  // the counts last shown; null until the first arrive

  function show(counts) {
    for (const a of links) {
      const n = counts[a.getAttribute("href")] || 0;
      let badge = a.querySelector(".badge");
      if (!n) { if (badge) badge.remove(); continue; }
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "badge";
        a.appendChild(badge);
      }
      badge.textContent = n > 99 ? "99+" : String(n);
      badge.setAttribute("aria-label", n + " 项待处理");
    }
    const previous = last || {};
    last = counts;
    document.dispatchEvent(new CustomEvent("hotline:counts", { detail: { counts: counts, previous: previous } }));
  }

  async function poll() {
    if (document.hidden) return;
    try {
      const resp = await fetch("/api/v1/nav/counts", { credentials: "same-origin" });
      if (resp.ok) show((await resp.json()).counts);
    } catch (err) { /* offline for a moment: the next poll tries again */ }
  }

  if (!window.EventSource) {
    poll();
    setInterval(poll, 20000);
    document.addEventListener("visibilitychange", poll);
    return;
  }
  const source = new EventSource("/api/v1/nav/stream");
  source.addEventListener("counts", (e) => {
    try { show(JSON.parse(e.data).counts); } catch (err) { console.error(err); }
  });
})();
