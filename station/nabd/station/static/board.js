// The ward board refreshes its rows without reloading the page, and gives a visual (and, where
// the browser allows, audible) cue when a new high or critical alert appears. No framework.
"use strict";
(function () {
  const rows = document.getElementById("rows");
  const cue = document.getElementById("cue");
  const delays = document.getElementById("delays");
  if (!rows) return;
  const every = Number(rows.dataset.refreshMs) || 5000;
  const urgent = () => new Set(Array.from(
    rows.querySelectorAll(".alert.state-raised.prio-high, .alert.state-raised.prio-critical"),
    (el) => el.dataset.alert));
  let seen = urgent();

  function beep() {
    try {
      const ctx = new AudioContext();
      const osc = ctx.createOscillator();
      osc.frequency.value = 880;
      osc.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.3);
    } catch (e) { /* no sound before the user has interacted: the visual cue stands */ }
  }

  async function refresh() {
    try {
      const response = await fetch("/board/rows", { credentials: "same-origin" });
      if (response.redirected || response.status === 401) { window.location = "/login"; return; }
      if (!response.ok) return;
      rows.innerHTML = await response.text();
      // The late-readings notices come first, in a template: above the table, only if changed.
      const late = rows.querySelector("template#delays-fresh");
      if (late) {
        if (delays && delays.innerHTML !== late.innerHTML) delays.replaceChildren(late.content);
        late.remove();
      }
      const now = urgent();
      const fresh = Array.from(now).filter((id) => !seen.has(id));
      if (fresh.length) { cue.hidden = false; beep(); }
      seen = now;
      rows.dataset.refreshed = String(Date.now());
    } catch (e) { /* the server is away for a moment: try again at the next tick */ }
  }
  setInterval(refresh, every);
})();
