// The C3 Render dashboard: plain JavaScript, no build step. It talks to the same public API
// as any client: POST /uploads and /<type> to submit, GET /events/<id> (Server-Sent Events,
// read with fetch so the API key header can be sent) to watch a job, GET / and /jobs for
// the queues, workers and job list, POST /job/<id> and /job/<id>/retry to cancel and retry.
"use strict";

const $ = (selector) => document.querySelector(selector);
// the API's root: "" here, "/c3" behind a proxy that serves us under /c3 (X-Forwarded-Prefix)
const ROOT = location.pathname.replace(/\/ui\/?$/, "");
const keyInput = $("#api-key");
keyInput.value = localStorage.getItem("c3-api-key") || "";
keyInput.addEventListener("change", () => localStorage.setItem("c3-api-key", keyInput.value));

function headers(extra = {}) {
  const key = keyInput.value.trim();
  return key ? { "X-C3-RENDER-KEY": key, ...extra } : extra;
}

async function api(path, options = {}) {
  const response = await fetch(ROOT + path, { ...options, headers: headers(options.headers) });
  const type = response.headers.get("Content-Type") || "";
  const body = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Error((body && body.error) || `HTTP ${response.status}`);
  return body;
}

// --- submitting ---------------------------------------------------------------------
let activeType = "csm";
document.querySelectorAll("#tabs button").forEach((tab) => tab.addEventListener("click", () => {
  activeType = tab.dataset.type;
  document.querySelectorAll("#tabs button").forEach((b) => b.classList.toggle("active", b === tab));
  document.querySelectorAll(".job-form").forEach((f) => { f.hidden = f.dataset.type !== activeType; });
}));

async function upload(file) {
  const data = new FormData();
  data.append("file", file, file.name);
  return (await api("/uploads", { method: "POST", body: data })).url;
}

function readFields(container, body) {
  container.querySelectorAll("[name]").forEach((input) => {
    const name = input.name;
    if (input.type === "checkbox") { if (input.checked) body[name] = true; return; }
    const value = input.value.trim();
    if (!value) return;
    if (input.type === "number") body[name] = Number(value);
    else if (name === "monologue") body[name] = value.split("\n").map((s) => s.trim()).filter(Boolean);
    else if (name === "webhook_events") body[name] = value.split(",").map((s) => s.trim());
    else body[name] = value;
  });
}

async function collect(form) {
  const body = {};
  readFields(form, body);
  readFields($("#common"), body);
  if (form.dataset.type === "csm" && body.monologue && !body.text) delete body.text;
  for (const set of form.querySelectorAll("fieldset.input")) {
    const file = set.querySelector("input[type=file]").files[0];
    const url = set.querySelector("input[type=url]").value.trim();
    if (file) body[set.dataset.field] = await upload(file);
    else if (url) body[set.dataset.field] = url;
  }
  return body;
}

$("#submit-button").addEventListener("click", async () => {
  const form = document.querySelector(`#form-${activeType}`);
  $("#submit-error").textContent = "";
  try {
    const body = await collect(form);
    const answer = await api(`/${activeType}`, {
      method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" },
    });
    show(answer.id);
    refresh();
  } catch (error) {
    $("#submit-error").textContent = error.message;
  }
});

// --- one job, live ------------------------------------------------------------------
let following = null;

function setStatus(status) {
  const badge = $("#job-status");
  badge.textContent = status;
  badge.className = `status ${status}`;
  $("#cancel").disabled = !["queued", "running"].includes(status);
  $("#retry").disabled = !["failed", "timed_out"].includes(status);
}

async function show(id) {
  if (following) following.abort();
  following = new AbortController();
  $("#job").hidden = false;
  $("#job-id").textContent = id;
  $("#job-log").textContent = "";
  $("#job-result").innerHTML = "";
  $("#job-queue").textContent = "";
  const doc = await api(`/status/${id}`);
  setStatus(doc.status);
  $("#job-progress").value = doc.progress || 0;
  follow(id, doc.type, following.signal);
}

