// 未接来电回拨, live: when the number of missed callers waiting changes (nav.js tells us), the
// open list is read again from the page itself and swapped in, unless the agent is writing a
// result in it (the next change, or a reload, brings the list then).
(function () {
  "use strict";
  const table = document.querySelector("[data-testid=missed-open]");
  if (!table) return;
  let stale = false;

  function busy() {
    const active = document.activeElement;
    if (active && table.contains(active)) return true;
    return Array.from(table.querySelectorAll("select[name=outcome], input[name=note]"))
      .some((el) => el.value !== "" && el.value !== el.defaultValue);
  }

  async function reload() {
    if (busy()) { stale = true; return; }
    stale = false;
    try {
      const resp = await fetch(location.pathname, { credentials: "same-origin" });
      if (!resp.ok) return;
      const doc = new DOMParser().parseFromString(await resp.text(), "text/html");
      const fresh = doc.querySelector("[data-testid=missed-open] tbody");
      if (fresh) table.querySelector("tbody").replaceWith(document.importNode(fresh, true));
    } catch (err) { /* the next change tries again */ }
  }

  document.addEventListener("hotline:counts", (e) => {
    if (e.detail.counts["/calls/missed"] !== e.detail.previous["/calls/missed"]) reload();
  });
  table.addEventListener("focusout", () => { if (stale) setTimeout(reload, 0); });
})();
