// Entry for the lead's dashboard page: draws its charts from the JSON the page embeds.
// Chart.js is tree-shaken: only the controllers, elements and plugins drawn here are registered.
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  type ChartType,
  Filler,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from "chart.js";

import { annotatorChart, burndownChart, type DashboardData, modelChart, parseDashboardData, progressChart } from "./dashboard/charts";
import "./dashboard.css";

Chart.register(BarController, BarElement, CategoryScale, Filler, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip);

const builders: Record<string, (data: DashboardData) => ChartConfiguration<ChartType, unknown[], string>> = {
  progress: (data) => progressChart(data.progress),
  burndown: (data) => burndownChart(data.burndown),
  annotators: (data) => annotatorChart(data.annotators),
  models: (data) => modelChart(data.models),
};

function draw(): void {
  const script = document.getElementById("dashboard-data");
  if (script === null) return; // the page shows its "no tasks yet" message instead
  let data: DashboardData;
  try {
    data = parseDashboardData(JSON.parse(script.textContent ?? "null"));
  } catch (error) {
    for (const canvas of document.querySelectorAll<HTMLCanvasElement>("canvas[data-chart]")) {
      const message = document.createElement("p");
      message.className = "dashboard-error";
      message.textContent = `Could not draw this chart: ${error instanceof Error ? error.message : String(error)}`;
      canvas.replaceWith(message);
    }
    return;
  }
  for (const canvas of document.querySelectorAll<HTMLCanvasElement>("canvas[data-chart]")) {
    const build = builders[canvas.dataset["chart"] ?? ""];
    if (build !== undefined) new Chart(canvas, build(data));
  }
}

draw();