async function follow(id, type, signal) {
  let lastId = "";
  while (!signal.aborted) {
    try {
      const response = await fetch(`${ROOT}/events/${id}`, {
        headers: headers(lastId ? { "Last-Event-ID": lastId } : {}), signal,
      });
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const event = parseEvent(buffer.slice(0, cut));
          buffer = buffer.slice(cut + 2);
          if (event.id) lastId = event.id;
          if (event.kind && handle(event, type)) return;
        }
      }
    } catch (error) {
      if (signal.aborted) return;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

function parseEvent(block) {
  const event = { kind: "", data: "", id: "" };
  for (const line of block.split("\n")) {
    const [field, ...rest] = line.split(":");
    const value = rest.join(":").replace(/^ /, "");
    if (field === "event") event.kind = value;
    else if (field === "data") event.data += value;
    else if (field === "id") event.id = value;
  }
  return event;
}

function handle(event, type) {
  const data = JSON.parse(event.data || "{}");
  if (event.kind === "status") {
    setStatus(data.status);
    $("#job-queue").textContent = "";
    if (data.error) log(data.at, "ERROR", data.error);
  } else if (event.kind === "queue") {
    $("#job-queue").textContent = `${data.queue_position} ahead in the queue`;
  } else if (event.kind === "progress") {
    $("#job-progress").value = data.progress;
  } else if (event.kind === "log") {
    log(data.at, data.level, data.message);
  } else if (event.kind === "result") {
    setStatus(data.status);
    if (data.status === "success") $("#job-progress").value = 1;
    renderResult(data, type);
    refresh();
    return true;
  }
  return false;
}

function log(at, level, message) {
  const time = at ? new Date(at * 1000).toISOString().slice(11, 23) : "";
  $("#job-log").textContent += `${time} ${level} ${message}\n`;
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  Object.entries(attributes).forEach(([name, value]) => node.setAttribute(name, value));
  if (text) node.textContent = text;
  return node;
}

async function renderResult(doc, type) {
  const box = $("#job-result");
  box.innerHTML = "";
  if (doc.status !== "success") {
    box.append(element("p", { class: "error", id: "result-error" }, doc.error || doc.status));
    return;
  }
  if (type === "csm") box.append(element("audio", { controls: "", id: "result-audio", src: doc.result_url }));
  if (type === "portrait") box.append(element("video", { controls: "", id: "result-video", src: doc.result_url }));
  if (doc.result_url) {
    const line = element("p");
    line.append(element("a", { href: doc.result_url, download: "", id: "result-link" }, "download"));
    box.append(line);
  }
  if (doc.text !== undefined) box.append(element("pre", { id: "result-text" }, doc.text));
  if (type === "whisper") {
    const srt = await api(`/result/${doc.id}?format=srt`);
    box.append(element("h3", {}, "Subtitles (SRT)"), element("pre", { id: "result-subtitles" }, srt));
  }
  const extra = { ...doc };
  ["id", "status", "result_url", "text", "segments"].forEach((name) => delete extra[name]);
  const more = element("details");
  more.append(element("summary", {}, "details"), element("pre", {}, JSON.stringify(extra, null, 2)));
  box.append(more);
}

$("#cancel").addEventListener("click", async () => {
  await api(`/job/${$("#job-id").textContent}`, {
    method: "POST", body: JSON.stringify({ status: "cancelled" }),
    headers: { "Content-Type": "application/json" },
  });
  refresh();
});

$("#retry").addEventListener("click", async () => {
  const id = $("#job-id").textContent;
  await api(`/job/${id}/retry`, { method: "POST" });
  show(id);
});

// --- queues, workers, jobs ----------------------------------------------------------
async function refresh() {
  try {
    const health = await api("/");
    $("#queues tbody").replaceChildren(...Object.entries(health.queues || {}).map(([type, q]) => {
      const row = element("tr");
      [type, q.queued, q.running].forEach((cell) => row.append(element("td", {}, String(cell))));
      return row;
    }));
    const live = await api("/workers");  // GET / shows counts only; /workers needs the key
    $("#workers").replaceChildren(...(live.workers || []).map((w) =>
      element("li", {}, `${w.id} on ${w.host}: ${(w.types || []).join(", ")} (running ${w.running})`)));
    const listing = await api("/jobs?limit=25");
    $("#jobs tbody").replaceChildren(...listing.jobs.map((job) => {
      const row = element("tr", { "data-id": job.id });
      [job.id.slice(0, 8), job.type, job.status, `${Math.round(job.progress * 100)}%`,
        (job.created_at || "").slice(0, 19)].forEach((cell) => row.append(element("td", {}, cell)));
      row.addEventListener("click", () => show(job.id));
      return row;
    }));
  } catch (error) {
    $("#submit-error").textContent = error.message;
  }
}

refresh();
setInterval(refresh, 3000);
