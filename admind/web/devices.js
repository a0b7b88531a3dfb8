// SPDX-License-Identifier: MIT
/*
 * otad's web admin page (served by otad-admind at /admin/ui/devices.js): the
 * Devices view (the fleet's versions chart, the list, filters, adding a
 * device) and a device's own page (hardware, online, every delivery;
 * rename, tags, a new token, delete).
 */
'use strict';

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

/* ---- One device ------------------------------------------------------ */

const ACTIVITY = 20;	/* audit rows on a device's page */

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
			'audit': () => this.reload(),
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
		this.activity();
	},

	/* The device's rows of the audit log: what admins did to it, its
	 * deliveries' moves, the events it reported. */
	async activity() {
		let r;
		try {
			r = await api('GET', '/admin/audit' + qs({ device: this.id, limit: ACTIVITY }));
		} catch (e) {
			return;
		}
		const body = $('#device-activity tbody');
		body.replaceChildren(...r.events.map((e) => el('tr', { 'data-kind': e.kind },
		    td('When', ago(e.at)),
		    td('Who', el('span', { text: e.actor || '—' })),
		    td('What', el('span', { class: 'kind', text: e.kind })),
		    td('Detail', el('span', {}, el('span', { text: e.text }),
			e.job_id ? [' ', el('a', { href: '#job/' + e.job_id, text: 'job ' + e.job_id })] : null)))));
		if (r.total > r.events.length)
			body.append(el('tr', {}, el('td', { class: 'empty', colspan: 4,
			    text: 'The ' + r.events.length + ' newest of ' + r.total + '.' })));
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
