// SPDX-License-Identifier: MIT
/*
 * otad's web admin page (served by otad-admind at /admin/ui/updates.js): the
 * Firmware view (upload with progress, what otad read from the image, the
 * stored images) and the New update form with its review.
 */
'use strict';

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
