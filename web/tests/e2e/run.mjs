// End to end: the built console on the real embedded host, driven in Debian's Chromium.
//
//   npm run build && npm run e2e
//
// Starts `python -m convergio start --port 0 --home <tmp>` (serving web/build), adds a tenant,
// signs in with its key, starts lesson-plan from the form, watches it complete on the DAG and
// checks its cost; approves a newsletter that awaits a teacher, cancels another, and records
// managed-key overage consent on the Budgets page. Installs nothing: set CHROMIUM_PATH or `apt-get install -y chromium`;
// PYTHON picks the interpreter (default: the repository's .venv). Screenshots: web/test-results/.
import { BASE, check, launch, run, shot, startHost } from './_harness.mjs';

const TIMEOUT = 60_000;
// Set by run() for the helpers below: the session's Python and home.
let python;
let home;

function addTenant() {
	const key = python(['-m', 'convergio', 'tenants', 'add', 'E2E School', '--home', home], 'tenants add').trim().split('\n').pop()?.trim();
	if (!key) throw new Error('tenants add printed no key');
	return key;
}

// Managed keys on, with a cap of 10 EUR and a monthly limit of 50, and 8.50 EUR of managed-key
// spending already this month: past the 80 % downgrade line, so the page has something to show.
function managedBudget() {
	python(
		['-m', 'convergio', 'tenants', 'budget', 'E2E School', '--home', home, '--monthly-eur', '50', '--managed', '--managed-cap-eur', '10'],
		'tenants budget'
	);
	const seed = [
		'import sys; from datetime import UTC, datetime; from decimal import Decimal; from pathlib import Path',
		'from convergio.quotas import open_quota_store',
		'q = open_quota_store(Path(sys.argv[1])); now = datetime.now(UTC)',
		'r = q.reserve("e2e-school", "managed", Decimal(0), now=now); q.settle(r.reservation_id, Decimal("8.50"))',
		'assert q.reserve("e2e-school", "managed", Decimal(0), now=now).downgrade'
	].join('\n');
	python(['-c', seed, home], 'seeding managed-key spending');
}

