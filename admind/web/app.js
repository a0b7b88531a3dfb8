// SPDX-License-Identifier: MIT
/*
 * otad's web admin page (served by otad-admind at /admin/ui/app.js): the
 * sign-in form, the Devices, Device, Firmware, New update, Jobs, Job, API
 * tokens and Audit log views, drawn from the JSON API of this origin (the
 * session cookie of POST /admin/session goes with every fetch) and kept
 * live from the event stream GET /admin/events, through EventSource or, where
 * that cannot open it, a fetch() stream.  Charts are drawn by Chart.js
 * (ui/chart.min.js, Debian's libjs-chart.js, served by admind too).
 * No framework, no build step; text is always set with textContent.
 */
'use strict';

(function () {

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
	    style: null, 'data-n': g[grp.key] })));
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

/* ---- Devices --------------------------------------------------------- */

const Devices = {
	offset: 0, list: [], total: 0, shown: null,

	init() {
		const f = $('#dev-filter');
		f.addEventListener('submit', (e) => { e.preventDefault(); this.offset = 0; this.load(); });
		f.addEventListener('reset', () => setTimeout(() => { this.offset = 0; this.load(); }, 0));
		$('#dev-online').addEventListener('change', () => { this.offset = 0; this.load(); });
		$('#dev-q').addEventListener('input', debounce(() => { this.offset = 0; this.load(); }, 250));
		$('#dev-prev').addEventListener('click', () => { this.offset = Math.max(0, this.offset - PAGE); this.load(); });
		$('#dev-next').addEventListener('click', () => { this.offset += PAGE; this.load(); });
		$('#dev-create').addEventListener('submit', (e) => { e.preventDefault(); this.create(); });
		$('#token-copy').addEventListener('click', () => copyField('#token-value', '#token-copied'));
		$('#token-done').addEventListener('click', () => {
			$('#token-value').value = '';
			$('#token-box').hidden = true;
		});
		$('#tags-form').addEventListener('submit', (e) => this.saveTags(e));
	},

	enter() {
		this.load();
		this.chart();
		Live.open('', {
			'open': () => this.reload(),
			'device.online': (ev) => this.onlineChanged(ev.device_id, true),
			'device.offline': (ev) => this.onlineChanged(ev.device_id, false),
		});
	},

	/* The token of a device just created is shown until the view is left. */
	leave() {
		$('#token-value').value = '';
		$('#token-box').hidden = true;
	},

	/* Devices per firmware version: the fleet, then each tag, stacked. */
	async chart() {
		let r;
		try {
			r = await api('GET', '/admin/fleet/versions');
		} catch (e) {
			return;
		}
		const name = (v) => v || 'unknown';
		const versions = [...new Set(r.versions.map((v) => name(v.fw_version)))].sort();
		/* the tags with the most devices, at most VERSION_TAGS bars */
		const per = new Map();
		for (const t of r.tags)
			per.set(t.tag, (per.get(t.tag) || 0) + t.count);
		const tags = [...per.keys()].sort((a, b) => per.get(b) - per.get(a) || a.localeCompare(b))
		    .slice(0, VERSION_TAGS);
		$('#chart-versions').parentNode.style.height = (6 + 2.2 * (tags.length + 1)) + 'rem';
		const labels = ['all devices', ...tags.map((t) => 'tag ' + t)];
		const datasets = versions.map((v, i) => ({
			label: v, backgroundColor: PALETTE[i % PALETTE.length],
			data: [r.versions.filter((x) => name(x.fw_version) === v).reduce((n, x) => n + x.count, 0),
			    ...tags.map((t) => r.tags.filter((x) => x.tag === t && name(x.fw_version) === v)
				.reduce((n, x) => n + x.count, 0))],
		}));
		$('#versions-text').textContent = r.versions.map((v) => v.count + ' on ' + name(v.fw_version)).join(', ');
		Charts.draw('chart-versions', {
			type: 'bar', data: { labels, datasets },
			options: { indexAxis: 'y', scales: { x: { stacked: true, title: { display: true, text: 'devices' },
			    ticks: { precision: 0 } }, y: { stacked: true } } },
		});
	},

	filters() {
		return {
			online: $('#dev-online').value, tag: $('#dev-tag').value.trim(),
			board: $('#dev-board').value.trim(), fw_version: $('#dev-fw').value.trim(),
		};
	},

	async load() {
		const f = { ...this.filters(), q: $('#dev-q').value.trim() };
		try {
			/* name, tag or id search and the filters, paged by admind */
			const r = await api('GET', '/admin/devices' +
			    qs({ ...f, limit: PAGE, offset: this.offset }));
			this.total = r.total;
			this.list = r.devices;
			clearError(null);
		} catch (e) {
			showError(null, e);
			return;
		}
		this.render();
		Tags.learn(this.list);
	},

	render() {
		const body = $('#dev-table tbody');
		body.replaceChildren();
		for (const d of this.list)
			body.append(this.row(d));
		if (!this.list.length)
			body.append(el('tr', {}, el('td', { class: 'empty', colspan: 7,
			    text: this.total ? 'No device on this page.' : 'No device matches.' })));
		const first = this.list.length ? this.offset + 1 : 0;
		$('#dev-summary').textContent = this.total ? 'Devices ' + first + '–' +
		    (this.offset + this.list.length) + ' of ' + this.total : '';
		$('#dev-prev').disabled = this.offset === 0;
		$('#dev-next').disabled = this.offset + this.list.length >= this.total;
	},

	row(d) {
		const tags = d.tags.length ? d.tags.map((t) => el('span', { class: 'tag', text: t }))
		    : el('span', { class: 'muted', text: 'none' });
		return el('tr', { 'data-device': d.id },
		    td('Name', el('strong', {}, deviceLink(d.id, d.name)), ' ', el('span', { class: 'muted', text: '#' + d.id })),
		    td('State', badge(d.online ? 'online' : 'offline')),
		    td('Firmware', d.fw_version || d.build ? el('span', {},
			el('span', { text: d.fw_version || '?' }), el('small', { text: d.build })) :
			el('span', { class: 'muted', text: 'unknown' })),
		    td('Board', el('span', { text: d.board || '' }), d.fw_type ? el('small', { text: d.fw_type }) : null),
		    td('Tags', tags),
		    td('Last seen', d.online ? el('span', { text: 'now' }) : ago(d.last_seen)),
		    td('Actions', el('button', { type: 'button', class: 'secondary small',
			text: 'Edit tags', 'aria-label': 'Edit tags of ' + d.name,
			onclick: () => this.editTags(d) })));
	},

	/* The event names the device; its hardware info comes a moment later. */
	onlineChanged(id, online) {
		const i = this.list.findIndex((d) => d.id === id);
		if (i < 0) {
			if ($('#dev-online').value === '' && !$('#dev-q').value)
				this.reload();
			return;
		}
		this.list[i].online = online;
		this.replaceRow(i);
		setTimeout(() => this.refreshOne(id), 1200);
	},

	reload: debounce(function () { Devices.load(); }, 800),

	async refreshOne(id) {
		const i = this.list.findIndex((d) => d.id === id);
		if (i < 0)
			return;
		try {
			this.list[i] = await api('GET', '/admin/devices/' + id);
			this.replaceRow(i);
		} catch (e) { /* deleted meanwhile */ }
	},

	replaceRow(i) {
		const old = $('#dev-table tr[data-device="' + this.list[i].id + '"]');
		if (old)
			old.replaceWith(this.row(this.list[i]));
	},

	async create() {
		const form = $('#dev-create');
		const body = { name: $('#new-name').value.trim() };
		const tags = $('#new-tags').value.trim(), token = $('#new-token-in').value.trim();
		if (tags)
			body.tags = tags;
		if (token)
			body.token = token;
		clearError(form);
		let d;
		try {
			d = await api('POST', '/admin/devices', body);
		} catch (e) {
			showError(form, e);
			return;
		}
		form.reset();
		$('#token-name').textContent = d.name + ' (#' + d.id + ')';
		showOnce('#token-box', '#token-value', '#token-copied', d.token);
		this.load();
	},

	editTags(d) {
		const dlg = $('#tags-dialog');
		this.editing = d;
		$('#tags-device').textContent = d.name;
		$('#tags-input').value = d.tags.join(', ');
		clearError($('#tags-form'));
		dlg.showModal();
	},

	async saveTags(e) {
		if (!e.submitter || e.submitter.value !== 'save')
			return;
		e.preventDefault();
		const form = $('#tags-form');
		try {
			await api('PATCH', '/admin/devices/' + this.editing.id,
			    { tags: $('#tags-input').value });
		} catch (err) {
			showError(form, err);
			return;
		}
		$('#tags-dialog').close();
		this.load();
	},
};

