import { describe, expect, test } from "vitest";

import type { Vec3 } from "../segmentation/voxelOrder";
import { axialStackOrder } from "./axialStack";

const AXIAL = [1, 0, 0, 0, 1, 0];
const slicesAt = (zs: number[]): Vec3[] => zs.map((z) => [-100, -120, z]);

describe("axialStackOrder", () => {
  test("axial slices go from head to feet, whatever order they are held in", () => {
    expect(axialStackOrder(slicesAt([-297.5, -300, -295]), AXIAL)).toEqual([2, 0, 1]);
  });

  test("a normal pointing head to feet gives head to feet too", () => {
    // (1,0,0) x (0,-1,0) = (0,0,-1): the wire order is head to feet here, feet to head above.
    expect(axialStackOrder(slicesAt([1, 2, 3]), [1, 0, 0, 0, -1, 0])).toEqual([2, 1, 0]);
  });

  test("slices at the same height keep their order", () => {
    expect(axialStackOrder(slicesAt([0, 5, 0, 5]), AXIAL)).toEqual([1, 3, 0, 2]);
  });

  test("coronal and sagittal acquisitions are left to the volume viewport", () => {
    expect(axialStackOrder(slicesAt([0, 1]), [1, 0, 0, 0, 0, -1])).toBeNull();
    expect(axialStackOrder(slicesAt([0, 1]), [0, 1, 0, 0, 0, -1])).toBeNull();
  });

  test("a gantry tilt of a few degrees is left to the volume viewport, a hair's breadth is not", () => {
    const tilted = (degrees: number): number[] => {
      const a = (degrees * Math.PI) / 180;
      return [1, 0, 0, 0, Math.cos(a), Math.sin(a)];
    };
    expect(axialStackOrder(slicesAt([0, 1]), tilted(5))).toBeNull();
    expect(axialStackOrder(slicesAt([0, 1]), tilted(0.2))).toEqual([1, 0]);
  });
});
