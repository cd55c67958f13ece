import { describe, expect, test } from "vitest";

import { stateDisplay } from "./history";

describe("stateDisplay", () => {
  test("writes a task state as the server's pages do", () => {
    expect(["new", "in_progress", "in_review", "rework"].map(stateDisplay)).toEqual(["New", "In progress", "In review", "Rework"]);
  });
});
