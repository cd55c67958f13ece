// A Cornerstone image made from a frame the fetch worker decoded already (nativePixels.ts):
// the same object the DICOM image loader's createImage makes of a grayscale frame, without the
// round trip through its decode worker. Null when the loader asks for something this frame is
// not (unscaled values, another size): the caller then loads it the loader's own way.

import { Enums, metaData, utilities, type Types } from "@cornerstonejs/core";
import { getImageFrame } from "@cornerstonejs/dicom-image-loader";

import type { DecodedFrame, PixelType } from "./nativePixels";

/** The options Cornerstone's volume and stack loaders pass an image loader (what is read here). */
export interface LoadOptions {
  readonly targetBuffer?: { readonly type?: string; readonly arrayBuffer?: ArrayBufferLike; readonly offset?: number; readonly length?: number; readonly rows?: number; readonly columns?: number };
  readonly preScale?: { readonly enabled?: boolean; readonly scalingParameters?: Record<string, unknown> };
}

type Pixels = Int16Array | Uint16Array | Uint8Array | Float32Array;
interface PixelsConstructor {
  new (length: number): Pixels;
  new (buffer: ArrayBufferLike, offset: number, length: number): Pixels;
}
const TYPED: Record<string, PixelsConstructor> = { Int16Array, Uint16Array, Uint8Array, Float32Array };

interface PlaneModule {
  readonly columnPixelSpacing?: number;
  readonly rowPixelSpacing?: number;
}
interface VoiModule {
  readonly windowCenter?: number[];
  readonly windowWidth?: number[];
  readonly voiLUTFunction?: string;
}
interface SeriesModule {
  readonly modality?: string;
}

export function imageFromDecoded(imageId: string, frame: DecodedFrame, transferSyntax: string, options: LoadOptions): Types.IImage | null {
  if (options.preScale?.enabled === false && frame.scaled) return null;
  const imageFrame = getImageFrame(imageId) as ReturnType<typeof getImageFrame> & Record<string, unknown>;
  const { rows, columns } = imageFrame;
  const target = options.targetBuffer;
  if (frame.pixels.length !== rows * columns) return null;
  if ((target?.rows && target.rows !== rows) || (target?.columns && target.columns !== columns)) return null;
  const pixels = inTargetType(frame.pixels, frame.type, target);
  if (pixels === null) return null;
  const plane = (metaData.get("imagePlaneModule", imageId) ?? {}) as PlaneModule;
  const voi = (metaData.get("voiLutModule", imageId) ?? {}) as VoiModule;
  const series = (metaData.get("generalSeriesModule", imageId) ?? {}) as SeriesModule;
  const calibration = metaData.get("calibrationModule", imageId) ?? {};
  const preScale = frame.scaled
    ? { enabled: true, scaled: true, scalingParameters: { rescaleSlope: frame.slope ?? 1, rescaleIntercept: frame.intercept ?? 0, modality: series.modality } }
    : { enabled: options.preScale?.enabled ?? true };
  Object.assign(imageFrame, {
    pixelData: pixels,
    pixelDataLength: pixels.length,
    smallestPixelValue: frame.min,
    largestPixelValue: frame.max,
    preScale,
    decodeTimeInMS: 0,
  });
  let windowCenter = voi.windowCenter?.[0];
  let windowWidth = voi.windowWidth?.[0];
  if (windowCenter === undefined || windowWidth === undefined) {
    ({ windowCenter, windowWidth } = utilities.windowLevel.toWindowLevel(frame.min, frame.max));
  }
  const image = {
    imageId,
    dataType: pixels.constructor.name,
    color: false,
    calibration,
    columnPixelSpacing: plane.columnPixelSpacing,
    rowPixelSpacing: plane.rowPixelSpacing,
    columns,
    rows,
    width: columns,
    height: rows,
    preScale,
    intercept: frame.intercept ?? 0,
    slope: frame.slope ?? 1,
    invert: imageFrame.photometricInterpretation === "MONOCHROME1",
    minPixelValue: frame.min,
    maxPixelValue: frame.max,
    sizeInBytes: pixels.byteLength,
    windowCenter,
    windowWidth,
    voiLUTFunction: voi.voiLUTFunction,
    // Decoded in the fetch worker, as the bytes came in.
    decodeTimeInMS: 0,
    floatPixelData: undefined,
    imageFrame,
    voxelManager: utilities.VoxelManager.createImageVoxelManager({ scalarData: pixels, width: columns, height: rows, numberOfComponents: 1 }),
    rgba: false,
    getPixelData: () => pixels,
    getCanvas: undefined,
    numberOfComponents: 1,
    // What the WADO-RS loader sets on the images it makes.
    imageQualityStatus: Enums.ImageQualityStatus.FULL_RESOLUTION,
    transferSyntaxUID: transferSyntax,
  };
  return image as unknown as Types.IImage;
}

/** The pixels in the array type (and buffer) the loader asked for; null for a type not known here. */
function inTargetType(pixels: Int16Array | Uint16Array | Uint8Array, type: PixelType, target: LoadOptions["targetBuffer"]): Pixels | null {
  const wanted = target?.type ?? type;
  if (wanted === type && !target?.arrayBuffer) return pixels;
  const Typed = TYPED[wanted];
  if (!Typed) return null;
  const out = target?.arrayBuffer ? new Typed(target.arrayBuffer, target.offset ?? 0, pixels.length) : new Typed(pixels.length);
  out.set(pixels);
  return out;
}
