// End to end: a school claims a fresh installation from the console, with roles (issue 20, ADR 0022).
//
//   npm run build && node tests/e2e/claim.mjs
//
// Starts a fresh host with CONVERGIO_SETUP_CODE set: by default on the shared control plane (the
// Cosmos DB and Blob emulators, `python -m tests.emulators.serve`, as `make serve-emulated`); with
// CONVERGIO_E2E_EMBEDDED=1 on the embedded host's SQLite instead. Then, in Debian's Chromium:
// the sign-in page points to setup → a wrong code is refused next to its field → the right code
// claims the installation and shows the admin key once → the admin issues a teacher key (shown
// once) and a student's, sets the budget, creates a second tenant, revokes a key → the setup code
// is refused after use (from a setup page loaded before the claim, and by the API) → the teacher
// signs in: sees runs, start and usage only; is refused the budget page and the overage consent
// (403 from the page's own context); starts lesson-plan (completes) and approves newsletter-approval's
// human step → a student sees only shared graphs and their own runs. axe-core on every new page at
// 1366×768 and 390×844: no serious or critical violation. Screenshots: web/test-results/claim-*.png.
// Installs nothing: CHROMIUM_PATH, PYTHON and AXE_CORE_PATH (axe.min.js; default: web's node_modules) as in run.mjs.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { AXE, BASE, LAPTOP as DESKTOP, PHONE, ROOT, check, freePort, launch, run, shot as harnessShot, startHost } from './_harness.mjs';

const EMBEDDED = process.env.CONVERGIO_E2E_EMBEDDED === '1';
const CODE = 'e2e-setup-code-7f3a9c';
const TIMEOUT = 60_000;
const audits = [];
if (!EMBEDDED && !existsSync(join(ROOT, 'tests', 'emulators', 'node_modules', '.bin'))) {
	throw new Error('the emulators are not installed (tests/emulators: npm ci, as `make test` does); or set CONVERGIO_E2E_EMBEDDED=1.');
}

const shot = (page, name) => harnessShot(page, `claim-${name}`);

