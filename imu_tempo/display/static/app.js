// imu-tempo live page. Renders the analyzer's state, pushed over a WebSocket by the analyzer itself.
// Every "state" message is the whole view, so a reload or a reconnect is up to date with one message.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const body = document.body;
  const api = (window.imuTempo = { state: null, link: null, connects: 0, latencies: [], paints: [] });
  const SILENCE_MS = 3000; // no message (state or heartbeat) for this long: the socket is dead, reconnect
  let ws = null, lastMessage = 0, retryMs = 250, retryTimer = null;

  const fmt = (v, digits = 2) => (v === null || v === undefined ? "–" : Number(v).toFixed(digits));
  const nowMs = () => performance.timeOrigin + performance.now();

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws";
    let sock;
    try { sock = new WebSocket(url); } catch (e) { scheduleReconnect(); return; }
    ws = sock;
    sock.onopen = () => { retryMs = 250; lastMessage = Date.now(); api.connects += 1; setConn("online"); };
    sock.onmessage = (m) => {
      if (sock !== ws) return;
      lastMessage = Date.now();
      let msg;
      try { msg = JSON.parse(m.data); } catch (e) { return; }
      if (msg.type === "state") {
        api.state = msg.state;
        render(msg.state);
        const dom = nowMs() - msg.t_ms;
        requestAnimationFrame(() => {
          push(api.paints, nowMs() - msg.t_ms);
        });
        push(api.latencies, dom);
      } else if (msg.type === "link") {
        renderLink(msg.link);
      }
    };
    sock.onclose = () => { if (sock === ws) { ws = null; setConn("offline"); scheduleReconnect(); } };
    sock.onerror = () => { try { sock.close(); } catch (e) { /* closing anyway */ } };
  }
  function push(list, v) { list.push(v); if (list.length > 2000) list.shift(); }
  function scheduleReconnect() {
    if (retryTimer !== null) return;
    retryTimer = setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 2000);
  }
  setInterval(() => {
    if (ws && ws.readyState === WebSocket.OPEN && Date.now() - lastMessage > SILENCE_MS) {
      const dead = ws; ws = null; setConn("offline");
      try { dead.close(); } catch (e) { /* gone */ }
      scheduleReconnect();
    }
  }, 500);
  window.addEventListener("online", () => { if (!ws) connect(); });
  document.addEventListener("visibilitychange", () => { if (!document.hidden && !ws) connect(); });

  function setConn(conn) {
    body.dataset.conn = conn;
    updateBanner();
  }

  function render(s) {
    body.dataset.seq = String(s.seq);
    body.dataset.state = s.set.state;
    body.dataset.reps = String(s.set.rep_count);
    $("set").textContent = s.set.index ? "set " + s.set.index : "set –";
    const last = s.last_rep;
    $("last-value").textContent = last ? fmt(last.value_s) : "–";
    $("count").textContent = String(s.set.rep_count);
    $("verdict").textContent = verdict(s);
    renderBars(s);
    renderSummary(s);
    renderLink(s.link);
  }

  function verdict(s) {
    const lim = s.limits;
    if (s.set.state === "failure") {
      const f = s.set.failure;
      const why = f && f.reason === "trend"
        ? Math.round(lim.slowdown * 100) + " % slower than the best reps"
        : "over " + fmt(lim.threshold_s, 1) + " s";
      return "tempo failure" + (f ? " at rep " + f.rep : "") + ": " + why;
    }
    if (s.set.state === "warning") return "close to the limit";
    if (s.set.state === "ok") return "on tempo";
    return s.link.state === "streaming" ? "waiting for the first rep" : "waiting for the sensor";
  }

  function renderBars(s) {
    const reps = s.set.reps, lim = s.limits;
    let top = lim.threshold_s * 1.25;
    if (lim.trend_limit_s) top = Math.max(top, lim.trend_limit_s * 1.1);
    for (const r of reps) if (r.value_s) top = Math.max(top, r.value_s * 1.1);
    const bars = $("bars");
    const frag = document.createDocumentFragment();
    const showLabels = reps.length <= 8;
    for (const r of reps) {
      const b = document.createElement("div");
      b.className = "bar " + r.state + (r.gap ? " gap" : "");
      b.style.height = (r.value_s ? (100 * r.value_s) / top : 2) + "%";
      b.title = "rep " + r.index + ": " + fmt(r.value_s) + " s";
      b.dataset.index = String(r.index);
      if (showLabels) { const t = document.createElement("span"); t.textContent = fmt(r.value_s); b.appendChild(t); }
      frag.appendChild(b);
    }
    bars.replaceChildren(frag);
    const th = $("line-threshold");
    th.style.bottom = (100 * lim.threshold_s) / top + "%";
    $("label-threshold").textContent = fmt(lim.threshold_s, 1) + " s";
    const tr = $("line-trend");
    if (lim.trend_limit_s) {
      tr.hidden = false;
      tr.style.bottom = (100 * lim.trend_limit_s) / top + "%";
      $("label-trend").textContent = "trend " + fmt(lim.trend_limit_s) + " s";
    } else {
      tr.hidden = true;
    }
  }

  function renderSummary(s) {
    const box = $("summary"), sm = s.summary;
    if (!sm || sm.index !== s.set.index) { box.hidden = true; body.dataset.summary = "none"; return; }
    box.hidden = false;
    body.dataset.summary = String(sm.index);
    $("summary-title").textContent = "set " + sm.index + " done";
    const fail = sm.first_failure_rep
      ? "tempo failure at rep " + sm.first_failure_rep + " (" + sm.failure_reason + ")"
      : "no tempo failure";
    $("summary-text").textContent = sm.rep_count + " reps · best " + fmt(sm.best_rep_s) + " s · mean " +
      fmt(sm.mean_rep_s) + " s · " + fail;
  }

  function renderLink(link) {
    if (!link) return;
    api.link = link;
    body.dataset.link = link.state;
    const names = { waiting: "waiting for sensor", streaming: "sensor ok", lost: "sensor lost",
      reconnecting: "reconnecting", stalled: "no data", ended: "session ended" };
    $("link").textContent = names[link.state] || link.state;
    $("rate").textContent = link.rate_hz ? link.rate_hz.toFixed(0) + " Hz" : (link.fs_hz ? link.fs_hz + " Hz nominal" : "–");
    $("dropped").textContent = link.dropped ? link.dropped + " samples lost" : (link.samples ? "no samples lost" : "");
    updateBanner();
  }

  function updateBanner() {
    const link = api.link ? api.link.state : "waiting";
    let title = "", text = "";
    if (body.dataset.conn === "offline") {
      title = "analyzer offline";
      text = "reconnecting to " + location.host + "…";
    } else if (link === "lost" || link === "reconnecting") {
      title = "sensor lost — reconnecting";
      text = (api.link && api.link.message) || "";
    } else if (link === "stalled") {
      title = "no data from the sensor";
      text = (api.link && api.link.message) || "";
    }
    $("banner").hidden = !title;
    body.dataset.banner = title ? "shown" : "none";
    $("banner-title").textContent = title;
    $("banner-text").textContent = text;
  }

  // Keep the screen on where the browser allows it (secure contexts only, e.g. localhost).
  async function keepAwake() {
    try { if (navigator.wakeLock && !document.hidden) await navigator.wakeLock.request("screen"); } catch (e) { /* optional */ }
  }
  document.addEventListener("visibilitychange", keepAwake);
  keepAwake();
  connect();
})();
