// SPDX-License-Identifier: MIT
/*
 * otad's web admin page (served by otad-admind at /admin/ui/core.js): the
 * pieces every view uses: element helpers, the JSON API of this origin
 * (its errors as the API words them; a 401 shows the sign-in form), the
 * sign-in and sign-out (Auth), the live event stream (Live, through
 * EventSource or a fetch() stream), the delivery groups of the bars and
 * charts, Chart.js charts (ui/chart.min.js, Debian's libjs-chart.js) and
 * device names.  The views are in devices.js, updates.js, jobs.js and
 * admin.js; app.js routes between them.  Classic scripts loaded in that
 * order share their top-level names; no framework, no build step; text is
 * always set with textContent.
 */
'use strict';

/* Delivery states and the ended ones, from GET /admin/lifecycle (admind's
 * one table) before the first view is drawn. */
let STATES = [];
let TERMINAL = [];
const PAGE = 50;
const MANY = 5000;	/* devices fetched at once for search and pickers */

/* ---- small helpers --------------------------------------------------- */

function $(sel, root) { return (root || document).querySelector(sel); }

function el(tag, attrs, ...kids) {
	const e = document.createElement(tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v === undefined || v === null || v === false)
			continue;
		if (k === 'class')
			e.className = v;
		else if (k === 'text')
			e.textContent = v;
		else if (k.startsWith('on'))
			e.addEventListener(k.slice(2), v);
		else if (k in e && typeof v !== 'string')
			e[k] = v;
		else
			e.setAttribute(k, v === true ? '' : v);
	}
	for (const kid of kids.flat()) {
		if (kid === null || kid === undefined || kid === false)
			continue;
		e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
	}
	return e;
}

/* A cell; its content is one element so that a phone-width card row
 * (label | content) keeps it together. */
function td(label, ...kids) {
	kids = kids.flat().filter((k) => k !== null && k !== undefined && k !== false);
	return el('td', { 'data-label': label }, kids.length > 1 ? el('span', {}, ...kids) : kids);
}

function badge(state) { return el('span', { class: 'badge', 'data-s': state, text: state }); }

/* A device's name, linking to its page. */
function deviceLink(id, name) {
	return el('a', { href: '#device/' + id, class: 'device-link', text: name || 'device ' + id });
}

/* Delivery states grouped as the bars and charts colour them: each
 * ending in its own colour, then those under way and those waiting; the
 * states of each group come from GET /admin/lifecycle (groupStates). */
const GROUPS = [
	{ key: 'succeeded', label: 'succeeded', states: ['succeeded'] },
	{ key: 'failed', label: 'failed', states: ['failed'] },
	{ key: 'canceled', label: 'canceled', states: ['canceled'] },
	{ key: 'other', label: 'other ends', states: [] },
	{ key: 'flight', label: 'in flight', states: [] },
	{ key: 'waiting', label: 'waiting', states: [] },
];

/* The states that hold one of a job's max_parallel slots. */
let SLOTS = [];

/* The other ended states; the unended ones from the first in flight on
 * (the table lists states in their order) under way, those before it
 * waiting. */
function groupStates(lc) {
	const named = ['succeeded', 'failed', 'canceled'];
	const g = Object.fromEntries(GROUPS.map((grp) => [grp.key, grp]));
	const first = lc.states.indexOf((lc.in_flight || [])[0]);
	const open = lc.states.filter((s) => !lc.ended.includes(s));
	SLOTS = lc.in_flight || [];
	g.other.states = lc.ended.filter((s) => !named.includes(s));
	g.flight.states = open.filter((s) => lc.states.indexOf(s) >= first);
	g.waiting.states = open.filter((s) => lc.states.indexOf(s) < first);
}
const GROUP_COLOURS = { succeeded: '#1a7f37', failed: '#cf222e', canceled: '#6e7781',
	other: '#bf8700', flight: '#0969da', waiting: '#d0d7de' };

