import { describe, expect, test } from "vitest";

import { annotatorChart, burndownChart, DashboardDataError, modelChart, parseDashboardData, progressChart, PROGRESS_COLOURS } from "./charts";

const sample = () => ({
  progress: { labels: ["No task", "New", "Accepted"], counts: [1, 2, 3] },
  burndown: { days: ["2025-01-01", "2025-01-02"], created: [2, 4], accepted: [0, 1], open: [2, 3] },
  annotators: { names: ["Ada", "Ben"], submitted: [3, 1], accepted: [2, 0] },
  models: { labels: ["unet 1", "unet 2"], mean_dice: [0.7, null], median_dice: [0.6, null] },
});

describe("parseDashboardData", () => {
  test("accepts what the page embeds", () => {
    expect(parseDashboardData(sample())).toEqual(sample());
  });

  test("refuses a chart whose columns differ in length", () => {
    const data = sample();
    data.burndown.open = [2];
    expect(() => parseDashboardData(data)).toThrow(new DashboardDataError("burndown: columns differ in length (2, 1)"));
  });

  test("refuses a missing section and names it", () => {
    const { models: _models, ...rest } = sample();
    expect(() => parseDashboardData(rest)).toThrow("models is not an object");
  });

  test("refuses text where counts belong", () => {
    const data = { ...sample(), progress: { labels: ["New"], counts: ["2"] } };
    expect(() => parseDashboardData(data)).toThrow("progress.counts is not a list of the expected values");
  });
});

describe("chart configurations", () => {
  test("progress bars take one colour per state, in the server's order", () => {
    const config = progressChart(sample().progress);
    expect(config.data.datasets[0]?.backgroundColor).toEqual(PROGRESS_COLOURS.slice(0, 3));
    expect(config.data.datasets[0]?.data).toEqual([1, 2, 3]);
  });

  test("the burn-down draws created, accepted and a filled open line over the days", () => {
    const config = burndownChart(sample().burndown);
    expect(config.data.labels).toEqual(["2025-01-01", "2025-01-02"]);
    expect(config.data.datasets.map((d) => [d.label, d.data, d.fill])).toEqual([
      ["Created", [2, 4], false],
      ["Accepted", [0, 1], false],
      ["Open", [2, 3], true],
    ]);
  });

  test("throughput shows submitted and accepted per annotator", () => {
    const config = annotatorChart(sample().annotators);
    expect(config.data.labels).toEqual(["Ada", "Ben"]);
    expect(config.data.datasets.map((d) => d.data)).toEqual([[3, 1], [2, 0]]);
  });

  test("model Dice keeps gaps for versions without a measure, on a 0 to 1 axis", () => {
    const config = modelChart(sample().models);
    expect(config.data.datasets[0]?.data).toEqual([0.7, null]);
    expect(config.options?.scales?.["y"]).toEqual({ min: 0, max: 1 });
  });
});
