// The single axial view as a stack of the series' own images (see ViewportSpec in app.ts): which
// series can be shown that way, and in which order, so that the view looks and scrolls as the
// volume viewport's axial view it stands in for.

import { orientationVectors, type Vec3 } from "../segmentation/voxelOrder";

/** How far (cosine) the images' normal may be from the patient's z axis: about 1°. */
const AXIAL_COSINE = Math.cos((1 * Math.PI) / 180);

/**
 * The indices of `positions` (ImagePositionPatient of each image) from head to feet, the way a
 * volume viewport's axial view steps: one slice forward (↓, the wheel towards you) goes towards
 * the feet, one back (↑) towards the head. Null when the images are not axial slices (a
 * sagittal, coronal or tilted acquisition): a stack would show them in their own plane, so those
 * keep the volume viewport, which reslices them axially. Ties keep the given order.
 */
export function axialStackOrder(positions: readonly Vec3[], orientation: readonly number[]): number[] | null {
  const { normal } = orientationVectors(orientation);
  const length = Math.hypot(...normal);
  if (length === 0 || Math.abs(normal[2]) / length < AXIAL_COSINE) return null;
  return Array.from(positions.keys()).sort((a, b) => (positions[b]?.[2] ?? 0) - (positions[a]?.[2] ?? 0) || a - b);
}
