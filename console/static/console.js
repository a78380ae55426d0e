// Live inbox: new mentions (rendered rows) are prepended without a reload; new alerts are
// announced. Progressive: without this script the pages work the same, by reloading.
"use strict";
(function () {
  const live = document.querySelector("[data-testid=live-status]");
  const rows = document.querySelector("[data-testid=inbox-rows]");
  if (!live || !rows || !window.EventSource) return;
  const onFirstPage = !/[?&]page=([2-9]|\d\d+)/.test(location.search);
  const source = new EventSource(live.dataset.events);
  source.addEventListener("mention", (event) => {
    const data = JSON.parse(event.data);
    if (!onFirstPage || rows.querySelector(`tr[data-id="${CSS.escape(data.id)}"]`)) return;
    const template = document.createElement("template");
    template.innerHTML = data.html.trim();
    const row = template.content.firstElementChild;
    row.classList.add("new");
    rows.prepend(row);
    const empty = document.querySelector("[data-testid=inbox-empty]");
    if (empty) empty.remove();
  });
  source.addEventListener("alert", (event) => {
    const data = JSON.parse(event.data);
    const note = document.createElement("p");
    note.className = "alert-note";
    note.dataset.testid = "live-alert";
    note.setAttribute("role", "status");
    const link = document.createElement("a");
    link.href = "/incidents";
    link.textContent = `${data.client}/${data.brand} · ${data.severity} · ${data.explanation}`;
    link.dir = "auto";
    note.append(link);
    live.after(note);
  });
})();
