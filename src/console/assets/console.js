// The store console: plain JavaScript, no build step. It signs in (a pairing link or a
// pasted staff token), keeps the store's pick list live over the event stream (polling when
// streams are blocked), and calls the same REST API as every other client. Everything the
// page says comes from i18n.js; every failure shows the API's problem+json in plain words.
"use strict";

(function () {
  const STORAGE_KEY = "clickcollect.console";
  const LANGUAGE_KEY = "clickcollect.console.language";
  const UPDATES_KEY = "clickcollect.console.updates";
  const POLL_SECONDS = 10;
  const SAFETY_POLL_SECONDS = 60;
  const STREAM_OPEN_TIMEOUT_MS = 8000;
  const ORDER_EVENTS = ["order.created", "order.status", "order.arrival", "order.at_risk"];
  // A hardware scanner types a whole code within milliseconds, then Enter. A pause this long
  // starts over, so stray keys pressed a while ago do not end up in front of a code. (Not
  // shorter: a busy tablet delivers a scanner's keys late, and a code typed by hand on the
  // list is welcome too.)
  const WEDGE_GAP_MS = 1000;
  const WEDGE_MIN_LENGTH = 4;

  const $ = (id) => document.getElementById(id);
  // What the Content-Security-Policy refused, for support (and the browser tests) to read.
  window.consoleDiagnostics = { cspViolations: [], chimes: 0, toasts: [] };
  document.addEventListener("securitypolicyviolation", (event) => {
    window.consoleDiagnostics.cspViolations.push(event.violatedDirective + " " + event.blockedURI);
  });
  const state = {
    auth: null,
    lang: "en",
    dict: {},
    orders: [],
    known: null,
    arrivalsSeen: new Map(),
    mode: null,
    stream: null,
    streamTimer: null,
    pollTimer: null,
    reconnectDelay: 2000,
    loading: null,
    loadAgain: false,
    order: null,
    shortSku: null,
    handoverCode: null,
    level: null,
    sku: null,
    sound: true,
    audio: null,
    camera: null,
  };

  // ---- language ----------------------------------------------------------------------

  function chooseLanguage() {
    const all = window.CONSOLE_MESSAGES || {};
    const chosen = localStorage.getItem(LANGUAGE_KEY);
    if (chosen && all[chosen]) return chosen;
    for (const tag of navigator.languages || [navigator.language || "en"]) {
      const primary = String(tag).toLowerCase().split("-")[0];
      if (all[primary]) return primary;
    }
    return "en";
  }

  function applyLanguage() {
    const all = window.CONSOLE_MESSAGES || {};
    state.lang = chooseLanguage();
    state.dict = Object.assign({}, all.en || {}, all[state.lang] || {});
    document.documentElement.lang = state.lang;
    document.documentElement.dir = state.lang === "ar" ? "rtl" : "ltr";
    for (const el of document.querySelectorAll("[data-i18n]")) {
      el.textContent = t(el.dataset.i18n);
    }
    $("language").value = localStorage.getItem(LANGUAGE_KEY) || "";
    showTitle();
    renderSound();
  }

  /// The store in the header and the tab's title, once signed in.
  function showTitle() {
    document.title = t("app.title") + (state.auth ? " · " + state.auth.store_name : "");
    $("title").textContent = state.auth ? state.auth.store_name + " (" + state.auth.store + ")" : t("app.title");
  }

  function t(key, vars) {
    const text = state.dict[key] || key;
    return text.replace(/\{([a-z]+)\}/g, (all, name) => (vars && name in vars ? String(vars[name]) : all));
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    if (seconds < 60) return t("time.s", { n: seconds });
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return t("time.m", { n: minutes });
    return t("time.h", { n: Math.floor(minutes / 60), m: minutes % 60 });
  }

  function clock(iso) {
    const at = new Date(iso);
    return new Intl.DateTimeFormat(state.lang, { weekday: "short", hour: "2-digit", minute: "2-digit" }).format(at);
  }

  // A booked slot as "Mon 10:00–10:30", in the device's time zone.
  function slotSpan(slot) {
    const end = new Intl.DateTimeFormat(state.lang, { hour: "2-digit", minute: "2-digit" }).format(new Date(slot.ends_at));
    return clock(slot.starts_at) + "–" + end;
  }

  // ---- the API -----------------------------------------------------------------------

  function newKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  class ApiFailure extends Error {
    constructor(status, problem, retryAfter) {
      super((problem && (problem.detail || problem.title)) || "HTTP " + status);
      this.status = status;
      this.problem = problem || {};
      this.retryAfter = retryAfter;
    }
    get kind() {
      const type = this.problem.type || "";
      return type.slice(type.lastIndexOf("/") + 1);
    }
  }

  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    if (state.auth) headers.Authorization = "Bearer " + state.auth.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    // Every write can be retried safely: the server answers a repeated key once.
    if (method === "POST") headers["Idempotency-Key"] = newKey();
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
    } catch (error) {
      const failure = new ApiFailure(0, { detail: t("error.network") });
      failure.network = true;
      throw failure;
    }
    const type = response.headers.get("Content-Type") || "";
    const data = type.includes("json") ? await response.json().catch(() => null) : null;
    if (!response.ok) {
      const failure = new ApiFailure(response.status, data, Number(response.headers.get("Retry-After")) || null);
      if (response.status === 401 && state.auth) signOutHere("signin.expired");
      throw failure;
    }
    return data;
  }

  /// A failure in plain words: the problem's detail and each field's message.
  function describe(error) {
    if (error.network) return t("error.network");
    if (error.status === 403) return t("error.forbidden") + " " + (error.problem.detail || "");
    const fields = (error.problem.errors || []).map((e) => e.field + ": " + e.message).join("; ");
    const detail = [error.problem.detail || error.message, fields].filter(Boolean).join(" — ");
    // A refusal (4xx) says what the API said; only a failure of the server is "wrong".
    return error.status >= 400 && error.status < 500 ? detail : t("error.generic", { detail });
  }

  function notice(target, kind, text) {
    const box = $(target);
    box.replaceChildren();
    if (!text) return;
    const p = document.createElement("p");
    p.className = "notice " + kind;
    p.textContent = text;
    box.append(p);
  }

  let toastTimer = null;
  function toast(text, kind) {
    const box = $("toast");
    window.consoleDiagnostics.toasts.push(text);
    box.textContent = text;
    box.dataset.kind = kind || "info";
    box.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { box.hidden = true; }, 5000);
  }

  // ---- signing in ----------------------------------------------------------------------

  function loadAuth() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
      if (saved && saved.token && saved.store) return saved;
    } catch (error) { /* a damaged entry is a signed-out device */ }
    return null;
  }

  function saveAuth(auth) {
    state.auth = auth;
    localStorage.setItem(STORAGE_KEY, JSON.stringify(auth));
  }

  function claimsOf(token) {
    const parts = token.split(".");
    if (parts.length !== 3) return null;
    try {
      const json = atob(parts[1].replace(/-/g, "+").replace(/_/g, "/"));
      return JSON.parse(json);
    } catch (error) {
      return null;
    }
  }

  async function pairWith(code) {
    notice("signin-status", "ok", t("signin.pairing"));
    try {
      const paired = await api("POST", "/v1/console/pairings", { code });
      saveAuth({ token: paired.token, store: paired.store, store_name: paired.store_name, device_id: paired.device_id, expires_at: paired.expires_at });
      toast(t("signin.paired", { store: paired.store_name }));
      start();
    } catch (error) {
      notice("signin-status", "error", describe(error));
    }
  }

  async function signInWithToken(event) {
    event.preventDefault();
    const token = $("token-input").value.trim();
    const claims = claimsOf(token);
    if (!claims || !["staff", "admin"].includes(claims.role)) {
      notice("signin-status", "error", t("signin.bad_token"));
      return;
    }
    const store = claims.role === "staff" ? claims.store : $("store-input").value.trim();
    if (!store) {
      notice("signin-status", "error", t("signin.needs_store"));
      return;
    }
    state.auth = { token, store, store_name: store, device_id: null };
    try {
      await api("GET", "/v1/stores/" + encodeURIComponent(store) + "/orders?limit=1");
      const location = await api("GET", "/v1/locations/" + encodeURIComponent(store));
      saveAuth({ token, store, store_name: location.name, device_id: null, expires_at: claims.exp ? new Date(claims.exp * 1000).toISOString() : null });
      $("token-input").value = "";
      start();
    } catch (error) {
      state.auth = null;
      notice("signin-status", "error", describe(error));
    }
  }

  async function signOut() {
    const auth = state.auth;
    if (auth && auth.device_id) {
      // A paired device revokes its own token, so a copy of it left anywhere is useless.
      try {
        await api("DELETE", "/v1/stores/" + encodeURIComponent(auth.store) + "/console-devices/" + encodeURIComponent(auth.device_id));
      } catch (error) { /* signed out here in any case */ }
    }
    signOutHere(null);
  }

  function signOutHere(reason) {
    localStorage.removeItem(STORAGE_KEY);
    state.auth = null;
    stopLive();
    stopCamera();
    showSignIn();
    if (reason) notice("signin-status", "error", t(reason));
  }

  function showSignIn() {
    $("tabs").hidden = true;
    $("conn").hidden = true;
    $("sound").hidden = true;
    $("offline").hidden = true;
    showTitle();
    show("signin");
  }

  // ---- views and routing ---------------------------------------------------------------

  const VIEWS = ["signin", "orders", "order", "handover", "stock", "transfers"];

  function show(view) {
    for (const name of VIEWS) $("view-" + name).hidden = name !== view;
    for (const tab of ["orders", "handover", "stock", "transfers"]) {
      const link = $("tab-" + tab);
      if (tab === view || (view === "order" && tab === "orders")) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  function route() {
    if (!state.auth) return showSignIn();
    const hash = location.hash.replace(/^#/, "");
    if (hash !== "handover") stopCamera();
    if (hash.startsWith("order/")) return openOrder(decodeURIComponent(hash.slice(6)));
    if (hash === "handover") {
      show("handover");
      $("code-input").focus();
      return;
    }
    if (hash === "stock") {
      show("stock");
      $("sku-input").focus();
      return;
    }
    if (hash === "transfers") {
      show("transfers");
      notice("transfers-notice", "", "");
      $("transfer-input").focus();
      loadTransfers();
      return;
    }
    show("orders");
    render();
  }

  function go(hash) {
    if (location.hash === "#" + hash) route();
    else location.hash = hash;
  }

  // ---- the live list -------------------------------------------------------------------

  function setMode(mode) {
    state.mode = mode;
    const badge = $("conn");
    badge.hidden = false;
    badge.dataset.state = mode;
    badge.textContent = mode === "live" ? t("conn.live") : mode === "polling" ? t("conn.polling", { s: POLL_SECONDS }) : t("conn.offline");
    $("offline").hidden = mode !== "offline";
  }

  function stopLive() {
    if (state.stream) state.stream.close();
    state.stream = null;
    clearTimeout(state.streamTimer);
    clearInterval(state.pollTimer);
    state.pollTimer = null;
    state.pollSeconds = null;
  }

  /// Reads the list every `seconds`; a rhythm already running is kept, not restarted, so
  /// reconnection attempts cannot keep pushing the next read away.
  function poll(seconds) {
    if (state.pollTimer && state.pollSeconds === seconds) return;
    clearInterval(state.pollTimer);
    state.pollSeconds = seconds;
    state.pollTimer = setInterval(load, seconds * 1000);
  }

  async function connect() {
    stopLive();
    if (!state.auth) return;
    if (!window.EventSource || localStorage.getItem(UPDATES_KEY) === "polling") {
      setMode("polling");
      poll(POLL_SECONDS);
      return load();
    }
    let ticket;
    try {
      ticket = (await api("POST", "/v1/stream-tickets")).ticket;
    } catch (error) {
      return streamFailed();
    }
    const url = "/v1/stores/" + encodeURIComponent(state.auth.store) + "/events?ticket=" + encodeURIComponent(ticket);
    const stream = new EventSource(url);
    state.stream = stream;
    // A proxy that holds streams back never opens one: poll instead.
    state.streamTimer = setTimeout(() => { if (stream.readyState !== EventSource.OPEN) streamFailed(); }, STREAM_OPEN_TIMEOUT_MS);
    stream.onopen = () => {
      clearTimeout(state.streamTimer);
      state.reconnectDelay = 2000;
      setMode("live");
      // A safety net for events lost in between, and the waiting times' source of truth.
      poll(SAFETY_POLL_SECONDS);
      load();
    };
    for (const name of ORDER_EVENTS) stream.addEventListener(name, () => load());
    stream.onerror = () => {
      // The ticket in the URL is short-lived: reconnect with a new one, not the browser's retry.
      if (state.stream === stream) streamFailed();
    };
  }

  function streamFailed() {
    if (state.stream) state.stream.close();
    state.stream = null;
    clearTimeout(state.streamTimer);
    if (!state.auth) return;
    // Offline stays offline until a read of the list succeeds (see `load`).
    if (state.mode !== "offline") setMode(navigator.onLine === false ? "offline" : "polling");
    poll(POLL_SECONDS);
    load();
    state.streamTimer = setTimeout(connect, state.reconnectDelay);
    state.reconnectDelay = Math.min(state.reconnectDelay * 2, 60000);
  }

  async function load() {
    if (!state.auth) return;
    // One load at a time; a burst of events makes one more, not one each.
    if (state.loading) {
      state.loadAgain = true;
      return state.loading;
    }
    state.loading = (async () => {
      try {
        const items = [];
        let cursor = null;
        do {
          const query = "limit=200" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
          const page = await api("GET", "/v1/stores/" + encodeURIComponent(state.auth.store) + "/orders?" + query);
          items.push(...page.items);
          cursor = page.next_cursor;
        } while (cursor && items.length < 1000);
        cue(items);
        state.orders = items;
        if (state.mode === "offline") {
          // The server is back: say so, and try the stream again now rather than after the backoff.
          setMode(state.stream ? "live" : "polling");
          if (!state.stream && localStorage.getItem(UPDATES_KEY) !== "polling") {
            clearTimeout(state.streamTimer);
            state.reconnectDelay = 2000;
            state.streamTimer = setTimeout(connect, 0);
          }
        }
        render();
      } catch (error) {
        if (error.network) setMode("offline");
      }
    })();
    await state.loading;
    state.loading = null;
    if (state.loadAgain) {
      state.loadAgain = false;
      return load();
    }
  }

  /// New orders and new curbside arrivals since the last load: a toast, a tone, a flash.
  function cue(items) {
    const first = state.known === null;
    const known = state.known || new Set();
    const fresh = [];
    for (const order of items) {
      if (!known.has(order.id)) {
        if (!first && order.status === "confirmed") fresh.push(t("orders.new", { number: order.number }));
        order.fresh = !first;
      }
      if (order.arrival) {
        const seen = state.arrivalsSeen.get(order.id);
        if (!first && seen !== order.arrival.arrived_at) {
          fresh.push(t("orders.arrived", { number: order.number }));
          order.fresh = true;
        }
        state.arrivalsSeen.set(order.id, order.arrival.arrived_at);
      }
    }
    state.known = new Set(items.map((o) => o.id));
    if (fresh.length) {
      toast(fresh.join(" · "));
      beep();
    }
  }

  function render() {
    if ($("view-orders").hidden) return;
    const arrivals = state.orders.filter((o) => o.arrival && o.status !== "collected");
    const rest = state.orders.filter((o) => !arrivals.includes(o));
    $("arrivals").replaceChildren(...arrivals.map(orderItem));
    $("orders").replaceChildren(...rest.map(orderItem));
    $("arrivals-empty").hidden = arrivals.length > 0;
    $("orders-empty").hidden = rest.length > 0;
    for (const order of state.orders) order.fresh = false;
    tick();
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function orderItem(order) {
    const li = el("li");
    const button = el("button", "order" + (order.at_risk ? " at-risk" : "") + (order.fresh ? " fresh" : ""));
    button.type = "button";
    button.dataset.order = order.id;
    button.dataset.number = order.number;
    button.addEventListener("click", () => go("order/" + encodeURIComponent(order.id)));
    const top = el("div", "top");
    top.append(el("span", "number", order.number));
    top.append(el("span", "badge", t("status." + order.status)));
    top.append(el("span", "meta", t("fulfilment." + order.fulfilment)));
    const units = order.lines.reduce((sum, line) => sum + line.quantity, 0);
    top.append(el("span", "meta", t("orders.units", { n: units })));
    if (order.at_risk) top.append(el("span", "badge risk", t("orders.at_risk")));
    if (order.overdue) top.append(el("span", "badge late", t("orders.overdue")));
    if (order.late) top.append(el("span", "badge late", t("orders.late")));
    if (order.slot) top.append(el("span", "meta slot", t("orders.slot", { time: slotSpan(order.slot) })));
    button.append(top);
    if (order.arrival) {
      const where = el("div", "top");
      const waiting = el("span", "waiting");
      waiting.dataset.since = order.arrival.arrived_at;
      where.append(waiting);
      if (order.arrival.bay) where.append(el("span", "meta", t("orders.bay", { bay: order.arrival.bay })));
      if (order.arrival.vehicle) where.append(el("span", "meta", t("orders.vehicle", { vehicle: order.arrival.vehicle })));
      button.append(where);
    } else {
      const age = el("div", "meta age");
      age.dataset.created = order.created_at;
      if (order.pickup_deadline) age.dataset.deadline = order.pickup_deadline;
      button.append(age);
    }
    const lines = el("ul", "lines");
    for (const line of order.lines) lines.append(el("li", "", line.quantity + " × " + line.name + " (" + line.sku + ")"));
    button.append(lines);
    li.append(button);
    return li;
  }

  /// The waiting times count up every second, the ages with them.
  function tick() {
    const now = Date.now();
    for (const node of document.querySelectorAll(".waiting[data-since]")) {
      node.textContent = t("orders.waiting", { time: duration((now - Date.parse(node.dataset.since)) / 1000) });
    }
    for (const node of document.querySelectorAll(".age[data-created]")) {
      const parts = [t("orders.age", { time: duration((now - Date.parse(node.dataset.created)) / 1000) })];
      if (node.dataset.deadline) parts.push(t("orders.due", { time: clock(node.dataset.deadline) }));
      node.textContent = parts.join(" · ");
    }
  }

  // ---- sound ---------------------------------------------------------------------------

  function beep() {
    if (!state.sound || !window.AudioContext) return;
    try {
      state.audio = state.audio || new AudioContext();
      const ctx = state.audio;
      for (const [start, pitch] of [[0, 880], [0.2, 1175]]) {
        const tone = ctx.createOscillator();
        const gain = ctx.createGain();
        tone.frequency.value = pitch;
        gain.gain.setValueAtTime(0.2, ctx.currentTime + start);
        gain.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + start + 0.18);
        tone.connect(gain).connect(ctx.destination);
        tone.start(ctx.currentTime + start);
        tone.stop(ctx.currentTime + start + 0.2);
      }
      window.consoleDiagnostics.chimes += 1;
    } catch (error) { /* no sound on this device */ }
  }

  function renderSound() {
    const button = $("sound");
    button.setAttribute("aria-pressed", String(state.sound));
    button.setAttribute("aria-label", state.sound ? t("sound.on") : t("sound.off"));
    $("sound-on").hidden = !state.sound;
    $("sound-off").hidden = state.sound;
  }

  // ---- one order -----------------------------------------------------------------------

  async function openOrder(id) {
    show("order");
    notice("order-notice", "", "");
    // Nothing of the last order stays on screen while this one loads.
    state.order = null;
    $("order-title").textContent = "";
    $("order-meta").textContent = "";
    $("order-lines").replaceChildren();
    $("order-timeline").replaceChildren();
    for (const button of document.querySelectorAll("#order-actions button")) button.hidden = true;
    $("short-form").hidden = true;
    $("cancel-form").hidden = true;
    try {
      state.order = await api("GET", "/v1/orders/" + encodeURIComponent(id));
      renderOrder();
      $("order-title").focus();
    } catch (error) {
      notice("order-notice", "error", describe(error));
    }
  }

  function renderOrder() {
    const order = state.order;
    $("order-title").textContent = t("order.title", { number: order.number });
    const meta = [t("status." + order.status), t("fulfilment." + order.fulfilment)];
    if (order.pickup_deadline) meta.push(t("orders.due", { time: clock(order.pickup_deadline) }));
    if (order.slot) meta.push(t("orders.slot", { time: slotSpan(order.slot) }));
    $("order-meta").textContent = meta.join(" · ");
    if (order.at_risk) notice("order-notice", "warn", t("orders.at_risk"));
    const picking = ["confirmed", "picking"].includes(order.status);
    $("order-lines").replaceChildren(...order.lines.map((line) => {
      const row = el("tr");
      row.append(el("td", "", line.name), el("td", "", line.sku), el("td", "qty", String(line.quantity)));
      const cell = el("td");
      if (picking) {
        const short = el("button", "secondary", t("order.short"));
        short.type = "button";
        short.dataset.sku = line.sku;
        short.setAttribute("aria-label", t("order.short") + ": " + line.name);
        short.addEventListener("click", () => {
          state.shortSku = line.sku;
          $("short-units").max = String(line.quantity);
          $("short-units").value = "1";
          $("short-label").textContent = t("order.short_units") + " (" + line.name + ")";
          $("short-form").hidden = false;
          $("short-units").focus();
        });
        cell.append(short);
      }
      row.append(cell);
      return row;
    }));
    const collectable = order.fulfilment !== "delivery";
    $("act-start").hidden = order.status !== "confirmed";
    $("act-ready").hidden = !(order.status === "picking" && collectable);
    $("act-handover").hidden = order.status !== "ready_for_pickup";
    $("act-cancel").hidden = !["confirmed", "picking", "ready_for_pickup"].includes(order.status);
    $("order-timeline").replaceChildren(...(order.events || []).map((event) => {
      const reason = event.detail && event.detail.reason ? " — " + event.detail.reason : "";
      return el("li", "", clock(event.at) + " · " + (state.dict["status." + event.kind] ? t("status." + event.kind) : event.kind) + " · " + event.actor + reason);
    }));
  }

  async function orderStep(path, body, done) {
    const order = state.order;
    notice("order-notice", "", "");
    for (const button of document.querySelectorAll("#order-actions button, #short-form button, #cancel-form button")) button.disabled = true;
    try {
      state.order = await api("POST", "/v1/orders/" + encodeURIComponent(order.id) + "/" + path, body);
      $("short-form").hidden = true;
      $("cancel-form").hidden = true;
      renderOrder();
      notice("order-notice", "ok", done(state.order));
      load();
    } catch (error) {
      notice("order-notice", "error", describe(error));
    } finally {
      for (const button of document.querySelectorAll("#order-actions button, #short-form button, #cancel-form button")) button.disabled = false;
    }
  }

  // ---- handover ------------------------------------------------------------------------

  function handoverFailure(error) {
    switch (error.kind) {
      case "pickup-at-other-store": {
        const store = error.problem.store || {};
        return t("handover.other_store", { store: (store.name || "") + " (" + (store.code || "") + ")" });
      }
      case "rate-limited":
        return t("handover.throttled", { s: error.retryAfter || 60 });
      case "not-found":
        return t("handover.wrong");
      default:
        return error.status === 409 ? t("handover.not_ready") + " " + (error.problem.detail || "") : describe(error);
    }
  }

  async function lookUp(code) {
    code = code.trim();
    if (!code) return;
    stopCamera();
    state.handoverCode = code;
    $("code-input").value = code;
    $("handover-order").hidden = true;
    notice("handover-notice", "", "");
    try {
      const order = await api("POST", "/v1/stores/" + encodeURIComponent(state.auth.store) + "/pickups/lookup", { code });
      $("handover-order-title").textContent = t("order.title", { number: order.number });
      $("handover-lines").replaceChildren(...order.lines.map((line) => {
        const row = el("tr");
        row.append(el("td", "", line.name), el("td", "", line.sku), el("td", "qty", String(line.quantity)));
        return row;
      }));
      const units = order.lines.reduce((sum, line) => sum + line.quantity, 0);
      $("handover-confirm").textContent = t("handover.confirm", { n: units });
      $("handover-confirm").disabled = false;
      $("handover-order").hidden = false;
      $("handover-confirm").focus();
    } catch (error) {
      notice("handover-notice", "error", handoverFailure(error));
      $("code-input").select();
    }
  }

  async function handOver() {
    $("handover-confirm").disabled = true;
    try {
      const order = await api("POST", "/v1/stores/" + encodeURIComponent(state.auth.store) + "/pickups", { code: state.handoverCode });
      $("handover-order").hidden = true;
      notice("handover-notice", "ok", t("handover.done", { number: order.number }));
      $("code-input").value = "";
      $("code-input").focus();
      load();
    } catch (error) {
      $("handover-confirm").disabled = false;
      notice("handover-notice", "error", handoverFailure(error));
    }
  }

  /// A keyboard-wedge scanner: characters, then Enter, anywhere but in a text field (where
  /// the field's own form takes them).
  function listenForScanner() {
    let buffer = "";
    let last = 0;
    document.addEventListener("keydown", (event) => {
      if (!state.auth) return;
      const target = event.target;
      if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
      const now = performance.now();
      if (now - last > WEDGE_GAP_MS) buffer = "";
      last = now;
      if (event.key === "Enter") {
        if (buffer.length >= WEDGE_MIN_LENGTH) {
          event.preventDefault();
          const code = buffer;
          buffer = "";
          // On the transfers screen a scan names a transfer; anywhere else, a pickup code.
          if (!$("view-transfers").hidden) {
            $("transfer-input").value = code;
            findTransfer(code);
          } else {
            go("handover");
            lookUp(code);
          }
        }
        buffer = "";
        return;
      }
      if (event.key.length === 1 && !event.ctrlKey && !event.metaKey && !event.altKey) buffer += event.key;
    });
  }

  // ---- the camera ----------------------------------------------------------------------

  function loadDecoder() {
    if (window.jsQR) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = "/console/assets/jsqr-1.4.0.js";
      script.onload = resolve;
      script.onerror = reject;
      document.head.append(script);
    });
  }

  async function startCamera() {
    notice("handover-notice", "", "");
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      notice("handover-notice", "error", t("handover.camera_no"));
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      const video = $("camera-video");
      video.srcObject = stream;
      await video.play();
      const native = "BarcodeDetector" in window ? new window.BarcodeDetector({ formats: ["qr_code"] }) : null;
      if (!native) await loadDecoder();
      state.camera = { stream, native, canvas: document.createElement("canvas") };
      $("camera").hidden = false;
      $("camera-start").hidden = true;
      $("camera-stop").hidden = false;
      scanFrame();
    } catch (error) {
      stopCamera();
      notice("handover-notice", "error", t("handover.camera_no"));
    }
  }

  async function scanFrame() {
    const camera = state.camera;
    if (!camera) return;
    const video = $("camera-video");
    let found = null;
    try {
      if (video.videoWidth > 0) {
        if (camera.native) {
          const codes = await camera.native.detect(video);
          found = codes.length ? codes[0].rawValue : null;
        } else {
          const scale = Math.min(1, 640 / video.videoWidth);
          const width = Math.round(video.videoWidth * scale);
          const height = Math.round(video.videoHeight * scale);
          camera.canvas.width = width;
          camera.canvas.height = height;
          const context = camera.canvas.getContext("2d", { willReadFrequently: true });
          context.drawImage(video, 0, 0, width, height);
          const image = context.getImageData(0, 0, width, height);
          const code = window.jsQR(image.data, width, height, { inversionAttempts: "dontInvert" });
          found = code ? code.data : null;
        }
      }
    } catch (error) { /* a frame that could not be read: try the next */ }
    if (found) return lookUp(found);
    if (state.camera === camera) camera.timer = setTimeout(scanFrame, 150);
  }

  function stopCamera() {
    const camera = state.camera;
    state.camera = null;
    if (camera) {
      clearTimeout(camera.timer);
      for (const track of camera.stream.getTracks()) track.stop();
    }
    $("camera-video").srcObject = null;
    $("camera").hidden = true;
    $("camera-start").hidden = false;
    $("camera-stop").hidden = true;
  }

  // ---- stock ---------------------------------------------------------------------------

  function levelPath(sku) {
    return "/v1/stock/" + encodeURIComponent(state.auth.store) + "/" + encodeURIComponent(sku);
  }

  async function lookUpStock(sku) {
    notice("stock-notice", "", "");
    $("stock-level").hidden = true;
    state.level = null;
    try {
      state.level = await api("GET", levelPath(sku));
      showLevel();
    } catch (error) {
      if (error.status === 404) notice("stock-notice", "warn", t("stock.unknown", { sku }) + " " + (error.problem.detail || ""));
      else notice("stock-notice", "error", describe(error));
    }
    // A SKU with no level here yet can be counted too: the count creates it.
    state.sku = sku;
    $("count-form").hidden = false;
    $("count-input").value = state.level ? String(state.level.on_hand) : "";
  }

  function showLevel() {
    const level = state.level;
    $("level-on-hand").textContent = level.on_hand;
    $("level-reserved").textContent = level.reserved;
    $("level-available").textContent = level.available;
    $("level-safety").textContent = level.safety_stock;
    $("stock-level").hidden = false;
  }

  async function saveCount(event) {
    event.preventDefault();
    const value = $("count-input").value.trim();
    const count = Number(value);
    if (value === "" || !Number.isInteger(count) || count < 0) {
      notice("stock-notice", "error", t("error.generic", { detail: t("stock.count") + ": 0, 1, 2…" }));
      return;
    }
    const body = { on_hand: count, reason: "count" };
    // Compare-and-set: a count over stock that changed since it was shown is refused.
    if (state.level) body.expected_on_hand = state.level.on_hand;
    try {
      await api("PUT", levelPath(state.sku), body);
      state.level = await api("GET", levelPath(state.sku));
      showLevel();
      notice("stock-notice", "ok", t("stock.counted", { sku: state.sku, n: count }));
    } catch (error) {
      if (error.kind === "stock-count-mismatch") {
        notice("stock-notice", "warn", t("stock.changed", { n: error.problem.on_hand }));
        lookUpStockQuietly();
      } else {
        notice("stock-notice", "error", describe(error));
      }
    }
  }

  async function lookUpStockQuietly() {
    try {
      state.level = await api("GET", levelPath(state.sku));
      showLevel();
    } catch (error) { /* the warning already says to count again */ }
  }

  // ---- transfers ----------------------------------------------------------------------

  /// Ship-to-store: what is on its way to this store, received here line by line.
  async function loadTransfers() {
    try {
      const page = await api("GET", "/v1/transfers?status=in_transit&limit=200");
      state.transfers = page.items;
      renderTransfers();
    } catch (error) {
      notice("transfers-notice", "error", describe(error));
    }
  }

  function renderTransfers() {
    const list = $("transfer-list");
    list.replaceChildren();
    const transfers = state.transfers || [];
    if (!transfers.length) {
      list.append(el("li", "empty", t("transfers.none")));
      return;
    }
    for (const transfer of transfers) list.append(transferItem(transfer));
  }

  function transferItem(transfer) {
    const li = el("li", "card transfer");
    li.dataset.transfer = transfer.id;
    li.dataset.number = transfer.order_number;
    const top = el("div", "top");
    top.append(el("span", "number", transfer.order_number));
    top.append(el("span", "meta", t("transfers.from", { from: transfer.from })));
    top.append(el("span", "meta", t("transfers.expected", { time: clock(transfer.expected_at) })));
    li.append(top);
    const form = el("form", "lines");
    form.noValidate = true;
    for (const line of transfer.lines) {
      const field = el("div", "field");
      const id = "arrived-" + transfer.id + "-" + line.sku;
      const label = el("label", "", t("transfers.arrived", { sku: line.sku, n: line.quantity }));
      label.htmlFor = id;
      const input = el("input");
      input.id = id;
      input.type = "number";
      input.min = "0";
      input.max = String(line.quantity);
      input.step = "1";
      input.inputMode = "numeric";
      input.value = String(line.quantity);
      input.dataset.sku = line.sku;
      input.dataset.sent = String(line.quantity);
      field.append(label, input);
      form.append(field);
    }
    const button = el("button", "primary", t("transfers.receive"));
    button.type = "submit";
    form.append(button);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      receiveTransfer(transfer, form);
    });
    li.append(form);
    return li;
  }

  async function receiveTransfer(transfer, form) {
    const lines = [];
    let everything = true;
    for (const input of form.querySelectorAll("input[data-sku]")) {
      const n = Number(input.value);
      if (input.value === "" || !Number.isInteger(n) || n < 0 || n > Number(input.dataset.sent)) {
        notice("transfers-notice", "error", t("transfers.bad", { sku: input.dataset.sku, n: input.dataset.sent }));
        input.focus();
        return;
      }
      if (n !== Number(input.dataset.sent)) everything = false;
      lines.push({ sku: input.dataset.sku, quantity: n });
    }
    try {
      const done = await api("POST", "/v1/transfers/" + encodeURIComponent(transfer.id) + "/receive", everything ? {} : { lines });
      const key = done.status === "received" ? "transfers.received" : "transfers.short";
      toast(t(key, { number: transfer.order_number }), done.status === "received" ? "ok" : "warn");
      notice("transfers-notice", done.status === "received" ? "ok" : "warn", t(key, { number: transfer.order_number }));
      $("transfer-input").value = "";
      await loadTransfers();
      load();
    } catch (error) {
      notice("transfers-notice", "error", describe(error));
      loadTransfers();
    }
  }

  /// A scanned or typed order number (or transfer id): its transfer's first field, ready.
  function findTransfer(text) {
    const wanted = text.trim().toUpperCase();
    const match = (state.transfers || []).filter((tr) => tr.order_number.toUpperCase() === wanted || tr.id.toUpperCase() === wanted);
    if (match.length !== 1) {
      notice("transfers-notice", "warn", t("transfers.unknown", { text: text.trim() }));
      return;
    }
    notice("transfers-notice", "", "");
    const item = document.querySelector('li.transfer[data-transfer="' + CSS.escape(match[0].id) + '"]');
    if (item) {
      item.scrollIntoView({ block: "center" });
      item.querySelector("button").focus();
    }
  }

  // ---- start ---------------------------------------------------------------------------

  function start() {
    $("tabs").hidden = false;
    $("sound").hidden = false;
    showTitle();
    state.known = null;
    state.orders = [];
    if (location.hash === "" || location.hash.startsWith("#pair")) history.replaceState(null, "", "#orders");
    route();
    connect();
  }

  function wire() {
    $("token-form").addEventListener("submit", signInWithToken);
    $("signout").addEventListener("click", signOut);
    $("refresh").addEventListener("click", () => load());
    $("sound").addEventListener("click", () => {
      state.sound = !state.sound;
      renderSound();
      if (state.sound) beep();
    });
    $("back").addEventListener("click", () => go("orders"));
    $("act-start").addEventListener("click", () => orderStep("picking", undefined, (o) => t("order.started", { number: o.number })));
    $("act-ready").addEventListener("click", () => orderStep("ready", undefined, (o) => t("order.readied", { number: o.number })));
    $("act-handover").addEventListener("click", () => go("handover"));
    $("act-cancel").addEventListener("click", () => {
      $("cancel-form").hidden = false;
      $("cancel-reason").focus();
    });
    $("cancel-keep").addEventListener("click", () => { $("cancel-form").hidden = true; });
    $("cancel-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const select = $("cancel-reason");
      const reason = select.options[select.selectedIndex].textContent;
      orderStep("cancel", { reason }, (o) => t("order.cancelled", { number: o.number }));
    });
    $("short-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const missing = Number($("short-units").value);
      const sku = state.shortSku;
      orderStep("short-pick", { sku, missing }, () => t("order.shorted", { n: missing, sku }));
    });
    $("code-form").addEventListener("submit", (event) => {
      event.preventDefault();
      lookUp($("code-input").value);
    });
    $("handover-confirm").addEventListener("click", handOver);
    $("handover-again").addEventListener("click", () => {
      $("handover-order").hidden = true;
      notice("handover-notice", "", "");
      $("code-input").value = "";
      $("code-input").focus();
    });
    $("camera-start").addEventListener("click", startCamera);
    $("camera-stop").addEventListener("click", stopCamera);
    $("sku-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const sku = $("sku-input").value.trim();
      if (sku) lookUpStock(sku);
    });
    $("count-form").addEventListener("submit", saveCount);
    $("transfer-form").addEventListener("submit", (event) => {
      event.preventDefault();
      findTransfer($("transfer-input").value);
    });
    $("updates").value = localStorage.getItem(UPDATES_KEY) || "";
    $("updates").addEventListener("change", () => {
      if ($("updates").value) localStorage.setItem(UPDATES_KEY, $("updates").value);
      else localStorage.removeItem(UPDATES_KEY);
      if (state.auth) connect();
    });
    $("language").addEventListener("change", () => {
      const chosen = $("language").value;
      if (chosen) localStorage.setItem(LANGUAGE_KEY, chosen);
      else localStorage.removeItem(LANGUAGE_KEY);
      applyLanguage();
      if (state.mode) setMode(state.mode);
      if (state.order && !$("view-order").hidden) renderOrder();
      render();
    });
    window.addEventListener("hashchange", route);
    window.addEventListener("offline", () => { if (state.auth) setMode("offline"); });
    window.addEventListener("online", () => { if (state.auth) connect(); });
    // Browsers start audio only after a gesture: the first touch wakes it.
    document.addEventListener("pointerdown", () => { if (state.audio && state.audio.state === "suspended") state.audio.resume(); }, { once: false });
    listenForScanner();
    setInterval(tick, 1000);
  }

  function boot() {
    wire();
    state.auth = loadAuth();
    applyLanguage();
    const pairing = location.hash.match(/^#pair=([A-Za-z0-9_-]+)/);
    if (pairing) {
      // The code leaves the address bar (and the history) before anything else happens.
      history.replaceState(null, "", location.pathname);
      signOutHere(null);
      pairWith(pairing[1]);
      return;
    }
    if (state.auth) start();
    else showSignIn();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
