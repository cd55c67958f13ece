// Labelmap overlays of a stack viewport, drawn for less under software WebGL.
//
// Opaque pass. Cornerstone marks each labelmap slice it lays over a stack's image as
// translucent, and vtk.js draws any translucent actor through its order-independent
// translucency pass: two half-float render targets the size of the canvas, filled and then
// composited, on every frame. Under software WebGL (SwiftShader: headless Chromium, and a
// reading room PC without a usable GPU) that pass costs more than the image itself: scrolling
// LIDC-IDRI-0003 with its labels, about 10 draws per second instead of 20 to 25. Our overlays
// are flat slices lying on the one image, drawn in the order they were added with the same alpha
// blending either way (screenshots of both passes match to a grey level), so the opaque pass
// gives the same picture for less.
//
// Empty slices. Most slices of a nodule labelmap hold no label, yet each overlay is still drawn
// over the whole image (with its outline shader sampling the neighbours of every pixel): under
// SwiftShader that doubled a scroll frame (the page kept 26 frames/s with the overlay drawn,
// 60 without it). An overlay whose slice is all background is hidden, and shown again as soon
// as its slice gets a label (a stroke, an undo, a loaded revision): there is nothing to see
// in it, so the picture is the same.

import { Enums, cache, eventTarget, type Types } from "@cornerstonejs/core";
import { Enums as ToolEnums } from "@cornerstonejs/tools";

/** The part of vtk.js's image actor (vtkImageSlice) used here. */
interface ImageActor {
  getClassName(): string;
  getForceOpaque(): boolean;
  setForceOpaque(forceOpaque: boolean): boolean;
  getVisibility(): boolean;
  setVisibility(visible: boolean): boolean;
  onModified(callback: () => void): unknown;
  getMapper(): { getInputData(): { getPointData(): { getScalars(): { getData(): ArrayLike<number> } | null } } | null } | null;
}

function isImageActor(actor: unknown): actor is ImageActor {
  const candidate = actor as Partial<ImageActor> | null;
  return typeof candidate?.getClassName === "function" && candidate.getClassName() === "vtkImageSlice";
}

interface Overlay {
  readonly actor: ImageActor;
  /** The labelmap image the overlay shows (Cornerstone's own voxels); absent for other overlays. */
  readonly imageId: string | undefined;
}

/**
 * Draw every actor added to `viewport` besides its own image (the labelmap slices Cornerstone
 * adds, and re-adds as the stack scrolls) in the opaque pass, and hide those whose slice is
 * empty. Cornerstone clears forceOpaque and sets visibility whenever it restyles an overlay, so
 * both are set again at once, before any draw, from the actor's own modified callback (vtk.js
 * objects are frozen: methods cannot be replaced). Returns a function that stops watching.
 */
export function drawOverlaysInOpaquePass(viewport: Types.IStackViewport): () => void {
  const overlays = new Map<ImageActor, Overlay>();
  const settle = ({ actor, imageId }: Overlay): boolean => {
    if (!actor.getForceOpaque()) actor.setForceOpaque(true);
    const show = !isEmpty(imageId, actor);
    // setVisibility calls the modified callback again only when the value changes.
    return actor.getVisibility() !== show && actor.setVisibility(show);
  };
  const pin = (entry: Types.ActorEntry): void => {
    const actor = entry.actor;
    if (entry.uid === viewport.id || !isImageActor(actor) || overlays.has(actor)) return;
    const overlay = { actor, imageId: entry.referencedId };
    overlays.set(actor, overlay);
    settle(overlay);
    actor.onModified(() => settle(overlay));
  };
  const current = (): Overlay[] => {
    const live = new Set(viewport.getActors().map((entry) => entry.actor));
    for (const actor of overlays.keys()) if (!live.has(actor as never)) overlays.delete(actor);
    return [...overlays.values()];
  };
  for (const entry of viewport.getActors()) pin(entry);
  const added = (event: Event): void => {
    for (const entry of (event as CustomEvent<Types.EventTypes.ActorsChangedEventDetail>).detail.addedActors) pin(entry);
  };
  // A stroke, an undo or a loaded labelmap: the voxels changed before any draw shows them.
  const edited = (): void => {
    if (current().map(settle).some(Boolean)) viewport.render();
  };
  viewport.element.addEventListener(Enums.Events.ACTORS_CHANGED, added);
  eventTarget.addEventListener(ToolEnums.Events.SEGMENTATION_DATA_MODIFIED, edited);
  // After each draw, in case a change came by a way no event tells of: draw again if an overlay
  // was hidden that has labels now.
  viewport.element.addEventListener(Enums.Events.IMAGE_RENDERED, edited);
  return () => {
    viewport.element.removeEventListener(Enums.Events.ACTORS_CHANGED, added);
    viewport.element.removeEventListener(Enums.Events.IMAGE_RENDERED, edited);
    eventTarget.removeEventListener(ToolEnums.Events.SEGMENTATION_DATA_MODIFIED, edited);
  };
}

/** Whether an overlay's slice is all zeros: Cornerstone's own labelmap image, else what the actor draws. */
function isEmpty(imageId: string | undefined, actor: ImageActor): boolean {
  const source = imageId ? cache.getImage(imageId)?.voxelManager?.getScalarData() : undefined;
  const values = source ?? actor.getMapper()?.getInputData()?.getPointData().getScalars()?.getData();
  if (!values) return false;
  if (values instanceof Uint8Array && values.byteOffset % 4 === 0) {
    const words = new Uint32Array(values.buffer, values.byteOffset, values.length >> 2);
    for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
    for (let i = words.length * 4; i < values.length; i++) if (values[i] !== 0) return false;
    return true;
  }
  for (let i = 0; i < values.length; i++) if (values[i] !== 0) return false;
  return true;
}
