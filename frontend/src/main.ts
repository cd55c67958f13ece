// Viewer entry: the Django task page renders <div id="viewer" data-task-id="...">.
const root = document.querySelector<HTMLElement>("#viewer");

if (root !== null) {
  const taskId = root.dataset["taskId"] ?? "";
  const placeholder = document.createElement("p");
  placeholder.textContent = "Viewer loads here";
  placeholder.dataset["taskId"] = taskId;
  root.replaceChildren(placeholder);
}
