import { describe, expect, test } from "vitest";

import { AnnotationsApi, ApiError, csrfToken, errorFromResponse, revisionForm } from "./client";

const jsonResponse = (status: number, body: unknown): Response =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

describe("csrfToken", () => {
  test("reads the csrftoken cookie among others", () => {
    expect(csrfToken("sessionid=abc; csrftoken=tok%3D1; other=x")).toBe("tok=1");
  });

  test("is empty without the cookie", () => {
    expect(csrfToken("sessionid=abc")).toBe("");
  });
});

describe("errorFromResponse", () => {
  test("uses the server's detail", async () => {
    const error = await errorFromResponse(jsonResponse(400, { code: "invalid_labelmap", detail: "labelmap checksum does not match its voxels" }), "Could not save");
    expect(error.message).toBe("Could not save: labelmap checksum does not match its voxels");
    expect(error.code).toBe("invalid_labelmap");
  });

  test("a conflict carries the latest revision id", async () => {
    const error = await errorFromResponse(jsonResponse(409, { code: "conflict", detail: "task changed", latest_id: 42 }), "Could not save");
    expect(error.isConflict).toBe(true);
    expect(error.latestId).toBe(42);
  });

  test("DRF field errors are spelled out", async () => {
    const error = await errorFromResponse(jsonResponse(400, { labelmap: ["No file was submitted."] }), "Could not save");
    expect(error.detail).toBe("labelmap: No file was submitted.");
  });

  test("an HTML error page gives a readable status", async () => {
    const error = await errorFromResponse(new Response("<html>boom</html>", { status: 502 }), "Could not load the task");
    expect(error.message).toBe("Could not load the task: the server failed (HTTP 502)");
    expect(error.body).toBeNull();
  });
});

describe("AnnotationsApi", () => {
  test("POSTs carry the CSRF token and same-origin credentials", async () => {
    const seen: RequestInit[] = [];
    const api = new AnnotationsApi(
      "/api/annotations",
      async (_url, init) => {
        seen.push(init ?? {});
        return jsonResponse(200, { state: "submitted" });
      },
      () => "csrftoken=abc",
    );
    await api.submit("7");
    expect(new Headers(seen[0]?.headers).get("X-CSRFToken")).toBe("abc");
    expect(seen[0]?.credentials).toBe("same-origin");
  });

  test("a network failure becomes an ApiError with a message", async () => {
    const api = new AnnotationsApi("/api", async () => { throw new TypeError("Failed to fetch"); }, () => "");
    await expect(api.task("1")).rejects.toThrow("Could not load the task: the server could not be reached");
  });

  test("a 403 on save is an ApiError with the server's detail", async () => {
    const api = new AnnotationsApi("/api", async () => jsonResponse(403, { detail: "not your task" }), () => "");
    const save = api.saveRevision("1", { labelmap: new Uint8Array(1), findings: [], parentId: null });
    await expect(save).rejects.toBeInstanceOf(ApiError);
    await expect(save).rejects.toThrow("Could not save: not your task");
  });
});

describe("review requests", () => {
  test("a decision is JSON with the CSRF token, and the answer is the task", async () => {
    const seen: Array<{ url: string; init: RequestInit }> = [];
    const api = new AnnotationsApi(
      "/api/annotations",
      async (url, init) => {
        seen.push({ url: String(url), init: init ?? {} });
        return jsonResponse(200, { id: 7, state: "rework", mode: "read" });
      },
      () => "csrftoken=abc",
    );
    const task = await api.sendToRework("7", { comment: "", finding_comments: [{ finding_id: "f1", text: "too small" }] });
    expect(task.state).toBe("rework");
    const [call] = seen;
    expect(call?.url).toBe("/api/annotations/tasks/7/rework/");
    expect(call?.init.method).toBe("POST");
    const headers = new Headers(call?.init.headers);
    expect(headers.get("Content-Type")).toBe("application/json");
    expect(headers.get("X-CSRFToken")).toBe("abc");
    expect(JSON.parse(String(call?.init.body))).toEqual({ comment: "", finding_comments: [{ finding_id: "f1", text: "too small" }] });
  });

  test.each([
    ["startReview", "review"],
    ["releaseReview", "release"],
  ] as const)("%s posts to %s/", async (method, action) => {
    const urls: string[] = [];
    const api = new AnnotationsApi("/api", async (url) => {
      urls.push(String(url));
      return jsonResponse(200, { id: 3, state: "in_review" });
    }, () => "");
    await api[method]("3");
    expect(urls).toEqual([`/api/tasks/3/${action}/`]);
  });

  test("a refused rework carries the server's detail for the panel", async () => {
    const api = new AnnotationsApi(
      "/api",
      async () => jsonResponse(400, { code: "invalid_review", detail: "say what needs rework: a comment or a comment on a finding" }),
      () => "",
    );
    const refused = api.sendToRework("3", { comment: "", finding_comments: [] });
    await expect(refused).rejects.toMatchObject({ code: "invalid_review", detail: "say what needs rework: a comment or a comment on a finding" });
  });

  test("revisions are read from the task's list", async () => {
    const urls: string[] = [];
    const api = new AnnotationsApi("/api", async (url) => {
      urls.push(String(url));
      return jsonResponse(200, [{ id: 2 }, { id: 1 }]);
    }, () => "");
    expect((await api.revisions("9")).map((r) => r.id)).toEqual([2, 1]);
    expect(urls).toEqual(["/api/tasks/9/revisions/"]);
  });
});

describe("revisionForm", () => {
  test("holds the labelmap blob, findings JSON and the parent id", async () => {
    const form = revisionForm({ labelmap: new Uint8Array([1, 2, 3]), findings: [], parentId: 5 });
    const blob = form.get("labelmap");
    expect(blob).toBeInstanceOf(Blob);
    expect(new Uint8Array(await (blob as Blob).arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
    expect(form.get("findings")).toBe("[]");
    expect(form.get("parent_id")).toBe("5");
  });

  test("a first save sends an empty parent id", () => {
    expect(revisionForm({ labelmap: new Uint8Array(1), findings: [], parentId: null }).get("parent_id")).toBe("");
  });
});
