// SPDX-License-Identifier: MIT
/*
 * otad's web admin page (served by otad-admind at /admin/ui/app.js): the
 * routes between the views (#devices, #device/ID, #firmware, #new, #jobs,
 * #job/ID, #tokens, #audit) once signed in, and the start: the delivery
 * states from GET /admin/lifecycle (admind's one table), then the view.
 * Loaded last, after core.js and the views' files.
 */
'use strict';

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
