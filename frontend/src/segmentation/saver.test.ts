import { describe, expect, test, vi } from "vitest";

import { ApiError, type SaveRequest } from "../api/client";
import type { SavedRevision } from "../api/types";
import { KEEPALIVE_LIMIT, Saver, type SaveApi } from "./saver";

class FakeApi implements SaveApi {
  calls: Array<{ save: SaveRequest; keepalive: boolean }> = [];
  next = 100;
  failWith: ApiError | null = null;
  async saveRevision(_task: string, save: SaveRequest, options: { keepalive?: boolean } = {}): Promise<SavedRevision> {
    this.calls.push({ save, keepalive: options.keepalive ?? false });
    if (this.failWith) {
      const error = this.failWith;
      this.failWith = null;
      throw error;
    }
    return { id: this.next++ };
  }
}

const snapshot = async () => ({ labelmap: new Uint8Array([1, 2, 3]), findings: [] });
const conflict = (latest: number) => new ApiError(409, "conflict", "task changed since you opened it", { code: "conflict", detail: "x", latest_id: latest });

describe("Saver", () => {
  test("the first save's parent is the loaded revision, the next one's the revision just saved", async () => {
    const api = new FakeApi();
    const saver = new Saver(api, "1", 7, snapshot);
    saver.markDirty();
    await saver.save();
    saver.markDirty();
    await saver.save();
    expect(api.calls.map((c) => c.save.parentId)).toEqual([7, 100]);
    expect(saver.isDirty).toBe(false);
  });

  test("nothing is sent when nothing changed", async () => {
    const api = new FakeApi();
    expect(await new Saver(api, "1", null, snapshot).save()).toBe(false);
    expect(api.calls).toHaveLength(0);
  });

  test("a conflict blocks saving until the user keeps theirs, which saves on top of the latest", async () => {
    const api = new FakeApi();
    const onConflict = vi.fn();
    const saver = new Saver(api, "1", 7, snapshot, { onConflict });
    api.failWith = conflict(9);
    saver.markDirty();
    expect(await saver.save()).toBe(false);
    expect(onConflict).toHaveBeenCalledOnce();
    expect(onConflict.mock.calls[0]?.[0].latestId).toBe(9);
    saver.markDirty();
    expect(await saver.save()).toBe(false); // blocked, no silent retry
    expect(api.calls).toHaveLength(1);
    expect(await saver.keepMine(9)).toBe(true);
    expect(api.calls[1]?.save.parentId).toBe(9);
  });

  test("a failed save keeps the changes dirty and reports the server's message", async () => {
    const api = new FakeApi();
    const onError = vi.fn();
    const saver = new Saver(api, "1", null, snapshot, { onError });
    api.failWith = new ApiError(400, "invalid_labelmap", "labelmap shape 1x1x1 does not match", null, "Could not save: labelmap shape 1x1x1 does not match");
    saver.markDirty();
    await saver.save();
    expect(saver.isDirty).toBe(true);
    expect(onError.mock.calls[0]?.[0].message).toBe("Could not save: labelmap shape 1x1x1 does not match");
  });

  test("edits made while a save is in flight stay dirty", async () => {
    const api = new FakeApi();
    let release: () => void = () => undefined;
    const slow = () => new Promise<{ labelmap: Uint8Array; findings: [] }>((resolve) => {
      release = () => resolve({ labelmap: new Uint8Array(1), findings: [] });
    });
    const saver = new Saver(api, "1", null, slow);
    saver.markDirty();
    const pending = saver.save();
    saver.markDirty();
    release();
    await pending;
    expect(saver.isDirty).toBe(true);
  });

  test("autosave saves every N seconds only while dirty", async () => {
    const api = new FakeApi();
    const saver = new Saver(api, "1", null, snapshot);
    let tick: () => void = () => undefined;
    saver.startAutosave(30, (fn, ms) => {
      expect(ms).toBe(30_000);
      tick = fn;
      return 1;
    });
    tick();
    await Promise.resolve();
    expect(api.calls).toHaveLength(0);
    saver.markDirty();
    tick();
    await vi.waitFor(() => expect(api.calls).toHaveLength(1));
  });

  test("leaving the page sends the last snapshot with keepalive when it fits", async () => {
    const api = new FakeApi();
    const saver = new Saver(api, "1", 3, snapshot);
    saver.markDirty();
    await saver.prepareLeave();
    expect(saver.flushOnLeave()).toBe(true);
    expect(api.calls[0]).toMatchObject({ keepalive: true, save: { parentId: 3 } });
  });

  test("a snapshot over the keepalive limit is not sent on leave", () => {
    const api = new FakeApi();
    const saver = new Saver(api, "1", 3, snapshot);
    saver.markDirty();
    expect(saver.flushOnLeave({ labelmap: new Uint8Array(KEEPALIVE_LIMIT), findings: [] })).toBe(false);
    expect(api.calls).toHaveLength(0);
  });
});
