// softphoned's agent page: a thin client of the daemon's JSON-RPC API over its WebSocket.
// Everything it shows comes from replies and events; everything it does is a method call.
// Text from the far end (display names, URIs) is only ever set as textContent.
"use strict";

const TOKEN_KEY = "softphoned-token";
const STATS_EVERY_MS = 1000;
const RECONNECT_MAX_MS = 10000;
const GONE_AFTER_MS = 5000; // a Disconnected call stays shown this long

const state = {
	ws: null,
	nextId: 1,
	pending: new Map(), // id -> {resolve, reject}
	connections: new Map(), // connectionId -> object (+ receivedAt)
	sessions: new Map(), // sessionId -> object (+ connectedAt, stats, dtmf)
	muted: false,
	devices: null,
	reconnectMs: 500,
	reconnectAt: 0,
	reconnectTimer: 0,
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (k === "class")
			e.className = v;
		else if (k.startsWith("on"))
			e.addEventListener(k.slice(2), v);
		else
			e.setAttribute(k, v);
	}
	for (const c of children)
		if (c !== null && c !== undefined)
			e.append(typeof c === "string" ? document.createTextNode(c) : c);
	return e;
}

function log(text, isError) {
	const li = el("li", isError ? {class: "error"} : {},
		`${new Date().toLocaleTimeString()} ${text}`);
	$("log").prepend(li);
	while ($("log").children.length > 50)
		$("log").lastChild.remove();
}

// ---- token --------------------------------------------------------------------------------

// A token in the URL fragment (never sent to any server) is moved to this tab's storage and
// taken out of the address bar and the history.
function takeTokenFromUrl() {
	const m = /^#token=([^&]+)/.exec(location.hash);
	if (m) {
		sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(m[1]));
		history.replaceState(null, "", location.pathname);
	}
}

function showLogin(message) {
	$("login").hidden = false;
	$("phone").hidden = true;
	$("login-error").textContent = message || "";
}

// ---- JSON-RPC -----------------------------------------------------------------------------

function call(method, params) {
	return new Promise((resolve, reject) => {
		if (!state.ws || state.ws.readyState !== WebSocket.OPEN) {
			reject(new Error("not connected to the daemon"));
			return;
		}
		const id = state.nextId++;
		const req = {jsonrpc: "2.0", id, method};
		if (params !== undefined)
			req.params = params;
		state.pending.set(id, {resolve, reject});
		state.ws.send(JSON.stringify(req));
	});
}

// Calls a method for a button: failures are shown, not thrown.
async function act(method, params) {
	try {
		return await call(method, params);
	} catch (e) {
		log(`${method}: ${e.message}`, true);
		return undefined;
	}
}

function rpcError(err) {
	const e = new Error(err.message);
	e.code = err.code;
	e.kind = err.data && err.data.kind;
	return e;
}

function onMessage(ev) {
	let msg;
	try {
		msg = JSON.parse(ev.data);
	} catch (e) {
		log("the daemon sent something that is not JSON", true);
		return;
	}
	if (msg.method && msg.id === undefined) {
		onEvent(msg.method, msg.params || {});
		return;
	}
	const p = state.pending.get(msg.id);
	if (!p)
		return;
	state.pending.delete(msg.id);
	if (msg.error)
		p.reject(rpcError(msg.error));
	else
		p.resolve(msg.result);
}

function setLink(text, cls) {
	const b = $("link");
	b.textContent = text;
	b.className = `badge ${cls}`;
	b.dataset.state = cls === "ok" ? "open" : "closed";
}

function connect() {
	const token = sessionStorage.getItem(TOKEN_KEY);
	if (!token) {
		showLogin();
		return;
	}
	clearTimeout(state.reconnectTimer);
	setLink("connecting…", "wait");
	const ws = new WebSocket(`ws://${location.host}/rpc`);
	state.ws = ws;
	ws.addEventListener("message", onMessage);
	ws.addEventListener("open", () => start(token));
	ws.addEventListener("close", (ev) => {
		if (state.ws !== ws)
			return;
		state.ws = null;
		for (const p of state.pending.values())
			p.reject(new Error("connection to the daemon lost"));
		state.pending.clear();
		$("mute").disabled = true;
		if (ev.code === 1008 && ev.reason === "unauthorized")
			return; // start() has shown the login form
		scheduleReconnect();
	});
}

function scheduleReconnect() {
	state.reconnectAt = Date.now() + state.reconnectMs;
	state.reconnectTimer = setTimeout(connect, state.reconnectMs);
	state.reconnectMs = Math.min(state.reconnectMs * 2, RECONNECT_MAX_MS);
	tickLink();
}