function groupCounts(counts) {
	const g = {};
	for (const grp of GROUPS)
		g[grp.key] = grp.states.reduce((n, s) => n + (counts[s] || 0), 0);
	return g;
}

/* A bar of the deliveries by group, each in its colour; its title and
 * label say the numbers. */
function fillBar(bar, counts) {
	const g = groupCounts(counts), total = Object.values(g).reduce((a, b) => a + b, 0);
	const words = GROUPS.filter((grp) => g[grp.key]).map((grp) => g[grp.key] + ' ' + grp.label);
	bar.replaceChildren(...GROUPS.filter((grp) => g[grp.key]).map((grp) => el('span', {
	    class: 'seg', 'data-g': grp.key, title: g[grp.key] + ' ' + grp.label,
	    'data-n': g[grp.key] })));
	for (const seg of bar.children)
		seg.style.flexGrow = seg.dataset.n;
	bar.setAttribute('aria-label', words.join(', ') || 'no delivery');
	bar.dataset.total = total;
	return g;
}

function legend(g) {
	return el('ul', { class: 'legend' }, ...GROUPS.filter((grp) => g[grp.key]).map((grp) =>
	    el('li', { 'data-g': grp.key }, el('span', { class: 'swatch', 'data-g': grp.key }),
		g[grp.key] + ' ' + grp.label)));
}

function bytes(n) {
	if (n === undefined || n === null)
		return '';
	if (n < 1024)
		return n + ' B';
	if (n < 1024 * 1024)
		return (n / 1024).toFixed(1) + ' KiB';
	return (n / 1024 / 1024).toFixed(2) + ' MiB';
}

function ago(iso) {
	if (!iso)
		return el('span', { class: 'muted', text: 'never' });
	const t = Date.parse(iso), s = Math.round((Date.now() - t) / 1000);
	let text;
	if (isNaN(t))
		text = iso;
	else if (s < 5)
		text = 'just now';
	else if (s < 60)
		text = s + ' s ago';
	else if (s < 3600)
		text = Math.floor(s / 60) + ' min ago';
	else if (s < 86400)
		text = Math.floor(s / 3600) + ' h ago';
	else
		text = new Date(t).toLocaleString();
	return el('time', { class: 'ago', datetime: iso, title: iso, text });
}

/* A moment ahead in the browser's zone, with how soon while that is
 * within a day: "3 Dec 2026, 02:00 (in 5 h)". */
function until(iso) {
	if (!iso)
		return el('span', { class: 'muted', text: 'not known' });
	const t = Date.parse(iso), s = Math.round((t - Date.now()) / 1000);
	if (isNaN(t))
		return el('span', { text: iso });
	let text = new Date(t).toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
	if (s > 0 && s < 60)
		text += ' (in ' + s + ' s)';
	else if (s >= 60 && s < 3600)
		text += ' (in ' + Math.ceil(s / 60) + ' min)';
	else if (s >= 3600 && s < 86400)
		text += ' (in ' + Math.floor(s / 3600) + ' h ' + Math.floor(s % 3600 / 60) + ' min)';
	return el('time', { class: 'until', datetime: iso, title: iso, text });
}

/* Zone names the browser may give (ICU keeps them) that the tz database
 * has renamed: a server without tzdata's backward links knows only the
 * new ones. */
const ZONE_RENAMED = {
	'Asia/Calcutta': 'Asia/Kolkata', 'Asia/Katmandu': 'Asia/Kathmandu',
	'Asia/Rangoon': 'Asia/Yangon', 'Asia/Saigon': 'Asia/Ho_Chi_Minh',
	'Europe/Kiev': 'Europe/Kyiv', 'Atlantic/Faeroe': 'Atlantic/Faroe',
	'America/Godthab': 'America/Nuuk', 'Pacific/Enderbury': 'Pacific/Kanton',
	'Pacific/Ponape': 'Pacific/Pohnpei', 'Pacific/Truk': 'Pacific/Chuuk',
	'America/Buenos_Aires': 'America/Argentina/Buenos_Aires',
	'America/Indianapolis': 'America/Indiana/Indianapolis',
	'America/Louisville': 'America/Kentucky/Louisville',
};

