// Saving revisions: one at a time, parent = the revision this browser last loaded or saved,
// autosave while dirty, a last keepalive save when the page goes away, and conflicts handed to
// the UI (reload, or keep mine as a new revision on top of the latest).

import { ApiError, type SaveRequest } from "../api/client";
import type { Finding, SavedRevision } from "../api/types";

export interface SaveApi {
  saveRevision(taskId: string, save: SaveRequest, options?: { keepalive?: boolean }): Promise<SavedRevision>;
}

export interface Snapshot {
  readonly labelmap: Uint8Array;
  readonly findings: readonly Finding[];
}

export type SaveState = "clean" | "dirty" | "saving" | "conflict" | "error";

export interface SaverEvents {
  onState?(state: SaveState, detail: string): void;
  onSaved?(revision: SavedRevision): void;
  onConflict?(error: ApiError): void;
  onError?(error: Error): void;
}

// Browsers cap the body of keepalive requests at 64 KiB in total.
export const KEEPALIVE_LIMIT = 60 * 1024;

export class Saver {
  private parent: number | null;
  private dirty = false;
  private editsSinceSaveStarted = false;
  private inFlight: Promise<boolean> | null = null;
  private blocked = false; // set on conflict until the user chooses
  private timer: number | null = null;
  private lastSnapshot: Snapshot | null = null;

  constructor(
    private readonly api: SaveApi,
    private readonly taskId: string,
    parentId: number | null,
    private readonly snapshot: () => Promise<Snapshot>,
    private readonly events: SaverEvents = {},
  ) {
    this.parent = parentId;
  }

  get parentId(): number | null {
    return this.parent;
  }

  get isDirty(): boolean {
    return this.dirty;
  }

  /** Something changed (a stroke, an attribute): the next save has work to do. */
  markDirty(): void {
    this.dirty = true;
    if (this.inFlight) this.editsSinceSaveStarted = true;
    if (!this.blocked) this.events.onState?.("dirty", "Unsaved changes");
  }

  startAutosave(seconds: number, setInterval: (fn: () => void, ms: number) => number = (fn, ms) => window.setInterval(fn, ms)): void {
    if (seconds <= 0) return;
    this.timer = setInterval(() => {
      if (this.dirty && !this.blocked) void this.save();
    }, seconds * 1000);
  }

  stopAutosave(clearInterval: (id: number) => void = (id) => window.clearInterval(id)): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** Save now (if dirty, or when forced); resolves true when a revision was written. */
  save({ force = false } = {}): Promise<boolean> {
    if (this.inFlight) return this.inFlight.then(() => (this.dirty ? this.save({ force }) : true));
    if (this.blocked || (!this.dirty && !force)) return Promise.resolve(false);
    this.inFlight = this.run().finally(() => {
      this.inFlight = null;
    });
    return this.inFlight;
  }

  /** After a 409: save my version as a new revision on top of the latest one. */
  keepMine(latestId: number | null): Promise<boolean> {
    this.parent = latestId;
    this.blocked = false;
    this.dirty = true;
    return this.save({ force: true });
  }

  /**
   * The page is going away: send what is unsaved with keepalive if it fits, using the last
   * snapshot (no time to compute a new one). Returns whether a request was sent.
   */
  flushOnLeave(snapshot: Snapshot | null = this.lastSnapshot): boolean {
    if (!this.dirty || this.blocked || this.inFlight || snapshot === null) return false;
    const size = snapshot.labelmap.length + JSON.stringify(snapshot.findings).length + 1024;
    if (size > KEEPALIVE_LIMIT) return false;
    void this.api
      .saveRevision(this.taskId, { ...snapshot, parentId: this.parent }, { keepalive: true })
      .then((saved) => {
        this.parent = saved.id;
        this.dirty = false;
      })
      .catch(() => undefined);
    return true;
  }

  /** Keep a fresh snapshot at hand for flushOnLeave (call after edits settle). */
  async prepareLeave(): Promise<void> {
    if (this.dirty) this.lastSnapshot = await this.snapshot();
  }

  private async run(): Promise<boolean> {
    this.events.onState?.("saving", "Saving…");
    this.editsSinceSaveStarted = false;
    try {
      const snapshot = await this.snapshot();
      this.lastSnapshot = snapshot;
      const saved = await this.api.saveRevision(this.taskId, { ...snapshot, parentId: this.parent });
      this.parent = saved.id;
      this.dirty = this.editsSinceSaveStarted;
      this.events.onSaved?.(saved);
      this.events.onState?.(this.dirty ? "dirty" : "clean", this.dirty ? "Unsaved changes" : `Saved as revision ${saved.id}`);
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.isConflict) {
        this.blocked = true;
        this.events.onState?.("conflict", error.detail);
        this.events.onConflict?.(error);
        return false;
      }
      const failure = error instanceof Error ? error : new Error(String(error));
      this.events.onState?.("error", failure.message);
      this.events.onError?.(failure);
      return false;
    }
  }
}