function tickLink() {
	if (state.ws && state.ws.readyState === WebSocket.OPEN)
		return;
	if (state.reconnectAt > Date.now()) {
		const s = Math.ceil((state.reconnectAt - Date.now()) / 1000);
		setLink(`daemon unreachable, retrying in ${s} s`, "bad");
	}
}

async function start(token) {
	try {
		await call("Authenticate", {token});
	} catch (e) {
		if (e.kind === "Unauthorized") {
			sessionStorage.removeItem(TOKEN_KEY);
			showLogin("The daemon refused this token.");
		}
		return;
	}
	state.reconnectMs = 500;
	$("login").hidden = true;
	$("phone").hidden = false;
	setLink("connected to the daemon", "ok");
	try {
		// Subscribe first: nothing that changes after the snapshots below is missed.
		await call("Subscribe");
		const [conns, sessions, status] = await Promise.all(
			[call("GetConnections"), call("GetSessions"), call("GetStatus")]);
		state.connections.clear();
		for (const c of conns)
			setConnection(c);
		state.sessions.clear();
		for (const s of sessions)
			setSession(s);
		state.muted = !!status.muted;
		$("mute").disabled = false;
		render();
		loadDevices();
	} catch (e) {
		log(`cannot read the phone's state: ${e.message}`, true);
	}
}

// ---- state --------------------------------------------------------------------------------

function setConnection(c) {
	c.receivedAt = Date.now();
	state.connections.set(c.connectionId, c);
}

function setSession(s) {
	const old = state.sessions.get(s.sessionId) || {};
	const now = Date.now();
	s.connectedAt = old.connectedAt;
	if (!s.connectedAt && (s.status === "Connected" || s.status === "Held"))
		s.connectedAt = old.status ? now : Date.parse(s.time) || now;
	s.stats = old.stats;
	s.dtmf = old.dtmf || "";
	if (s.status === "Disconnected") {
		s.endedAt = now;
		setTimeout(() => {
			const cur = state.sessions.get(s.sessionId);
			if (cur && cur.status === "Disconnected") {
				state.sessions.delete(s.sessionId);
				render();
			}
		}, GONE_AFTER_MS);
	}
	state.sessions.set(s.sessionId, s);
}

function onEvent(name, p) {
	switch (name) {
	case "ConnectionStatusChanged":
		if (p.status === "Removed")
			state.connections.delete(p.connectionId);
		else
			setConnection(Object.assign(state.connections.get(p.connectionId) || {}, p));
		break;
	case "SessionStatusChanged":
		setSession(p);
		if (p.status === "Disconnected")
			log(`call ${p.sessionId} ended: ${p.reason}` +
				(p.code ? ` (${p.code} ${p.sipReason || ""})` : ""));
		break;
	case "DtmfReceived": {
		const s = state.sessions.get(p.sessionId);
		if (s)
			s.dtmf += p.digit;
		break;
	}
	case "MuteChanged":
		state.muted = !!p.muted;
		break;
	case "AudioDeviceError":
		log(`audio device ${p.device}: ${p.error}`, true);
		break;
	case "AudioDeviceRecovered":
		log(`audio device ${p.device} is back`);
		break;
	default:
		return;
	}
	render();
}

// ---- view ---------------------------------------------------------------------------------

const CONNECTION_CLASS = {
	Ready: "ok", Registering: "wait", Unregistering: "wait", Failed: "bad", Disabled: "off",
};
const SESSION_CLASS = {
	Connected: "ok", Alerting: "wait", InProgress: "wait", Held: "wait", Disconnected: "off",
};

function duration(ms) {
	const t = Math.max(0, Math.floor(ms / 1000));
	const mm = String(Math.floor(t / 60) % 60).padStart(2, "0");
	const ss = String(t % 60).padStart(2, "0");
	return t >= 3600 ? `${Math.floor(t / 3600)}:${mm}:${ss}` : `${mm}:${ss}`;
}

function retryLeft(c) {
	if (c.retryInMs === null || c.retryInMs === undefined || c.status !== "Failed")
		return null;
	return Math.max(0, c.retryInMs - (Date.now() - c.receivedAt));
}

function connectionCard(c) {
	const left = retryLeft(c);
	const code = c.code ? `${c.code} ${c.reason || ""}`.trim() : (c.reason || "");
	return el("li", {
		id: `connection-${c.connectionId}`,
		class: `card ${CONNECTION_CLASS[c.status] || "off"}`,
		"data-status": c.status,
	},
	el("div", {class: "title"},
		`#${c.connectionId} ${c.user}@${c.server} (${c.protocol}) `,
		el("span", {class: `badge ${CONNECTION_CLASS[c.status] || "off"}`,
			"data-role": "status"}, c.status)),
	el("div", {class: "detail"},
		code ? `last: ${code}` : "",
		el("span", {"data-role": "retry"}, retryText(left))));
}

