// The graph page: zoom buttons (and ctrl + wheel) scale the SVG inside its scrolling box; node colours
// follow the run's task states, polled from graph.json while the run is unfinished. A graph that fits
// its box is drawn bigger at first (up to MAX_FIT); a big one starts at its natural size, scrollable.
"use strict";

(() => {
  const STEP = 1.25;
  const MAX_FIT = 1.5;

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
    // the room the box may take: its width, and the window's height below its top (as dag.css caps it)
    const room = () => {
      const below = window.innerHeight - box.getBoundingClientRect().top - 24;
      return { width: box.clientWidth - 4, height: Math.max(200, below) - 4 };
    };
    const fitScale = () => {
      const { width: roomWidth, height: roomHeight } = room();
      return Math.min(MAX_FIT, roomWidth / width, roomHeight / height);
    };
    const fit = () => zoomTo(fitScale());
    if (width > 0 && height > 0 && fitScale() > 1) fit();
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
