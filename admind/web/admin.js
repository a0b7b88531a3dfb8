// SPDX-License-Identifier: MIT
/*
 * otad's web admin page (served by otad-admind at /admin/ui/admin.js): the API
 * tokens view (create, shown once, revoke) and the audit log (who did what
 * from where, filtered and paged).
 */
'use strict';

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