/* The tags seen so far, offered by the tag inputs. */
const Tags = {
	known: new Set(),
	learn(devices) {
		let added = false;
		for (const d of devices)
			for (const t of d.tags)
				if (!this.known.has(t)) {
					this.known.add(t);
					added = true;
				}
		if (added)
			$('#tag-list').replaceChildren(...[...this.known].sort().map((t) => el('option', { value: t })));
	},
};

/* ---- Firmware -------------------------------------------------------- */

const Firmware = {
	file: null,

	init() {
		const drop = $('#fw-drop'), input = $('#fw-file');
		input.addEventListener('change', () => this.choose(input.files[0] || null));
		for (const ev of ['dragenter', 'dragover'])
			drop.addEventListener(ev, (e) => { e.preventDefault(); drop.classList.add('over'); });
		for (const ev of ['dragleave', 'dragend'])
			drop.addEventListener(ev, () => drop.classList.remove('over'));
		drop.addEventListener('drop', (e) => {
			e.preventDefault();
			drop.classList.remove('over');
			if (e.dataTransfer.files.length)
				this.choose(e.dataTransfer.files[0]);
		});
		$('#fw-upload').addEventListener('submit', (e) => { e.preventDefault(); this.upload(); });
		$('#fw-result-rollout').addEventListener('click', () => {
			NewJob.preselect = this.last && this.last.id;
			location.hash = '#new';
		});
	},

	enter() {
		Live.close();
		this.load();
	},

	choose(file) {
		this.file = file;
		$('#fw-chosen').textContent = file ? file.name + ' (' + bytes(file.size) + ')' : '';
		clearError($('#fw-upload'));
	},

	async load() {
		let r;
		try {
			r = await api('GET', '/admin/firmware' + qs({ limit: 200 }));
		} catch (e) {
			showError(null, e);
			return;
		}
		const body = $('#fw-table tbody');
		body.replaceChildren(...r.firmware.map((f) => el('tr', { 'data-firmware': f.id },
		    td('#', String(f.id)),
		    td('File', el('span', { text: f.filename }), el('small', { class: 'mono', text: f.sha256.slice(0, 16) + '…' })),
		    td('Format', f.format + (f.chip ? ' / ' + f.chip : '')),
		    td('Version', f.version || '—'),
		    td('Build', f.build || '—'),
		    td('Size', bytes(f.size)),
		    td('Uploaded', ago(f.uploaded_at), el('small', { text: f.uploaded_by })),
		    td('Actions', el('div', { class: 'buttons' },
			el('button', { type: 'button', class: 'small', text: 'Roll out',
			    'aria-label': 'Roll out image ' + f.id,
			    onclick: () => { NewJob.preselect = f.id; location.hash = '#new'; } }),
			el('button', { type: 'button', class: 'small danger', text: 'Delete',
			    'aria-label': 'Delete image ' + f.id, onclick: () => this.remove(f) }))))));
		if (!r.firmware.length)
			body.append(el('tr', {}, el('td', { class: 'empty', colspan: 8, text: 'No image uploaded yet.' })));
	},

	upload() {
		const form = $('#fw-upload');
		const bar = $('#fw-progress'), text = $('#fw-progress-text');
		clearError(form);
		if (!this.file) {
			showError(form, 'Choose an image file first (or drop one on the box).');
			return;
		}
		const fd = new FormData();
		fd.append('file', this.file, this.file.name);
		const xhr = new XMLHttpRequest();
		xhr.open('POST', at('/admin/firmware' + ($('#fw-force').checked ? '?force=true' : '')));
		xhr.setRequestHeader('Accept', 'application/json');
		bar.hidden = false;
		bar.value = 0;
		text.textContent = 'Uploading…';
		$('#fw-send').disabled = true;
		xhr.upload.onprogress = (e) => {
			if (!e.lengthComputable)
				return;
			bar.value = Math.round(e.loaded * 100 / e.total);
			text.textContent = bytes(e.loaded) + ' of ' + bytes(e.total) + ' (' + bar.value + ' %)';
		};
		xhr.upload.onload = () => { text.textContent = 'Checking the image…'; };
		xhr.onload = () => {
			$('#fw-send').disabled = false;
			if (xhr.status === 200 || xhr.status === 201) {
				bar.value = 100;
				text.textContent = 'Done.';
				this.shown(JSON.parse(xhr.responseText));
				this.load();
			} else {
				bar.hidden = true;
				text.textContent = '';
				const err = apiError(xhr.status, xhr.responseText);
				if (xhr.status === 422)
					err.message = err.message.replace(/,? or add \?force=true[^.]*\./, '.') +
					    ' If you are sure it is firmware, tick "Accept an image otad does not recognise' +
					    ' as ESP firmware" above and upload it again.';
				showError(form, err);
			}
		};
		xhr.onerror = () => {
			$('#fw-send').disabled = false;
			bar.hidden = true;
			text.textContent = '';
			showError(form, 'The upload was cut off before otad-admind answered.');
		};
		xhr.send(fd);
	},

	shown(f) {
		this.last = f;
		$('#fw-result-title').textContent = f.duplicate ?
		    'Already stored: this exact image is image ' + f.id : 'Uploaded as image ' + f.id;
		const facts = [['File', f.filename], ['Size', bytes(f.size) + ' (' + f.size + ' bytes)'],
		    ['Format', f.format], ['Chip', f.chip], ['Version', f.version], ['Build', f.build],
		    ['fw-type', f.fw_type], ['Board', f.board], ['MD5', f.md5], ['SHA-256', f.sha256]];
		$('#fw-result-list').replaceChildren(...facts.flatMap(([k, v]) =>
		    [el('dt', { text: k }), el('dd', { class: /MD5|SHA/.test(k) ? 'mono' : null,
			'data-fact': k.toLowerCase(), text: v || '—' })]));
		$('#fw-result').hidden = false;
	},

	async remove(f) {
		if (!confirm('Delete image ' + f.id + ' (' + f.filename + ')?'))
			return;
		try {
			await api('DELETE', '/admin/firmware/' + f.id);
			clearError(null);
		} catch (e) {
			showError(null, e);
		}
		this.load();
	},
};

