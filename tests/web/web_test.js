// SPDX-License-Identifier: MIT
/*
 * The browser test of the web admin page (issue 9), run by
 * tests/e2e/test_web.py: Debian's chromium, headless, driven by
 * playwright-core.  It logs in with HTTP Basic, creates a device (and
 * prints its token for the wrapper, whose simulated device logs in with
 * it), uploads an image, starts a job for the tag "porch" that waits for
 * an admin's confirmation, declines one device's delivery, confirms the
 * page's device's and watches every delivery change live on the page
 * until the page's device has "succeeded"; then stops the job, looks at
 * the page phone-sized and walks it by keyboard.  Last, in a browser in
 * another time zone and phone-sized, a job with a start time and a
 * maintenance window closed now: the API's refusal of a bad zone, then
 * the window and the scheduled row on the job's page.  Screenshots go to
 * WEB_ARTIFACTS.
 *
 * Input (environment): OTAD_URL, OTAD_USER, OTAD_PASSWORD, WEB_IMAGE,
 * WEB_SHA256, WEB_VERSION, WEB_BUILD, WEB_DEVICES (JSON {name: id} of the
 * wrapper's devices tagged porch), WEB_ARTIFACTS, WEB_README_SHOT
 * (optional), CHROMIUM.  Output: "TOKEN <id> <token>" and finally
 * "OK <facts as JSON>" on stdout; exit status 0 when every check held.
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');

const env = process.env;
const BASE = env.OTAD_URL;
const ART = env.WEB_ARTIFACTS;
const WAIT = 15000;
const facts = { events: [] };
const problems = [];

function say(line) { process.stdout.write(line + '\n'); }
function note(...a) { process.stderr.write('web_test: ' + a.join(' ') + '\n'); }

function check(cond, what) {
	if (!cond)
		throw new Error('check failed: ' + what);
}

async function shot(page, name) {
	const file = path.join(ART, name + '.png');
	await page.screenshot({ path: file, fullPage: true });
	note('screenshot', file);
	return file;
}

async function text(page, sel) { return (await page.locator(sel).first().textContent()).trim(); }

async function deliveryState(page, dev, state, timeout) {
	await page.locator(`#job-table tr[data-device="${dev}"][data-state="${state}"]`)
	    .waitFor({ timeout: timeout || WAIT });
}

async function devicesView(page) {
	/* An API error is shown as the API words it. */
	await page.fill('#new-name', 'web-bad-token');
	await page.fill('#new-token-in', 'x');
	await page.click('#dev-create button[type=submit]');
	const err = page.locator('#dev-create .error');
	await err.waitFor({ state: 'visible', timeout: WAIT });
	const api = await page.request.post(BASE + '/admin/devices',
	    { data: { name: 'web-bad-token', token: 'x' } });
	const body = await api.json();
	check(api.status() === 400 && body.error && body.error.message, 'the API refuses token "x"');
	check((await err.textContent()) === body.error.message,
	    'the page shows the API message "' + body.error.message + '"');
	facts.error_shown = body.error.message;

	/* Create the device: its token is shown once, with a copy button. */
	await page.fill('#new-token-in', '');
	await page.fill('#new-name', 'kitchen');
	await page.fill('#new-tags', 'porch');
	await page.click('#dev-create button[type=submit]');
	await page.locator('#token-box').waitFor({ state: 'visible', timeout: WAIT });
	check(await page.locator('#dev-create .error').isHidden(), 'the error went away');
	const token = await page.inputValue('#token-value');
	const m = /#(\d+)/.exec(await text(page, '#token-name'));
	check(token.length >= 16 && m, 'a token and the device id are shown');
	const id = parseInt(m[1], 10);
	await page.click('#token-copy');
	await page.locator('#token-copied', { hasText: 'Copied' }).waitFor({ timeout: WAIT });
	const clip = await page.evaluate(() => navigator.clipboard.readText());
	check(clip === token, 'the copy button put the token on the clipboard');
	facts.device_id = id;
	say('TOKEN ' + id + ' ' + token);

	/* The wrapper's device logs in: the list says so, live. */
	const row = `#dev-table tr[data-device="${id}"]`;
	await page.locator(row + ' .badge[data-s="online"]').waitFor({ timeout: WAIT });
	await page.locator(row, { hasText: 'NodeMCU' }).waitFor({ timeout: WAIT });

	/* Edit its tags. */
	await page.click(row + ' button');
	await page.fill('#tags-input', 'porch, kitchen');
	await page.click('#tags-save');
	await page.locator(row + ' .tag', { hasText: 'kitchen' }).waitFor({ timeout: WAIT });
	check(await page.locator('#tags-dialog').evaluate((d) => !d.open), 'the tags dialog closed');

	/* Search and filter. */
	await page.fill('#dev-q', 'kitch');
	await page.locator('#dev-table tbody tr').first().waitFor();
	await page.waitForFunction(() => document.querySelectorAll('#dev-table tbody tr[data-device]').length === 1);
	await page.fill('#dev-q', '');
	await page.selectOption('#dev-online', 'true');
	await page.waitForFunction(() => [...document.querySelectorAll('#dev-table tbody tr[data-device]')]
	    .every((r) => r.querySelector('.badge').dataset.s === 'online'));
	await page.selectOption('#dev-online', '');
	await page.locator(row).waitFor();
	await shot(page, 'devices');
	return id;
}