function browserZone() {
	let z = '';
	try { z = Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { /* old browser */ }
	return ZONE_RENAMED[z] || z || 'UTC';
}

/* A datetime-local value (the browser's wall clock) as RFC 3339 with the
 * browser's offset at that moment: "2026-12-03T02:00:00+01:00". */
function rfc3339Local(value) {
	const d = new Date(value);
	if (isNaN(d))
		return value;
	const pad = (n, w) => String(n).padStart(w || 2, '0');
	const off = -d.getTimezoneOffset(), a = Math.abs(off);
	return pad(d.getFullYear(), 4) + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) +
	    'T' + pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds()) +
	    (off < 0 ? '-' : '+') + pad(Math.floor(a / 60)) + ':' + pad(a % 60);
}

const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

/* A job's window as a person reads it: "02:00–05:00 Europe/Berlin, every day". */
function windowText(w) {
	const days = !w.days || w.days.length === DAYS.length ? 'every day' : w.days.join(', ');
	return w.start + '–' + w.end + (w.end <= w.start ? ' (past midnight)' : '') + ' ' +
	    (w.timezone || 'UTC') + ', ' + days;
}

const CONFIRM_TEXT = {
	device: 'by the device (its sketch accepts on the consent pin)',
	admin: 'by an admin (Confirm or Decline on the job\'s page)',
};

function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }

function debounce(fn, ms) {
	let t = null;
	return function (...args) {
		clearTimeout(t);
		t = setTimeout(() => fn.apply(this, args), ms);
	};
}

/* ---- the API: errors as the API words them --------------------------- */

class ApiError extends Error {
	constructor(status, code, message) {
		super(message);
		this.status = status;
		this.code = code;
	}
}

function apiError(status, text) {
	let obj = null;
	try { obj = JSON.parse(text); } catch (e) { /* not JSON */ }
	if (obj && obj.error && obj.error.message)
		return new ApiError(status, obj.error.code, obj.error.message);
	return new ApiError(status, 'http', 'The server answered ' + status +
	    (text ? ': ' + text.slice(0, 200) : '.'));
}

/* An absolute URL of this origin: a page opened with user:password@ in
 * its address would otherwise resolve "/admin/..." with them, which
 * fetch() refuses. */
function at(path) { return location.origin + path; }

async function api(method, path, body) {
	const opt = { method, credentials: 'same-origin', headers: { Accept: 'application/json' } };
	if (body !== undefined) {
		opt.headers['Content-Type'] = 'application/json';
		opt.body = JSON.stringify(body);
	}
	let r;
	try {
		r = await fetch(at(path), opt);
	} catch (e) {
		throw new ApiError(0, 'network', 'otad-admind cannot be reached (' + e.message +
		    '); is it running?');
	}
	const text = await r.text();
	if (!r.ok) {
		const err = apiError(r.status, text);
		if (r.status === 401 && path !== '/admin/session')
			Auth.lost(err.message);
		throw err;
	}
	return text ? JSON.parse(text) : null;
}

/* ---- signing in ------------------------------------------------------ */

