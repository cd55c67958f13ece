import { describe, expect, test } from "vitest";

import type { FrameBody } from "./frameRequest";
import { fetchSeriesFrames, frameKey, pixelDataRequests } from "./seriesPixelData";

const S = "http://x/dicomweb/projects/1/studies/1/series/2";
const frame = (sop: string, n = 1, series = S): string => `${series}/instances/${sop}/frames/${n}`;
const LE = "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1";

describe("pixelDataRequests", () => {
  test("groups frames in the order given, a few instances per request", () => {
    const urls = ["5", "4", "6", "3", "7"].map((sop) => frame(sop));
    const { requests, alone } = pixelDataRequests(urls, 2);
    expect(alone).toEqual([]);
    expect(requests.map((r) => r.url)).toEqual([`${S}/pixeldata?SOPInstanceUID=5,4`, `${S}/pixeldata?SOPInstanceUID=6,3`, `${S}/pixeldata?SOPInstanceUID=7`]);
    expect(requests.flatMap((r) => r.frames)).toEqual(urls);
  });

  test("keeps the frames of one instance together, splits at another series, and leaves other URLs alone", () => {
    const other = "http://x/dicomweb/projects/1/studies/1/series/9";
    const urls = [frame("a", 1), frame("a", 2), frame("b"), frame("c", 1, other), "http://x/elsewhere"];
    const { requests, alone } = pixelDataRequests(urls, 4);
    expect(requests.map((r) => [r.url, r.frames.length])).toEqual([
      [`${S}/pixeldata?SOPInstanceUID=a,b`, 3],
      [`${other}/pixeldata?SOPInstanceUID=c`, 1],
    ]);
    expect(alone).toEqual(["http://x/elsewhere"]);
  });

  test("keeps each request line short however long the UIDs are", () => {
    const long = (i: number): string => `1.2.${"9".repeat(58)}.${i}`;
    const { requests } = pixelDataRequests(Array.from({ length: 100 }, (_, i) => frame(long(i))), 1000);
    expect(requests.length).toBeGreaterThan(3);
    for (const request of requests) expect(request.url.length).toBeLessThanOrEqual(2000);
    expect(requests.flatMap((r) => r.frames).length).toBe(100);
  });
});

describe("frameKey", () => {
  test("names a frame by its instance and number, whatever the URL's origin", () => {
    expect(frameKey(frame("1.2.3", 4))).toBe("1.2.3/frames/4");
    expect(frameKey("/dicomweb/projects/1/studies/1/series/2/instances/1.2.3/frames/4")).toBe("1.2.3/frames/4");
    expect(frameKey("http://x/other")).toBeNull();
  });
});

/** A pixel data response with one part per [sop, bytes], as our server writes it, streamed in small chunks. */
function pixelData(parts: [string, number[]][], { cutAt }: { /** Bytes left off the end. */ cutAt?: number } = {}): Response {
  const encoder = new TextEncoder();
  const bytes: number[] = [];
  parts.forEach(([sop, content], i) => {
    const head = `${i ? "\r\n" : ""}--bb\r\nContent-Type: ${LE}\r\nContent-Location: /dicomweb/projects/1/studies/1/series/2/instances/${sop}/frames/1\r\nContent-Length: ${content.length}\r\n\r\n`;
    bytes.push(...encoder.encode(head), ...content);
  });
  bytes.push(...encoder.encode("\r\n--bb--\r\n"));
  const whole = Uint8Array.from(bytes.slice(0, cutAt === undefined ? bytes.length : bytes.length - cutAt));
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (let at = 0; at < whole.length; at += 7) controller.enqueue(whole.slice(at, at + 7));
      controller.close();
    },
  });
  return new Response(stream, { headers: { "Content-Type": 'multipart/related; type="application/octet-stream"; boundary=bb' } });
}

function recorder(answer: (url: string) => Response) {
  const asked: string[] = [];
  const fetcher = ((url: string) => {
    asked.push(url);
    return Promise.resolve(answer(url));
  }) as unknown as typeof fetch;
  const delivered = new Map<string, FrameBody | null>();
  const deliver = (url: string, body: FrameBody | null): void => {
    expect(delivered.has(url), `${url} delivered twice`).toBe(false);
    delivered.set(url, body);
  };
  return { fetcher, asked, delivered, deliver };
}

const single = (byte: number): Response => new Response(Uint8Array.of(byte), { headers: { "Content-Type": "multipart/related; boundary=x" } });

describe("fetchSeriesFrames", () => {
  test("delivers each frame from the pixel data response, typed by its part", async () => {
    const net = recorder(() => pixelData([["b", [2, 2]], ["a", [1]]]));
    await fetchSeriesFrames([frame("a"), frame("b")], net.fetcher, net.deliver);
    expect(net.asked).toEqual([`${S}/pixeldata?SOPInstanceUID=a,b`]);
    expect(Array.from(net.delivered.get(frame("a"))?.bytes ?? [])).toEqual([1]);
    expect(Array.from(net.delivered.get(frame("b"))?.bytes ?? [])).toEqual([2, 2]);
    expect(net.delivered.get(frame("a"))?.contentType).toBe(LE);
  });

  test("asks alone for a frame the response lacked, and for all of a failed request", async () => {
    const lacking = recorder((url) => (url.includes("pixeldata") ? pixelData([["a", [1]]]) : single(9)));
    await fetchSeriesFrames([frame("a"), frame("b")], lacking.fetcher, lacking.deliver);
    expect(lacking.asked).toEqual([`${S}/pixeldata?SOPInstanceUID=a,b`, frame("b")]);
    expect(Array.from(lacking.delivered.get(frame("b"))?.bytes ?? [])).toEqual([9]);

    const failed = recorder((url) => (url.includes("pixeldata") ? new Response("no", { status: 500 }) : single(9)));
    await fetchSeriesFrames([frame("a"), frame("b")], failed.fetcher, failed.deliver);
    expect(failed.asked.slice(1).sort()).toEqual([frame("a"), frame("b")]);
    expect([...failed.delivered.values()].every((body) => body !== null)).toBe(true);
  });

  test("keeps the frames of a body cut short that were whole, and asks alone for the rest", async () => {
    const net = recorder((url) => (url.includes("pixeldata") ? pixelData([["a", [1, 1, 1]], ["b", [2, 2, 2]]], { cutAt: 14 }) : single(9)));
    await fetchSeriesFrames([frame("a"), frame("b")], net.fetcher, net.deliver);
    expect(Array.from(net.delivered.get(frame("a"))?.bytes ?? [])).toEqual([1, 1, 1]);
    expect(net.asked).toEqual([`${S}/pixeldata?SOPInstanceUID=a,b`, frame("b")]);
  });

  test("a frame asked alone that fails again is delivered as failed", async () => {
    const net = recorder(() => new Response("gone", { status: 404 }));
    await fetchSeriesFrames([frame("a")], net.fetcher, net.deliver);
    expect(net.delivered.get(frame("a"))).toBeNull();
  });
});