/* ---- New update ------------------------------------------------------ */

const NewJob = {
	preselect: null, devices: [], body: null,

	init() {
		for (const r of document.querySelectorAll('input[name=target]'))
			r.addEventListener('change', () => this.showTarget());
		$('#job-dev-q').addEventListener('input', () => this.filterDevices());
		$('#job-form').addEventListener('submit', (e) => { e.preventDefault(); this.review(); });
		$('#job-start').addEventListener('click', () => this.start());
		$('#job-win-tz').value = browserZone();
		$('#job-start-zone').textContent = 'in your time zone, ' + browserZone() + '; empty: at once';
		if (Intl.supportedValuesOf)
			$('#tz-list').replaceChildren(...[...new Set(Intl.supportedValuesOf('timeZone')
			    .map((z) => ZONE_RENAMED[z] || z))].sort().map((z) => el('option', { value: z })));
	},

	async enter() {
		Live.close();
		clearError($('#job-form'));
		this.showTarget();
		try {
			const [fw, devs] = await Promise.all([api('GET', '/admin/firmware' + qs({ limit: 200 })),
			    api('GET', '/admin/devices' + qs({ limit: MANY }))]);
			this.fillFirmware(fw.firmware);
			this.devices = devs.devices;
			Tags.learn(this.devices);
			this.fillDevices();
		} catch (e) {
			showError($('#job-form'), e);
		}
	},

	target() { return document.querySelector('input[name=target]:checked').value; },

	showTarget() {
		const t = this.target();
		$('#target-devices').hidden = t !== 'devices';
		$('#target-tag').hidden = t !== 'tag';
	},

	fillFirmware(list) {
		const sel = $('#job-fw'), keep = this.preselect || sel.value;
		sel.replaceChildren(...list.map((f) => el('option', { value: String(f.id),
		    text: '#' + f.id + ' ' + f.filename + ' — ' + (f.version || 'no version') +
			(f.build ? ', ' + f.build : '') + ' (' + f.format + ')' })));
		if (!list.length)
			sel.append(el('option', { value: '', text: 'No image yet: upload one under Firmware' }));
		if (keep && list.some((f) => String(f.id) === String(keep)))
			sel.value = String(keep);
		this.firmware = list;
		this.preselect = null;
	},

	fillDevices() {
		const box = $('#job-dev-list');
		const checked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
		box.replaceChildren(...this.devices.map((d) => el('label', { class: 'check', 'data-name':
		    (d.name + ' ' + d.tags.join(' ')).toLowerCase() },
		    el('input', { type: 'checkbox', value: String(d.id), checked: checked.has(String(d.id)) }),
		    d.name + ' (#' + d.id + ') — ' + (d.online ? 'online' : 'offline') +
			(d.fw_version ? ', ' + d.fw_version : ''))));
		if (!this.devices.length)
			box.append(el('p', { class: 'muted', text: 'No device yet: add one under Devices.' }));
		this.filterDevices();
	},

	filterDevices() {
		const q = $('#job-dev-q').value.trim().toLowerCase();
		for (const l of $('#job-dev-list').querySelectorAll('label'))
			l.hidden = q !== '' && !l.dataset.name.includes(q);
	},

	/* The request, and how many devices it reaches. */
	async plan() {
		const fid = parseInt($('#job-fw').value, 10);
		if (!fid)
			throw new Error('Choose an image first; upload one under Firmware.');
		const body = { firmware_id: fid };
		const num = (id) => parseInt($(id).value, 10);
		body.max_parallel = num('#job-parallel');
		body.attempt_limit = num('#job-attempts');
		body.failure_threshold = num('#job-threshold');
		if ($('#job-force').checked)
			body.force = true;
		this.when(body);
		let count, what;
		switch (this.target()) {
		case 'devices':
			body.devices = [...$('#job-dev-list').querySelectorAll('input:checked')]
			    .map((i) => parseInt(i.value, 10));
			if (!body.devices.length)
				throw new Error('Tick at least one device, or choose a tag or all devices.');
			count = body.devices.length;
			what = count === 1 ? 'the chosen device' : 'the chosen devices';
			break;
		case 'tag':
			body.tag = $('#job-tag').value.trim();
			if (!body.tag)
				throw new Error('Name the tag whose devices get the update.');
			count = (await api('GET', '/admin/devices' + qs({ tag: body.tag, limit: 0 }))).total;
			if (!count)
				throw new Error('No device has the tag "' + body.tag + '".');
			what = 'the devices tagged "' + body.tag + '"';
			break;
		default:
			body.all = true;
			count = (await api('GET', '/admin/devices' + qs({ limit: 0 }))).total;
			what = 'all devices, and every device added while the job runs';
		}
		return { body, count, what };
	},

	/* start_at, the window and confirm; an empty field is no option. */
	when(body) {
		const start = $('#job-start-at').value;
		if (start)
			body.start_at = rfc3339Local(start);
		const from = $('#job-win-start').value, to = $('#job-win-end').value;
		if (from || to) {
			if (!from || !to)
				throw new Error('Give the maintenance window both times (From and Until), or neither.');
			body.window = { start: from, end: to };
			const tz = $('#job-win-tz').value.trim();
			if (tz)
				body.window.timezone = tz;
			const days = [...$('#job-win-days').querySelectorAll('input:checked')].map((i) => i.value);
			if (!days.length)
				throw new Error('Tick at least one day of the maintenance window, or empty its times.');
			if (days.length < DAYS.length)
				body.window.days = days;
		}
		const who = document.querySelector('input[name=confirm]:checked').value;
		if (who)
			body.confirm = who;
	},

	async review() {
		const form = $('#job-form');
		clearError(form);
		let p;
		try {
			p = await this.plan();
		} catch (e) {
			showError(form, e);
			return;
		}
		this.body = p.body;
		const f = this.firmware.find((x) => x.id === p.body.firmware_id) || {};
		$('#job-confirm-text').textContent = 'Image #' + f.id + ' ' + f.filename + ' (' +
		    (f.version || 'no version') + (f.build ? ', build ' + f.build : '') + ') will reach ' +
		    plural(p.count, 'device') + ': ' + p.what + '.';
		$('#job-confirm-text').dataset.count = String(p.count);
		const b = p.body;
		$('#job-confirm-opts').replaceChildren(...[
		    el('li', { text: 'at most ' + b.max_parallel + ' downloading at once' }),
		    el('li', { text: plural(b.attempt_limit, 'attempt') + ' per device' }),
		    el('li', { text: b.failure_threshold ? 'pause when more than ' + b.failure_threshold +
			' % of finished deliveries failed' : 'never pause by itself' }),
		    b.force ? el('li', { text: 'forced: also to devices whose board or fw-type differ' }) : null,
		    b.start_at ? el('li', { text: 'not before ' + new Date(b.start_at).toLocaleString() +
			' (' + b.start_at + ')' }) : null,
		    b.window ? el('li', { text: 'only in the window ' + windowText(b.window) }) : null,
		    b.confirm ? el('li', { text: 'each device waits for a yes ' + CONFIRM_TEXT[b.confirm] }) : null,
		].filter(Boolean));
		clearError($('#job-confirm form'));
		$('#job-confirm').showModal();
		$('#job-start').focus();
	},

	async start() {
		const dlg = $('#job-confirm');
		let job;
		$('#job-start').disabled = true;
		try {
			job = await api('POST', '/admin/jobs', this.body);
		} catch (e) {
			showError($('form', dlg), e);
			return;
		} finally {
			$('#job-start').disabled = false;
		}
		dlg.close();
		location.hash = '#job/' + job.id;
	},
};

