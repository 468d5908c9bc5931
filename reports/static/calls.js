// 话务历史: draws the page's figures (the JSON block #chart-data) with the vendored Chart.js,
// and switches between the charts and the table.
(function () {
  "use strict";
  var tabs = document.querySelectorAll("[data-tab]");
  tabs.forEach(function (tab) {
    tab.addEventListener("click", function () {
      tabs.forEach(function (t) {
        var on = t === tab;
        t.setAttribute("aria-selected", on ? "true" : "false");
        document.getElementById(t.dataset.tab).hidden = !on;
      });
    });
  });
  var source = document.getElementById("chart-data");
  if (!source || typeof Chart === "undefined") { return; }
  var d = JSON.parse(source.textContent);
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.animation = false;
  var red = "#c8102e", green = "#067647", blue = "#1f6feb", grey = "#98a2b3", amber = "#b54708";
  var opts = { responsive: true, maintainAspectRatio: false,
               plugins: { legend: { position: "bottom" } } };
  if (d.dimension === "agent") {
    new Chart(document.getElementById("trend"), { type: "line", options: opts, data: {
      labels: d.labels, datasets: [
        { label: "15秒接听率 %", data: d.service_level, borderColor: blue, spanGaps: true }] } });
    new Chart(document.getElementById("volume"), { type: "bar", options: opts, data: {
      labels: d.keys, datasets: [
        { label: "接听量", data: d.key_answered, backgroundColor: blue },
        { label: "坐席先挂断", data: d.key_hangups, backgroundColor: red }] } });
    return;
  }
  new Chart(document.getElementById("trend"), { type: "line", options: Object.assign({}, opts, {
    scales: { y: { min: 0, max: 100, title: { display: true, text: "%" } } } }), data: {
    labels: d.labels, datasets: [
      { label: "接通率 %", data: d.connect_rate, borderColor: green, spanGaps: true },
      { label: "15秒接听率 %", data: d.service_level, borderColor: blue, spanGaps: true },
      { label: "知识库当场解答占比 %", data: d.kb_share, borderColor: amber, spanGaps: true },
      { label: "接通率目标", data: d.labels.map(function () { return d.targets.connect_rate; }),
        borderColor: grey, borderDash: [6, 4], pointRadius: 0 }] } });
  var byKey = d.keys.length > 1;
  new Chart(document.getElementById("volume"), { type: "bar", options: opts, data: byKey ? {
    labels: d.keys, datasets: [
      { label: "呼入量", data: d.key_offered, backgroundColor: grey },
      { label: "接通量", data: d.key_answered, backgroundColor: blue }] } : {
    labels: d.labels, datasets: [
      { label: "接通量", data: d.answered, backgroundColor: blue, stack: "s" },
      { label: "放弃量", data: d.abandoned, backgroundColor: red, stack: "s" }] } });
})();
