// Pure data shaping for the lead's dashboard: the JSON the Django page embeds
// (annotations/dashboard_views.py chart_data) in, Chart.js configurations out.
import type { ChartConfiguration } from "chart.js";

export interface DashboardData {
  progress: { labels: string[]; counts: number[] };
  burndown: { days: string[]; created: number[]; accepted: number[]; open: number[] };
  annotators: { names: string[]; submitted: number[]; accepted: number[] };
  models: { labels: string[]; mean_dice: (number | null)[]; median_dice: (number | null)[] };
}

// One colour per progress state, in the order the server sends them (no task, new, in
// progress, rework, submitted, in review, accepted): grey to green, rework in red.
export const PROGRESS_COLOURS = ["#9ca3af", "#cbd5e1", "#93c5fd", "#f87171", "#fbbf24", "#a78bfa", "#34d399"];
const CREATED = "#2563eb";
const ACCEPTED = "#16a34a";
const OPEN = "#ea580c";

export class DashboardDataError extends Error {}

function record(value: unknown, where: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new DashboardDataError(`${where} is not an object`);
  }
  return value as Record<string, unknown>;
}

function column<T>(section: Record<string, unknown>, key: string, where: string, isItem: (item: unknown) => item is T): T[] {
  const value = section[key];
  if (!Array.isArray(value) || !value.every(isItem)) {
    throw new DashboardDataError(`${where}.${key} is not a list of the expected values`);
  }
  return value;
}

const isNumber = (item: unknown): item is number => typeof item === "number" && Number.isFinite(item);
const isString = (item: unknown): item is string => typeof item === "string";
const isNumberOrNull = (item: unknown): item is number | null => item === null || isNumber(item);

function sameLength(where: string, ...columns: unknown[][]): void {
  const lengths = new Set(columns.map((c) => c.length));
  if (lengths.size > 1) {
    throw new DashboardDataError(`${where}: columns differ in length (${[...lengths].join(", ")})`);
  }
}

/** Check the embedded JSON has the shape the charts need; columns of a chart are equally long. */
export function parseDashboardData(value: unknown): DashboardData {
  const root = record(value, "dashboard data");
  const progress = record(root["progress"], "progress");
  const burndown = record(root["burndown"], "burndown");
  const annotators = record(root["annotators"], "annotators");
  const models = record(root["models"], "models");
  const data: DashboardData = {
    progress: {
      labels: column(progress, "labels", "progress", isString),
      counts: column(progress, "counts", "progress", isNumber),
    },
    burndown: {
      days: column(burndown, "days", "burndown", isString),
      created: column(burndown, "created", "burndown", isNumber),
      accepted: column(burndown, "accepted", "burndown", isNumber),
      open: column(burndown, "open", "burndown", isNumber),
    },
    annotators: {
      names: column(annotators, "names", "annotators", isString),
      submitted: column(annotators, "submitted", "annotators", isNumber),
      accepted: column(annotators, "accepted", "annotators", isNumber),
    },
    models: {
      labels: column(models, "labels", "models", isString),
      mean_dice: column(models, "mean_dice", "models", isNumberOrNull),
      median_dice: column(models, "median_dice", "models", isNumberOrNull),
    },
  };
  sameLength("progress", data.progress.labels, data.progress.counts);
  sameLength("burndown", data.burndown.days, data.burndown.created, data.burndown.accepted, data.burndown.open);
  sameLength("annotators", data.annotators.names, data.annotators.submitted, data.annotators.accepted);
  sameLength("models", data.models.labels, data.models.mean_dice, data.models.median_dice);
  return data;
}

const countAxis = { beginAtZero: true, ticks: { precision: 0 } };

export function progressChart(progress: DashboardData["progress"]): ChartConfiguration<"bar", number[], string> {
  return {
    type: "bar",
    data: {
      labels: progress.labels,
      datasets: [
        {
          label: "Series",
          data: progress.counts,
          backgroundColor: progress.labels.map((_, i) => PROGRESS_COLOURS[i % PROGRESS_COLOURS.length] ?? CREATED),
        },
      ],
    },
    options: { plugins: { legend: { display: false } }, scales: { y: countAxis } },
  };
}

export function burndownChart(burndown: DashboardData["burndown"]): ChartConfiguration<"line", number[], string> {
  const line = (label: string, data: number[], colour: string, fill: boolean) => ({
    label,
    data,
    borderColor: colour,
    backgroundColor: `${colour}33`,
    fill,
    pointRadius: 0,
    borderWidth: 2,
    tension: 0,
  });
  return {
    type: "line",
    data: {
      labels: burndown.days,
      datasets: [
        line("Created", burndown.created, CREATED, false),
        line("Accepted", burndown.accepted, ACCEPTED, false),
        // The area under "open" is the work still to do: what a burn-down is read for.
        line("Open", burndown.open, OPEN, true),
      ],
    },
    options: {
      interaction: { mode: "index", intersect: false },
      scales: { x: { ticks: { maxTicksLimit: 12 } }, y: countAxis },
    },
  };
}

export function annotatorChart(annotators: DashboardData["annotators"]): ChartConfiguration<"bar", number[], string> {
  return {
    type: "bar",
    data: {
      labels: annotators.names,
      datasets: [
        { label: "Submitted", data: annotators.submitted, backgroundColor: CREATED },
        { label: "Accepted", data: annotators.accepted, backgroundColor: ACCEPTED },
      ],
    },
    options: { scales: { y: countAxis } },
  };
}

export function modelChart(models: DashboardData["models"]): ChartConfiguration<"bar", (number | null)[], string> {
  return {
    type: "bar",
    data: {
      labels: models.labels,
      datasets: [
        // null (no Dice measured) leaves a gap rather than drawing a misleading zero.
        { label: "Mean Dice", data: models.mean_dice, backgroundColor: CREATED },
        { label: "Median Dice", data: models.median_dice, backgroundColor: ACCEPTED },
      ],
    },
    options: { scales: { y: { min: 0, max: 1 } } },
  };
}
