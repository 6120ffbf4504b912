// The ward board refreshes its rows without reloading the page, and gives a visual (and, where
// the browser allows, audible) cue when a new high or critical alert appears. No framework.
//
// A board that stops refreshing still shows its last state as if all were well: when a refresh
// fails (network error, server gone, non-2xx, no answer) or none has succeeded for
// data-stale-ms, the #stale notice at the top says since when the screen is not up to date.
// Its words come from the server in the nurse's language, with the time of the last good
// refresh (each refresh sends the next sentence, in template#stale-fresh); the next good
// refresh hides it. Without JavaScript the notice stays hidden (nothing refreshes by itself).
"use strict";
(function () {
  const rows = document.getElementById("rows");
  const cue = document.getElementById("cue");
  const delays = document.getElementById("delays");
  const stale = document.getElementById("stale");
  if (!rows) return;
  const every = Number(rows.dataset.refreshMs) || 5000;
  const staleAfter = (stale && Number(stale.dataset.staleMs)) || 20000;
  const urgent = () => new Set(Array.from(
    rows.querySelectorAll(".alert.state-raised.prio-high, .alert.state-raised.prio-critical"),
    (el) => el.dataset.alert));
  let seen = urgent();
  let lastGood = Date.now();
  let pending = false;

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

  function outOfDate() {
    if (stale) stale.hidden = false;
  }

  function upToDate() {
    lastGood = Date.now();
    if (stale) stale.hidden = true;
  }

  async function refresh() {
    if (pending) return; // the one before has not answered yet: the watch below counts it
    pending = true;
    try {
      const response = await fetch("/board/rows", {
        credentials: "same-origin",
        signal: AbortSignal.timeout(Math.max(staleAfter - every, every)),
      });
      if (response.redirected || response.status === 401) { window.location = "/login"; return; }
      if (!response.ok) { outOfDate(); return; }
      rows.innerHTML = await response.text();
      // The wards' notices come first, in a template: above the table, only if changed.
      const notices = rows.querySelector("template#delays-fresh");
      if (notices) {
        if (delays && delays.innerHTML !== notices.innerHTML) {
          delays.replaceChildren(notices.content);
        }
        notices.remove();
      }
      // What to say if the refreshes stop after this one: this refresh's time, hidden.
      const next = rows.querySelector("template#stale-fresh");
      if (next) {
        if (stale) stale.replaceChildren(next.content);
        next.remove();
      }
      const now = urgent();
      const fresh = Array.from(now).filter((id) => !seen.has(id));
      if (fresh.length) { cue.hidden = false; beep(); }
      seen = now;
      upToDate();
      rows.dataset.refreshed = String(Date.now());
    } catch (e) {
      outOfDate(); // the server, or the network to it, is away: say so, try again next tick
    } finally {
      pending = false;
    }
  }

  function watch() {
    if (Date.now() - lastGood > staleAfter) outOfDate();
  }

  setInterval(refresh, every);
  setInterval(watch, 1000);
})();
