import { afterEach, describe, expect, test, vi } from "vitest";

import type { AnnotationsApi } from "../api/client";
import type { Task } from "../api/types";
import { encodeLabelmap, type GridHeader } from "../segmentation/wire";
import * as wire from "../segmentation/wire";
import { prefetch } from "./prefetch";

const GRID: GridHeader = { shape: [2, 2, 2], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], series: "1.2.3" };

/** An API whose task has revision 7, and which counts its labelmap requests. */
async function fakeApi(): Promise<{ api: AnnotationsApi; labelmapRequests: number[] }> {
  const payload = await encodeLabelmap(Uint8Array.from([0, 1, 0, 0, 2, 0, 0, 0]), GRID);
  const labelmapRequests: number[] = [];
  const task = { id: 1, latest_revision: { id: 7 }, series: { study_instance_uid: "1", series_instance_uid: "2" } } as unknown as Task;
  const api = {
    task: async () => task,
    revisions: async () => [],
    labelmap: async (id: number) => {
      labelmapRequests.push(id);
      return payload;
    },
  } as unknown as AnnotationsApi;
  return { api, labelmapRequests };
}

const CONFIG = { taskId: "1", apiRoot: "/api/annotations", dicomwebRoot: "/dicomweb" };
const noFetch = (async () => new Response(null, { status: 404 })) as typeof fetch;
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

afterEach(() => {
  vi.restoreAllMocks();
});

describe("prefetch's labelmap", () => {
  test("is requested at once but decoded only when first asked for, and once", async () => {
    const { api, labelmapRequests } = await fakeApi();
    const decode = vi.spyOn(wire, "decodeLabelmap");
    const early = prefetch(CONFIG, api, noFetch, () => undefined);
    await settle();
    expect(labelmapRequests).toEqual([7]);
    expect(decode).not.toHaveBeenCalled();
    const [first, second] = await Promise.all([early.labelmap(), early.labelmap()]);
    expect(decode).toHaveBeenCalledTimes(1);
    expect(first).toBe(second);
    expect(Array.from(first?.voxels ?? [])).toEqual([0, 1, 0, 0, 2, 0, 0, 0]);
  });

  test("is the revision the page asks for, and null when the task has none", async () => {
    const { api, labelmapRequests } = await fakeApi();
    await prefetch({ ...CONFIG, revisionId: 3 }, api, noFetch, () => undefined).labelmap();
    expect(labelmapRequests).toEqual([3]);
    const bare = { ...api, task: async () => ({ id: 1, latest_revision: null, series: {} }) } as unknown as AnnotationsApi;
    expect(await prefetch(CONFIG, bare, noFetch, () => undefined).labelmap()).toBeNull();
  });
});
