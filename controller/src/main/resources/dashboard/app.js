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
