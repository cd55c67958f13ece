// Review comments, both ways: what a reviewer's drafts become in an accept or rework request,
// and which of the last review's comments an annotator in rework sees, and where.

import type { DecisionRequest, FindingComment, Review, Task } from "../api/types";

/**
 * The body of a decision: the general comment and one comment per finding that has text,
 * trimmed, in the panel's order. Drafts of findings no longer drawn are left out (the server
 * refuses comments on findings the reviewed revision does not have).
 */
export function decisionRequest(general: string, drafts: ReadonlyMap<string, string>, findingIds: readonly string[]): DecisionRequest {
  const finding_comments: FindingComment[] = [];
  for (const id of new Set(findingIds)) {
    const text = drafts.get(id)?.trim() ?? "";
    if (text) finding_comments.push({ finding_id: id, text });
  }
  return { comment: general.trim(), finding_comments };
}

/** Drafts written for findings that are no longer drawn (the reviewer erased them since). */
export function orphanDrafts(drafts: ReadonlyMap<string, string>, findingIds: readonly string[]): number {
  const present = new Set(findingIds);
  let count = 0;
  for (const [id, text] of drafts) if (!present.has(id) && text.trim()) count++;
  return count;
}

export interface ReworkNotes {
  readonly reviewer: string;
  readonly comment: string;
  readonly createdAt: string;
  /** Finding id → the reviewer's comments on it, for the findings still drawn. */
  readonly byFinding: ReadonlyMap<string, readonly string[]>;
  /** Comments on findings that are no longer drawn: shown with the general comment. */
  readonly orphaned: readonly string[];
}

/** States in which the annotator is working through a rework. */
const REWORKING = new Set(["rework", "in_progress"]);

/**
 * The reviewer's comments an annotator works through: those of the newest review, when it sent
 * the task back and the annotator has not handed it in again. Null otherwise.
 */
export function reworkNotes(task: Pick<Task, "state" | "reviews">, findingIds: readonly string[]): ReworkNotes | null {
  const latest: Review | undefined = task.reviews?.[0];
  if (!latest || latest.decision !== "rework" || !REWORKING.has(task.state)) return null;
  const present = new Set(findingIds);
  const byFinding = new Map<string, string[]>();
  const orphaned: string[] = [];
  for (const { finding_id, text } of latest.finding_comments) {
    if (!present.has(finding_id)) {
      orphaned.push(text);
      continue;
    }
    const list = byFinding.get(finding_id) ?? [];
    list.push(text);
    byFinding.set(finding_id, list);
  }
  return { reviewer: latest.reviewer, comment: latest.comment, createdAt: latest.created_at, byFinding, orphaned };
}
