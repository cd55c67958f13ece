// Labelmap overlays of a stack viewport, drawn in vtk.js's opaque pass.
//
// Cornerstone marks each labelmap slice it lays over a stack's image as translucent, and vtk.js
// draws any translucent actor through its order-independent translucency pass: two half-float
// render targets the size of the canvas, filled and then composited, on every frame. Under
// software WebGL (SwiftShader: headless Chromium, and a reading room PC without a usable GPU)
// that pass costs more than the image itself: scrolling LIDC-IDRI-0003 with its labels, about
// 10 draws per second instead of 20 to 25. Our overlays are flat slices lying on the one image,
// drawn in the order they were added with the same alpha blending either way (screenshots of
// both passes match to a grey level), so the opaque pass gives the same picture for less.

import { Enums, type Types } from "@cornerstonejs/core";

/** The part of vtk.js's image actor (vtkImageSlice) used here. */
interface ImageActor {
  getClassName(): string;
  getForceOpaque(): boolean;
  setForceOpaque(forceOpaque: boolean): boolean;
  onModified(callback: () => void): unknown;
}

function isImageActor(actor: unknown): actor is ImageActor {
  const candidate = actor as Partial<ImageActor> | null;
  return typeof candidate?.getClassName === "function" && candidate.getClassName() === "vtkImageSlice";
}

/**
 * Draw every actor added to `viewport` besides its own image (the labelmap slices Cornerstone
 * adds, and re-adds as the stack scrolls) in the opaque pass. Cornerstone clears forceOpaque
 * whenever it restyles an overlay, so each is set again at once, before any draw, from the
 * actor's own modified callback (vtk.js objects are frozen: methods cannot be replaced).
 * Returns a function that stops watching the viewport.
 */
export function drawOverlaysInOpaquePass(viewport: Types.IStackViewport): () => void {
  const pinned = new WeakSet<ImageActor>();
  const pin = (entry: Types.ActorEntry): void => {
    const actor = entry.actor;
    if (entry.uid === viewport.id || !isImageActor(actor) || pinned.has(actor)) return;
    pinned.add(actor);
    const opaque = (): void => {
      if (!actor.getForceOpaque()) actor.setForceOpaque(true);
    };
    opaque();
    actor.onModified(opaque);
  };
  for (const entry of viewport.getActors()) pin(entry);
  const added = (event: Event): void => {
    for (const entry of (event as CustomEvent<Types.EventTypes.ActorsChangedEventDetail>).detail.addedActors) pin(entry);
  };
  viewport.element.addEventListener(Enums.Events.ACTORS_CHANGED, added);
  return () => viewport.element.removeEventListener(Enums.Events.ACTORS_CHANGED, added);
}
