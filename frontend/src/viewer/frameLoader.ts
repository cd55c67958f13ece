// The wadors: image loader, taking each frame from the entry module's prefetch
// (framePrefetch.ts) instead of asking the server again: a frame the fetch worker decoded
// becomes an image here (decodedImage.ts); other bytes go to the DICOM image loader's decoder
// (its web worker) as its own WADO-RS loader would. A frame the prefetch did not get (not
// asked, failed, or a body it cannot read) goes to that loader, unchanged.

import { Enums, imageLoader, type Types } from "@cornerstonejs/core";
import { createImage, wadors } from "@cornerstonejs/dicom-image-loader";

import { imageFromDecoded, type LoadOptions } from "./decodedImage";
import { framePart, transferSyntaxOf } from "./framePart";
import { frameUrl, type FramePrefetch } from "./framePrefetch";

type LoaderOptions = Parameters<typeof createImage>[3];

/** Serve wadors: imageIds from `frames` first. Call after the DICOM image loader's init (which registers its own). */
export function loadFramesFrom(frames: FramePrefetch): void {
  imageLoader.registerImageLoader("wadors", (imageId: string, options: Record<string, unknown> = {}) => {
    const body = frames.take(frameUrl(imageId));
    if (!body) return wadors.loadImage(imageId, options);
    const fromNetwork = (): Promise<Types.IImage> => wadors.loadImage(imageId, options).promise;
    const promise = body.then((fetched) => {
      if (fetched?.decoded) return imageFromDecoded(imageId, fetched.decoded, transferSyntaxOf(fetched.contentType), options as LoadOptions) ?? fromNetwork();
      const part = fetched && framePart(fetched.contentType, fetched.bytes);
      if (!part) return fromNetwork();
      const start = performance.now();
      return createImage(imageId, part.pixelData, part.transferSyntax, options as LoaderOptions).then((created) => {
        // What the WADO-RS loader sets on the images it makes.
        const image = created as unknown as Types.IImage & { transferSyntaxUID?: string; loadTimeInMS?: number };
        image.imageQualityStatus = Enums.ImageQualityStatus.FULL_RESOLUTION;
        image.transferSyntaxUID = part.transferSyntax;
        image.loadTimeInMS = performance.now() - start;
        return image;
      });
    });
    return { promise };
  });
}
