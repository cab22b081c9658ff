// The DAG pages: run pickers that apply on change, and the Gantt chart redrawn while its run goes on.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("select.auto-submit").forEach((select) => {
    select.addEventListener("change", () => select.form.requestSubmit());
  });

  const gantt = document.getElementById("gantt");
  if (gantt && gantt.dataset.svg && gantt.dataset.finished !== "1") {
    const timer = flowctl.poll(async () => {
      const response = await fetch(gantt.dataset.svg, { credentials: "same-origin" });
      if (!response.ok) return;
      // the server escapes everything it puts in the chart; it is our own markup, drawn as is
      gantt.innerHTML = await response.text();
      if (response.headers.get("X-Run-Finished") === "1") clearInterval(timer);
    }, 5);
  }
});
