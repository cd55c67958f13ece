/// <reference types="node" />
import { gunzipSync, gzipSync } from "node:zlib";
import { createHash } from "node:crypto";

import { describe, expect, test } from "vitest";

import {
  InvalidLabelmap,
  cropToBox,
  decodeLabelmap,
  expandBox,
  nonZeroBox,
  encodeLabelmap,
  gzip,
  readHeader,
  sha256Hex,
  type GridHeader,
} from "./wire";

// Written by hand from docs/labelmap-wire-format.md with Python's json/gzip/hashlib (not through
// annotations.labelmaps): shape [2,3,4], voxels (0,1,2)=1, (1,0,0)=1, (1,2,3)=2.
const DOCUMENTED_FIXTURE =
  "TkZMTQEB5AAAAHsic2hhcGUiOlsyLDMsNF0sInNwYWNpbmciOlsyLjUsMC43MDMxMjUsMC43MDMxMjVdLCJvcmlnaW4iOlstMTY2LjAsLTE3MS43LC0zNDAuMF0sImRpcmVjdGlvbiI6WzEuMCwwLjAsMC4wLDAuMCwxLjAsMC4wLDAuMCwwLjAsMS4wXSwic2VyaWVzIjoiMS4yLjMuNCIsInNoYTI1NiI6IjEzYjk2N2I1NTZhNzYyNTdhMGM4ZjA2M2M3ZjkxNzBiYWU3MDY3NTI2MDQ4YmNiMTFlMGEzMmIxMzdlZDZkYTYifR+LCAAAAAAAAANjYAABRiQSDJgAglE4ORgAAAA=";
// The same voxels written by annotations.labelmaps.encode (the server's encoder).
const PYTHON_ENCODER_FIXTURE =
  "TkZMTQEB2AAAAHsic2hhcGUiOlsyLDMsNF0sInNwYWNpbmciOlsyLjUsMC43MDMxMjUsMC43MDMxMjVdLCJvcmlnaW4iOlstMTY2LjAsLTE3MS43LC0zNDAuMF0sImRpcmVjdGlvbiI6WzEuMCwwLDAsMCwxLjAsMCwwLDAsMS4wXSwic2VyaWVzIjoiMS4yLjMuNCIsInNoYTI1NiI6IjEzYjk2N2I1NTZhNzYyNTdhMGM4ZjA2M2M3ZjkxNzBiYWU3MDY3NTI2MDQ4YmNiMTFlMGEzMmIxMzdlZDZkYTYifR+LCAAAAAAAAANjYAABRiQSDJgAglE4ORgAAAA=";

const GRID: GridHeader = {
  shape: [2, 3, 4],
  spacing: [2.5, 0.703125, 0.703125],
  origin: [-166, -171.7, -340],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  series: "1.2.3.4",
};

function fromBase64(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, "base64"));
}

function fixtureVoxels(): Uint8Array {
  const voxels = new Uint8Array(24);
  voxels[0 * 12 + 1 * 4 + 2] = 1;
  voxels[1 * 12 + 0 * 4 + 0] = 1;
  voxels[1 * 12 + 2 * 4 + 3] = 2;
  return voxels;
}