/* ---- Jobs ------------------------------------------------------------ */

function targetText(j) {
	if (j.target_kind === 'tag')
		return 'tag "' + j.target + '"';
	if (j.target_kind === 'all')
		return 'all devices';
	return plural(j.deliveries || 0, 'device');
}

function doneCount(counts) {
	return TERMINAL.reduce((n, s) => n + (counts[s] || 0), 0);
}

const Jobs = {
	timer: null,

	init() {},

	enter() {
		this.load();
		this.throughput();
		clearInterval(this.timer);
		this.timer = setInterval(() => this.throughput(), 10000);
		Live.open('', {
			'open': () => this.reload(),
			'delivery': () => this.reload(),
			'audit': (ev) => { if (ev.job_id) this.reload(); },
		});
	},

	leave() {
		clearInterval(this.timer);
		this.timer = null;
	},

	reload: debounce(function () { Jobs.load(); }, 700),

	/* Bytes a second sent to devices, per 10 s, the last hour. */
	async throughput() {
		let r;
		try {
			r = await api('GET', '/admin/stats/throughput');
		} catch (e) {
			return;
		}
		const hm = (iso) => new Date(iso).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
		Charts.draw('chart-throughput', {
			type: 'line',
			data: { labels: r.samples.map((x) => hm(x.at)), datasets: [{
				label: 'KiB/s to devices', borderColor: '#0969da', backgroundColor: 'rgba(9,105,218,.15)',
				fill: true, pointRadius: 0, borderWidth: 1.5, tension: .2,
				data: r.samples.map((x) => +(x.bytes / r.step_s / 1024).toFixed(2)) }] },
			options: { scales: { x: { ticks: { maxTicksLimit: 7, maxRotation: 0 } },
			    y: { beginAtZero: true, title: { display: true, text: 'KiB/s' } } },
			    plugins: { legend: { display: false } } },
		});
	},

	async load() {
		let r;
		try {
			r = await api('GET', '/admin/jobs' + qs({ limit: 100 }));
		} catch (e) {
			showError(null, e);
			return;
		}
		const body = $('#jobs-table tbody');
		body.replaceChildren(...r.jobs.map((j) => {
			const done = doneCount(j.counts), fw = j.firmware || {};
			const bar = el('div', { class: 'bar small' });
			fillBar(bar, j.counts);
			return el('tr', { 'data-job': j.id, 'data-state': j.state },
			    td('Job', el('a', { href: '#job/' + j.id, text: 'Job ' + j.id })),
			    td('Image', el('span', { text: fw.filename || '#' + j.firmware_id }),
				el('small', { text: [fw.version, fw.build].filter(Boolean).join(', ') })),
			    td('Target', targetText(j)),
			    td('State', badge(j.state)),
			    td('Progress', bar, el('small', { text: done + ' of ' + j.deliveries + ' done' })),
			    td('Created', ago(j.created_at), el('small', { text: j.created_by })));
		}));
		if (!r.jobs.length)
			body.append(el('tr', {}, el('td', { class: 'empty', colspan: 6,
			    text: 'No job yet: start one under New update.' })));
	},
};

/* ---- One job, live --------------------------------------------------- */

