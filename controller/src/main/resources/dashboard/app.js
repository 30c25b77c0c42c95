// Lifeboat dashboard: refreshes <main> in place, moves progress bars from the event stream, and sends action
// buttons' calls to the REST API with the session's CSRF token. No build step, no framework.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content;
  const main = document.getElementById("content");
  const notice = document.getElementById("notice");
  if (!main) return;

  let refreshing = false;
  async function refresh() {
    if (refreshing) return;
    const focused = document.activeElement;
    if (focused && main.contains(focused) && /^(INPUT|SELECT|TEXTAREA)$/.test(focused.tagName)) return;
    refreshing = true;
    try {
      const r = await fetch(location.href, { credentials: "same-origin", cache: "no-store" });
      if (r.redirected && r.url.includes("/ui/login")) { location.href = r.url; return; }
      if (!r.ok) return;
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const fresh = doc.getElementById("content");
      if (fresh) {
        // what the user made on the page (a plan asked for, a time typed) survives the refresh
        for (const old of main.querySelectorAll("[data-keep][id]")) {
          const now = fresh.querySelector("#" + CSS.escape(old.id));
          if (!now) continue;
          if (old.tagName === "FORM") {
            for (const input of old.querySelectorAll("input[name]")) {
              const twin = now.querySelector('input[name="' + CSS.escape(input.name) + '"]');
              if (twin) twin.setAttribute("value", input.value);
            }
          } else {
            now.innerHTML = old.innerHTML;
          }
        }
        main.innerHTML = fresh.innerHTML;
        main.dataset.refreshedAt = String(Date.now());
      }
    } finally {
      refreshing = false;
    }
  }
  const every = Number(main.dataset.refresh || 0);
  if (every > 0) setInterval(refresh, every * 1000);

  function say(text, failed) {
    notice.textContent = text;
    notice.className = failed ? "failed" : "done";
  }

  async function post(url, body) {
    const r = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: body,
    });
    return { ok: r.ok, status: r.status, body: await r.json().catch(() => ({})) };
  }

  // the catalog is read by the agent (a CATALOG job): ask, then show the page again when the job has ended
  async function untilEnded(id, show) {
    for (let i = 0; i < 600; i++) {
      const r = await fetch("/api/v1/jobs/" + encodeURIComponent(id), { credentials: "same-origin", cache: "no-store" });
      const job = await r.json().catch(() => ({}));
      if (show) show(job);
      if (["COMPLETED", "FAILED", "CANCELLED"].includes(job.state)) return job;
      await new Promise((ok) => setTimeout(ok, 500));
    }
    return null;
  }

  document.addEventListener("click", async (e) => {
    const button = e.target.closest("button.catalog");
    if (!button) return;
    button.disabled = true;
    try {
      const r = await post(button.dataset.post, "{}");
      if (!r.ok) { say("reading the catalog refused: " + (r.body.error || r.status), true); return; }
      say("reading the catalog: job " + r.body.id);
      const job = await untilEnded(r.body.id);
      say("catalog: job " + r.body.id + " " + (job ? job.state.toLowerCase() : "still running"), job && job.state !== "COMPLETED");
      refresh();
    } finally {
      button.disabled = false;
    }
  });

  // "restore to…": the agent plans (which backup, which WAL) and nothing is restored
  document.addEventListener("submit", async (e) => {
    const form = e.target.closest("form.planner");
    if (!form) return;
    e.preventDefault();
    const out = document.getElementById("plan-result");
    const latest = e.submitter && e.submitter.value === "latest";
    const time = form.querySelector("input[name=target_time]").value;
    if (!latest && !time) { out.textContent = "choose a time first"; out.className = "plan-result failed"; return; }
    const params = latest ? { target_latest: "true" } : { target_time: (time.length === 16 ? time + ":00" : time) + "Z" };
    out.className = "plan-result";
    out.textContent = "asking the agent …";
    const r = await post("/api/v1/databases/" + encodeURIComponent(form.dataset.database) + "/catalog", JSON.stringify(params));
    if (!r.ok) { out.textContent = "refused: " + (r.body.error || r.status); out.className = "plan-result failed"; return; }
    const job = await untilEnded(r.body.id, (j) => { out.textContent = "the agent is planning (" + (j.phase || j.state || "") + ") …"; });
    if (!job || job.state !== "COMPLETED") {
      out.textContent = "no plan: " + ((job && job.message) || "the job did not end");
      out.className = "plan-result failed";
      out.dataset.job = r.body.id;
      return;
    }
    const p = (JSON.parse(job.resultJson || "{}").plan) || {};
    const fmt = (b) => {
      const u = ["B", "KiB", "MiB", "GiB", "TiB"];
      let i = 0;
      while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
      return (i === 0 ? b : b.toFixed(1)) + " " + u[i];
    };
    out.className = "plan-result done";
    out.dataset.job = r.body.id;
    out.dataset.backup = p.backup;
    out.dataset.walSegments = p.walSegments;
    out.replaceChildren();
    const lines = [
      "Restore to " + p.target + ": start from backup " + p.backup + " (" + p.backupType + ", ended " + p.backupStopTime + ", " + fmt(p.restoreBytes) + " to restore) on timeline " + p.timeline + ".",
      "Replay " + p.walSegments + " WAL segments (" + fmt(p.walBytes) + "): " + p.firstSegment + " .. " + p.lastSegment + (p.stopLsn ? "; recovery stops at " + p.stopLsn : "") + ".",
      "The archive reaches " + p.recoverableUntil + " on this timeline." + (p.historyNote ? " Note: " + p.historyNote : ""),
    ];
    for (const l of lines) { const d = document.createElement("div"); d.textContent = l; out.appendChild(d); }
  });

  document.addEventListener("click", async (e) => {
    const button = e.target.closest("button.action");
    if (!button) return;
    if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
    button.disabled = true;
    try {
      const r = await fetch(button.dataset.post, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: button.dataset.body,
      });
      const body = await r.json().catch(() => ({}));
      if (r.ok) {
        say(button.textContent + ": " + (body.id ? "job " + body.id + " " + (body.state || "").toLowerCase() : "done"));
      } else {
        say(button.textContent + " refused: " + (body.error || r.status), true);
      }
      refresh();
    } finally {
      button.disabled = false;
    }
  });

  // live progress: the page says which event it was rendered after, so nothing older is replayed
  const live = main.querySelector("[data-events-after]");
  if (live && window.EventSource) {
    const source = new EventSource("/api/v1/events?after=" + encodeURIComponent(live.dataset.eventsAfter));
    const subjects = ["backup", "restore", "verify", "replication", "retention", "health-check", "wal-stream", "job"];
    const fmt = (b) => {
      const u = ["B", "KiB", "MiB", "GiB", "TiB"];
      let i = 0;
      while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
      return (i === 0 ? b : b.toFixed(1)) + " " + u[i];
    };
    for (const s of subjects) {
      source.addEventListener(s + ":progress", (ev) => {
        const d = JSON.parse(ev.data).data || {};
        for (const bar of document.querySelectorAll('progress[data-job="' + CSS.escape(d.job) + '"]')) {
          const total = Number(d.bytesTotal || 0), done = Number(d.bytesDone || 0);
          bar.max = Math.max(total, 1);
          bar.value = done;
          const cell = bar.parentElement;
          cell.querySelector(".pct").textContent = total > 0 ? Math.round((100 * done) / total) + " %" : "";
          cell.querySelector(".phase").textContent = d.phase || "";
          cell.querySelector(".rate").textContent = d.bytesPerSecond ? fmt(d.bytesPerSecond) + "/s" : "";
        }
      });
      for (const kind of ["started", "completed", "failed", "cancelled"]) {
        source.addEventListener(s + ":" + kind, () => setTimeout(refresh, 300));
      }
    }
  }
})();