describe("decodeLabelmap", () => {
  test.each([
    ["a payload written from the documented format", DOCUMENTED_FIXTURE],
    ["a payload written by the Python encoder", PYTHON_ENCODER_FIXTURE],
  ])("%s decodes to the right voxels in (slice, row, column) order", async (_name, fixture) => {
    const { header, voxels } = await decodeLabelmap(fromBase64(fixture));
    expect(header.shape).toEqual([2, 3, 4]);
    expect(header.spacing).toEqual([2.5, 0.703125, 0.703125]);
    expect(header.origin).toEqual([-166, -171.7, -340]);
    expect(header.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(header.series).toBe("1.2.3.4");
    expect(Array.from(voxels)).toEqual(Array.from(fixtureVoxels()));
  });

  test("a payload without the NFLM magic is refused", async () => {
    const payload = fromBase64(DOCUMENTED_FIXTURE);
    payload[0] = 0x58;
    await expect(decodeLabelmap(payload)).rejects.toThrow("does not start with NFLM");
  });

  test("an unknown version is refused", async () => {
    const payload = fromBase64(DOCUMENTED_FIXTURE);
    payload[4] = 2;
    await expect(decodeLabelmap(payload)).rejects.toThrow("version 2 is not supported");
  });

  test("an unknown compression is refused", async () => {
    const payload = fromBase64(DOCUMENTED_FIXTURE);
    payload[5] = 3;
    await expect(decodeLabelmap(payload)).rejects.toThrow("compression 3 is not supported");
  });

  test("a header length past the end is refused", async () => {
    const payload = fromBase64(DOCUMENTED_FIXTURE).slice(0, 40);
    await expect(decodeLabelmap(payload)).rejects.toThrow("header length is out of range");
  });

  test("a changed voxel fails the checksum", async () => {
    const good = await encodeLabelmap(fixtureVoxels(), GRID);
    const { header, bodyOffset } = readHeader(good);
    const tampered = fixtureVoxels();
    tampered[5] = 1;
    const body = await gzip(tampered);
    const payload = new Uint8Array(bodyOffset + body.length);
    payload.set(good.subarray(0, bodyOffset));
    payload.set(body, bodyOffset);
    expect(header.sha256).toBe(await sha256Hex(fixtureVoxels()));
    await expect(decodeLabelmap(payload)).rejects.toThrow("checksum does not match");
  });

  test("voxels that inflate past the shape are refused before they are all read", async () => {
    const good = await encodeLabelmap(fixtureVoxels(), GRID);
    const { bodyOffset } = readHeader(good);
    const body = await gzip(new Uint8Array(1000));
    const payload = new Uint8Array(bodyOffset + body.length);
    payload.set(good.subarray(0, bodyOffset));
    payload.set(body, bodyOffset);
    await expect(decodeLabelmap(payload)).rejects.toThrow("more than the 24 bytes");
  });

  test("too few voxels for the shape are refused", async () => {
    const good = await encodeLabelmap(fixtureVoxels(), GRID);
    const { bodyOffset } = readHeader(good);
    const body = await gzip(new Uint8Array(10));
    const payload = new Uint8Array(bodyOffset + body.length);
    payload.set(good.subarray(0, bodyOffset));
    payload.set(body, bodyOffset);
    await expect(decodeLabelmap(payload)).rejects.toThrow("inflate to 10 bytes, not the 24");
  });

  test("a body that is not gzip is refused", async () => {
    const good = await encodeLabelmap(fixtureVoxels(), GRID);
    const { bodyOffset } = readHeader(good);
    const payload = new Uint8Array(bodyOffset + 16).fill(7);
    payload.set(good.subarray(0, bodyOffset));
    await expect(decodeLabelmap(payload)).rejects.toThrow("not valid gzip data");
  });

  test("a shape over the voxel limit is refused without inflating", async () => {
    const payload = fromBase64(DOCUMENTED_FIXTURE);
    await expect(decodeLabelmap(payload, { maxVoxels: 10 })).rejects.toThrow("24 voxels, over 10");
  });

  test("errors are InvalidLabelmap", async () => {
    await expect(decodeLabelmap(new Uint8Array(3))).rejects.toBeInstanceOf(InvalidLabelmap);
  });
});

// The server's encoder (annotations.labelmaps.encode) writes compression 2 too: shape [2,3,4],
// voxels (1,1,1)=3 and (1,2,2)=1, box [1,1,1,2,3,3].
const PYTHON_BOX_FIXTURE =
  "TkZMTQEC7AAAAHsic2hhcGUiOlsyLDMsNF0sInNwYWNpbmciOlsyLjUsMC43MDMxMjUsMC43MDMxMjVdLCJvcmlnaW4iOlstMTY2LjAsLTE3MS43LC0zNDAuMF0sImRpcmVjdGlvbiI6WzEuMCwwLDAsMCwxLjAsMCwwLDAsMS4wXSwic2VyaWVzIjoiMS4yLjMuNCIsInNoYTI1NiI6IjFkZjY3MDk0YTY5ZDVlYzQyYWI2MzcxOWQ5YTkyMzkyZTc5NjJiMWU2MGMzNmIyNGNjZGE3ZjFhOTViY2ZiYjMiLCJib3giOlsxLDEsMSwyLDMsM119H4sIAAAAAAAAA2NmYGAEAGRA9kQEAAAA";

/** A compression-2 payload of `voxels` on GRID claiming `box`, around any body. */
function boxPayload(box: unknown, inside: Uint8Array, sha256?: string): Uint8Array {
  const fields = { ...GRID, sha256: sha256 ?? createHash("sha256").update(inside).digest("hex"), box };
  const head = new TextEncoder().encode(JSON.stringify(fields));
  const body = new Uint8Array(gzipSync(inside));
  const out = new Uint8Array(10 + head.length + body.length);
  out.set(new TextEncoder().encode("NFLM"));
  const view = new DataView(out.buffer);
  view.setUint8(4, 1);
  view.setUint8(5, 2);
  view.setUint32(6, head.length, true);
  out.set(head, 10);
  out.set(body, 10 + head.length);
  return out;
}

describe("compression 2 (the box around the labels)", () => {
  test("the server's box payload decodes to its voxels", async () => {
    const { voxels } = await decodeLabelmap(fromBase64(PYTHON_BOX_FIXTURE));
    const expected = new Uint8Array(24);
    expected[1 * 12 + 1 * 4 + 1] = 3;
    expected[1 * 12 + 2 * 4 + 2] = 1;
    expect(Array.from(voxels)).toEqual(Array.from(expected));
  });

  test.each([
    [[0, 0, 0, 3, 3, 4], "does not fit the shape"],
    [[1, 0, 0, 0, 3, 4], "does not fit the shape"],
    [[-1, 0, 0, 2, 3, 4], "does not fit the shape"],
    [[0, 0, 0, 2, 3], "box: expected 6 integers"],
    [[0, 0, 0, 2, 3, 3.5], "box: expected 6 integers"],
    [null, "box: expected 6 integers"],
  ])("a box of %j is refused", async (box, message) => {
    await expect(decodeLabelmap(boxPayload(box, new Uint8Array(0)))).rejects.toThrow(message);
  });

  test.each([[5], [7], [100000]])("a body of %i bytes for a box of 6 is refused", async (size) => {
    const payload = boxPayload([0, 0, 0, 1, 2, 3], new Uint8Array(size));
    await expect(decodeLabelmap(payload)).rejects.toThrow(/inflate to .* of its box/);
  });

  test("voxels in the box that do not match the checksum are refused", async () => {
    const payload = boxPayload([0, 0, 0, 1, 1, 1], new Uint8Array([1]), createHash("sha256").update(new Uint8Array([2])).digest("hex"));
    await expect(decodeLabelmap(payload)).rejects.toThrow("checksum does not match");
  });

  test("the checksum covers the voxels in the box", async () => {
    const voxels = new Uint8Array(24);
    voxels[1 * 12 + 1 * 4 + 1] = 3;
    const { header } = readHeader(await encodeLabelmap(voxels, GRID));
    expect(header.sha256).toBe(createHash("sha256").update(new Uint8Array([3])).digest("hex"));
  });
});

describe("nonZeroBox", () => {
  test("finds the extent on every axis, whatever the alignment of the view", () => {
    const backing = new Uint8Array(3 + 4 * 5 * 7);
    const voxels = backing.subarray(3); // byteOffset 3: not word-aligned
    voxels[1 * 35 + 2 * 7 + 6] = 1;
    voxels[3 * 35 + 4 * 7 + 0] = 2;
    expect(nonZeroBox(voxels, [4, 5, 7])).toEqual([1, 2, 0, 4, 5, 7]);
  });

  test("a single voxel is a box of one, the last voxel included", () => {
    const voxels = new Uint8Array(4 * 5 * 7);
    voxels[voxels.length - 1] = 9;
    expect(nonZeroBox(voxels, [4, 5, 7])).toEqual([3, 4, 6, 4, 5, 7]);
  });

  test("no labels is the empty box", () => {
    expect(nonZeroBox(new Uint8Array(4 * 5 * 7), [4, 5, 7])).toEqual([0, 0, 0, 0, 0, 0]);
  });

  test("cropToBox and expandBox undo each other", () => {
    const voxels = new Uint8Array(4 * 5 * 7).map((_, i) => (i % 11 === 0 && i > 40 ? 1 : 0));
    const box = nonZeroBox(voxels, [4, 5, 7]);
    expect(Array.from(expandBox(cropToBox(voxels, [4, 5, 7], box), [4, 5, 7], box))).toEqual(Array.from(voxels));
  });
});

describe("encodeLabelmap", () => {
  test("writes magic, version 1, gzip of the box and a little-endian header length", async () => {
    const payload = await encodeLabelmap(fixtureVoxels(), GRID);
    expect(new TextDecoder().decode(payload.subarray(0, 4))).toBe("NFLM");
    expect(payload[4]).toBe(1);
    expect(payload[5]).toBe(2);
    const length = new DataView(payload.buffer).getUint32(6, true);
    const header: unknown = JSON.parse(new TextDecoder().decode(payload.subarray(10, 10 + length)));
    expect(Object.keys(header as object)).toEqual([
      "shape", "spacing", "origin", "direction", "series", "sha256", "box",
    ]);
  });

  test("only the box around the labels is compressed", async () => {
    const voxels = new Uint8Array(24);
    voxels[1 * 12 + 1 * 4 + 1] = 3;
    voxels[1 * 12 + 2 * 4 + 2] = 1;
    const payload = await encodeLabelmap(voxels, GRID);
    const { box, bodyOffset } = readHeader(payload);
    expect(box).toEqual([1, 1, 1, 2, 3, 3]);
    expect(Array.from(gunzipSync(payload.subarray(bodyOffset)))).toEqual([3, 0, 0, 1]);
    expect(Array.from((await decodeLabelmap(payload)).voxels)).toEqual(Array.from(voxels));
  });

  test("one array per slice encodes to the same bytes as one array, and must hold the grid's slices", async () => {
    const voxels = new Uint8Array(24);
    voxels[1 * 12 + 1 * 4 + 1] = 3;
    voxels[1 * 12 + 2 * 4 + 2] = 1;
    const slices = [voxels.slice(0, 12), voxels.slice(12)];
    expect(nonZeroBox(slices, [2, 3, 4])).toEqual(nonZeroBox(voxels, [2, 3, 4]));
    expect(Array.from(await encodeLabelmap(slices, GRID))).toEqual(Array.from(await encodeLabelmap(voxels, GRID)));
    await expect(encodeLabelmap([voxels.slice(0, 12)], GRID)).rejects.toThrow(InvalidLabelmap);
    await expect(encodeLabelmap([voxels.slice(0, 12), voxels.slice(12, 20)], GRID)).rejects.toThrow(InvalidLabelmap);
  });

  test("an empty labelmap sends an empty box", async () => {
    const payload = await encodeLabelmap(new Uint8Array(24), GRID);
    expect(readHeader(payload).box).toEqual([0, 0, 0, 0, 0, 0]);
    expect((await decodeLabelmap(payload)).voxels.every((v) => v === 0)).toBe(true);
  });

  test("the body is RFC 1952 gzip of the raw voxels, checked with node's zlib", async () => {
    const voxels = fixtureVoxels();
    const payload = await encodeLabelmap(voxels, GRID);
    const { bodyOffset } = readHeader(payload);
    expect(payload[bodyOffset]).toBe(0x1f);
    expect(payload[bodyOffset + 1]).toBe(0x8b);
    expect(Array.from(gunzipSync(payload.subarray(bodyOffset)))).toEqual(Array.from(voxels));
  });

  test("the header sha256 is the hex digest of the uncompressed voxels", async () => {
    const voxels = fixtureVoxels();
    const { header } = readHeader(await encodeLabelmap(voxels, GRID));
    expect(header.sha256).toBe(createHash("sha256").update(voxels).digest("hex"));
  });

  test("round trip keeps voxels and grid", async () => {
    const voxels = new Uint8Array(2 * 3 * 4).map((_, i) => i % 3);
    const decoded = await decodeLabelmap(await encodeLabelmap(voxels, GRID));
    expect(Array.from(decoded.voxels)).toEqual(Array.from(voxels));
    expect(decoded.header).toMatchObject(GRID);
  });

  test("round trip of a CT-sized volume", async () => {
    const shape = [133, 512, 512] as const;
    const voxels = new Uint8Array(shape[0] * shape[1] * shape[2]);
    voxels.fill(1, 60 * 512 * 512 + 1000, 60 * 512 * 512 + 5000);
    const decoded = await decodeLabelmap(await encodeLabelmap(voxels, { ...GRID, shape }));
    expect(decoded.voxels.length).toBe(voxels.length);
    expect(decoded.voxels[60 * 512 * 512 + 1000]).toBe(1);
    expect(decoded.voxels[60 * 512 * 512 + 5000]).toBe(0);
  });

  test("voxels of the wrong length are refused", async () => {
    await expect(encodeLabelmap(new Uint8Array(5), GRID)).rejects.toThrow("must hold 24 bytes");
  });
});
