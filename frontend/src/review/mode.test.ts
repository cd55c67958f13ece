import { describe, expect, test } from "vitest";

import type { Permissions, Revision } from "../api/types";
import { accessFor, modelRevision, parseRevisionId, revisionBanner, stateLabel } from "./mode";

const none: Permissions = { can_edit: false, can_submit: false };

const revision = (id: number, kind: "user" | "model", author = kind === "model" ? "classical-v0" : "ann"): Revision => ({
  id,
  parent_id: null,
  author,
  author_kind: kind,
  created_at: "",
  findings: [],
});

describe("accessFor", () => {
  test("the holding reviewer edits and decides", () => {
    const access = accessFor({ mode: "review", permissions: { ...none, can_edit: true, can_decide: true, can_release: true } }, null);
    expect(access).toEqual({ mode: "review", editable: true, canStartReview: false, canDecide: true, canRelease: true, canSubmit: false });
  });

  test("a reviewer opening a submitted task only looks, and may start the review", () => {
    const access = accessFor({ mode: "read", permissions: { ...none, can_start_review: true } }, null);
    expect(access.editable).toBe(false);
    expect(access.canStartReview).toBe(true);
  });

  test("an opened past revision is read-only whatever the permissions", () => {
    const access = accessFor({ mode: "annotate", permissions: { can_edit: true, can_submit: true, can_decide: true } }, 12);
    expect(access).toMatchObject({ mode: "read", editable: false, canDecide: false, canSubmit: false });
  });

  test("without a mode from the server, edit rights mean annotating", () => {
    expect(accessFor({ permissions: { ...none, can_edit: true } }, null).mode).toBe("annotate");
  });
});

describe("modelRevision", () => {
  test("is the oldest model revision", () => {
    expect(modelRevision([revision(9, "user"), revision(7, "model"), revision(3, "model")])?.id).toBe(3);
  });

  test("is null when people wrote every revision", () => {
    expect(modelRevision([revision(2, "user")])).toBeNull();
  });
});

describe("parseRevisionId", () => {
  test("absent or blank is no revision", () => {
    expect(parseRevisionId(undefined)).toBeNull();
    expect(parseRevisionId("")).toBeNull();
  });

  test("digits are the id", () => {
    expect(parseRevisionId("42")).toBe(42);
  });

  test("anything else is a message to show", () => {
    expect(parseRevisionId("abc")).toEqual({ problem: '"abc" is not a revision number: open the task from its history.' });
    expect(parseRevisionId("0")).toHaveProperty("problem");
    expect(parseRevisionId("-3")).toHaveProperty("problem");
  });
});

describe("labels", () => {
  test("states read as words", () => {
    expect(stateLabel("in_review")).toBe("in review");
  });

  test("the banner names the revision and its author", () => {
    expect(revisionBanner(revision(4, "user", "alice"))).toBe("Viewing revision #4 by alice — read-only");
    expect(revisionBanner(revision(1, "model"))).toBe("Viewing revision #1 by model classical-v0 — read-only");
  });
});
