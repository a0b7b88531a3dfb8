// SPDX-License-Identifier: MIT
/*
 * The browser test of the web admin page (issues 9 and 20), run by
 * tests/e2e/test_web.py: Debian's chromium, headless, driven by
 * playwright-core.  It signs in on the page's form (a wrong password
 * first, which the page names), checks the fleet's version chart, creates a device (and
 * prints its token for the wrapper, whose simulated device logs in with
 * it), uploads an image, starts a job for the tag "porch" that waits for
 * an admin's confirmation, declines one device's delivery, confirms the
 * page's device's and watches every delivery change live on the page
 * until the page's device has "succeeded" (the job's progress chart and
 * the segmented bar, the queued device waiting to come online); then stops
 * the job (finished look, the throughput chart), opens the device's page
 * from its row (hardware, online facts, history; rename, new token, and
 * delete of another device, confirmed by name), creates and revokes an
 * API token, reads and filters the audit log, signs in from a second
 * browser by keyboard (session cookie for EventSource and fetch streams),
 * signs out, looks at the page phone-sized and walks it by keyboard.
 * Any console error fails it.  Last, in a browser in
 * another time zone and phone-sized, a job with a start time and a
 * maintenance window closed now: the API's refusal of a bad zone, then
 * the window and the scheduled row on the job's page.  Screenshots go to
 * WEB_ARTIFACTS.
 *
 * Input (environment): OTAD_URL, OTAD_USER, OTAD_PASSWORD, WEB_IMAGE,
 * WEB_SHA256, WEB_VERSION, WEB_BUILD, WEB_DEVICES (JSON {name: id} of the
 * wrapper's devices tagged porch), WEB_ARTIFACTS, WEB_README_SHOT
 * (optional; docs/'s other pictures go beside it), CHROMIUM.  Output: "TOKEN <id> <token>" and finally
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

/* The sign-in form: a wrong password is named, then the right one. */
async function signIn(page, wrongFirst) {
	await page.locator('#signin').waitFor({ state: 'visible', timeout: WAIT });
	check(await page.locator('.top nav').isHidden(), 'no section links before signing in');
	if (wrongFirst) {
		await page.fill('#signin-user', env.OTAD_USER);
		await page.fill('#signin-password', 'not-' + env.OTAD_PASSWORD);
		await page.click('#signin-send');
		const err = page.locator('#signin-form .error');
		await err.waitFor({ state: 'visible', timeout: WAIT });
		facts.wrong_password_shown = (await err.textContent()).trim();
		check(facts.wrong_password_shown.startsWith('Wrong user or password.'),
		    'the page says the password is wrong: ' + facts.wrong_password_shown);
	}
	await page.fill('#signin-user', env.OTAD_USER);
	await page.fill('#signin-password', env.OTAD_PASSWORD);
	await page.click('#signin-send');
	await page.locator('.top nav').waitFor({ state: 'visible', timeout: WAIT });
	check((await text(page, '#me-name')) === env.OTAD_USER, 'the page names the admin signed in');
}

/* The sum of every value a Chart.js chart draws. */
async function chartSum(page, id) {
	return page.evaluate((id) => {
		const c = Chart.getChart(id);
		return c ? c.data.datasets.reduce((n, d) => n + d.data.reduce((a, b) => a + (+b || 0), 0), 0) : -1;
	}, id);
}

async function chartHasData(page, id, what) {
	await page.waitForFunction((id) => {
		const c = window.Chart && Chart.getChart(id);
		return c && c.data.datasets.some((d) => d.data.some((v) => +v > 0));
	}, id, { timeout: WAIT }).catch(() => {});
	const sum = await chartSum(page, id);
	check(sum > 0, 'the ' + what + ' chart has data (' + sum + ')');
	facts.charts = facts.charts || {};
	facts.charts[id] = sum;
}

/* With WEB_README_SHOT, the main views for docs/ too, the window's size. */
async function docShot(page, name) {
	if (!env.WEB_README_SHOT)
		return;
	await page.screenshot({ path: path.join(path.dirname(env.WEB_README_SHOT), name + '.png') });
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
	    { data: { name: 'web-bad-token', token: 'x' }, headers: { Origin: BASE } });
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
	/* The device's name leads to its page; the token box goes when the view is left. */
	check(await page.getAttribute(row + ' a.device-link', 'href') === '#device/' + id, 'the name links to the device');
	await chartHasData(page, 'chart-versions', 'firmware versions');
	await shot(page, 'devices');
	await docShot(page, 'devices');
	return id;
}

