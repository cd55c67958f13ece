import { describe, expect, test } from "vitest";

import { FramePrefetch, fetchHere, frameUrls } from "./framePrefetch";
import { FRAME_ACCEPT } from "./frameRequest";
import { framesFromMetadata, type DicomJson } from "./series";

const BASE = "http://x/dicomweb/studies/1/series/2";

function instance(sop: string, z: number): DicomJson {
  return {
    "00080018": { vr: "UI", Value: [sop] },
    "00200032": { vr: "DS", Value: [0, 0, z] },
    "00200037": { vr: "DS", Value: [1, 0, 0, 0, 1, 0] },
    "00280010": { vr: "US", Value: [2] },
    "00280011": { vr: "US", Value: [2] },
    "00280030": { vr: "DS", Value: [1, 1] },
  };
}

/** A fetch whose responses the test releases one by one; it records what was asked and how. */
function gatedFetch() {
  const asked: string[] = [];
  const accepts: string[] = [];
  const release = new Map<string, (response: Response) => void>();
  const fetcher = ((url: string, init?: RequestInit) => {
    asked.push(url);
    accepts.push(new Headers(init?.headers).get("Accept") ?? "");
    return new Promise<Response>((resolve) =>
      release.set(url, resolve),
    );
  }) as unknown as typeof fetch;
  const answer = async (url: string, response: Response = new Response(new Uint8Array([7]), { headers: { "Content-Type": "multipart/related; boundary=b" } })): Promise<void> => {
    release.get(url)?.(response);
    await new Promise((resolve) => setTimeout(resolve, 0));
  };
  return { fetcher, asked, accepts, answer };
}

describe("frameUrls", () => {
  test("lists the frames' URLs from the middle slice outwards, as the volume loads them", () => {
    const { frames } = framesFromMetadata([0, 1, 2, 3, 4].map((z) => instance(`s${z}`, z)), BASE);
    expect(frameUrls(frames)).toEqual([2, 1, 3, 0, 4].map((z) => `${BASE}/instances/s${z}/frames/1`));
  });
});

describe("FramePrefetch", () => {
  test("asks for the first alone, then all the rest in order, with Cornerstone's Accept", async () => {
    const net = gatedFetch();
    const prefetch = new FramePrefetch(["a", "b", "c", "d"], fetchHere(net.fetcher), net.fetcher);
    expect(net.asked).toEqual(["a"]);
    await net.answer("a");
    expect(net.asked).toEqual(["a", "b", "c", "d"]);
    for (const url of ["d", "b", "c"]) await net.answer(url);
    expect(new Set(net.accepts)).toEqual(new Set([FRAME_ACCEPT]));
    const body = await prefetch.take("d");
    expect(body?.contentType).toBe("multipart/related; boundary=b");
    expect(Array.from(body?.bytes ?? [])).toEqual([7]);
  });

  test("the rest go to the source given, the first never", async () => {
    const net = gatedFetch();
    const given: string[][] = [];
    new FramePrefetch(["a", "b", "c"], (urls) => given.push([...urls]), net.fetcher);
    await net.answer("a");
    expect(given).toEqual([["b", "c"]]);
  });

  test("the first frame comes from the page's early request when it named that frame, else is asked for", async () => {
    const net = gatedFetch();
    const early = { url: "a", body: Promise.resolve({ contentType: "early", bytes: new Uint8Array([1]) }) };
    const given: string[][] = [];
    const prefetch = new FramePrefetch(["a", "b"], (urls) => given.push([...urls]), net.fetcher, new Map(), early);
    expect((await prefetch.peek("a"))?.contentType).toBe("early");
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(net.asked).toEqual([]);
    expect(given).toEqual([["b"]]);
    const other = gatedFetch();
    new FramePrefetch(["c", "a"], () => undefined, other.fetcher, new Map(), early);
    expect(other.asked).toEqual(["c"]);
  });

  test("a repeated URL is asked once", async () => {
    const net = gatedFetch();
    new FramePrefetch(["a", "a", "b", "b"], fetchHere(net.fetcher), net.fetcher);
    await net.answer("a");
    expect(net.asked).toEqual(["a", "b"]);
  });

  test("a body can be peeked at many times but taken once", async () => {
    const net = gatedFetch();
    const prefetch = new FramePrefetch(["a"], fetchHere(net.fetcher), net.fetcher);
    await net.answer("a");
    expect(await prefetch.peek("a")).not.toBeNull();
    expect(await prefetch.take("a")).not.toBeNull();
    expect(prefetch.take("a")).toBeNull();
    expect(prefetch.peek("a")).toBeNull();
    expect(prefetch.take("never asked")).toBeNull();
  });

  test("a body can be taken before its response came", async () => {
    const net = gatedFetch();
    const prefetch = new FramePrefetch(["a"], fetchHere(net.fetcher), net.fetcher);
    const body = prefetch.take("a");
    await net.answer("a");
    expect((await body)?.bytes.length).toBe(1);
  });

  test("a refused or failed request is a null body, and the queue goes on", async () => {
    const failing = ((url: string) => (url === "b" ? Promise.reject(new TypeError("network")) : Promise.resolve(new Response("no", { status: 404 })))) as unknown as typeof fetch;
    const prefetch = new FramePrefetch(["a", "b"], fetchHere(failing), failing);
    expect(await prefetch.take("a")).toBeNull();
    expect(await prefetch.take("b")).toBeNull();
  });
});