function retryText(left) {
	return left !== null ? ` · retry in ${(left / 1000).toFixed(1)} s` : "";
}

function sessionButtons(s) {
	const id = s.sessionId;
	const b = (label, fn) => el("button", {type: "button", "data-action": label, onclick: fn},
		label);
	const out = [];
	if (s.status === "Alerting")
		out.push(b("Answer", () => act("Answer", {sessionId: id})));
	if (s.status === "Connected")
		out.push(b("Hold", () => act("Hold", {sessionId: id})));
	if (s.status === "Held")
		out.push(b("Retrieve", () => act("Retrieve", {sessionId: id})));
	if (s.status !== "Disconnected")
		out.push(b("Hangup", () => act("Hangup", {sessionId: id})));
	if (s.status === "Connected" || s.status === "Held") {
		const dest = el("input", {placeholder: "transfer to", "aria-label": "transfer to",
			"data-role": "transfer-to"});
		out.push(dest, b("Transfer", () => {
			if (dest.value.trim())
				act("Transfer", {sessionId: id, destination: dest.value.trim()});
		}));
		const digits = el("input", {placeholder: "digits", "aria-label": "DTMF digits",
			size: "6", "data-role": "dtmf-digits"});
		out.push(digits, b("DTMF", () => {
			if (digits.value.trim())
				act("SendDtmf", {sessionId: id, digits: digits.value.trim()});
			digits.value = "";
		}));
	}
	return out;
}

function statsLine(st) {
	if (!st)
		return null;
	const f = (v, d) => (typeof v === "number" ? v.toFixed(d) : "–");
	return el("div", {class: "stats", "data-role": "stats", "data-codec": st.codec},
		`${st.codec} · sent ${st.packetsSent} · received ${st.packetsReceived} · ` +
		`lost ${st.packetsLost} (${f(st.lossPercent, 1)} %) · jitter ${f(st.jitterMs, 1)} ms · ` +
		`RTT ${f(st.rttMs, 1)} ms · buffer ${st.jitterBufferMs} ms · MOS ${f(st.mos, 1)}`);
}

function sessionCard(s) {
	const remote = s.remote || {};
	const who = remote.displayName ? `${remote.displayName} <${remote.uri}>` : remote.uri || "";
	const timer = s.connectedAt && s.status !== "Disconnected"
		? duration(Date.now() - s.connectedAt) : null;
	return el("li", {
		id: `session-${s.sessionId}`,
		class: `card ${SESSION_CLASS[s.status] || "off"}`,
		"data-status": s.status,
	},
	el("div", {class: "title"},
		`${s.direction === "inbound" ? "From" : "To"} ${who} `,
		el("span", {class: `badge ${SESSION_CLASS[s.status] || "off"}`, "data-role": "status"},
			s.status),
		el("span", {"data-role": "timer"}, timer ? ` ${timer}` : "")),
	el("div", {class: "detail"},
		`call ${s.sessionId} · connection #${s.connectionId}`,
		s.failoverFrom !== null && s.failoverFrom !== undefined
			? el("span", {class: "failover", "data-role": "failover"},
				` · failed over from #${s.failoverFrom}`)
			: null,
		s.status === "Held" ? " · on hold" : "",
		state.muted && s.status === "Connected" ? " · muted" : "",
		s.dtmf ? ` · digits received: ${s.dtmf}` : "",
		s.status === "Disconnected" ? ` · ${s.reason || ""}` : ""),
	statsLine(s.status !== "Disconnected" ? s.stats : null) ||
		el("div", {class: "stats", "data-role": "stats"}),
	el("div", {class: "row"}, ...sessionButtons(s)));
}