const JobView = {
	id: 0, job: null, rows: new Map(), names: new Map(), size: 0, gen: 0, poll: null,
	changeTimer: null, declining: null, online: new Set(), ticks: 0,

	init() {
		$('#job-pause').addEventListener('click', () => this.change('pause'));
		$('#job-resume').addEventListener('click', () => this.change('resume'));
		$('#job-stop').addEventListener('click', () => {
			if (confirm('Stop job ' + this.id + '? Deliveries not finished are canceled.'))
				this.change('stop');
		});
		$('#decline-form').addEventListener('submit', (e) => this.decline(e));
	},

	enter(arg) {
		this.id = parseInt(arg, 10) || 0;
		this.job = null;
		this.rows = new Map();
		$('#h-job').textContent = 'Job ' + this.id;
		$('#job-desc').textContent = '';
		$('#job-table tbody').replaceChildren();
		clearError($('#job-error'));
		Live.open('?job=' + this.id, {
			'open': () => this.resync(),
			'delivery': (ev) => this.onDelivery(ev),
			'audit': (ev) => { if (ev.job_id === this.id) this.refreshJob(); },
		});
		this.resync();
		this.chart();
		clearInterval(this.poll);
		this.poll = setInterval(() => this.pollProgress(), 2000);
	},

	/* The job's deliveries over time, stacked by group. */
	async chart() {
		let r;
		try {
			r = await api('GET', '/admin/jobs/' + this.id + '/progress');
		} catch (e) {
			return;
		}
		if (r.job_id !== this.id)
			return;
		const samples = r.samples.map((x) => ({ at: x.at, g: groupCounts(x.counts) }));
		const used = GROUPS.filter((grp) => samples.some((x) => x.g[grp.key]));
		const span = samples.length ? Date.parse(samples[samples.length - 1].at) - Date.parse(samples[0].at) : 0;
		const fmt = span > 86400e3 ? { dateStyle: 'short', timeStyle: 'short' } : { timeStyle: 'medium' };
		Charts.draw('chart-job', {
			type: 'line',
			data: { labels: samples.map((x) => new Date(x.at).toLocaleString([], fmt)),
			    datasets: used.map((grp) => ({ label: grp.label, data: samples.map((x) => x.g[grp.key]),
				borderColor: GROUP_COLOURS[grp.key], backgroundColor: GROUP_COLOURS[grp.key],
				fill: true, stepped: true, pointRadius: 0, borderWidth: 1 })) },
			options: { scales: { x: { ticks: { maxTicksLimit: 6, maxRotation: 0 } },
			    y: { stacked: true, beginAtZero: true, ticks: { precision: 0 },
				title: { display: true, text: 'devices' } } } },
		});
	},

	chartLater: debounce(function () { JobView.chart(); }, 1500),

	leave() {
		clearInterval(this.poll);
		clearTimeout(this.changeTimer);
		this.poll = this.changeTimer = null;
	},

	/* The job and every delivery from the API; events keep them current. */
	async resync() {
		const gen = ++this.gen;
		try {
			const [job, ds] = await Promise.all([api('GET', '/admin/jobs/' + this.id),
			    api('GET', '/admin/jobs/' + this.id + '/deliveries')]);
			await this.learnNames(ds.deliveries.map((d) => d.device_id));
			if (gen !== this.gen)
				return;
			this.rows = new Map(ds.deliveries.map((d) => [d.id, d]));
			this.setJob(job);
			this.renderRows();
			clearError($('#job-error'));
		} catch (e) {
			showError($('#job-error'), e);
		}
	},

	async learnNames(ids) {
		const missing = ids.filter((id) => !this.names.has(id));
		if (missing.length > 20) {
			const r = await api('GET', '/admin/devices' + qs({ limit: MANY }));
			for (const d of r.devices)
				this.names.set(d.id, d.name);
		}
		await Promise.all(missing.filter((id) => !this.names.has(id)).map((id) =>
		    api('GET', '/admin/devices/' + id).then((d) => this.names.set(id, d.name),
			() => this.names.set(id, 'device ' + id))));
		await this.learnOnline();
	},

	/* Which devices are online: why a queued delivery waits. */
	async learnOnline() {
		try {
			const r = await api('GET', '/admin/devices' + qs({ online: 'true', limit: MANY }));
			this.online = new Set(r.devices.map((d) => d.id));
		} catch (e) { /* the reasons stay as they were */ }
	},

	refreshJob: debounce(async function () {
		try {
			JobView.setJob(await api('GET', '/admin/jobs/' + JobView.id));
		} catch (e) {
			showError($('#job-error'), e);
		}
	}, 400),

	setJob(job) {
		this.job = job;
		this.size = job.firmware ? job.firmware.size : 0;
		const fw = job.firmware || {};
		$('#job-desc').textContent = [(fw.filename || 'image #' + job.firmware_id) +
		    (fw.version ? ' ' + fw.version : '') + (fw.build ? ' (build ' + fw.build + ')' : ''),
		    'to ' + targetText(job), 'max parallel ' + job.max_parallel,
		    plural(job.attempt_limit, 'attempt'),
		    job.failure_threshold ? 'pauses over ' + job.failure_threshold + ' % failed' : null,
		    job.force ? 'forced' : null, 'by ' + job.created_by].filter(Boolean).join(' · ');
		const s = $('#job-state');
		s.dataset.s = job.state;
		s.textContent = job.state;
		$('#job-pause').disabled = job.state !== 'active';
		$('#job-resume').disabled = job.state !== 'paused';
		$('#job-stop').disabled = job.state !== 'active' && job.state !== 'paused';
		const ended = job.state !== 'active' && job.state !== 'paused';
		$('.job-head .buttons').hidden = ended;
		$('#view-job').dataset.ended = ended ? 'true' : 'false';
		document.title = 'Job ' + job.id + ' (' + job.state + ') · otad';
		this.setWhen(job);
	},

	/* start_at, the window (open now or not, and until when) and confirm;
	 * the job is fetched again when the window opens or closes. */
	setWhen(job) {
		const facts = [], running = job.state === 'active' || job.state === 'paused';
		if (job.start_at)
			facts.push(['Start at', 'start-at', until(job.start_at)]);
		if (job.window)
			facts.push(['Window', 'window', windowText(job.window)]);
		if (job.window && running)
			facts.push(['Window now', 'window-now', el('span', {},
			    job.window_open ? 'open, closes ' : 'closed, opens ', until(job.next_change))]);
		if (job.confirm)
			facts.push(['Confirm', 'confirm', CONFIRM_TEXT[job.confirm] || job.confirm]);
		$('#job-when').replaceChildren(...facts.flatMap(([k, fact, v]) =>
		    [el('dt', { text: k }), el('dd', { 'data-fact': fact }, v)]));
		$('#job-when').hidden = !facts.length;
		clearTimeout(this.changeTimer);
		this.changeTimer = null;
		const ms = job.next_change && running ? Date.parse(job.next_change) - Date.now() + 1000 : NaN;
		if (ms < 0x7fffffff)
			this.changeTimer = setTimeout(() => this.refreshJob(), Math.max(ms, 5000));
	},

	percent(d) {
		if (d.state === 'downloaded' || d.state === 'succeeded')
			return 100;
		if (d.percent !== undefined && d.state === 'downloading')
			return d.percent;
		return 0;
	},

	row(d) {
		const pct = this.percent(d);
		let progress = null;
		if (d.state === 'downloading')
			progress = [el('progress', { max: 100, value: pct, 'aria-label': pct + ' %' }), ' ' + pct + ' %'];
		else if (d.state === 'downloaded' || d.state === 'succeeded')
			progress = '100 %';
		const name = this.names.get(d.device_id) || 'device ' + d.device_id;
		return el('tr', { 'data-delivery': d.id, 'data-device': d.device_id, 'data-state': d.state },
		    td('Device', deviceLink(d.device_id, name),
			' ', el('span', { class: 'muted', text: '#' + d.device_id })),
		    td('State', badge(d.state)),
		    td('Progress', progress),
		    td('Attempts', this.job ? d.attempts + ' / ' + this.job.attempt_limit : String(d.attempts)),
		    td('Detail', this.detail(d, name)),
		    td('Updated', ago(d.updated_at)));
	},

	/* What the row waits for; Confirm and Decline while it waits for a yes. */
	detail(d, name) {
		let text = d.last_error || (d.state === 'succeeded' ? 'runs the new build' : '');
		const kids = [];
		if (d.state === 'queued') {
			text = this.queuedWhy(d);
		} else if (d.state === 'scheduled') {
			text = this.scheduledWhy();
			if (d.next_at)
				kids.push(' ', until(d.next_at));
		} else if (d.state === 'awaiting-consent') {
			text = text || (this.job && this.job.confirm === 'device' ?
			    'waits for the device to accept' : 'waits for an admin to confirm');
			if (d.next_at)
				kids.push('; asks again ', until(d.next_at));
			kids.push(el('span', { class: 'detail-actions' },
			    el('button', { type: 'button', class: 'small', text: 'Confirm', 'data-action': 'confirm',
				'aria-label': 'Confirm the update of ' + name, onclick: (e) => this.confirmRow(d, e.target) }),
			    el('button', { type: 'button', class: 'small danger', text: 'Decline', 'data-action': 'decline',
				'aria-label': 'Decline the update of ' + name, onclick: () => this.askDecline(d, name) })));
		}
		return [el('span', { class: 'detail', text }), ...kids];
	},

	/* Why a queued delivery has not been sent yet. */
	queuedWhy(d) {
		const job = this.job || {};
		if (job.state === 'paused')
			return 'waits: the job is paused';
		if (job.state && job.state !== 'active')
			return 'not sent: the job has ended';
		if (!this.online.has(d.device_id))
			return 'waits for the device to come online';
		const busy = [...this.rows.values()].filter((x) => SLOTS.includes(x.state)).length;
		if (job.max_parallel && busy >= job.max_parallel)
			return 'waits for a free slot (' + busy + ' of ' + job.max_parallel + ' under way)';
		return 'about to be sent';
	},

	/* Why a scheduled delivery waits: its start time, its window, or both. */
	scheduledWhy() {
		const job = this.job || {};
		const early = job.start_at && Date.parse(job.start_at) > Date.now();
		if (early && job.window)
			return 'waits for its start time and window, until';
		if (early)
			return 'waits for its start time, until';
		if (job.window)
			return 'outside the window, until';
		return 'waits until';
	},

	deliveryPath(d) { return '/admin/jobs/' + this.id + '/deliveries/' + d.device_id; },

	/* The delivery as the API returned it after a confirm or decline,
	 * unless an event has moved it on already. */
	updated(n) {
		const d = this.rows.get(n.id);
		if (!d || d.state !== 'awaiting-consent')
			return;
		this.rows.set(n.id, n);
		const old = $('#job-table tr[data-delivery="' + n.id + '"]');
		if (old)
			old.replaceWith(this.row(n));
		this.renderCounts();
	},

	async confirmRow(d, button) {
		clearError($('#job-error'));
		button.disabled = true;
		try {
			this.updated(await api('POST', this.deliveryPath(d) + '/confirm', {}));
		} catch (e) {
			button.disabled = false;
			showError($('#job-error'), e);
		}
	},

	askDecline(d, name) {
		this.declining = d;
		$('#decline-text').textContent = 'Device ' + name + ' (#' + d.device_id + ') does not get job ' +
		    this.id + '\'s update; its delivery ends "declined".';
		$('#decline-reason').value = '';
		clearError($('#decline-form'));
		$('#decline-dialog').showModal();
	},

	async decline(e) {
		if (!e.submitter || e.submitter.value !== 'decline')
			return;
		e.preventDefault();
		const reason = $('#decline-reason').value.trim();
		$('#decline-send').disabled = true;
		try {
			this.updated(await api('POST', this.deliveryPath(this.declining) + '/decline',
			    reason ? { reason } : {}));
		} catch (err) {
			showError($('#decline-form'), err);
			return;
		} finally {
			$('#decline-send').disabled = false;
		}
		$('#decline-dialog').close();
	},

	renderRows() {
		const list = [...this.rows.values()].sort((a, b) => a.device_id - b.device_id);
		$('#job-table tbody').replaceChildren(...list.map((d) => this.row(d)));
		if (!list.length)
			$('#job-table tbody').append(el('tr', {}, el('td', { class: 'empty', colspan: 6,
			    text: 'No device yet.' })));
		this.renderCounts();
	},

	renderCounts() {
		const counts = {};
		for (const d of this.rows.values())
			counts[d.state] = (counts[d.state] || 0) + 1;
		const total = this.rows.size, done = doneCount(counts);
		const g = fillBar($('#job-progress'), counts);
		$('#job-progress-text').replaceChildren(done + ' of ' + plural(total, 'device') + ' done', legend(g));
		$('#job-counts').replaceChildren(...STATES.filter((s) => counts[s]).map((s) =>
		    el('li', { 'data-count': s }, badge(s + ': ' + counts[s]))));
		for (const b of $('#job-counts').querySelectorAll('.badge'))
			b.dataset.s = b.textContent.split(':')[0];
	},

	async onDelivery(ev) {
		const d = this.rows.get(ev.delivery_id);
		if (!d) {
			this.resyncLater();
			return;
		}
		d.state = ev.state;
		d.attempts = ev.attempts;
		d.updated_at = new Date().toISOString();
		if (ev.state === 'downloading')
			d.percent = this.size ? Math.floor(ev.bytes_sent * 100 / this.size) : 0;
		d.last_error = ev.error || '';
		d.next_at = ev.next_at;
		d.consented = ev.consented;
		const old = $('#job-table tr[data-delivery="' + d.id + '"]');
		const row = this.row(d);
		row.classList.add('flash');
		if (old)
			old.replaceWith(row);
		this.renderCounts();
		if (TERMINAL.includes(ev.state))
			this.refreshJob();
		this.chartLater();
	},

	resyncLater: debounce(function () { JobView.resync(); }, 300),

	/* Downloads in flight: their bytes come from the API. */
	async pollProgress() {
		if (++this.ticks % 5 === 0 && [...this.rows.values()].some((d) => d.state === 'queued')) {
			await this.learnOnline();
			this.renderRows();
		}
		if (![...this.rows.values()].some((d) => d.state === 'downloading'))
			return;
		try {
			const ds = await api('GET', '/admin/jobs/' + this.id + '/deliveries?state=downloading');
			for (const n of ds.deliveries) {
				const d = this.rows.get(n.id);
				if (!d || d.state !== 'downloading' || d.percent === n.percent)
					continue;
				d.percent = n.percent;
				const old = $('#job-table tr[data-delivery="' + d.id + '"]');
				if (old)
					old.replaceWith(this.row(d));
			}
		} catch (e) { /* the next event or poll catches up */ }
	},

	async change(action) {
		clearError($('#job-error'));
		try {
			this.setJob(await api('POST', '/admin/jobs/' + this.id + '/' + action, {}));
			this.renderRows();
		} catch (e) {
			showError($('#job-error'), e);
		}
	},
};

