// Typed client for /api/annotations/: same-origin, session cookie, CSRF token on writes.
// Every failure becomes an ApiError whose message is the server's `detail`, ready to show.

import type { DecisionRequest, ErrorBody, Finding, Revision, SavedRevision, Task } from "./types";

export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly body: ErrorBody | null,
    message: string = detail,
  ) {
    super(message);
  }

  get isConflict(): boolean {
    return this.status === 409;
  }

  /** For a 409 on save: the revision that is now the latest. */
  get latestId(): number | null {
    return typeof this.body?.latest_id === "number" ? this.body.latest_id : null;
  }
}

export function csrfToken(cookie: string): string {
  for (const part of cookie.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === "csrftoken") return decodeURIComponent(rest.join("="));
  }
  return "";
}

/** The readable message of a failed response: `detail`, else field errors, else the status. */
export async function errorFromResponse(response: Response, what: string): Promise<ApiError> {
  let body: unknown = null;
  const text = await response.text().catch(() => "");
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  const record = typeof body === "object" && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : null;
  const code = typeof record?.["code"] === "string" ? record["code"] : `http_${response.status}`;
  let detail = typeof record?.["detail"] === "string" ? record["detail"] : "";
  if (!detail && record) {
    // DRF field errors: {"labelmap": ["No file was submitted."]}
    detail = Object.entries(record)
      .filter(([key]) => key !== "code")
      .map(([key, value]) => `${key}: ${Array.isArray(value) ? value.join(" ") : String(value)}`)
      .join("; ");
  }
  if (!detail) detail = `${statusWords(response.status)} (HTTP ${response.status})`;
  const errorBody: ErrorBody | null = record
    ? {
        code,
        detail,
        ...(typeof record["latest_id"] === "number" ? { latest_id: record["latest_id"] } : {}),
      }
    : null;
  return new ApiError(response.status, code, detail, errorBody, `${what}: ${detail}`);
}

function statusWords(status: number): string {
  if (status === 401 || status === 403) return "you are not allowed to do this (signed out?)";
  if (status === 404) return "not found";
  if (status === 413) return "too large";
  if (status >= 500) return "the server failed";
  return "the request was refused";
}

export interface SaveRequest {
  readonly labelmap: Uint8Array;
  readonly findings: readonly Finding[];
  readonly parentId: number | null;
}

type Fetch = typeof fetch;

export class AnnotationsApi {
  constructor(
    private readonly root: string,
    private readonly fetcher: Fetch = (input, init) => fetch(input, init),
    private readonly cookie: () => string = () => document.cookie,
  ) {}

  task(taskId: string): Promise<Task> {
    return this.json<Task>(`${this.root}/tasks/${taskId}/`, { method: "GET" }, "Could not load the task");
  }

  async labelmap(revisionId: number): Promise<Uint8Array> {
    const response = await this.send(
      `${this.root}/revisions/${revisionId}/labelmap`,
      // JSON too: DRF negotiates before the view runs and answers 406 to a bare
      // octet-stream Accept, and error bodies ({"detail"}) come back as JSON.
      { method: "GET", headers: { Accept: "application/octet-stream, application/json;q=0.9" } },
      "Could not load the labelmap",
    );
    return new Uint8Array(await response.arrayBuffer());
  }

  /** Save a new revision; a 409 comes back as an ApiError with isConflict and latestId. */
  saveRevision(taskId: string, save: SaveRequest, { keepalive = false } = {}): Promise<SavedRevision> {
    return this.json<SavedRevision>(
      `${this.root}/tasks/${taskId}/revisions/`,
      { method: "POST", body: revisionForm(save), keepalive },
      "Could not save",
    );
  }

  /** The assignee hands the task in; the answer is the task as it is now. */
  submit(taskId: string): Promise<Task> {
    return this.json<Task>(`${this.root}/tasks/${taskId}/submit/`, { method: "POST" }, "Could not submit for review");
  }

  /** Every revision of the task, newest first. */
  revisions(taskId: string): Promise<Revision[]> {
    return this.json<Revision[]>(`${this.root}/tasks/${taskId}/revisions/`, { method: "GET" }, "Could not load the task's revisions");
  }

  /** A reviewer takes a submitted task (it becomes theirs to decide on, and to edit). */
  startReview(taskId: string): Promise<Task> {
    return this.post(taskId, "review", {}, "Could not start the review");
  }

  /** The reviewer (or a lead) hands the task back to the review queue. */
  releaseReview(taskId: string): Promise<Task> {
    return this.post(taskId, "release", {}, "Could not release the task");
  }

  accept(taskId: string, decision: DecisionRequest): Promise<Task> {
    return this.post(taskId, "accept", decision, "Could not accept");
  }

  sendToRework(taskId: string, decision: DecisionRequest): Promise<Task> {
    return this.post(taskId, "rework", decision, "Could not send to rework");
  }

  private post(taskId: string, action: string, body: object, what: string): Promise<Task> {
    return this.json<Task>(
      `${this.root}/tasks/${taskId}/${action}/`,
      { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } },
      what,
    );
  }

  private async json<T>(url: string, init: RequestInit, what: string): Promise<T> {
    const response = await this.send(url, init, what);
    return (await response.json()) as T;
  }

  private async send(url: string, init: RequestInit, what: string): Promise<Response> {
    const headers = new Headers(init.headers);
    if (!headers.has("Accept")) headers.set("Accept", "application/json");
    if (init.method !== "GET") headers.set("X-CSRFToken", csrfToken(this.cookie()));
    let response: Response;
    try {
      response = await this.fetcher(url, { ...init, headers, credentials: "same-origin" });
    } catch (error) {
      const detail = `the server could not be reached (${String(error)})`;
      throw new ApiError(0, "network", detail, null, `${what}: ${detail}`);
    }
    if (!response.ok) throw await errorFromResponse(response, what);
    return response;
  }
}

export function revisionForm(save: SaveRequest): FormData {
  const form = new FormData();
  form.append(
    "labelmap",
    new Blob([save.labelmap as Uint8Array<ArrayBuffer>], { type: "application/octet-stream" }),
    "labelmap.nflm",
  );
  form.append("findings", JSON.stringify(save.findings));
  form.append("parent_id", save.parentId === null ? "" : String(save.parentId));
  return form;
}