/** axe-core on the page as it is, at both sizes: no serious or critical violation, no sideways scroll. */
async function audit(page, name, include = null) {
	for (const [size, viewport] of [
		['1366x768', DESKTOP],
		['390x844', PHONE]
	]) {
		await page.setViewportSize(viewport);
		await page.waitForTimeout(150);
		if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
		const violations = await page.evaluate(async (only) => {
			const result = await window.axe.run(only ? { include: only } : document, { resultTypes: ['violations'] });
			return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 3) }));
		}, include);
		const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
		audits.push({ name, size, violations: violations.length, serious: bad.length });
		check(bad.length === 0, `axe on ${name} at ${size}: ${JSON.stringify(bad, null, 1)}`);
		const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
		if (overflow > 0) {
			const wide = await page.evaluate(() =>
				[...document.querySelectorAll('body *')]
					.filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
					.slice(0, 8)
					.map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${[...el.classList].join('.')} right=${Math.round(el.getBoundingClientRect().right)}`)
			);
			throw new Error(`${name} scrolls sideways at ${size} (${overflow}px): ${wide.join('; ')}`);
		}
		if (viewport === PHONE) await shot(page, `${name}-phone`);
	}
	await page.setViewportSize(DESKTOP);
}

const nav = (page) => page.getByRole('navigation', { name: 'Main' });
const sub = (page) => page.getByRole('navigation', { name: 'People and access' });

async function navLabels(page) {
	await nav(page).waitFor();
	return (await nav(page).getByRole('link').allTextContents()).map((t) => t.trim());
}

async function signIn(page, url, key) {
	await page.goto(`${url}${BASE}/signin`);
	await page.getByLabel('Tenant API key').fill(key);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.waitForURL(/\/runs$/);
	await nav(page).waitFor();
}

async function signOut(page) {
	await page.getByRole('button', { name: 'Sign out' }).click();
	await page.waitForURL(/\/signin$/);
}

/** A call from the page's own context, with the key this tab signed in with. */
function fromPage(page, method, path, body) {
	return page.evaluate(
		async ([m, p, b]) => {
			const key = sessionStorage.getItem('convergio.apiKey');
			const headers = { 'content-type': 'application/json', accept: 'application/json' };
			if (key) headers['x-api-key'] = key;
			const r = await fetch(`/api/v1${p}`, { method: m, headers, body: b === undefined ? undefined : JSON.stringify(b) });
			return { status: r.status, body: await r.json().catch(() => null) };
		},
		[method, path, body]
	);
}

await run('claim', async (session, step) => {
	step.name = 'host';
	const home = session.home;
	const args = EMBEDDED
		? ['-m', 'convergio', 'start', '--port', '0', '--home', home]
		: ['-m', 'tests.emulators.serve', '--port', String(await freePort()), '--home', home];
	const url = await startHost(session, args);
	console.log(`e2e claim: host at ${url} (${EMBEDDED ? 'embedded' : 'control plane on the Cosmos DB and Blob emulators'})`);
	const state = await fetch(`${url}/api/v1/setup`).then((r) => r.json());
	check(state.claimed === false, `a fresh installation answers claimed=${state.claimed}`);

	step.name = 'browser';
	const browser = await launch(session);
	const context = await browser.newContext({ viewport: DESKTOP });
	const page = await context.newPage();
	page.setDefaultTimeout(15_000);
	const consoleErrors = [];
	page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
	page.on('pageerror', (e) => consoleErrors.push(String(e)));
	// Refusals this test provokes on purpose log "Failed to load resource … 40x": those alone are expected.
	const unexpected = () => consoleErrors.filter((e) => !/Failed to load resource: the server responded with a status of 40[13459]/.test(e));

	step.name = 'sign-in points to setup';
	await page.goto(`${url}${BASE}/`);
	await page.waitForURL(/\/signin/);
	await page.getByTestId('setup-link').waitFor();
	await audit(page, 'signin-unclaimed');
	await page.getByRole('link', { name: 'Set it up with its setup code' }).click();
	await page.waitForURL(/\/setup$/);
	await page.getByTestId('unclaimed').waitFor();
	check((await nav(page).count()) === 0, 'the setup page shows the navigation to someone signed out');

	// A second tab opens the setup page now, before the claim: it will try the same code afterwards.
	const stale = await context.newPage();
	await stale.goto(`${url}${BASE}/setup`);
	await stale.getByTestId('unclaimed').waitFor();

	step.name = 'wrong code';
	await page.getByRole('button', { name: 'Set up and become admin' }).click();
	await page.locator('#setup-code-error').filter({ hasText: 'Setup code is required.' }).waitFor(); // checked before sending
	await page.getByLabel('Setup code').fill('not-the-code');
	await page.getByLabel('School name').fill('Scuola Dante');
	await page.getByLabel('Your name').fill('Ada Admin');
	await page.getByRole('button', { name: 'Set up and become admin' }).click();
	const codeError = page.locator('#setup-code-error');
	await codeError.filter({ hasText: "not this installation's" }).waitFor();
	check((await page.getByLabel('Setup code').getAttribute('aria-invalid')) === 'true', 'the wrong code is not marked invalid');
	check(await page.getByLabel('Setup code').evaluate((el) => el === document.activeElement), 'focus did not go to the refused code');
	await shot(page, '01-setup-wrong-code');
	await audit(page, 'setup-form');

	step.name = 'claim';
	await page.getByLabel('Setup code').fill(CODE);
	await page.getByRole('button', { name: 'Set up and become admin' }).click();
	await page.getByRole('heading', { name: 'Your admin key' }).waitFor();
	const adminKey = await page.getByTestId('key-value').inputValue();
	check(/^cvg_/.test(adminKey), `the admin key does not look like one: ${adminKey.slice(0, 6)}…`);
	check((await page.getByText('you will not see it again').count()) >= 1, 'the key is not said to be shown once');
	check((await page.getByRole('button', { name: 'Copy key' }).count()) === 1, 'no copy button');
	await page.getByRole('button', { name: 'Copy key' }).click();
	await page.getByRole('status').filter({ hasText: /Copied|Selected/ }).waitFor();
	await shot(page, '02-setup-admin-key');
	await audit(page, 'setup-key-once');
	const meAdmin = await fetch(`${url}/api/v1/me`, { headers: { 'x-api-key': adminKey } }).then((r) => r.json());
	check(meAdmin.role === 'admin' && meAdmin.home === true, `the claiming key is not the home admin: ${JSON.stringify(meAdmin)}`);

	step.name = 'admin console';
	await page.getByRole('button', { name: 'I have saved it: open the console' }).click();
	await page.waitForURL(/\/admin\/keys$/);
	const adminNav = await navLabels(page);
	for (const label of ['Runs', 'Start a run', 'Keys & connections', 'Usage', 'Budgets', 'People & access']) {
		check(adminNav.includes(label), `the admin's navigation lacks ${label}: ${adminNav.join(', ')}`);
	}
	const adminSub = (await sub(page).getByRole('link').allTextContents()).map((t) => t.trim());
	check(JSON.stringify(adminSub) === JSON.stringify(['Members', 'API keys', 'Tenants']), `the home admin's People & access: ${adminSub.join(', ')}`);
	check(!(await page.content()).includes(adminKey), 'the admin key is still in the page after it was dismissed');

	step.name = 'teacher key';
	await page.getByRole('button', { name: 'Issue key' }).click();
	await page.locator('#key-label-error').filter({ hasText: 'Label is required.' }).waitFor();
	await page.getByLabel('Label').fill('Ms Rossi, year 4');
	await page.getByLabel('Role').selectOption('teacher');
	await page.getByRole('button', { name: 'Issue key' }).click();
	await page.getByRole('heading', { name: 'New API key' }).waitFor();
	const teacherKey = await page.getByTestId('key-value').inputValue();
	check(/^cvg_/.test(teacherKey) && teacherKey !== adminKey, 'no new teacher key was shown');
	const teacherRow = page.locator('[data-testid="keys"] tbody tr', { hasText: 'Ms Rossi, year 4' });
	await teacherRow.waitFor();
	check(((await teacherRow.textContent()) ?? '').includes('teacher'), 'the new key is not listed as a teacher key');
	check(!((await page.getByTestId('keys').textContent()) ?? '').includes(teacherKey), 'the key list shows the key itself');
	await shot(page, '03-keys-key-once');
	await audit(page, 'keys');
	await page.getByRole('button', { name: 'I have saved the key' }).click();
	check(!(await page.content()).includes(teacherKey), 'the teacher key is still in the page after it was dismissed');

	step.name = 'revoke';
	await page.getByLabel('Label').fill('Spare key');
	await page.getByLabel('Role').selectOption('student');
	await page.getByRole('button', { name: 'Issue key' }).click();
	await page.getByRole('heading', { name: 'New API key' }).waitFor();
	const spareKey = await page.getByTestId('key-value').inputValue();
	await page.getByRole('button', { name: 'I have saved the key' }).click();
	await page.getByRole('button', { name: 'Revoke Spare key' }).click();
	const confirmRevoke = page.getByRole('group', { name: 'Confirm revoking Spare key' });
	await confirmRevoke.waitFor();
	await shot(page, '04-keys-revoke-confirm');
	await confirmRevoke.getByRole('button', { name: 'Revoke' }).click();
	await page.getByRole('status').filter({ hasText: 'was revoked' }).waitFor();
	check((await page.locator('[data-testid="keys"] tbody tr', { hasText: 'Spare key' }).count()) === 0, 'the revoked key is still listed as active');
	const spare = await fetch(`${url}/api/v1/me`, { headers: { 'x-api-key': spareKey } });
	check(spare.status === 401, `a revoked key still answers ${spare.status}`);

	step.name = 'members';
	await sub(page).getByRole('link', { name: 'Members' }).click();
	await page.getByRole('heading', { name: 'Invite a member' }).waitFor();
	await page.getByLabel('Name').fill('Sam Student');
	await page.getByLabel('Role').selectOption('student');
	await page.getByLabel('Entra object id (optional)').fill('not-a-guid');
	await page.getByRole('button', { name: 'Invite member' }).click();
	await page.locator('#member-principal_id-error').waitFor();
	await page.getByLabel('Entra object id (optional)').fill('');
	await page.getByRole('button', { name: 'Invite member' }).click();
	await page.getByRole('heading', { name: 'Their API key' }).waitFor();
	const studentKey = await page.getByTestId('key-value').inputValue();
	await page.locator('[data-testid="members"] tbody tr', { hasText: 'Sam Student' }).waitFor();
	await shot(page, '05-members');
	await audit(page, 'members');

	step.name = 'budgets';
	await nav(page).getByRole('link', { name: 'Budgets' }).click();
	await page.getByRole('heading', { name: 'Limits' }).waitFor();
	await page.getByLabel('Monthly limit (EUR)').fill('fifty');
	await page.getByRole('button', { name: 'Save limits' }).click();
	await page.locator('#limit-monthly_eur-error').waitFor();
	await page.getByLabel('Monthly limit (EUR)').fill('50');
	await page.getByLabel('Use managed keys (the platform\'s provider keys), up to the cap').check();
	await page.getByLabel('Managed-key cap (EUR a month)').fill('10');
	await page.getByRole('button', { name: 'Save limits' }).click();
	await page.getByRole('status').filter({ hasText: 'Saved' }).waitFor();
	const budget = await fetch(`${url}/api/v1/tenants/me/budget`, { headers: { 'x-api-key': adminKey } }).then((r) => r.json());
	check(Number(budget.monthly_eur) === 50 && budget.managed_enabled && Number(budget.managed_cap_eur) === 10, `the API holds ${JSON.stringify(budget)}`);
	await page.getByRole('heading', { name: 'Overage consent' }).waitFor(); // admins see the consent form
	await shot(page, '06-budgets');
	await audit(page, 'budgets');

	step.name = 'tenants';
	await nav(page).getByRole('link', { name: 'People & access' }).click();
	await page.waitForURL(/\/admin\/members$/);
	await sub(page).getByRole('link', { name: 'Tenants' }).click();
	await page.getByLabel('School name').fill('Liceo Galilei');
	await page.getByLabel("First admin's name").fill('Bo Admin');
	await page.getByRole('button', { name: 'Create tenant' }).click();
	await page.getByRole('heading', { name: 'Their first admin key' }).waitFor();
	const otherAdmin = await page.getByTestId('key-value').inputValue();
	await page.locator('[data-testid="tenants"] tbody tr', { hasText: 'Liceo Galilei' }).waitFor();
	await audit(page, 'tenants');
	const otherMe = await fetch(`${url}/api/v1/me`, { headers: { 'x-api-key': otherAdmin } }).then((r) => r.json());
	check(otherMe.role === 'admin' && otherMe.home === false && otherMe.tenant.name === 'Liceo Galilei', 'the new tenant has no admin key');

	step.name = 'code refused after use';
	await stale.getByLabel('Setup code').fill(CODE);
	await stale.getByLabel('School name').fill('Someone Else');
	await stale.getByLabel('Your name').fill('Mallory');
	await stale.getByRole('button', { name: 'Set up and become admin' }).click();
	await stale.getByTestId('already-claimed').filter({ hasText: 'its setup code was used' }).waitFor();
	await shot(stale, '07-setup-code-used');
	await stale.close();
	const again = await fetch(`${url}/api/v1/setup/claim`, {
		method: 'POST',
		headers: { 'content-type': 'application/json' },
		body: JSON.stringify({ code: CODE, tenant_name: 'Other', admin_name: 'Eve' })
	});
	check(again.status === 409, `the used code answered ${again.status}, not 409`);
	check((await fetch(`${url}/api/v1/setup`).then((r) => r.json())).claimed === true, 'GET /setup does not say claimed');

	step.name = 'teacher signs in';
	await signOut(page);
	check((await page.getByTestId('setup-link').count()) === 0, 'the sign-in page still offers setup once claimed');
	await signIn(page, url, teacherKey);
	const teacherNav = await navLabels(page);
	check(JSON.stringify(teacherNav) === JSON.stringify(['Runs', 'Start a run', 'Usage']), `the teacher sees ${teacherNav.join(', ')}`);
	await page.getByTestId('signed-in-role').filter({ hasText: 'teacher' }).waitFor();
	await shot(page, '08-teacher-nav');
	await audit(page, 'teacher-nav', ['header']); // the runs page itself is run.mjs's

	step.name = 'teacher refused the budget';
	await page.goto(`${url}${BASE}/budgets`);
	await page.getByTestId('forbidden').filter({ hasText: 'Your role (teacher) cannot manage the tenant' }).waitFor();
	check((await page.getByRole('heading', { name: 'Overage consent' }).count()) === 0, 'the teacher sees the consent form');
	await shot(page, '09-teacher-budgets-refused');
	await audit(page, 'teacher-forbidden');
	const consent = await fromPage(page, 'POST', '/tenants/me/overage-consent', { amount_eur: '5.00' });
	check(consent.status === 403, `the teacher's overage consent answered ${consent.status}`);
	check(consent.body?.error?.code === 'forbidden' && /teacher/.test(consent.body.error.message), `403 body: ${JSON.stringify(consent.body)}`);
	const keysAsTeacher = await fromPage(page, 'GET', '/tenants/me/keys');
	check(keysAsTeacher.status === 403, `the teacher listed keys: ${keysAsTeacher.status}`);
	await page.goto(`${url}${BASE}/admin/keys`);
	await page.getByTestId('forbidden').waitFor();

	step.name = 'teacher starts lesson-plan';
	await page.goto(`${url}${BASE}/start?graph=lesson-plan`);
	await page.getByLabel('Topic').fill('fractions');
	await page.getByLabel('Grade').fill('4');
	await page.getByRole('button', { name: 'Start run' }).click();
	await page.waitForURL(/\/runs\/[0-9a-f]{32}$/);
	const lessonId = page.url().split('/').pop();
	await page.locator('[data-testid="run-status"] [data-status="Completed"]').waitFor({ timeout: TIMEOUT });
	console.log(`e2e claim: the teacher's lesson-plan run ${lessonId} completed`);

	step.name = 'teacher approves a human step';
	await page.goto(`${url}${BASE}/start?graph=newsletter-approval`);
	await page.getByLabel('Week').fill('12');
	await page.getByLabel('Highlights').fill('Science fair');
	await page.getByRole('button', { name: 'Start run' }).click();
	await page.waitForURL(/\/runs\/[0-9a-f]{32}$/);
	await page.locator('svg.dag [data-node="publish"][data-status="awaiting_input"]').waitFor({ timeout: TIMEOUT });
	await page.waitForFunction(() => !document.getElementById('event-name')); // the graph (and so the event's name) has loaded
	await page.getByRole('button', { name: 'Approve' }).click();
	await page.locator('[data-testid="run-status"] [data-status="Completed"]').waitFor({ timeout: TIMEOUT });
	await shot(page, '10-teacher-approved');

	step.name = 'teacher shares lesson-plan';
	await page.goto(`${url}${BASE}/start?graph=lesson-plan`);
	await page.getByTestId('share').filter({ hasText: 'Not shared' }).waitFor();
	await page.getByRole('button', { name: 'Share with students' }).click();
	await page.getByRole('status').filter({ hasText: 'Students can now see and start lesson-plan' }).waitFor();
	await page.getByRole('button', { name: 'Stop sharing with students' }).waitFor();
	await shot(page, '11-teacher-shares');
	await audit(page, 'start-share');

	step.name = 'student';
	await signOut(page);
	await signIn(page, url, studentKey);
	const studentNav = await navLabels(page);
	check(JSON.stringify(studentNav) === JSON.stringify(['My runs', 'Start a run']), `the student sees ${studentNav.join(', ')}`);
	await shot(page, '12-student-nav');
	await page.waitForFunction(() => !document.querySelector('[aria-busy="true"]'));
	check((await page.locator(`a[href$="/runs/${lessonId}"]`).count()) === 0, "the student sees the teacher's run");
	await nav(page).getByRole('link', { name: 'Start a run' }).click();
	await page.getByLabel('Topic').waitFor(); // the graphs have loaded
	const options = await page.getByLabel('Graph').locator('option').allTextContents();
	check(options.length === 1 && options[0].includes('lesson-plan'), `the student may pick ${options.join(', ')}`);
	await shot(page, '12-student-start');
	await page.getByLabel('Topic').fill('volcanoes');
	await page.getByLabel('Grade').fill('5');
	await page.getByRole('button', { name: 'Start run' }).click();
	await page.waitForURL(/\/runs\/[0-9a-f]{32}$/);
	const studentRun = page.url().split('/').pop();
	await page.locator('[data-testid="run-status"] [data-status="Completed"]').waitFor({ timeout: TIMEOUT });
	await nav(page).getByRole('link', { name: 'My runs' }).click();
	await page.locator(`a[href$="/runs/${studentRun}"]`).first().waitFor();
	check((await page.locator(`a[href$="/runs/${lessonId}"]`).count()) === 0, "the student's runs list shows the teacher's run");
	const foreign = await fromPage(page, 'GET', `/runs/${lessonId}`);
	check(foreign.status === 404, `the student read the teacher's run: ${foreign.status}`);
	await shot(page, '13-student-runs');
	await page.goto(`${url}${BASE}/usage`);
	await page.getByTestId('forbidden').filter({ hasText: 'Your role (student) cannot' }).waitFor();

	check(unexpected().length === 0, `browser console errors:\n${unexpected().join('\n')}`);
	const worst = audits.reduce((n, a) => n + a.serious, 0);
	console.log(`e2e claim: axe ran ${audits.length} times (${[...new Set(audits.map((a) => a.name))].join(', ')}); serious or critical: ${worst}`);
}, { CONVERGIO_SETUP_CODE: CODE });