// Rebuilds the lists, keeping what the agent is typing in an input of a call.
function render() {
	const active = document.activeElement;
	const keep = active && active.dataset && active.dataset.role && active.closest("li")
		? {li: active.closest("li").id, role: active.dataset.role, value: active.value}
		: null;
	const typed = new Map();
	for (const input of $("sessions").querySelectorAll("input"))
		typed.set(`${input.closest("li").id}/${input.dataset.role}`, input.value);

	const conns = [...state.connections.values()].sort((a, b) => a.connectionId - b.connectionId);
	$("connections").replaceChildren(...conns.map(connectionCard));

	const sessions = [...state.sessions.values()];
	$("sessions").replaceChildren(...sessions.map(sessionCard));
	$("no-sessions").hidden = sessions.length > 0;
	for (const input of $("sessions").querySelectorAll("input")) {
		const v = typed.get(`${input.closest("li").id}/${input.dataset.role}`);
		if (v)
			input.value = v;
	}
	if (keep) {
		const again = document.querySelector(`#${keep.li} [data-role="${keep.role}"]`);
		if (again)
			again.focus();
	}

	const sel = $("dial-connection");
	const chosen = sel.value;
	sel.replaceChildren(...conns.map((c) => el("option", {value: String(c.connectionId)},
		`#${c.connectionId} ${c.server} (${c.status})`)));
	if (chosen && conns.some((c) => String(c.connectionId) === chosen))
		sel.value = chosen;

	const mute = $("mute");
	mute.setAttribute("aria-pressed", String(state.muted));
	mute.textContent = state.muted ? "Unmute" : "Mute";
}

// ---- audio statistics and devices ----------------------------------------------------------

async function pollStats() {
	for (const s of state.sessions.values()) {
		if (s.status !== "Connected" && s.status !== "Held")
			continue;
		try {
			s.stats = await call("GetAudioStatistics", {sessionId: s.sessionId});
		} catch (e) {
			s.stats = null;
		}
		const card = document.getElementById(`session-${s.sessionId}`);
		const line = s.stats && statsLine(s.stats);
		if (card && line)
			card.querySelector('[data-role="stats"]').replaceWith(line);
	}
}

// Countdowns and call timers move in place: the cards are not rebuilt under the agent's mouse.
function tick() {
	for (const c of state.connections.values()) {
		const span = document.querySelector(`#connection-${c.connectionId} [data-role="retry"]`);
		if (span)
			span.textContent = retryText(retryLeft(c));
	}
	for (const s of state.sessions.values()) {
		const span = document.querySelector(`#session-${s.sessionId} [data-role="timer"]`);
		if (span && s.connectedAt && s.status !== "Disconnected")
			span.textContent = ` ${duration(Date.now() - s.connectedAt)}`;
	}
}

function fillDevices(sel, current, devices, direction) {
	const names = devices.filter((d) => d.direction === "both" || d.direction === direction)
		.map((d) => [d.name, d.description ? `${d.name} — ${d.description.split("\n")[0]}` :
			d.name]);
	if (!names.some(([n]) => n === current))
		names.unshift([current, current]);
	sel.replaceChildren(...names.map(([n, label]) => el("option", {value: n}, label)));
	sel.value = current;
}

async function loadDevices() {
	const d = await act("GetAudioDevices");
	if (!d)
		return;
	state.devices = d;
	fillDevices($("capture"), d.capture, d.devices || [], "capture");
	fillDevices($("playback"), d.playback, d.devices || [], "playback");
}

// ---- controls -----------------------------------------------------------------------------

function activeSession() {
	return [...state.sessions.values()].find((s) => s.status === "Connected");
}

function setUp() {
	for (const k of "123A456B789C*0#D") {
		$("pad").append(el("button", {type: "button", "data-digit": k, onclick: () => {
			$("destination").value += k;
		}}, k));
	}
	$("dial-form").addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const destination = $("destination").value.trim();
		if (!destination)
			return;
		const connectionId = Number($("dial-connection").value || 0);
		const r = await act("Dial", {connectionId, destination});
		if (r)
			log(`dialling ${destination}: call ${r.sessionId} on connection #${r.connectionId}`);
	});
	$("pad-dtmf").addEventListener("click", () => {
		const s = activeSession();
		const digits = $("destination").value.trim();
		if (s && digits)
			act("SendDtmf", {sessionId: s.sessionId, digits});
		$("destination").value = "";
	});
	$("pad-clear").addEventListener("click", () => {
		$("destination").value = "";
	});
	$("mute").addEventListener("click", () => act("Mute", {muted: !state.muted}));
	$("devices-form").addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const r = await act("SetAudioDevices",
			{capture: $("capture").value, playback: $("playback").value});
		if (r)
			log(`audio devices: ${r.capture} / ${r.playback}`);
		loadDevices();
	});
	$("login-form").addEventListener("submit", (ev) => {
		ev.preventDefault();
		const t = $("token").value.trim();
		if (!t)
			return;
		sessionStorage.setItem(TOKEN_KEY, t);
		$("token").value = "";
		connect();
	});
	// Countdowns and call timers move on their own; statistics are asked for.
	setInterval(() => {
		tickLink();
		tick();
	}, 250);
	setInterval(() => {
		if (state.ws && state.ws.readyState === WebSocket.OPEN)
			pollStats();
	}, STATS_EVERY_MS);
}

takeTokenFromUrl();
setUp();
connect();
