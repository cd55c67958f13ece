import { describe, expect, test } from "vitest";

import { boundaryOf, framePart } from "./framePart";

const TYPE = "multipart/related; type=application/octet-stream; boundary=abc123";
const LE = "1.2.840.10008.1.2.1";

function body(parts: { head?: string; data?: readonly number[]; tail?: string; lead?: string } = {}): Uint8Array {
  const encode = (text: string): number[] => Array.from(new TextEncoder().encode(text));
  const head = parts.head ?? `Content-Type: application/octet-stream; transfer-syntax=${LE}`;
  return Uint8Array.from([
    ...encode(parts.lead ?? "--abc123\r\n"),
    ...encode(`${head}\r\n\r\n`),
    ...(parts.data ?? [1, 2, 3, 4, 13, 10, 45, 45]),
    ...encode(parts.tail ?? "\r\n--abc123--\r\n"),
  ]);
}

describe("boundaryOf", () => {
  test("reads a bare or quoted boundary, and none", () => {
    expect(boundaryOf(TYPE)).toBe("abc123");
    expect(boundaryOf('multipart/related; boundary="a b"; type="application/octet-stream"')).toBe("a b");
    expect(boundaryOf("application/octet-stream")).toBe("");
  });
});

describe("framePart", () => {
  test("gives the part's bytes and transfer syntax, bytes that look like a delimiter included", () => {
    const part = framePart(TYPE, body());
    expect(part?.transferSyntax).toBe(LE);
    expect(Array.from(part?.pixelData ?? [])).toEqual([1, 2, 3, 4, 13, 10, 45, 45]);
  });

  test("accepts a quoted transfer syntax and a close delimiter without its CRLF", () => {
    const part = framePart(TYPE, body({ head: `Content-Type: application/octet-stream; transfer-syntax="${LE}"`, tail: "\r\n--abc123--" }));
    expect(part?.transferSyntax).toBe(LE);
    expect(part?.pixelData.length).toBe(8);
  });

  test("an empty frame is an empty part", () => {
    expect(framePart(TYPE, body({ data: [] }))?.pixelData.length).toBe(0);
  });

  test("a response that is not multipart, or has no boundary, is left to Cornerstone", () => {
    expect(framePart("application/octet-stream", body())).toBeNull();
    expect(framePart("multipart/related; type=application/octet-stream", body())).toBeNull();
  });

  test("a body that does not open with the boundary is refused", () => {
    expect(framePart(TYPE, body({ lead: "--other\r\n" }))).toBeNull();
    expect(framePart(TYPE, body({ lead: "preamble\r\n--abc123\r\n" }))).toBeNull();
  });

  test("a part without a transfer syntax is left to Cornerstone", () => {
    expect(framePart(TYPE, body({ head: "Content-Type: image/jls" }))).toBeNull();
  });

  test("a body cut before its close delimiter is refused", () => {
    expect(framePart(TYPE, body({ tail: "" }))).toBeNull();
    expect(framePart(TYPE, body({ tail: "\r\n--abc123\r\n" }))).toBeNull();
  });

  test("a body with more after the close delimiter than whitespace is refused", () => {
    expect(framePart(TYPE, body({ tail: "\r\n--abc123--\r\nmore" }))).toBeNull();
  });

  test("headers that never end are refused", () => {
    expect(framePart(TYPE, new TextEncoder().encode(`--abc123\r\nContent-Type: x${" ".repeat(2000)}`))).toBeNull();
  });

  test("takes a part already cut out of a pixel data response as it is, typed by its own Content-Type", () => {
    const bytes = Uint8Array.from([9, 8, 7]);
    const part = framePart(`application/octet-stream; transfer-syntax=${LE}`, bytes);
    expect(part?.transferSyntax).toBe(LE);
    expect(part?.pixelData).toBe(bytes);
    expect(framePart("application/octet-stream", bytes)).toBeNull();
  });
});
