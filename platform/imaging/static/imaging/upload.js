// Upload page: send the chosen files to the upload endpoint a few at a time and show one
// report line per file. Plain JS with no dependencies; every server string goes through
// textContent, never innerHTML, so a file name or reason can't inject markup.
(function () {
  "use strict";

  const FILES_PER_REQUEST = 16;
  const BYTES_PER_REQUEST = 32 * 1024 * 1024;
  const OUTCOMES = ["stored", "duplicate", "skipped", "conflict", "rejected", "failed"];

  const root = document.getElementById("upload");
  if (!root) return;
  const form = document.getElementById("upload-form");
  const pickFiles = document.getElementById("pick-files");
  const pickFolder = document.getElementById("pick-folder");
  const selection = document.getElementById("selection");
  const start = document.getElementById("upload-start");
  const progressBox = document.getElementById("upload-progress");
  const bar = document.getElementById("upload-bar");
  const status = document.getElementById("upload-status");
  const results = document.getElementById("upload-results");
  const counts = document.getElementById("upload-counts");
  const rows = document.getElementById("upload-rows");
  const endpoint = root.dataset.endpoint;
  const maxRequestBytes = Number(root.dataset.maxRequestBytes) || Infinity;
  const csrfToken = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  const tally = {};

  function chosen() {
    const files = [];
    for (const file of pickFiles.files) files.push({ file: file, path: file.name });
    for (const file of pickFolder.files) {
      files.push({ file: file, path: file.webkitRelativePath || file.name });
    }
    return files;
  }

  function size(bytes) {
    const units = ["bytes", "KiB", "MiB", "GiB"];
    let value = bytes;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return unit === 0 ? value + " bytes" : value.toFixed(1) + " " + units[unit];
  }

  function describeSelection() {
    const files = chosen();
    const total = files.reduce((sum, entry) => sum + entry.file.size, 0);
    selection.textContent = files.length
      ? files.length + " file" + (files.length === 1 ? "" : "s") + ", " + size(total)
      : "Nothing selected.";
    start.disabled = files.length === 0;
  }

  // Archives travel alone (the server expands them); other files in small batches, so each
  // request stays quick and a failure costs little.
  function batches(files) {
    const out = [];
    let current = [];
    let bytes = 0;
    for (const entry of files) {
      const archive = /\.zip$/i.test(entry.path);
      if (current.length && (archive || current.length >= FILES_PER_REQUEST ||
          bytes + entry.file.size > BYTES_PER_REQUEST)) {
        out.push(current);
        current = [];
        bytes = 0;
      }
      current.push(entry);
      bytes += entry.file.size;
      if (archive) {
        out.push(current);
        current = [];
        bytes = 0;
      }
    }
    if (current.length) out.push(current);
    return out;
  }

  function addRow(report) {
    const row = document.createElement("tr");
    const name = document.createElement("td");
    name.textContent = report.name;
    const outcome = document.createElement("td");
    const badge = document.createElement("span");
    badge.className = "outcome outcome-" + (OUTCOMES.includes(report.outcome) ? report.outcome : "failed");
    badge.textContent = report.outcome;
    outcome.appendChild(badge);
    const details = document.createElement("td");
    details.textContent = report.reason || "";
    if (report.study_url && report.study_url.charAt(0) === "/") {
      const link = document.createElement("a");
      link.href = report.study_url;
      link.textContent = "open study";
      if (report.reason) details.appendChild(document.createTextNode(" "));
      details.appendChild(link);
    }
    row.append(name, outcome, details);
    rows.appendChild(row);
    tally[report.outcome] = (tally[report.outcome] || 0) + 1;
  }

  function showTally() {
    counts.replaceChildren();
    for (const outcome of OUTCOMES) {
      if (!tally[outcome]) continue;
      const item = document.createElement("li");
      item.className = "outcome-" + outcome;
      item.textContent = outcome + ": " + tally[outcome];
      counts.appendChild(item);
    }
  }

  function failAll(batch, reason) {
    for (const entry of batch) addRow({ name: entry.path, outcome: "failed", reason: reason });
  }

  function send(batch, onProgress) {
    return new Promise((resolve) => {
      const body = new FormData();
      for (const entry of batch) {
        body.append("files", entry.file, entry.file.name);
        body.append("paths", entry.path);
      }
      const request = new XMLHttpRequest();
      request.open("POST", endpoint);
      request.setRequestHeader("X-CSRFToken", csrfToken);
      request.setRequestHeader("Accept", "application/json");
      request.upload.onprogress = (event) => onProgress(event.loaded);
      request.onload = () => {
        let data = null;
        try {
          data = JSON.parse(request.responseText);
        } catch (error) {
          data = null;
        }
        resolve({ status: request.status, data: data });
      };
      request.onerror = () => resolve({ status: 0, data: null });
      request.send(body);
    });
  }

  async function upload(files) {
    const total = files.reduce((sum, entry) => sum + entry.file.size, 0) || 1;
    let done = 0;
    let stop = "";
    const queue = batches(files);
    for (let i = 0; i < queue.length; i += 1) {
      const batch = queue[i];
      const bytes = batch.reduce((sum, entry) => sum + entry.file.size, 0);
      status.textContent = "Sending batch " + (i + 1) + " of " + queue.length + "…";
      if (stop) {
        failAll(batch, stop);
      } else if (bytes > maxRequestBytes) {
        failAll(batch, "larger than the " + size(maxRequestBytes) + " an upload may be");
      } else {
        const answer = await send(batch, (loaded) => { bar.value = (done + loaded) / total; });
        if (answer.status === 200 && answer.data && Array.isArray(answer.data.reports)) {
          answer.data.reports.forEach(addRow);
        } else {
          const detail = answer.data && answer.data.detail
            ? answer.data.detail
            : answer.status === 0 ? "network error" : "server answered " + answer.status;
          failAll(batch, detail);
          // Signed out or not allowed: every later batch would fail the same way.
          if (answer.status === 401 || answer.status === 403) stop = detail;
        }
      }
      done += bytes;
      bar.value = done / total;
      showTally();
    }
    status.textContent = "Done: " + files.length + " file" + (files.length === 1 ? "" : "s") + " sent.";
  }

  pickFiles.addEventListener("change", describeSelection);
  pickFolder.addEventListener("change", describeSelection);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = chosen();
    if (!files.length) return;
    start.disabled = pickFiles.disabled = pickFolder.disabled = true;
    progressBox.hidden = false;
    results.hidden = false;
    bar.value = 0;
    try {
      await upload(files);
    } finally {
      pickFiles.value = "";
      pickFolder.value = "";
      pickFiles.disabled = pickFolder.disabled = false;
      describeSelection();
    }
  });
})();
