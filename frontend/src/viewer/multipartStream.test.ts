import { describe, expect, test } from "vitest";

import { MalformedMultipart, MultipartStreamReader, type StreamedPart } from "./multipartStream";

const encoder = new TextEncoder();

/** A body as our server writes it: each part with Content-Type, Content-Location, Content-Length. */
function body(contents: readonly number[][], options: { boundary?: string; lengths?: number[]; preamble?: string } = {}): Uint8Array {
  const boundary = options.boundary ?? "b0undary";
  const bytes: number[] = [...encoder.encode(options.preamble ?? "")];
  contents.forEach((content, i) => {
    const length = options.lengths?.[i] ?? content.length;
    const head = `${i ? "\r\n" : ""}--${boundary}\r\nContent-Type: application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1\r\nContent-Location: /s/instances/${i}/frames/1\r\nContent-Length: ${length}\r\n\r\n`;
    bytes.push(...encoder.encode(head), ...content);
  });
  bytes.push(...encoder.encode(`\r\n--${boundary}--\r\n`));
  return Uint8Array.from(bytes);
}

function read(chunks: readonly Uint8Array[], boundary = "b0undary"): StreamedPart[] {
  const parts: StreamedPart[] = [];
  const reader = new MultipartStreamReader(boundary, (part) => parts.push(part));
  for (const chunk of chunks) reader.push(chunk);
  reader.end();
  return parts;
}

// Contents that hold CR LF and what looks like a delimiter: the reader goes by Content-Length.
const CONTENTS = [[1, 2, 13, 10, 45, 45, 98, 48], [], [255, 0, 13, 10, 13, 10, 7]];

describe("MultipartStreamReader", () => {
  test("reads every part with its headers, in one chunk", () => {
    const parts = read([body(CONTENTS)]);
    expect(parts.map((p) => Array.from(p.body))).toEqual(CONTENTS);
    expect(parts[2]?.headers.get("content-location")).toBe("/s/instances/2/frames/1");
    expect(parts[0]?.headers.get("content-type")).toBe("application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1");
  });

  test("reads the same whatever the chunks are cut at", () => {
    const whole = body(CONTENTS);
    for (let cut = 1; cut < whole.length; cut++) {
      const parts = read([whole.subarray(0, cut), whole.subarray(cut)]);
      expect(parts.map((p) => Array.from(p.body)), `cut at ${cut}`).toEqual(CONTENTS);
    }
    const bytewise = read(Array.from(whole, (byte) => Uint8Array.of(byte)));
    expect(bytewise.map((p) => Array.from(p.body))).toEqual(CONTENTS);
  });

  test("hands each part over as soon as its last byte is in, in a buffer of its own", () => {
    const whole = body([[1, 2, 3], [4, 5]]);
    const seen: number[][] = [];
    const reader = new MultipartStreamReader("b0undary", (part) => seen.push(Array.from(part.body)));
    const endOfFirst = whole.indexOf(3) + 1;
    reader.push(whole.subarray(0, endOfFirst));
    expect(seen).toEqual([[1, 2, 3]]);
    reader.push(whole.subarray(endOfFirst));
    reader.end();
    expect(seen).toEqual([[1, 2, 3], [4, 5]]);
  });

  test("skips blank lines before the first boundary", () => {
    expect(read([body([[1]], { preamble: "\r\n" })]).map((p) => Array.from(p.body))).toEqual([[1]]);
  });

  test("refuses a body that is not what it says", () => {
    const cases: [string, () => void][] = [
      ["a part longer than its length", () => read([body([[1, 2, 3]], { lengths: [2] })])],
      ["a part shorter than its length", () => read([body([[1, 2, 3]], { lengths: [5] })])],
      ["another boundary", () => read([body([[1]])], "other")],
      ["a body cut short", () => read([body([[1, 2, 3]]).subarray(0, 60)])],
      ["no Content-Length", () => read([encoder.encode("--b0undary\r\nContent-Type: x\r\n\r\n1\r\n--b0undary--")])],
      ["an endless header", () => read([encoder.encode(`--b0undary\r\nX: ${"y".repeat(20000)}`)])],
    ];
    for (const [name, run] of cases) expect(run, name).toThrow(MalformedMultipart);
    expect(() => new MultipartStreamReader("", () => undefined)).toThrow(MalformedMultipart);
  });
});
