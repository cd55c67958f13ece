import { describe, expect, test } from "vitest";

import type { Review } from "../api/types";
import { decisionRequest, orphanDrafts, reworkNotes } from "./comments";

const review = (over: Partial<Review> = {}): Review => ({
  id: 1,
  revision_id: 5,
  reviewer: "rita",
  decision: "rework",
  comment: "The nodule at the apex is missed.",
  finding_comments: [],
  model_version_id: null,
  model_dice: null,
  created_at: "2024-05-01T10:00:00Z",
  ...over,
});

describe("decisionRequest", () => {
  test("keeps trimmed comments of drawn findings, in the panel's order", () => {
    const drafts = new Map([
      ["b", "  too small  "],
      ["a", "margin is off"],
    ]);
    expect(decisionRequest("  general ", drafts, ["a", "b"])).toEqual({
      comment: "general",
      finding_comments: [
        { finding_id: "a", text: "margin is off" },
        { finding_id: "b", text: "too small" },
      ],
    });
  });

  test("blank drafts and drafts of erased findings are left out", () => {
    const drafts = new Map([
      ["a", "   "],
      ["gone", "was here"],
    ]);
    expect(decisionRequest("", drafts, ["a", "a"])).toEqual({ comment: "", finding_comments: [] });
    expect(orphanDrafts(drafts, ["a"])).toBe(1);
  });
});

describe("reworkNotes", () => {
  test("an annotator in rework sees the newest review's comments, finding by finding", () => {
    const notes = reworkNotes(
      {
        state: "rework",
        reviews: [
          review({
            finding_comments: [
              { finding_id: "f1", text: "extend to the pleura" },
              { finding_id: "f1", text: "and check slice 40" },
              { finding_id: "f9", text: "this one was a vessel" },
            ],
          }),
          review({ id: 0, decision: "accepted", comment: "older" }),
        ],
      },
      ["f1", "f2"],
    );
    expect(notes?.reviewer).toBe("rita");
    expect(notes?.comment).toBe("The nodule at the apex is missed.");
    expect(notes?.byFinding.get("f1")).toEqual(["extend to the pleura", "and check slice 40"]);
    expect(notes?.byFinding.has("f2")).toBe(false);
    expect(notes?.orphaned).toEqual(["this one was a vessel"]);
  });

  test("they stay while the annotator works (in progress after a save)", () => {
    expect(reworkNotes({ state: "in_progress", reviews: [review()] }, [])).not.toBeNull();
  });

  test("nothing once the task is handed in again, or when the newest review accepted it", () => {
    expect(reworkNotes({ state: "submitted", reviews: [review()] }, [])).toBeNull();
    expect(reworkNotes({ state: "rework", reviews: [review({ decision: "accepted" })] }, [])).toBeNull();
    expect(reworkNotes({ state: "rework", reviews: [] }, [])).toBeNull();
    expect(reworkNotes({ state: "rework" }, [])).toBeNull();
  });
});