const Auth = {
	user: null, started: false,

	init() {
		$('#signin-form').addEventListener('submit', (e) => { e.preventDefault(); this.signIn(); });
		$('#sign-out').addEventListener('click', () => this.signOut());
	},

	async check() {
		try {
			this.signedIn(await api('GET', '/admin/session'));
		} catch (e) {
			if (e.status === 401)
				this.show();
			else
				showError(null, e);
		}
	},

	/* The sign-in form instead of the views; msg says why. */
	show(msg) {
		Live.close();
		if (current && current.leave)
			current.leave();
		current = null;
		this.user = null;
		for (const s of document.querySelectorAll('[data-view]'))
			s.hidden = true;
		$('.top nav').hidden = true;
		$('#me').hidden = true;
		$('#signin').hidden = false;
		document.title = 'Sign in · otad';
		clearError($('#signin-form'));
		if (msg)
			showError($('#signin-form'), msg);
		$('#signin-user').focus();
	},

	/* A request answered 401 while signed in: the session ended. */
	lost(msg) {
		if (this.user !== null)
			this.show(msg);
	},

	async signIn() {
		const form = $('#signin-form');
		clearError(form);
		$('#signin-send').disabled = true;
		try {
			const me = await api('POST', '/admin/session', { user: $('#signin-user').value.trim(),
			    password: $('#signin-password').value });
			$('#signin-password').value = '';
			this.signedIn(me);
		} catch (e) {
			showError(form, e);
			$('#signin-password').select();
		} finally {
			$('#signin-send').disabled = false;
		}
	},

	signedIn(me) {
		this.user = me.user;
		$('#me-name').textContent = me.user;
		$('#sign-out').hidden = me.via !== 'session';
		$('#me').hidden = false;
		$('.top nav').hidden = false;
		$('#signin').hidden = true;
		start();
	},

	async signOut() {
		try {
			await api('DELETE', '/admin/session');
		} catch (e) { /* ended already */ }
		this.show('Signed out.');
		$('#signin-form .error').classList.add('note');
	},
};

function qs(params) {
	const p = new URLSearchParams();
	for (const [k, v] of Object.entries(params))
		if (v !== '' && v !== undefined && v !== null)
			p.set(k, v);
	const s = p.toString();
	return s ? '?' + s : '';
}

/* Shows err in the form's .error line, or at the top of the page. */
function showError(where, err) {
	const p = where ? (where.matches('.error') ? where : $('.error', where)) : $('#alert');
	p.classList.remove('note');
	p.textContent = err instanceof Error ? err.message : String(err);
	p.hidden = false;
}

function clearError(where) {
	const p = where ? (where.matches('.error') ? where : $('.error', where)) : $('#alert');
	p.hidden = true;
	p.textContent = '';
}

/* ---- the event stream ------------------------------------------------ */

const KINDS = ['delivery', 'device.online', 'device.offline', 'audit'];

