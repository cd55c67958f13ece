/// <reference types="node" />
import { gunzipSync } from "node:zlib";
import { createHash } from "node:crypto";

import { describe, expect, test } from "vitest";

import {
  InvalidLabelmap,
  decodeLabelmap,
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
    payload[5] = 2;
    await expect(decodeLabelmap(payload)).rejects.toThrow("compression 2 is not supported");
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

describe("encodeLabelmap", () => {
  test("writes magic, version 1, gzip and a little-endian header length", async () => {
    const payload = await encodeLabelmap(fixtureVoxels(), GRID);
    expect(new TextDecoder().decode(payload.subarray(0, 4))).toBe("NFLM");
    expect(payload[4]).toBe(1);
    expect(payload[5]).toBe(1);
    const length = new DataView(payload.buffer).getUint32(6, true);
    const header: unknown = JSON.parse(new TextDecoder().decode(payload.subarray(10, 10 + length)));
    expect(Object.keys(header as object)).toEqual([
      "shape", "spacing", "origin", "direction", "series", "sha256",
    ]);
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