async function firmwareView(page) {
	await page.click('nav a[data-nav=firmware]');
	await page.locator('#view-firmware').waitFor({ state: 'visible' });
	check(await page.locator('#token-box').isHidden() && await page.inputValue('#token-value') === '',
	    'the new device\'s token went away with the view');
	/* Not firmware: the page says to tick its box, not to edit a URL. */
	const junk = path.join(ART, 'notes.bin');
	fs.writeFileSync(junk, 'these are notes, not firmware\n');
	await page.setInputFiles('#fw-file', junk);
	await page.click('#fw-send');
	const err = page.locator('#fw-upload .error');
	await err.waitFor({ state: 'visible', timeout: WAIT });
	facts.unknown_image_shown = (await err.textContent()).trim();
	check(facts.unknown_image_shown.includes('tick "Accept an image otad does not recognise') &&
	    !facts.unknown_image_shown.includes('?force=true'), 'the 422 names the page\'s box: ' +
	    facts.unknown_image_shown);
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
	const review = await text(page, '#job-confirm-text') + ' ' + await text(page, '#job-confirm-opts');
	check(!/\b(null|undefined|NaN)\b/.test(review), 'no "null" or "undefined" in the review: ' + review);
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
	check(await text(page, `#job-table tr[data-device="${others['porch-offline']}"] .detail`) ===
	    'waits for the device to come online', 'the queued row says why it waits');
	const segs = await page.$$eval('#job-progress .seg', (ss) => ss.map((x) => x.dataset.g + ':' + x.dataset.n));
	facts.bar_active = segs;
	check(JSON.stringify(segs) === JSON.stringify(['succeeded:1', 'other:3', 'waiting:1']),
	    'the bar: succeeded, other ends and waiting apart: ' + segs);
	check(await page.$eval('#job-table td[data-label="Updated"]', (t) => getComputedStyle(t).whiteSpace) ===
	    'nowrap', 'the Updated column does not wrap');
	await chartHasData(page, 'chart-job', 'job progress');
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
		const top = await page.evaluate(() => window.scrollY);	/* box is the viewport's */
		await page.screenshot({ path: env.WEB_README_SHOT, fullPage: true,
		    clip: { x: 0, y: 0, width: 1280, height: Math.ceil(top + box.y + box.height + 24) } });
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
	/* A stopped job looks ended: no buttons, no waiting, the canceled apart. */
	await page.locator('#view-job[data-ended="true"]').waitFor({ timeout: WAIT });
	check(await page.locator('#job-stop').isHidden(), 'no job buttons once it ended');
	await page.waitForFunction(() => !document.querySelector('#job-progress .seg[data-g="waiting"]'));
	facts.bar_stopped = await page.$$eval('#job-progress .seg', (ss) => ss.map((x) => x.dataset.g + ':' + x.dataset.n));
	check(JSON.stringify(facts.bar_stopped) === JSON.stringify(['succeeded:1', 'canceled:1', 'other:3']),
	    'the stopped bar: ' + facts.bar_stopped);
	await page.waitForTimeout(1600);	/* the chart catches up */
	await shot(page, 'job-stopped');
	await page.click('nav a[data-nav=jobs]');
	const jrow = `#jobs-table tr[data-job="${jobId}"]`;
	await page.locator(jrow + '[data-state="stopped"] .bar .seg[data-g="canceled"]').waitFor({ timeout: WAIT });
	check(await page.locator(jrow + ' .bar .seg[data-g="waiting"]').count() === 0, 'the list shows no waiting');
	await chartHasData(page, 'chart-throughput', 'download throughput');
	await shot(page, 'jobs');
	await docShot(page, 'jobs');
}

/* The device's page, from its row in the job: what it is, where it is,
 * every delivery it had; rename; a new token for another device (shown
 * once, gone when the view is left); a third device deleted after a
 * confirmation that names it. */