const Live = {
	query: null, handlers: {}, es: null, ctrl: null, retry: null,
	useFetch: false, esWorked: false,

	open(query, handlers) {
		this.close();
		this.query = query;
		this.handlers = handlers;
		this.connect();
	},

	close() {
		clearTimeout(this.retry);
		if (this.es)
			this.es.close();
		if (this.ctrl)
			this.ctrl.abort();
		this.es = this.ctrl = null;
		this.query = null;
		this.status('off', 'not live');
	},

	status(state, text) {
		const s = $('#live');
		s.hidden = state === 'off';
		s.dataset.state = state;
		s.dataset.transport = state === 'on' ? (this.useFetch ? 'fetch' : 'eventsource') : '';
		s.textContent = text;
	},

	url() { return at('/admin/events' + this.query); },

	connect() {
		if (this.query === null)
			return;
		if (this.useFetch || typeof EventSource === 'undefined') {
			this.useFetch = true;
			return this.connectFetch();
		}
		const es = new EventSource(this.url());
		let opened = false;
		this.es = es;
		es.onopen = () => {
			opened = this.esWorked = true;
			this.status('on', 'live');
			this.fire('open');
		};
		for (const k of KINDS)
			es.addEventListener(k, (ev) => this.dispatch(k, ev.data));
		es.onerror = () => {
			if (this.es !== es)
				return;
			if (!opened && !this.esWorked) {
				/* EventSource could not open the stream (no
				 * credentials?): read it with fetch() instead. */
				es.close();
				this.useFetch = true;
				this.connectFetch();
				return;
			}
			this.status('wait', 'reconnecting…');
			if (es.readyState === EventSource.CLOSED) {
				es.close();
				/* refused? a 401 here shows the sign-in form */
				api('GET', '/admin/session').catch(() => {});
				this.retry = setTimeout(() => this.connect(), 3000);
			}
		};
	},

	async connectFetch() {
		const ctrl = new AbortController();
		this.ctrl = ctrl;
		try {
			const r = await fetch(this.url(), { credentials: 'same-origin', cache: 'no-store',
			    headers: { Accept: 'text/event-stream' }, signal: ctrl.signal });
			if (!r.ok)
				throw apiError(r.status, await r.text());
			this.status('on', 'live');
			this.fire('open');
			const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
			let buf = '';
			for (;;) {
				const { value, done } = await reader.read();
				if (done)
					break;
				buf += value.replace(/\r\n?/g, '\n');
				let i;
				while ((i = buf.indexOf('\n\n')) >= 0) {
					this.block(buf.slice(0, i));
					buf = buf.slice(i + 2);
				}
			}
		} catch (e) {
			if (ctrl.signal.aborted)
				return;
			if (e.status === 401) {
				Auth.lost(e.message);
				return;
			}
			if (e instanceof ApiError)
				showError(null, e);
		}
		if (this.ctrl !== ctrl)
			return;
		this.status('wait', 'reconnecting…');
		this.retry = setTimeout(() => this.connectFetch(), 3000);
	},

	block(text) {
		let kind = 'message';
		const data = [];
		for (const line of text.split('\n')) {
			if (line === '' || line[0] === ':')
				continue;
			const i = line.indexOf(':');
			const field = i < 0 ? line : line.slice(0, i);
			let value = i < 0 ? '' : line.slice(i + 1);
			if (value[0] === ' ')
				value = value.slice(1);
			if (field === 'event')
				kind = value;
			else if (field === 'data')
				data.push(value);
		}
		if (data.length)
			this.dispatch(kind, data.join('\n'));
	},

	dispatch(kind, data) {
		let obj;
		try { obj = JSON.parse(data); } catch (e) { return; }
		this.fire(kind, obj);
	},

	fire(kind, obj) {
		const h = this.handlers[kind];
		if (h)
			h(obj);
	},
};

/* A secret shown this once, selected for copying. */
function showOnce(box, input, said, value) {
	$(input).value = value;
	$(said).textContent = '';
	$(box).hidden = false;
	$(input).focus();
	$(input).select();
}

/* The field's text on the clipboard, and "Copied." beside it. */
async function copyField(input, said) {
	const i = $(input);
	try {
		await navigator.clipboard.writeText(i.value);
	} catch (e) {
		i.select();
		document.execCommand('copy');
	}
	$(said).textContent = 'Copied.';
}

/* Device names by id for rows that carry only an id (the audit log). */
const Names = {
	known: new Map(),

	async learn(ids) {
		const missing = [...new Set(ids)].filter((id) => id && !this.known.has(id));
		await Promise.all(missing.map((id) => api('GET', '/admin/devices/' + id).then(
		    (d) => this.known.set(id, d.name), () => this.known.set(id, null))));
	},

	link(id) {
		const name = this.known.get(id);
		return name === null ? el('span', { class: 'muted', text: 'device ' + id + ' (deleted)' }) :
		    deviceLink(id, name);
	},
};

/* ---- charts ---------------------------------------------------------- */

const VERSION_TAGS = 12;
const PALETTE = ['#0969da', '#1a7f37', '#bf8700', '#8250df', '#cf222e', '#1b7c83', '#bc4c00', '#6e7781'];

/* Chart.js charts by canvas id, drawn once and then given new data. */
const Charts = {
	all: {},

	draw(id, config) {
		if (typeof Chart === 'undefined')
			return null;
		const old = this.all[id];
		if (old) {
			old.data = config.data;
			old.update('none');
			return old;
		}
		config.options = Object.assign({ animation: false, responsive: true, maintainAspectRatio: false },
		    config.options || {});
		this.all[id] = new Chart($('#' + id), config);
		return this.all[id];
	},
};
