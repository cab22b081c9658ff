// The graph page: zoom buttons (and ctrl + wheel) scale the SVG inside its scrolling box; node colours
// follow the run's task states, polled from graph.json while the run is unfinished.
"use strict";

(() => {
  const STEP = 1.25;

  document.addEventListener("DOMContentLoaded", () => {
    const box = document.getElementById("graph");
    const svg = box && box.querySelector("svg");
    if (!svg) return;
    const width = Number(svg.getAttribute("width"));
    const height = Number(svg.getAttribute("height"));
    let scale = 1;
    const zoomTo = (value) => {
      scale = Math.min(4, Math.max(0.05, value));
      svg.setAttribute("width", String(width * scale));
      svg.setAttribute("height", String(height * scale));
    };
    const fit = () => zoomTo(Math.min(1, (box.clientWidth - 4) / width, (box.clientHeight - 4) / height || 1));
    document.querySelectorAll("[data-zoom]").forEach((button) => {
      button.addEventListener("click", () => {
        const how = button.dataset.zoom;
        if (how === "fit") fit();
        else zoomTo(how === "in" ? scale * STEP : scale / STEP);
      });
    });
    box.addEventListener("wheel", (event) => {
      if (!event.ctrlKey) return;
      event.preventDefault();
      zoomTo(event.deltaY < 0 ? scale * STEP : scale / STEP);
    }, { passive: false });

    if (!box.dataset.json || box.dataset.finished === "1") return;
    const nodes = new Map([...svg.querySelectorAll("g.node[data-task-id]")].map((g) => [g.dataset.taskId, g]));
    const runState = document.querySelector("[data-run-state]");
    const timer = flowctl.poll(async () => {
      const data = await flowctl.getJson(box.dataset.json);
      nodes.forEach((node, taskId) => {
        const wanted = `node state-${data.states[taskId] || "none"}`;
        if (node.getAttribute("class") !== wanted) node.setAttribute("class", wanted);
      });
      if (runState && data.run_state) {
        runState.className = `state-label state-${data.run_state}`;
        runState.textContent = data.run_state;
      }
      if (data.finished) clearInterval(timer);
    }, 3);
  });
})();
