// Modelyard UI: a little plain JavaScript; every page works without it.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (!all) return;
  const table = all.closest("table");
  table.querySelectorAll("tbody input[type=checkbox]").forEach((box) => { box.checked = all.checked; });
});

// Runs table: pipeline step runs fold under their parent (collapsed until asked).
document.addEventListener("click", (event) => {
  const toggle = event.target.closest("[data-toggle-steps]");
  if (!toggle) return;
  const open = toggle.getAttribute("aria-expanded") !== "true";
  toggle.setAttribute("aria-expanded", String(open));
  toggle.textContent = (open ? "▾ " : "▸ ") + toggle.textContent.slice(2);
  document.querySelectorAll(`tr[data-parent="${toggle.dataset.toggleSteps}"]`).forEach((row) => { row.hidden = !open; });
});

// Column chooser: hidden columns are remembered per table in this browser.
function applyColumns(table) {
  const key = "modelyard.columns." + table.dataset.columnsKey;
  const hidden = new Set(JSON.parse(localStorage.getItem(key) || "[]"));
  table.querySelectorAll("[data-col]").forEach((cell) => { cell.hidden = hidden.has(cell.dataset.col); });
  document.querySelectorAll("[data-column-toggle]").forEach((box) => { box.checked = !hidden.has(box.dataset.columnToggle); });
}
document.addEventListener("change", (event) => {
  const box = event.target.closest("[data-column-toggle]");
  if (!box) return;
  const table = document.querySelector("table[data-columns-key]");
  const key = "modelyard.columns." + table.dataset.columnsKey;
  const hidden = new Set(JSON.parse(localStorage.getItem(key) || "[]"));
  if (box.checked) hidden.delete(box.dataset.columnToggle); else hidden.add(box.dataset.columnToggle);
  localStorage.setItem(key, JSON.stringify([...hidden]));
  applyColumns(table);
});
document.querySelectorAll("table[data-columns-key]").forEach(applyColumns);

// Compare: a scatter of any two numeric params or metrics, one point per run.
function drawScatter() {
  const data = JSON.parse(document.getElementById("scatter-data").textContent);
  const pick = (axis) => document.querySelector(`[data-scatter-axis="${axis}"]`).value;
  const x = pick("x"), y = pick("y");
  window.Plotly.react("scatter-plot", [{
    x: data.columns[x], y: data.columns[y], text: data.labels, type: "scatter", mode: "markers+text",
    textposition: "top center", marker: { size: 11, color: "#2e86ab" }, hovertemplate: "%{text}<br>%{x}, %{y}<extra></extra>",
  }], {
    template: "plotly_white", height: 380, margin: { l: 60, r: 20, t: 40, b: 50 },
    title: { text: `${y} against ${x}` }, xaxis: { title: { text: x } }, yaxis: { title: { text: y } },
  }, { displaylogo: false, responsive: true });
}
if (document.getElementById("scatter-data") && window.Plotly) {
  drawScatter();
  document.querySelectorAll("[data-scatter-axis]").forEach((s) => s.addEventListener("change", drawScatter));
}
