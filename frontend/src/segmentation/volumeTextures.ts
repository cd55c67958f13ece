// Keeping the labelmaps' volume textures in step with edits made in the axial stack.
//
// A labelmap volume's voxels live in one image per slice; the axial stack edits those images,
// the MPR views draw a texture of the whole volume, which Cornerstone keeps on the GPU from one
// layout to the next and updates only for the slices it is told of, while a volume viewport
// shows it. Two things escape it: what was drawn in the stack while no volume viewport was up,
// and an undo or redo, in the MPR views, of a stroke drawn in the stack (its memo restores one
// image and reports "slice 0 changed", that image's only slice).

import { cache, eventTarget, ImageVolume } from "@cornerstonejs/core";
import { Enums as ToolEnums, segmentation } from "@cornerstonejs/tools";

function labelmapVolumes(): ImageVolume[] {
  return segmentation.state.getSegmentations().flatMap(({ representationData }) => {
    const volumeId = representationData.Labelmap?.volumeId;
    const volume = volumeId ? cache.getVolume(volumeId) : undefined;
    return volume instanceof ImageVolume ? [volume] : [];
  });
}

/** Have volume viewports upload every labelmap's voxels again (call once they are shown). */
export function refreshVolumeTextures(): void {
  for (const volume of labelmapVolumes()) volume.invalidate();
}

interface HistoryDetail {
  readonly operationType?: string;
  readonly memo?: { readonly segmentationVoxelManager?: unknown };
}

/**
 * Upload the slice an undone or redone stack stroke changed (the image whose voxels its memo
 * holds) with the next draw of the volume viewports. Returns a function that stops listening.
 */
export function followStackUndo(): () => void {
  const restored = (event: Event): void => {
    const { operationType, memo } = (event as CustomEvent<HistoryDetail>).detail;
    const voxels = memo?.segmentationVoxelManager;
    if (operationType !== "labelmap" || !voxels) return;
    for (const volume of labelmapVolumes()) {
      const slice = volume.imageIds.findIndex((imageId) => cache.getImage(imageId)?.voxelManager === voxels);
      if (slice === -1) continue;
      volume.vtkOpenGLTexture.setUpdatedFrame(slice);
      volume.imageData?.modified();
    }
  };
  const events = [ToolEnums.Events.HISTORY_UNDO, ToolEnums.Events.HISTORY_REDO];
  for (const name of events) eventTarget.addEventListener(name, restored);
  return () => {
    for (const name of events) eventTarget.removeEventListener(name, restored);
  };
}