/* ---- One device ------------------------------------------------------ */

const DeviceView = {
	id: 0, dev: null,

	init() {
		$('#device-edit').addEventListener('submit', (e) => { e.preventDefault(); this.save(); });
		$('#device-rotate').addEventListener('click', () => this.rotate());
		$('#device-delete').addEventListener('click', () => this.remove());
		$('#device-token-copy').addEventListener('click', () =>
		    copyField('#device-token-value', '#device-token-copied'));
	},

	enter(arg) {
		this.id = parseInt(arg, 10) || 0;
		this.dev = null;
		$('#h-device').textContent = 'Device ' + this.id;
		$('#device-saved').textContent = '';
		clearError($('#device-error'));
		clearError($('#device-edit'));
		this.load(true);
		Live.open('?device=' + this.id, {
			'open': () => this.reload(),
			'device.online': () => this.reload(),
			'device.offline': () => this.reload(),
			'delivery': () => this.reload(),
		});
	},

	/* A new token is shown until the view is left. */
	leave() {
		$('#device-token-value').value = '';
		$('#device-token-box').hidden = true;
	},

	reload: debounce(function () { DeviceView.load(false); }, 500),

	async load(fill) {
		let d;
		try {
			d = await api('GET', '/admin/devices/' + this.id);
		} catch (e) {
			showError($('#device-error'), e);
			return;
		}
		this.dev = d;
		document.title = d.name + ' · otad';
		$('#h-device').textContent = d.name;
		const fact = (k, key, v) => [el('dt', { text: k }), el('dd', { 'data-fact': key },
		    v instanceof Node ? v : el('span', { text: v === '' || v === null || v === undefined ? '—' : String(v) }))];
		$('#device-hw').replaceChildren(...[
		    fact('Id', 'id', '#' + d.id),
		    fact('Firmware version', 'fw-version', d.fw_version),
		    fact('Build', 'build', d.build),
		    fact('fw-type', 'fw-type', d.fw_type),
		    fact('Board', 'board', d.board),
		    fact('Blynk library', 'lib-version', d.lib_version),
		    fact('Frame buffer', 'buff-in', d.buff_in ? d.buff_in + ' bytes' : ''),
		    fact('Heartbeat', 'h-beat', d.h_beat ? d.h_beat + ' s' : ''),
		    fact('Added', 'created', ago(d.created_at)),
		].flat());
		$('#device-online').replaceChildren(...[
		    fact('State', 'state', badge(d.online ? 'online' : 'offline')),
		    fact('Connections now', 'connections', String(d.connections)),
		    fact('Address', 'address', d.online ? d.address : d.last_addr),
		    fact('Last seen', 'last-seen', d.online ? el('span', { text: 'now' }) : ago(d.last_seen)),
		    fact('Last address', 'last-addr', d.last_addr),
		].flat());
		if (fill) {
			$('#device-name').value = d.name;
			$('#device-tags').value = d.tags.join(', ');
		}
		Tags.learn([d]);
		this.history(d.deliveries);
	},

	history(list) {
		const body = $('#device-history tbody');
		body.replaceChildren(...list.map((h) => el('tr', { 'data-job': h.job_id, 'data-state': h.state },
		    td('Job', el('a', { href: '#job/' + h.job_id, text: 'Job ' + h.job_id })),
		    td('Image', el('span', { text: h.filename || '#' + h.firmware_id }),
			el('small', { text: h.fw_version || '' })),
		    td('State', badge(h.state)),
		    td('Attempts', String(h.attempts)),
		    td('Detail', el('span', { class: 'detail', text: h.last_error ||
			(h.state === 'succeeded' ? 'runs the new build' : '') })),
		    td('Updated', ago(h.updated_at)))));
		if (!list.length)
			body.append(el('tr', {}, el('td', { class: 'empty', colspan: 6,
			    text: 'No update has been sent to this device yet.' })));
	},

	async save() {
		const form = $('#device-edit');
		clearError(form);
		$('#device-saved').textContent = '';
		try {
			await api('PATCH', '/admin/devices/' + this.id, { name: $('#device-name').value.trim(),
			    tags: $('#device-tags').value });
		} catch (e) {
			showError(form, e);
			return;
		}
		$('#device-saved').textContent = 'Saved.';
		await this.load(true);
	},

	async rotate() {
		const d = this.dev;
		if (!d || !confirm('Give device "' + d.name + '" (#' + d.id + ') a new token? The old one stops ' +
		    'working at once; the device logs in again only with the new one in its sketch.'))
			return;
		clearError($('#device-error'));
		let r;
		try {
			r = await api('POST', '/admin/devices/' + d.id + '/token', {});
		} catch (e) {
			showError($('#device-error'), e);
			return;
		}
		showOnce('#device-token-box', '#device-token-value', '#device-token-copied', r.token);
	},

	async remove() {
		const d = this.dev;
		if (!d || !confirm('Delete device "' + d.name + '" (#' + d.id + ')? Its token stops working at ' +
		    'once and its deliveries are deleted with it.'))
			return;
		try {
			await api('DELETE', '/admin/devices/' + d.id);
		} catch (e) {
			showError($('#device-error'), e);
			return;
		}
		location.hash = '#devices';
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

/* ---- API tokens ------------------------------------------------------ */

const Tokens = {
	init() {
		$('#token-create').addEventListener('submit', (e) => { e.preventDefault(); this.create(); });
		$('#api-token-copy').addEventListener('click', () => copyField('#api-token-value', '#api-token-copied'));
	},

	enter() {
		Live.close();
		clearError($('#token-create'));
		this.load();
	},

	leave() {
		$('#api-token-value').value = '';
		$('#api-token-box').hidden = true;
	},

	async load() {
		let r;
		try {
			r = await api('GET', '/admin/tokens');
		} catch (e) {
			showError(null, e);
			return;
		}
		const body = $('#tokens-table tbody');
		body.replaceChildren(...r.tokens.map((t) => el('tr', { 'data-token': t.id },
		    td('Name', el('strong', { text: t.name }), ' ', el('span', { class: 'muted', text: '#' + t.id })),
		    td('Created', ago(t.created_at), el('small', { text: 'by ' + t.created_by })),
		    td('Last used', ago(t.last_used_at)),
		    td('Actions', el('button', { type: 'button', class: 'small danger', text: 'Revoke',
			'aria-label': 'Revoke token ' + t.name, onclick: () => this.revoke(t) })))));
		if (!r.tokens.length)
			body.append(el('tr', {}, el('td', { class: 'empty', colspan: 4, text: 'No API token yet.' })));
	},

	async create() {
		const form = $('#token-create');
		clearError(form);
		let t;
		try {
			t = await api('POST', '/admin/tokens', { name: $('#token-new-name').value.trim() });
		} catch (e) {
			showError(form, e);
			return;
		}
		form.reset();
		$('#api-token-name').textContent = t.name + ' (#' + t.id + ')';
		showOnce('#api-token-box', '#api-token-value', '#api-token-copied', t.token);
		this.load();
	},

	async revoke(t) {
		if (!confirm('Revoke token "' + t.name + '"? Scripts using it are refused from the next request.'))
			return;
		try {
			await api('DELETE', '/admin/tokens/' + t.id);
			clearError(null);
		} catch (e) {
			showError(null, e);
		}
		$('#api-token-box').hidden = true;
		this.load();
	},
};

/* ---- Audit log ------------------------------------------------------- */

const Audit = {
	offset: 0,

	init() {
		const f = $('#audit-filter');
		f.addEventListener('submit', (e) => { e.preventDefault(); this.offset = 0; this.load(); });
		f.addEventListener('reset', () => setTimeout(() => { this.offset = 0; this.load(); }, 0));
		$('#audit-kind').addEventListener('change', () => { this.offset = 0; this.load(); });
		$('#audit-prev').addEventListener('click', () => { this.offset = Math.max(0, this.offset - PAGE); this.load(); });
		$('#audit-next').addEventListener('click', () => { this.offset += PAGE; this.load(); });
	},

	enter() {
		Live.close();
		this.load();
	},

	/* A date input (the browser's day) as the first or last moment of it. */
	day(id, last) {
		const v = $(id).value;
		return v ? rfc3339Local(v + (last ? 'T23:59:59' : 'T00:00:00')) : '';
	},

	async load() {
		let r;
		try {
			r = await api('GET', '/admin/audit' + qs({ actor: $('#audit-actor').value.trim(),
			    kind: $('#audit-kind').value, since: this.day('#audit-since', false),
			    until: this.day('#audit-until', true), limit: PAGE, offset: this.offset }));
			await Names.learn(r.events.map((e) => e.device_id));
			clearError(null);
		} catch (e) {
			showError(null, e);
			return;
		}
		const body = $('#audit-table tbody');
		body.replaceChildren(...r.events.map((e) => el('tr', { 'data-event': e.id, 'data-kind': e.kind },
		    td('When', ago(e.at)),
		    td('Who', el('span', { text: e.actor || '—' })),
		    td('From', el('span', { class: 'mono', text: e.remote || '—' })),
		    td('What', el('span', { class: 'kind', text: e.kind })),
		    td('Detail', el('span', {}, el('span', { text: e.text }),
			e.device_id ? [' ', Names.link(e.device_id)] : null,
			e.job_id ? [' ', el('a', { href: '#job/' + e.job_id, text: 'job ' + e.job_id })] : null)))));
		if (!r.events.length)
			body.append(el('tr', {}, el('td', { class: 'empty', colspan: 5, text: 'Nothing matches.' })));
		const first = r.events.length ? this.offset + 1 : 0;
		$('#audit-summary').textContent = r.total ? 'Entries ' + first + '–' +
		    (this.offset + r.events.length) + ' of ' + r.total + ', newest first' : '';
		$('#audit-prev').disabled = this.offset === 0;
		$('#audit-next').disabled = this.offset + r.events.length >= r.total;
	},
};

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

/* ---- navigation ------------------------------------------------------ */

const VIEWS = { devices: Devices, device: DeviceView, firmware: Firmware, new: NewJob, jobs: Jobs,
	job: JobView, tokens: Tokens, audit: Audit };
const TITLES = { devices: 'Devices', device: 'Device', firmware: 'Firmware', new: 'New update', jobs: 'Jobs',
	job: 'Job', tokens: 'API tokens', audit: 'Audit log' };
let current = null;

function route(focus) {
	if (Auth.user === null)
		return;
	const [name, arg] = location.hash.replace(/^#/, '').split('/');
	const v = VIEWS[name] ? name : 'devices';
	if (current && current.leave)
		current.leave();
	for (const s of document.querySelectorAll('[data-view]'))
		s.hidden = s.dataset.view !== v;
	for (const a of document.querySelectorAll('[data-nav]')) {
		if (a.dataset.nav === v || (v === 'job' && a.dataset.nav === 'jobs') ||
		    (v === 'device' && a.dataset.nav === 'devices'))
			a.setAttribute('aria-current', 'page');
		else
			a.removeAttribute('aria-current');
	}
	document.title = TITLES[v] + ' · otad';
	clearError(null);
	current = VIEWS[v];
	current.enter(arg);
	if (focus) {
		const h = $('[data-view="' + v + '"] h1');
		h.tabIndex = -1;
		h.focus();
	}
}

/* Signed in: the states, the views' handlers once, then the view. */
async function start() {
	if (!Auth.started) {
		Auth.started = true;
		for (const v of Object.values(VIEWS))
			v.init();
		window.addEventListener('hashchange', () => route(true));
		/* Times shown as "2 min ago" age with the page. */
		setInterval(() => {
			for (const t of document.querySelectorAll('time.ago, time.until'))
				t.replaceWith((t.classList.contains('ago') ? ago : until)(t.getAttribute('datetime')));
		}, 30000);
	}
	try {
		const lc = await api('GET', '/admin/lifecycle');
		STATES = lc.delivery.states;
		TERMINAL = lc.delivery.ended;
		groupStates(lc.delivery);
	} catch (e) {
		showError(null, e);
		return;
	}
	route(false);
}

function main() {
	Auth.init();
	Auth.check();
}

main();

})();