async function devicePage(page, devId, jobId) {
	const others = JSON.parse(env.WEB_DEVICES);
	await page.goto(BASE + '/admin/#job/' + jobId);
	await page.click(`#job-table tr[data-device="${devId}"] a.device-link`);
	await page.waitForURL(new RegExp('#device/' + devId + '$'), { timeout: WAIT });
	await page.locator('#view-device').waitFor({ state: 'visible' });
	const fact = (k) => text(page, `#view-device dd[data-fact="${k}"]`);
	await page.locator(`#device-history tr[data-job="${jobId}"][data-state="succeeded"]`).waitFor({ timeout: WAIT });
	check(await fact('fw-version') === env.WEB_VERSION, 'the device page shows its firmware version');
	check(await fact('board') === 'NodeMCU', 'and its board');
	check(await fact('state') === 'online' && await fact('connections') === '1', 'online with one connection');
	check(/^127\.0\.0\.1:\d+$/.test(await fact('address')), 'and its address');
	facts.device_history = await page.$$eval('#device-history tbody tr', (rs) => rs.map((r) => r.dataset.job + ':' + r.dataset.state));
	await shot(page, 'device');
	await docShot(page, 'device');

	await page.fill('#device-name', 'kitchen-1');
	await page.fill('#device-tags', 'porch, kitchen, ground-floor');
	await page.click('#device-save');
	await page.locator('#device-saved', { hasText: 'Saved.' }).waitFor({ timeout: WAIT });
	await page.locator('#h-device', { hasText: 'kitchen-1' }).waitFor({ timeout: WAIT });
	const dev = await (await page.request.get(BASE + '/admin/devices/' + devId)).json();
	check(dev.name === 'kitchen-1' && dev.tags.join() === 'porch,kitchen,ground-floor', 'renamed and tagged');
	await page.locator('#device-activity tr[data-kind="device.updated"]', { hasText: 'kitchen-1' })
	    .waitFor({ timeout: WAIT });
	facts.device_activity = await page.$$eval('#device-activity tbody tr[data-kind]', (rs) => rs.map((r) => r.dataset.kind));
	check(facts.device_activity.includes('delivery.transition'), 'the activity has its deliveries\' moves');

	await page.goto(BASE + '/admin/#device/' + others['porch-offline']);
	await page.locator('#h-device', { hasText: 'porch-offline' }).waitFor({ timeout: WAIT });
	page.once('dialog', (d) => { facts.rotate_asked = d.message(); d.accept(); });
	await page.click('#device-rotate');
	await page.locator('#device-token-box').waitFor({ state: 'visible', timeout: WAIT });
	check(facts.rotate_asked.includes('"porch-offline"'), 'the new-token question names the device');
	check((await page.inputValue('#device-token-value')).length >= 16, 'the new token is shown');
	await page.click('#device-token-copy');
	await page.locator('#device-token-copied', { hasText: 'Copied' }).waitFor({ timeout: WAIT });
	await page.click('nav a[data-nav=devices]');
	await page.locator('#view-devices').waitFor({ state: 'visible' });
	await page.goto(BASE + '/admin/#device/' + others['porch-offline']);
	await page.locator('#h-device', { hasText: 'porch-offline' }).waitFor({ timeout: WAIT });
	check(await page.locator('#device-token-box').isHidden() && await page.inputValue('#device-token-value') === '',
	    'the token went away when the view was left');

	const doomed = await (await page.request.post(BASE + '/admin/devices',
	    { data: { name: 'web-doomed' }, headers: { Origin: BASE } })).json();
	await page.goto(BASE + '/admin/#device/' + doomed.id);
	await page.locator('#h-device', { hasText: 'web-doomed' }).waitFor({ timeout: WAIT });
	page.once('dialog', (d) => { facts.delete_asked = d.message(); d.accept(); });
	await page.click('#device-delete');
	await page.waitForURL(/#devices$/, { timeout: WAIT });
	check(facts.delete_asked.startsWith('Delete device "web-doomed" (#' + doomed.id + ')?'),
	    'the delete question names the device: ' + facts.delete_asked);
	check((await page.request.get(BASE + '/admin/devices/' + doomed.id)).status() === 404, 'the device is gone');
}

/* API tokens: created and shown once with Copy, it opens the API; revoked, it does not. */
async function tokensView(page) {
	await page.click('nav a[data-nav=tokens]');
	await page.locator('#view-tokens').waitFor({ state: 'visible' });
	await page.fill('#token-new-name', 'web-ci');
	await page.click('#token-create button[type=submit]');
	await page.locator('#api-token-box').waitFor({ state: 'visible', timeout: WAIT });
	const token = await page.inputValue('#api-token-value');
	await page.click('#api-token-copy');
	await page.locator('#api-token-copied', { hasText: 'Copied' }).waitFor({ timeout: WAIT });
	check(await page.evaluate(() => navigator.clipboard.readText()) === token, 'the token was copied');
	const row = page.locator('#tokens-table tbody tr', { hasText: 'web-ci' });
	await row.waitFor({ timeout: WAIT });
	const bearer = { headers: { Authorization: 'Bearer ' + token } };
	const me = await (await page.request.get(BASE + '/admin/session', bearer)).json();
	check(me.via === 'token' && me.user === 'token:web-ci', 'the token opens the API: ' + JSON.stringify(me));
	await page.request.get(BASE + '/admin/devices', bearer);
	await shot(page, 'tokens');
	page.once('dialog', (d) => { facts.revoke_asked = d.message(); d.accept(); });
	await row.locator('button', { hasText: 'Revoke' }).click();
	await row.waitFor({ state: 'detached', timeout: WAIT });
	check(facts.revoke_asked.includes('"web-ci"'), 'the revoke question names the token');
	check((await page.request.get(BASE + '/admin/devices', bearer)).status() === 401, 'revoked: refused');
}

/* The audit log: who did what from where, filtered by actor, kind and date. */
async function auditView(page) {
	await page.click('nav a[data-nav=audit]');
	await page.locator('#audit-table tbody tr[data-kind]').first().waitFor({ timeout: WAIT });
	facts.audit_summary = await text(page, '#audit-summary');
	check(/^Entries 1–\d+ of \d+, newest first$/.test(facts.audit_summary), 'paged: ' + facts.audit_summary);
	await page.selectOption('#audit-kind', 'token.');
	await page.waitForFunction(() => [...document.querySelectorAll('#audit-table tbody tr[data-kind]')]
	    .map((r) => r.dataset.kind).join() === 'token.revoked,token.created');
	const first = '#audit-table tbody tr[data-kind="token.revoked"]';
	await page.selectOption('#audit-kind', 'device.');
	await page.locator('#audit-table tbody tr[data-kind="device.updated"] a.device-link',
	    { hasText: 'kitchen-1' }).first().waitFor({ timeout: WAIT });
	await page.selectOption('#audit-kind', 'token.');
	await page.waitForFunction(() => [...document.querySelectorAll('#audit-table tbody tr[data-kind]')]
	    .map((r) => r.dataset.kind).join() === 'token.revoked,token.created');
	check(await text(page, first + ' td[data-label="Who"]') === env.OTAD_USER, 'who');
	check(await text(page, first + ' td[data-label="From"]') === '127.0.0.1', 'from where');
	await page.fill('#audit-actor', env.OTAD_USER);
	await page.selectOption('#audit-kind', 'device.');
	await page.locator('#audit-table tbody tr[data-kind="device.deleted"]').waitFor({ timeout: WAIT });
	const day = new Date().toISOString().slice(0, 10);
	await page.fill('#audit-until', '2020-01-01');
	await page.click('#audit-filter button[type=submit]');
	await page.locator('#audit-table td.empty', { hasText: 'Nothing matches.' }).waitFor({ timeout: WAIT });
	await page.fill('#audit-until', '');
	await page.fill('#audit-since', day);
	await page.click('#audit-filter button[type=submit]');
	await page.locator('#audit-table tbody tr[data-kind="device.deleted"]').waitFor({ timeout: WAIT });
	await page.click('#audit-filter button[type=reset]');
	await page.locator('#audit-table tbody tr[data-kind^="delivery."]').first().waitFor({ timeout: WAIT });
	await shot(page, 'audit');
	await docShot(page, 'audit');
}

/* A second browser, signed in by keyboard alone: its EventSource carries
 * the session cookie; a browser without EventSource reads the stream with
 * fetch(); signing out ends the session for every tab. */
async function secondSession(browser, devId) {
	const ctx = await browser.newContext({ ignoreHTTPSErrors: true });
	const statuses = [];
	ctx.on('response', (r) => {
		if (r.url().includes('/admin/'))
			statuses.push(r.status() + ' ' + new URL(r.url()).pathname);
	});
	let page;
	try {
		page = await ctx.newPage();
		page.on('console', (m) => {
			if (m.type() === 'error' && !/status of 4\d\d/.test(m.text()))
				problems.push('console (second): ' + m.text());
		});
		const r = await page.goto(BASE + '/admin/#jobs');
		check(r.status() === 200, 'the page opens without a login, on its sign-in form');
		await page.locator('#signin').waitFor({ state: 'visible', timeout: WAIT });
		check(await page.evaluate(() => document.activeElement.id) === 'signin-user', 'the user field has focus');
		await page.keyboard.type(env.OTAD_USER);
		await page.keyboard.press('Tab');
		await page.keyboard.type(env.OTAD_PASSWORD);
		await page.keyboard.press('Enter');
		await page.locator('#live[data-state="on"]').waitFor({ timeout: WAIT });
		check(await page.getAttribute('#live', 'data-transport') === 'eventsource',
		    'EventSource opened the stream with the session cookie');
		await page.locator('#jobs-table tr[data-job]').first().waitFor({ timeout: WAIT });
		const cookies = await ctx.cookies();
		const c = cookies.find((k) => k.name === 'otad_session');
		check(c && c.httpOnly && c.secure && c.sameSite === 'Strict' && c.expires > Date.now() / 1000,
		    'the session cookie is HttpOnly, Secure, SameSite=Strict, with an expiry');
		check(await page.evaluate(() => document.cookie) === '', 'scripts cannot read it');
		facts.session_events = statuses.filter((s) => s.includes('/admin/events'));

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

		await page.click('#sign-out');
		await page.locator('#signin').waitFor({ state: 'visible', timeout: WAIT });
		check(await text(page, '#signin-form .error') === 'Signed out.', 'says it signed out');
		check((await ctx.request.get(BASE + '/admin/devices')).status() === 401, 'the session is over');
		// The other tab's next step: its own stream, which the sign-out ends, may
		// have shown it the sign-in already (a busy machine is slow to click), so
		// the nav link is clicked whether it still shows or not.
		await fpage.locator('nav a[data-nav=firmware]').dispatchEvent('click');
		await fpage.locator('#signin').waitFor({ state: 'visible', timeout: WAIT });
		facts.ended_session_shown = await text(fpage, '#signin-form .error');
		check(facts.ended_session_shown.includes('Sign in again'), 'the other tab asks to sign in again: ' +
		    facts.ended_session_shown);
		await shot(page, 'signin');
		await docShot(page, 'signin');
	} catch (e) {
		for (const p of ctx.pages())
			await shot(p, 'failure-' + ctx.pages().indexOf(p)).catch(() => {});
		throw e;
	} finally {
		await ctx.close();
	}
}

async function phoneAndKeyboard(page) {
	await page.goto(BASE + '/admin/#job/' + facts.job_id);
	await page.locator('#job-table tbody tr[data-state]').first().waitFor({ timeout: WAIT });
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
	for (const v of ['firmware', 'jobs', 'tokens', 'audit']) {
		await page.click('nav a[data-nav=' + v + ']');
		await page.locator('#view-' + v).waitFor({ state: 'visible' });
		await page.waitForTimeout(300);
		await noSidewaysScroll(page, 'the ' + v + ' view');
		await shot(page, v + '-phone');
	}
	await page.goto(BASE + '/admin/#device/' + facts.device_id);
	await page.locator('#device-history tbody tr').first().waitFor({ timeout: WAIT });
	await noSidewaysScroll(page, 'the device page');
	await shot(page, 'device-phone');
	await page.click('nav a[data-nav=devices]');
	await page.locator('#view-devices').waitFor({ state: 'visible' });

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
	/* the elements that stick out, named for the report */
	const out = wide <= 390 ? [] : await page.evaluate(() => [...document.querySelectorAll('body *')]
	    .filter((e) => e.getBoundingClientRect().right > 390 && e.offsetParent !== null)
	    .slice(-4).map((e) => e.tagName + '#' + e.id + '.' + e.className + ' ' +
		Math.round(e.getBoundingClientRect().right)));
	check(wide <= 390, what + ' at phone width (' + wide + ' px) ' + out.join(', '));
}

/* A browser in Asia/Kolkata, phone-sized: a job for the offline device
 * that starts tomorrow at 10:30 there, in a window (closed now) Monday to
 * Saturday.  A bad zone first: the API's 400 is shown as worded. */
async function scheduleForm(browser) {
	const others = JSON.parse(env.WEB_DEVICES);
	const ctx = await browser.newContext({
		ignoreHTTPSErrors: true, timezoneId: 'Asia/Kolkata',
		viewport: { width: 390, height: 844 },
	});
	const page = await ctx.newPage();
	page.on('pageerror', (e) => problems.push('page error (Kolkata): ' + e.message));
	try {
		await page.goto(BASE + '/admin/#new');
		await signIn(page, false);
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
		check(await text(page, row + ' .detail') === 'waits for its start time and window, until',
		    'the scheduled row says why it waits');
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
		check(r.status() === 200, 'GET /admin/ answers 200 before any login: the sign-in form');
		await signIn(page, true);
		await page.locator('#view-devices').waitFor({ state: 'visible' });
		const devId = await devicesView(page);
		await firmwareView(page);
		const jobId = await newUpdate(page);
		facts.job_id = jobId;
		await jobView(page, devId, jobId);
		await secondSession(browser, devId);
		await devicePage(page, devId, jobId);
		await tokensView(page);
		await auditView(page);
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