async function firmwareView(page) {
	await page.click('nav a[data-nav=firmware]');
	await page.setInputFiles('#fw-file', env.WEB_IMAGE);
	await page.click('#fw-send');
	await page.locator('#fw-result').waitFor({ state: 'visible', timeout: WAIT });
	const fact = (k) => text(page, `#fw-result-list dd[data-fact="${k}"]`);
	check(await fact('sha-256') === env.WEB_SHA256, 'the SHA-256 shown is the image\'s');
	check(await fact('format') === 'esp8266', 'format esp8266');
	check(await fact('version') === env.WEB_VERSION, 'the version of the image');
	check(await fact('build') === env.WEB_BUILD, 'the build of the image');
	check(/^[0-9a-f]{32}$/.test(await fact('md5')), 'an MD5');
	check(await page.locator('#fw-progress').evaluate((p) => p.value) === 100, 'progress bar full');
	facts.upload_progress = await text(page, '#fw-progress-text');
	await shot(page, 'firmware');
}

async function newUpdate(page) {
	await page.click('#fw-result-rollout');
	await page.locator('#view-new').waitFor({ state: 'visible' });
	await page.check('input[name=target][value=tag]');
	await page.fill('#job-tag', 'porch');
	await page.fill('#job-parallel', '10');
	await page.fill('#job-attempts', '2');
	await page.check('input[name=confirm][value=admin]');
	await page.click('#job-form button[type=submit]');
	await page.locator('#job-confirm').waitFor({ state: 'visible', timeout: WAIT });
	const n = Object.keys(JSON.parse(env.WEB_DEVICES)).length + 1;
	check(await page.getAttribute('#job-confirm-text', 'data-count') === String(n),
	    'the confirmation counts ' + n + ' devices');
	check((await text(page, '#job-confirm-text')).includes(n + ' devices'), 'and says so');
	check((await text(page, '#job-confirm-opts')).includes('waits for a yes by an admin'),
	    'the confirmation names the admin\'s yes');
	check(!(await text(page, '#job-confirm-opts')).includes('null'), 'no option left unset is listed');
	await shot(page, 'confirm');
	await page.click('#job-start');
	await page.waitForURL(/#job\/\d+$/, { timeout: WAIT });
	return parseInt(/#job\/(\d+)$/.exec(page.url())[1], 10);
}

/* confirm "admin": the online devices wait with Confirm and Decline; one
 * is declined with a reason, the page's device confirmed. */
async function consent(page, devId) {
	const others = JSON.parse(env.WEB_DEVICES);
	const row = (id) => `#job-table tr[data-device="${id}"]`;
	check((await text(page, '#job-when dd[data-fact="confirm"]')).includes('by an admin'),
	    'the job\'s page says an admin confirms');
	await deliveryState(page, devId, 'awaiting-consent');
	await deliveryState(page, others['porch-waiting'], 'awaiting-consent');
	await deliveryState(page, others['porch-offline'], 'queued');
	check(await text(page, row(devId) + ' .detail') === 'waits for an admin to confirm',
	    'the waiting row says what it waits for');
	await shot(page, 'consent');

	await page.click(row(others['porch-waiting']) + ' button[data-action=decline]');
	await page.locator('#decline-dialog').waitFor({ state: 'visible', timeout: WAIT });
	await page.fill('#decline-reason', 'after the harvest');
	await page.click('#decline-send');
	await deliveryState(page, others['porch-waiting'], 'declined');
	check(await page.locator('#decline-dialog').evaluate((d) => !d.open), 'the decline dialog closed');
	facts.declined_detail = await text(page, row(others['porch-waiting']) + ' .detail');
	check(facts.declined_detail.endsWith(': after the harvest'), 'the reason is in the detail: ' +
	    facts.declined_detail);
	check(await page.locator(row(others['porch-waiting']) + ' button').count() === 0,
	    'a declined row has no buttons');

	const t0 = Date.now();
	await page.click(row(devId) + ' button[data-action=confirm]');
	await page.locator(row(devId) + ':not([data-state="awaiting-consent"])').waitFor({ timeout: WAIT });
	facts.confirmed_after_ms = Date.now() - t0;
}

async function jobView(page, devId, jobId) {
	const others = JSON.parse(env.WEB_DEVICES);
	await consent(page, devId);
	const t0 = Date.now();
	await deliveryState(page, devId, 'succeeded', 40000);
	facts.succeeded_after_ms = Date.now() - t0;
	await deliveryState(page, others['porch-esp32'], 'incompatible');
	await deliveryState(page, others['porch-current'], 'already-current');
	await deliveryState(page, others['porch-offline'], 'queued');
	await page.locator('#job-progress-text', { hasText: '4 of 5 devices done' }).waitFor({ timeout: WAIT });
	check(await text(page, '#job-state') === 'active', 'the job stays active for the offline device');
	const live = page.locator('#live');
	facts.transport = await live.getAttribute('data-transport');
	check(await live.getAttribute('data-state') === 'on', 'the event stream is open');
	check(facts.transport === 'eventsource', 'EventSource works with the Basic credentials ' +
	    '(transport: ' + facts.transport + ')');
	/* The states came from the event stream, not a reload. */
	facts.delivery_states_seen = await page.evaluate(() => window.__states || null);
	check(await page.locator(`#job-table tr[data-device="${devId}"] .detail`).textContent() ===
	    'runs the new build', 'the detail of the succeeded delivery');
	await page.waitForTimeout(1100);	/* the row flash fades */
	await shot(page, 'job-view');
	if (env.WEB_README_SHOT) {
		/* The README's picture: the page down to the table's end. */
		const box = await page.locator('#job-table').boundingBox();
		await page.screenshot({ path: env.WEB_README_SHOT,
		    clip: { x: 0, y: 0, width: 1280, height: Math.ceil(box.y + box.height + 24) } });
	}

	/* Pause, resume, stop: the offline device's delivery is canceled. */
	await page.click('#job-pause');
	await page.locator('#job-state', { hasText: 'paused' }).waitFor({ timeout: WAIT });
	await page.click('#job-resume');
	await page.locator('#job-state', { hasText: 'active' }).waitFor({ timeout: WAIT });
	page.once('dialog', (d) => d.accept());
	await page.click('#job-stop');
	await deliveryState(page, others['porch-offline'], 'canceled');
	await page.locator('#job-state', { hasText: 'stopped' }).waitFor({ timeout: WAIT });
	check(await page.locator('#job-stop').isDisabled(), 'a stopped job cannot be stopped again');
	await shot(page, 'job-stopped');
}

/* The real login path: credentials typed once (here in the URL, as into
 * the browser's prompt), no Playwright auth.  The page's EventSource must
 * then carry Chromium's cached Basic credentials by itself; and a browser
 * without EventSource reads the stream through fetch(). */
async function cachedCredentials(browser, devId) {
	const u = new URL(BASE);
	u.username = env.OTAD_USER;
	u.password = env.OTAD_PASSWORD;
	const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
	const statuses = [];
	ctx.on('response', (r) => {
		if (r.url().includes('/admin/'))
			statuses.push(r.status() + ' ' + new URL(r.url()).pathname);
	});
	let page;
	try {
		page = await ctx.newPage();
		const r = await page.goto(u.href + 'admin/#jobs');
		check(r.status() === 200, 'the page opens with the typed credentials');
		await page.locator('#live[data-state="on"]').waitFor({ timeout: WAIT });
		check(await page.getAttribute('#live', 'data-transport') === 'eventsource',
		    'EventSource opened the stream with the cached credentials');
		await page.locator('#jobs-table tr[data-job]').first().waitFor({ timeout: WAIT });
		facts.cached_credentials = statuses.filter((s) => s.includes('/admin/events'));

		const fpage = await ctx.newPage();
		await fpage.addInitScript(() => { delete window.EventSource; });
		await fpage.goto(BASE + '/admin/#devices');
		await fpage.locator('#live[data-state="on"]').waitFor({ timeout: WAIT });
		check(await fpage.getAttribute('#live', 'data-transport') === 'fetch',
		    'without EventSource the page streams with fetch()');
		const row = `#dev-table tr[data-device="${devId}"]`;
		await fpage.locator(row + ' .badge[data-s="online"]').waitFor({ timeout: WAIT });
		say('BOUNCE ' + devId);
		await fpage.locator(row + ' .badge[data-s="offline"]').waitFor({ timeout: WAIT });
		await fpage.locator(row + ' .badge[data-s="online"]').waitFor({ timeout: WAIT });
		await fpage.locator(row, { hasText: env.WEB_BUILD }).waitFor({ timeout: WAIT });
		await shot(fpage, 'devices-fetch-stream');
		facts.unauthorized = statuses.filter((s) => s.startsWith('401'));
	} catch (e) {
		for (const p of ctx.pages())
			await shot(p, 'failure-' + ctx.pages().indexOf(p)).catch(() => {});
		throw e;
	} finally {
		await ctx.close();
	}
}

async function phoneAndKeyboard(page) {
	await page.setViewportSize({ width: 390, height: 844 });
	await page.waitForTimeout(200);
	const wide = await page.evaluate(() => document.documentElement.scrollWidth);
	check(wide <= 390, 'no sideways scrolling at phone width (' + wide + ' px)');
	await shot(page, 'job-view-phone');
	await page.click('nav a[data-nav=devices]');
	await page.locator('#view-devices').waitFor({ state: 'visible' });
	const wide2 = await page.evaluate(() => document.documentElement.scrollWidth);
	check(wide2 <= 390, 'devices at phone width (' + wide2 + ' px)');
	await shot(page, 'devices-phone');

	await page.setViewportSize({ width: 1280, height: 860 });
	await page.reload();
	await page.locator('#view-devices').waitFor({ state: 'visible' });
	await page.keyboard.press('Tab');
	check(await page.evaluate(() => document.activeElement.textContent) === 'Skip to content',
	    'Tab reaches the skip link first');
	for (let i = 0; i < 2; i++)
		await page.keyboard.press('Tab');
	check(await page.evaluate(() => document.activeElement.dataset.nav) === 'firmware',
	    'Tab reaches the section links');
	const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
	check(outline !== 'none', 'the focused link shows a focus outline');
	await page.keyboard.press('Enter');
	await page.locator('#view-firmware').waitFor({ state: 'visible' });
	check(await page.evaluate(() => document.activeElement.id) === 'h-firmware',
	    'focus moves to the section heading');
	await page.keyboard.press('Tab');
	check(await page.evaluate(() => document.activeElement.id) === 'fw-file',
	    'the file picker is next');
}

/* "HH:MM" of the moment t (ms) in the +05:30 of Asia/Kolkata. */
function kolkata(t) { return new Date(t + 5.5 * 3600e3).toISOString().slice(11, 16); }

async function noSidewaysScroll(page, what) {
	const wide = await page.evaluate(() => document.documentElement.scrollWidth);
	check(wide <= 390, what + ' at phone width (' + wide + ' px)');
}

/* A browser in Asia/Kolkata, phone-sized: a job for the offline device
 * that starts tomorrow at 10:30 there, in a window (closed now) Monday to
 * Saturday.  A bad zone first: the API's 400 is shown as worded. */
async function scheduleForm(browser) {
	const others = JSON.parse(env.WEB_DEVICES);
	const ctx = await browser.newContext({
		ignoreHTTPSErrors: true, timezoneId: 'Asia/Kolkata',
		httpCredentials: { username: env.OTAD_USER, password: env.OTAD_PASSWORD },
		viewport: { width: 390, height: 844 },
	});
	const page = await ctx.newPage();
	page.on('pageerror', (e) => problems.push('page error (Kolkata): ' + e.message));
	try {
		await page.goto(BASE + '/admin/#new');
		const box = `#job-dev-list input[value="${others['porch-offline']}"]`;
		await page.locator(box).waitFor({ timeout: WAIT });
		check(await page.inputValue('#job-win-tz') === 'Asia/Kolkata',
		    'the zone defaults to the browser\'s, by its tz database name');
		await page.check(box);
		const day = new Date(Date.now() + 86400e3 + 5.5 * 3600e3).toISOString().slice(0, 10);
		await page.fill('#job-start-at', day + 'T10:30');
		const from = kolkata(Date.now() + 2 * 3600e3), to = kolkata(Date.now() + 3 * 3600e3);
		await page.fill('#job-win-start', from);
		await page.fill('#job-win-end', to);
		await page.uncheck('#job-win-days input[value=sun]');
		await page.check('input[name=confirm][value=device]');
		await noSidewaysScroll(page, 'the New update form');
		await shot(page, 'new-update-phone');
		await page.fill('#job-win-tz', 'Mars/Base');
		await page.click('#job-form button[type=submit]');
		await page.locator('#job-confirm').waitFor({ state: 'visible', timeout: WAIT });
		const opts = await text(page, '#job-confirm-opts');
		check(opts.includes('(' + day + 'T10:30:00+05:30)'), 'start_at goes with the browser\'s offset: ' + opts);
		check(opts.includes(from + '–' + to), 'the review names the window: ' + opts);
		await noSidewaysScroll(page, 'the review');
		const [answer] = await Promise.all([
		    page.waitForResponse((r) => r.url().endsWith('/admin/jobs') && r.request().method() === 'POST'),
		    page.click('#job-start')]);
		const err = (await answer.json()).error;
		check(answer.status() === 400 && err.code === 'job.option', 'the API refuses Mars/Base');
		await page.locator('#job-confirm .error').waitFor({ state: 'visible', timeout: WAIT });
		check(await text(page, '#job-confirm .error') === err.message,
		    'the page shows the API message "' + err.message + '"');
		facts.option_error_shown = err.message;
		await page.click('#job-confirm button[value=cancel]');
		await page.fill('#job-win-tz', 'Asia/Kolkata');
		await page.click('#job-form button[type=submit]');
		await page.locator('#job-confirm').waitFor({ state: 'visible', timeout: WAIT });
		await page.click('#job-start');
		await page.waitForURL(/#job\/\d+$/, { timeout: WAIT });
		const jobId = parseInt(/#job\/(\d+)$/.exec(page.url())[1], 10);
		facts.window_job_id = jobId;

		const job = await (await page.request.get(BASE + '/admin/jobs/' + jobId)).json();
		check(job.start_at === day + 'T05:00:00Z', 'start_at is 10:30 in Kolkata: ' + job.start_at);
		check(JSON.stringify(job.window) === JSON.stringify({ start: from, end: to, timezone: 'Asia/Kolkata',
		    days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat'] }), 'the window: ' + JSON.stringify(job.window));
		check(job.confirm === 'device' && job.window_open === false, 'confirm device, window closed');
		const fact = (k) => `#job-when dd[data-fact="${k}"]`;
		await page.locator(fact('window')).waitFor({ timeout: WAIT });
		facts.window_shown = await text(page, fact('window'));
		check(facts.window_shown.startsWith(from + '–' + to) &&
		    facts.window_shown.endsWith('Asia/Kolkata, mon, tue, wed, thu, fri, sat'),
		    'the job\'s page shows the window: ' + facts.window_shown);
		check((await text(page, fact('window-now'))).startsWith('closed, opens '), 'closed now');
		check(await page.getAttribute(fact('window-now') + ' time', 'datetime') === job.next_change,
		    'and when it opens');
		check(await page.getAttribute(fact('start-at') + ' time', 'datetime') === job.start_at,
		    'the start time');
		check((await text(page, fact('confirm'))).includes('by the device'), 'confirm device');

		const dev = others['porch-offline'];
		await deliveryState(page, dev, 'scheduled');
		const ds = await (await page.request.get(BASE + '/admin/jobs/' + jobId + '/deliveries')).json();
		const row = `#job-table tr[data-device="${dev}"]`;
		check(await text(page, row + ' .detail') === 'waits until', 'the scheduled row waits');
		check(await page.getAttribute(row + ' time.until', 'datetime') === ds.deliveries[0].next_at,
		    'until its next opening ' + ds.deliveries[0].next_at);
		await noSidewaysScroll(page, 'the job with a window');
		await shot(page, 'job-window-phone');
	} catch (e) {
		await shot(page, 'failure-kolkata').catch(() => {});
		throw e;
	} finally {
		await ctx.close();
	}
}

async function main() {
	fs.mkdirSync(ART, { recursive: true });
	const browser = await chromium.launch({
		executablePath: env.CHROMIUM || '/usr/bin/chromium',
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
		    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
	});
	const context = await browser.newContext({
		ignoreHTTPSErrors: true,
		httpCredentials: { username: env.OTAD_USER, password: env.OTAD_PASSWORD },
		viewport: { width: 1280, height: 860 },
		permissions: ['clipboard-read', 'clipboard-write'],
	});
	const page = await context.newPage();
	page.on('pageerror', (e) => problems.push('page error: ' + e.message));
	page.on('console', (m) => {
		if (m.type() === 'error' && !/status of 4\d\d/.test(m.text()))
			problems.push('console: ' + m.text());
	});
	page.on('response', (r) => {
		if (r.url().includes('/admin/events'))
			facts.events.push(r.status() + ' ' + r.url().replace(BASE, ''));
	});
	page.on('request', (r) => {
		if (!r.url().startsWith(BASE))
			problems.push('request outside the origin: ' + r.url());
	});
	/* Record every delivery state the page draws, for the report. */
	await context.addInitScript(() => {
		window.__states = [];
		new MutationObserver((ms) => {
			for (const m of ms)
				for (const n of m.addedNodes)
					if (n.nodeType === 1 && n.matches('#job-table tr[data-state]'))
						window.__states.push(n.dataset.device + ':' + n.dataset.state +
						    (n.classList.contains('flash') ? ':event' : ':api'));
		}).observe(document, { childList: true, subtree: true });
	});
	try {
		const r = await page.goto(BASE + '/admin/');
		check(r.status() === 200, 'GET /admin/ answers 200 after the login');
		await page.locator('#view-devices').waitFor({ state: 'visible' });
		const devId = await devicesView(page);
		await firmwareView(page);
		const jobId = await newUpdate(page);
		facts.job_id = jobId;
		await jobView(page, devId, jobId);
		await cachedCredentials(browser, devId);
		await phoneAndKeyboard(page);
		await scheduleForm(browser);
		check(problems.length === 0, problems.join('; '));
		say('OK ' + JSON.stringify(facts));
	} catch (e) {
		await shot(page, 'failure').catch(() => {});
		note(e.stack || String(e));
		note('facts', JSON.stringify(facts), 'problems', JSON.stringify(problems));
		process.exitCode = 1;
	} finally {
		await browser.close();
	}
}

main();
