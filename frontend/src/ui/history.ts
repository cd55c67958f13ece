// The task page's History section (annotations/_task_history.html, inside a <details>) follows
// the server: when the viewer has saved a revision or moved the task, the section's content is
// fetched again and swapped in. The <details> element stays, so it is open or closed as the user
// left it. A refresh that fails leaves the old content; the next change tries again. The page
// heading's task state follows the viewer's the same way.

/** What the viewer dispatches on its root after the server recorded something the History lists. */
export const HISTORY_CHANGED = ["nf:revision-saved", "nf:task-changed"] as const;

function fetchSection(url: string, signal: AbortSignal): Promise<Response> {
  return fetch(url, {
    headers: { Accept: "text/html" },
    credentials: "same-origin",
    cache: "no-store",
    // Signed out, the server redirects to the login form: here an opaque answer, never swapped in.
    redirect: "manual",
    signal,
  });
}

function parseSection(html: string): DocumentFragment {
  const template = document.createElement("template");
  template.innerHTML = html;
  if (template.content.querySelector("summary") === null) throw new Error("the answer is not the History section");
  return template.content;
}

/** Refresh `section` from its data-refresh-url on each change `viewer` reports; of overlapping refreshes the newest wins. */
export function followHistory(viewer: HTMLElement, section: HTMLElement): void {
  const url = section.dataset["refreshUrl"];
  if (!url) return;
  let latest: AbortController | null = null;
  const refresh = async (): Promise<void> => {
    latest?.abort();
    const mine = new AbortController();
    latest = mine;
    try {
      const response = await fetchSection(url, mine.signal);
      if (!response.ok) throw new Error(`the server answered ${response.status || response.type}`);
      const content = parseSection(await response.text());
      if (!mine.signal.aborted) section.replaceChildren(content);
    } catch (error) {
      // Only our status or the network's message: never the page's content (patient data).
      if (!mine.signal.aborted) console.warn(`The History section was not refreshed: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  for (const name of HISTORY_CHANGED) viewer.addEventListener(name, () => void refresh());
}

/** What the viewer dispatches on its root when the task's state is known anew (detail: the state). */
export const TASK_STATE = "nf:task-state";

/** "in_progress" as the server's pages write it: "In progress". */
export function stateDisplay(state: string): string {
  const words = state.replaceAll("_", " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Keep the page heading's task state (`label`) in step with the viewer's (a first save starts the task). */
export function followTaskState(viewer: HTMLElement, label: HTMLElement): void {
  viewer.addEventListener(TASK_STATE, (event) => {
    const state = (event as CustomEvent<{ state?: unknown }>).detail?.state;
    if (typeof state === "string" && state) label.textContent = stateDisplay(state);
  });
}
