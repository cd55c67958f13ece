// What the viewer lets this user do with this task: annotate, review, or only look. The server's
// `mode` and `permissions` decide; an opened past revision is always read-only.

import type { Revision, Task, TaskMode } from "../api/types";

export interface Access {
  readonly mode: TaskMode;
  /** Labels and findings may be edited and saved. */
  readonly editable: boolean;
  readonly canStartReview: boolean;
  readonly canDecide: boolean;
  readonly canRelease: boolean;
  readonly canSubmit: boolean;
}

const READ_ONLY: Access = { mode: "read", editable: false, canStartReview: false, canDecide: false, canRelease: false, canSubmit: false };

export function accessFor(task: Pick<Task, "mode" | "permissions">, openedRevisionId: number | null): Access {
  if (openedRevisionId !== null) return READ_ONLY;
  const p = task.permissions;
  const mode: TaskMode = task.mode ?? (p.can_edit ? "annotate" : "read");
  return {
    mode,
    editable: p.can_edit,
    canStartReview: p.can_start_review === true,
    canDecide: p.can_decide === true,
    canRelease: p.can_release === true,
    canSubmit: p.can_submit,
  };
}

/** The model's pre-annotation: the oldest model-authored revision (revisions come newest first). */
export function modelRevision(revisions: readonly Revision[]): Revision | null {
  let oldest: Revision | null = null;
  for (const revision of revisions) {
    if (revision.author_kind === "model" && (oldest === null || revision.id < oldest.id)) oldest = revision;
  }
  return oldest;
}

/** The page's `?revision=` value: null when absent, the id, or an error message to show. */
export function parseRevisionId(value: string | undefined): number | null | { readonly problem: string } {
  const text = (value ?? "").trim();
  if (text === "") return null;
  if (!/^\d{1,12}$/.test(text) || Number(text) === 0) return { problem: `"${text}" is not a revision number: open the task from its history.` };
  return Number(text);
}

/** "in_review" → "in review". */
export function stateLabel(state: string): string {
  return state.replaceAll("_", " ");
}

/** "Viewing revision #12 by alice — read-only" (a model's revision says so). */
export function revisionBanner(revision: Pick<Revision, "id" | "author" | "author_kind">): string {
  const who = revision.author_kind === "model" ? `model ${revision.author}` : revision.author || "unknown";
  return `Viewing revision #${revision.id} by ${who} — read-only`;
}
