// The grid page: click a cell for its task instance; states refresh from grid.json every few seconds.
// Same runs and tasks: cells and run bars are recoloured in place. New runs or tasks: the grid is
// fetched again as HTML and swapped in (on the latest-runs page only; older pages do not change shape).
"use strict";

(() => {
  const FINISHED = new Set(["success", "failed"]);

  const columnRunIds = (grid) => [...grid.querySelectorAll("thead th[data-run-id]")].map((th) => th.dataset.runId);
  const rowTaskIds = (grid) => [...grid.querySelectorAll("tbody tr[data-task-id]")].map((tr) => tr.dataset.taskId);
  const sameShape = (grid, data) =>
    columnRunIds(grid).join("\n") === data.runs.map((r) => r.run_id).join("\n") &&
    rowTaskIds(grid).join("\n") === data.tasks.map((t) => t.task_id).join("\n");

  const recolour = (grid, data) => {
    const mapped = new Set(data.tasks.filter((t) => t.mapped).map((t) => t.task_id));
    grid.querySelectorAll("tbody tr[data-task-id]").forEach((tr, row) => {
      const codes = data.cells[row];
      const isMapped = mapped.has(tr.dataset.taskId);
      codes.forEach((code, column) => {
        const td = tr.cells[column + 1];
        if (!td) return;
        const wanted = code === null ? "" : `state-${data.states[code]}${isMapped ? " mapped" : ""}`;
        if (td.className !== wanted) {
          if (wanted) td.className = wanted;
          else td.removeAttribute("class");
        }
      });
    });
    const longest = Math.max(1, ...data.runs.map((r) => r.duration || 0));
    grid.querySelectorAll("thead th[data-run-id]").forEach((th, column) => {
      const run = data.runs[column];
      const bar = th.querySelector(".run-bar");
      if (!run || !bar) return;
      bar.className = `run-bar state-${run.state}`;
      bar.style.height = `${Math.max(8, Math.round((100 * (run.duration || 0)) / longest))}%`;
    });
  };

  const replaceGrid = async (grid) => {
    const response = await fetch(window.location.href, { credentials: "same-origin" });
    if (!response.ok) return;
    const page = new DOMParser().parseFromString(await response.text(), "text/html");
    const fresh = page.getElementById("grid");
    if (fresh) grid.replaceChildren(...fresh.childNodes);
  };

  const cellTarget = (grid, td) => {
    const tr = td.parentElement;
    if (!td.className || !tr.dataset.taskId) return null;
    const th = grid.querySelectorAll("thead th[data-run-id]")[td.cellIndex - 1];
    if (!th) return null;
    return { runId: th.dataset.runId, taskId: tr.dataset.taskId };
  };

  document.addEventListener("DOMContentLoaded", () => {
    const grid = document.getElementById("grid");
    if (!grid) return;

    grid.addEventListener("click", (event) => {
      const td = event.target.closest("tbody td");
      const target = td && cellTarget(grid, td);
      if (!target) return;
      const url = `${grid.dataset.tiBase}${encodeURIComponent(target.runId)}/tasks/${encodeURIComponent(target.taskId)}`;
      if (event.ctrlKey || event.metaKey) window.open(url, "_blank");
      else window.location.assign(url);
    });
    grid.addEventListener("mouseover", (event) => {
      const td = event.target.closest("tbody td");
      const target = td && cellTarget(grid, td);
      if (target && !td.title) {
        const state = td.className.replace(/^state-/, "").replace(/ mapped$/, "");
        td.title = `${target.taskId}\n${target.runId}\n${state}${td.classList.contains("mapped") ? " (mapped)" : ""}`;
      }
    });

    let unfinished = true;
    let quietTicks = 0;
    flowctl.poll(async () => {
      if (!unfinished && ++quietTicks % 6 !== 0) return; // every 30 s once every run has finished
      const data = await flowctl.getJson(grid.dataset.json);
      unfinished = data.runs.some((run) => !FINISHED.has(run.state));
      if (sameShape(grid, data)) {
        recolour(grid, data);
        grid.querySelectorAll("tbody td[title]").forEach((td) => td.removeAttribute("title"));
      } else if (grid.dataset.live === "1") {
        await replaceGrid(grid);
      }
    }, 5);
  });
})();
