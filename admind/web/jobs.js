// SPDX-License-Identifier: MIT
/*
 * otad's web admin page (served by otad-admind at /admin/ui/jobs.js): the
 * Jobs view (the throughput chart, every job with its bar) and a job's own
 * view, live: its bar, progress chart, when and how it sends, every
 * delivery with why it waits, Confirm and Decline, Pause, Resume, Stop.
 */
'use strict';

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
	changeTimer: null, declining: null, ticks: 0,

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
		if (!d.device_online)
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

	/* Downloads in flight: their bytes come from the API; every 10 s,
	 * whether the queued deliveries' devices are online (the job's stream
	 * does not carry devices' comings and goings). */
	async pollProgress() {
		const states = new Set([...this.rows.values()].map((d) => d.state));
		if (++this.ticks % 5 === 0 && states.has('queued'))
			await this.refreshField('queued', 'device_online');
		if (states.has('downloading'))
			await this.refreshField('downloading', 'percent');
	},

	/* The job's deliveries in state, from the API: each row still in it
	 * takes the field's new value. */
	async refreshField(state, field) {
		try {
			const ds = await api('GET', '/admin/jobs/' + this.id + '/deliveries' + qs({ state }));
			for (const n of ds.deliveries) {
				const d = this.rows.get(n.id);
				if (!d || d.state !== state || d[field] === n[field])
					continue;
				d[field] = n[field];
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