await run('console', async (session, step) => {
	python = session.python;
	home = session.home;
	step.name = 'tenant';
	const key = addTenant();
	step.name = 'host';
	const url = await startHost(session);
	console.log(`e2e: host at ${url}`);

	step.name = 'static route';
	const index = await fetch(`${url}${BASE}/`);
	check(index.status === 200, `GET ${BASE}/ answered ${index.status}`);
	check(index.headers.get('content-type')?.startsWith('text/html'), 'index.html is not text/html');
	check(index.headers.get('cache-control') === 'no-cache', 'index.html must be no-cache');
	const asset = (await index.text()).match(/_app\/immutable\/[^"']+\.js/)?.[0];
	check(asset, 'index.html names no immutable asset');
	const js = await fetch(`${url}${BASE}/${asset}`);
	check(js.headers.get('content-type')?.startsWith('text/javascript'), `${asset} is not JavaScript`);
	check(js.headers.get('cache-control')?.includes('immutable'), `${asset} is not cached as immutable`);

	step.name = 'browser';
	const browser = await launch(session);
	const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
	const page = await context.newPage();
	page.setDefaultTimeout(15_000);
	const consoleErrors = [];
	page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
	page.on('pageerror', (e) => consoleErrors.push(String(e)));

	step.name = 'sign in';
	await page.goto(`${url}${BASE}/`);
	await page.waitForURL(/\/signin/);
	await page.getByLabel('Tenant API key').fill('not-a-key');
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.getByRole('alert').filter({ hasText: 'not accepted' }).waitFor();
	await page.getByLabel('Tenant API key').fill(key);
	await shot(page, '01-sign-in');
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.waitForURL(/\/runs$/);
	await page.getByRole('heading', { name: 'Runs' }).waitFor();
	consoleErrors.length = 0; // the refused key above logged its 401 on purpose

	step.name = 'start a run';
	await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Start a run' }).click();
	await page.waitForURL(/\/start$/); // the runs list has a "Graph" search field too
	await page.getByLabel('Graph').selectOption('lesson-plan');
	await page.getByRole('button', { name: 'Start run' }).click();
	await page.getByText('Topic is required.').waitFor(); // client-side validation, by field
	await page.getByLabel('Topic').fill('fractions');
	await page.getByLabel('Grade').fill('4');
	check((await page.getByLabel('Minutes').inputValue()) === '50', 'the schema default did not fill Minutes');
	await shot(page, '02-start-form');
	await page.getByRole('button', { name: 'Start run' }).click();
	await page.waitForURL(/\/runs\/[0-9a-f]{32}$/);
	const runId = page.url().split('/').pop();
	console.log(`e2e: started run ${runId}`);

	step.name = 'watch the DAG';
	await page.locator('svg.dag [data-node="planner"]').waitFor();
	await shot(page, '03-run-live');
	await page.locator('[data-testid="run-status"] [data-status="Completed"]').waitFor({ timeout: TIMEOUT });
	const nodes = page.locator('svg.dag g[data-node]');
	check((await nodes.count()) === 5, `expected 5 DAG nodes, saw ${await nodes.count()}`);
	for (const id of ['planner', 'content', 'activities', 'assessment', 'reviewer']) {
		const status = await page.locator(`svg.dag [data-node="${id}"]`).getAttribute('data-status');
		check(status === 'completed', `node ${id} is ${status}, not completed`);
	}
	const edges = await page.locator('svg.dag path[marker-end]').count();
	check(edges === 6, `expected 6 edges (planner fan-out, reviewer fan-in), saw ${edges}`);
	const cost = (await page.getByTestId('run-cost').textContent())?.trim() ?? '';
	check(/^€\d+\.\d+$/.test(cost), `no cost figure on the run page: "${cost}"`);
	console.log(`e2e: run cost ${cost}`);
	const timeline = (await page.getByTestId('parallelism').textContent()) ?? '';
	const peak = Number(timeline.match(/up to (\d+)/)?.[1] ?? 0);
	check(peak >= 2, `the timeline shows no parallelism: "${timeline}"`);
	await page.locator('svg.dag [data-node="reviewer"]').focus();
	await page.keyboard.press('Enter'); // keyboard selects a node
	await page.getByTestId('node-detail').getByRole('heading', { name: 'Agent reviewer' }).waitFor();
	check(((await page.getByTestId('node-detail').locator('pre').textContent()) ?? '').length > 0, 'reviewer shows no output');
	await shot(page, '04-run-completed');

	step.name = 'runs list';
	await page.getByRole('link', { name: '← All runs' }).click();
	await page.getByLabel('Status').selectOption('Completed');
	await page.locator(`a[href$="/runs/${runId}"]`).first().waitFor();
	await shot(page, '05-runs');

	step.name = 'usage and connections';
	await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Usage' }).click();
	await page.getByTestId('usage-total').waitFor();
	await shot(page, '06-usage');
	await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Keys & connections' }).click();
	await page.getByLabel('Name').fill('school-gpt');
	await page.getByLabel('Model').fill('gpt-4o-mini');
	await page.getByLabel('API key').fill('sk-e2e-not-a-real-key-1234567890');
	await page.getByRole('button', { name: 'Save connection' }).click();
	await page.getByRole('cell', { name: 'school-gpt', exact: true }).waitFor();
	check(!(await page.content()).includes('sk-e2e-not-a-real-key'), 'the key came back into the page');
	await shot(page, '07-connections');

	step.name = 'human input';
	await page.goto(`${url}${BASE}/start?graph=newsletter-approval`);
	await page.getByLabel('Week').fill('12');
	await page.getByLabel('Highlights').fill('Science fair\nNew library books');
	await page.getByRole('button', { name: 'Start run' }).click();
	await page.waitForURL(/\/runs\/[0-9a-f]{32}$/);
	const approvalId = page.url().split('/').pop();
	await page.locator('svg.dag [data-node="publish"][data-status="awaiting_input"]').waitFor({ timeout: TIMEOUT });
	await page.getByText('Waiting for you:').waitFor();
	// The card shows what is being approved (the draft) and by when, not just the agent's name.
	const draftShown = (await page.getByTestId('approval-content').textContent({ timeout: TIMEOUT })) ?? '';
	check(draftShown.includes('week 12'), `the approval card does not show the draft: "${draftShown.slice(0, 200)}"`);
	check(/before .*\(in (23|24) h/.test((await page.getByTestId('approval').textContent()) ?? ''), 'the approval card shows no deadline');
	check((await page.locator('[data-testid="run-status"] [data-status]').getAttribute('data-status')) === 'Running', 'the waiting run is not Running');
	await page.getByLabel('Comment (optional)').fill('Add the date of the science fair.');
	await shot(page, '09-awaiting-input');
	await page.getByRole('button', { name: 'Approve' }).click();
	await page.locator('[data-testid="run-status"] [data-status="Completed"]').waitFor({ timeout: TIMEOUT });
	check((await page.locator('svg.dag [data-node="publish"]').getAttribute('data-status')) === 'completed', 'publish did not complete');
	const published = (await page.getByTestId('run-output').textContent()) ?? '';
	check(published.includes('Finalise this draft'), `publish did not run after the approval: "${published.slice(0, 200)}"`);
	check((await page.getByRole('button', { name: 'Approve' }).count()) === 0, 'a finished run still offers Approve');
	await shot(page, '10-approved');
	console.log(`e2e: approved run ${approvalId}`);

	step.name = 'cancel';
	await page.goto(`${url}${BASE}/start?graph=newsletter-approval`);
	await page.getByLabel('Week').fill('13');
	await page.getByRole('button', { name: 'Start run' }).click();
	await page.waitForURL(/\/runs\/[0-9a-f]{32}$/);
	const cancelId = page.url().split('/').pop();
	await page.locator('svg.dag [data-node="publish"][data-status="awaiting_input"]').waitFor({ timeout: TIMEOUT });
	let asked = '';
	page.once('dialog', (dialog) => {
		asked = dialog.message();
		dialog.accept();
	});
	await page.getByRole('button', { name: 'Cancel run' }).click();
	await page.locator('[data-testid="run-status"] [data-status="Terminated"]').waitFor({ timeout: TIMEOUT });
	check(asked.startsWith('Cancel this run?'), `no confirmation before cancelling: "${asked}"`);
	check((await page.locator('svg.dag [data-node="publish"]').getAttribute('data-status')) === 'cancelled', 'the waiting agent is not cancelled');
	check((await page.getByRole('button', { name: 'Cancel run' }).count()) === 0, 'a cancelled run still offers Cancel');
	await shot(page, '11-cancelled');

	step.name = 'runs list costs';
	await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Runs' }).click();
	await page.getByLabel('Status').selectOption('Terminated');
	const cancelledRow = page.locator('tr', { has: page.locator(`a[href$="/runs/${cancelId}"]`) });
	await page.waitForFunction(() => document.querySelectorAll('tbody tr').length === 1); // the filtered list
	await cancelledRow.waitFor();
	await page.getByLabel('Status').selectOption('');
	await page.waitForFunction(() => document.querySelectorAll('tbody tr a').length === 3);
	const lessonRow = page.locator('tr', { has: page.locator(`a[href$="/runs/${runId}"]`) });
	const listed = ((await lessonRow.getByTestId('run-cost').textContent()) ?? '').trim();
	check(listed === cost, `the runs list shows ${listed} for the lesson plan, its page ${cost}`);

	step.name = 'budgets';
	managedBudget();
	await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Budgets' }).click();
	const managedGauge = page.getByTestId('gauge-managed');
	await managedGauge.waitFor();
	check((await managedGauge.getAttribute('data-zone')) === 'downgrade', 'the managed-key gauge is not past the downgrade line');
	const meter = page.getByRole('meter', { name: 'Managed-key spending this month against the cap' });
	check(((await meter.getAttribute('aria-valuetext')) ?? '').startsWith('€8.50 of €10.00 (85 %)'), 'the meter does not read 8.50 of 10.00');
	check((await page.getByTestId('gauge-monthly').getAttribute('data-zone')) === 'ok', 'the monthly gauge is not ok');
	await page.locator('[data-testid="quota-events"] tr[data-kind="downgrade"]').first().waitFor();
	check(((await page.getByTestId('current-consent').textContent()) ?? '').trim() === 'none', 'a consent exists already');
	await page.getByRole('button', { name: 'Review consent' }).click();
	await page.getByText('Enter an amount in euros').waitFor(); // validated before anything is sent
	check((await page.getByLabel('Amount over the cap (EUR)').getAttribute('aria-invalid')) === 'true', 'the bad amount is not marked invalid');
	await page.getByLabel('Amount over the cap (EUR)').fill('12,5');
	await page.getByRole('button', { name: 'Review consent' }).click();
	const summary = (await page.getByTestId('consent-summary').textContent()) ?? '';
	check(summary.includes('€12.50') && summary.includes('€22.50'), `the confirmation does not state the amount: "${summary}"`);
	check(await page.getByRole('heading', { name: 'Confirm your consent' }).evaluate((h) => h === document.activeElement), 'focus did not move to the confirmation');
	await shot(page, '12-budget-confirm');
	await page.getByRole('button', { name: 'Confirm consent' }).click();
	await page.getByRole('status').filter({ hasText: 'Consent recorded' }).waitFor();
	await page.getByTestId('current-consent').filter({ hasText: 'up to €12.50 over the cap' }).waitFor();
	await page.locator('[data-testid="quota-events"] tr[data-kind="consent"]').first().waitFor();
	const api = await fetch(`${url}/api/v1/tenants/me/budget`, { headers: { 'x-api-key': key } }).then((r) => r.json());
	check(api.overage_consent_eur === '12.50', `the API holds consent ${api.overage_consent_eur}`);
	check((await managedGauge.getAttribute('data-zone')) === 'downgrade', 'consent changed the zone');
	await shot(page, '13-budget-consented');

	step.name = 'tablet';
	await page.setViewportSize({ width: 768, height: 1024 });
	await page.goto(`${url}${BASE}/runs/${runId}`);
	await page.locator('[data-testid="run-status"] [data-status="Completed"]').waitFor();
	await shot(page, '08-run-tablet');
	await page.goto(`${url}${BASE}/budgets`);
	await page.getByTestId('gauge-managed').waitFor();
	const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
	check(overflow <= 0, `the Budgets page scrolls sideways on a tablet (${overflow}px)`);
	await shot(page, '14-budgets-tablet');

	check(consoleErrors.length === 0, `browser console errors:\n${consoleErrors.join('\n')}`);
});
