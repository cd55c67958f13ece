// The difference between two labelmaps on one grid, as a labelmap of its own: which voxels the
// reviewed labels add to the model's pre-annotation, and which of the model's they drop. Any
// segment counts as labelled; a voxel labelled in both (whatever the segments) is agreement.

/** Segment index of a voxel in the reviewed labels only. */
export const DIFF_ADDED = 1;
/** Segment index of a voxel in the model's labels only. */
export const DIFF_REMOVED = 2;

export interface LabelDiff {
  /** Wire order, same length as the inputs: 0, DIFF_ADDED or DIFF_REMOVED. */
  readonly voxels: Uint8Array;
  /** Voxels labelled in the reviewed labels and not in the model's. */
  readonly added: number;
  /** Voxels labelled in the model's labels and not in the reviewed ones. */
  readonly removed: number;
  /** Voxels labelled in both. */
  readonly common: number;
}

export class DiffMismatch extends Error {
  override readonly name = "DiffMismatch";
}

export function labelDiff(reviewed: Uint8Array, model: Uint8Array): LabelDiff {
  if (reviewed.length !== model.length) {
    throw new DiffMismatch(`the labelmaps differ in size (${reviewed.length} and ${model.length} voxels)`);
  }
  const voxels = new Uint8Array(reviewed.length);
  let added = 0;
  let removed = 0;
  let common = 0;
  for (let i = 0; i < reviewed.length; i++) {
    const mine = reviewed[i] !== 0;
    const theirs = model[i] !== 0;
    if (mine && theirs) common++;
    else if (mine) {
      voxels[i] = DIFF_ADDED;
      added++;
    } else if (theirs) {
      voxels[i] = DIFF_REMOVED;
      removed++;
    }
  }
  return { voxels, added, removed, common };
}

/** Dice of the two label sets (1 when both are empty): how much of the model's work was kept. */
export function diceOf(diff: Pick<LabelDiff, "added" | "removed" | "common">): number {
  const total = 2 * diff.common + diff.added + diff.removed;
  return total === 0 ? 1 : (2 * diff.common) / total;
}

/** "+1 234 / −56 voxels (Dice 0.93)": the counts beside the diff toggle. */
export function diffSummary(diff: Pick<LabelDiff, "added" | "removed" | "common">): string {
  return `+${diff.added} / −${diff.removed} voxels (Dice ${diceOf(diff).toFixed(2)})`;
}

/** Every labelled voxel as 1: the model's overlay is drawn in one colour whatever its segments. */
export function binarize(voxels: Uint8Array): Uint8Array {
  const out = new Uint8Array(voxels.length);
  for (let i = 0; i < voxels.length; i++) if (voxels[i] !== 0) out[i] = 1;
  return out;
}
