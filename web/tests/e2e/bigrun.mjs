// End to end: a 300-agent inline run is readable on a laptop and a phone (issue 23.1-2), and a
// rejected run explains itself in plain words and offers Run again / Retry failed agents (23.3-4).
//
//   npm run build && node tests/e2e/bigrun.mjs
//
// Starts the embedded host, runs planner -> 298 parallel students -> summary on the offline
// provider, then checks the run page: the fan-out folds into one group with its counts, the graph
// fits its box with its edges (an inline graph has no library entry), the DAG is one tab stop,
// Enter expands the group, and axe finds no serious or critical violation at either size.
import { BASE, LAPTOP, PHONE, axe, check, launch, run, shot, startHost } from './_harness.mjs';

const WIDTH = 298;

function bigGraph() {
	const students = Array.from({ length: WIDTH }, (_, i) => `student-${String(i).padStart(3, '0')}`);
	return {
		name: 'class-feedback',
		max_parallel: 64,
		agents: [
			{ id: 'planner', prompt: 'plan feedback on {{ input }}' },
			...students.map((id) => ({ id, prompt: `feedback for ${id}`, depends_on: ['planner'] })),
			{ id: 'summary', prompt: 'sum up', depends_on: students }
		],
		output: 'summary'
	};
}

async function api(url, key, method, path, body) {
	const answer = await fetch(`${url}/api/v1${path}`, {
		method,
		headers: { 'x-api-key': key, 'content-type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body)
	});
	const text = await answer.text();
	if (!answer.ok) throw new Error(`${method} ${path}: ${answer.status} ${text}`);
	return JSON.parse(text);
}

async function signIn(page, url, key) {
	await page.goto(`${url}${BASE}/signin`);
	await page.getByLabel('Tenant API key').fill(key);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.waitForURL(/\/runs$/);
}

async function fittedRun(page, url, runId, size, name) {
	await page.goto(`${url}${BASE}/runs/${runId}`);
	await page.locator('[data-testid="run-status"] [data-status="Completed"]').waitFor({ timeout: 60_000 });
	const group = page.locator(`svg.dag g[data-group="${WIDTH}"]`);
	await group.waitFor();
	check((await page.locator('svg.dag g[data-node]').count()) === 3, 'the fan-out is not folded into one group');
	check((await page.locator('svg.dag path[marker-end]').count()) === 2, 'the inline graph lost its edges');
	const box = await page.locator('svg.dag').boundingBox();
	check(box && box.height <= 560 && box.width <= size.width, `the graph does not fit: ${JSON.stringify(box)}`);
	const progress = (await page.getByTestId('run-progress').textContent()) ?? '';
	check(progress.includes(`${WIDTH + 2} of ${WIDTH + 2} agents done`), `no progress summary: "${progress}"`);
	const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
	check(overflow <= 0, `the run page scrolls sideways (${overflow}px)`);
	await page.getByRole('heading', { name: 'Graph' }).scrollIntoViewIfNeeded();
	await page.evaluate(() => window.scrollBy(0, document.querySelector('[data-testid="run-progress"]').getBoundingClientRect().top - 8));
	await shot(page, name, false);
	const violations = await axe(page);
	check(violations.length === 0, `axe on the run page (${size.width}px):\n${violations.join('\n')}`);
}

await run('bigrun', async (session, step) => {
	step.name = 'tenant';
	const out = session.python(['-m', 'convergio', 'tenants', 'add', 'Big School', '--home', session.home], 'tenants add');
	const key = out.trim().split('\n').pop().trim();
	step.name = 'host';
	const url = await startHost(session);
	step.name = 'a 300-agent run';
	const { id: runId } = await api(url, key, 'POST', '/runs', { graph: bigGraph(), input: 'the water cycle' });
	for (let i = 0; ; i++) {
		const view = await api(url, key, 'GET', `/runs/${runId}`);
		if (view.status === 'Completed') break;
		check(!['Failed', 'Terminated'].includes(view.status) && i < 600, `the run ended ${view.status}: ${view.error}`);
		await new Promise((r) => setTimeout(r, 200));
	}

	const browser = await launch(session);
	for (const [size, label] of [
		[LAPTOP, 'laptop'],
		[PHONE, 'phone']
	]) {
		step.name = `fitted view (${label})`;
		const page = await (await browser.newContext({ viewport: size })).newPage();
		page.setDefaultTimeout(15_000);
		await signIn(page, url, key);
		await fittedRun(page, url, runId, size, `20-big-run-fitted-${label}`);
		if (label !== 'laptop') continue;

		step.name = 'one tab stop';
		await page.getByRole('button', { name: 'Fit' }).focus();
		await page.keyboard.press('Tab');
		check((await page.evaluate(() => document.activeElement?.getAttribute('data-node'))) === 'planner', 'Tab did not enter the DAG');
		await page.keyboard.press('ArrowRight');
		const inGroup = await page.evaluate(() => document.activeElement?.getAttribute('data-group'));
		check(inGroup === String(WIDTH), 'ArrowRight did not move to the group');
		await page.keyboard.press('Tab');
		check(!(await page.evaluate(() => !!document.activeElement?.closest('svg.dag'))), 'Tab stepped through the DAG node by node');

		step.name = 'expand the group';
		await page.locator(`svg.dag g[data-group="${WIDTH}"]`).focus();
		await page.keyboard.press('Enter');
		await page.locator('svg.dag g[data-node="student-150"]').waitFor();
		check((await page.locator('svg.dag g[data-node]').count()) === WIDTH + 2, 'the group did not expand');
		const box = await page.locator('svg.dag').boundingBox();
		check(box && box.height <= 560, 'the expanded graph is not fitted');
		await page.locator('svg.dag').scrollIntoViewIfNeeded();
		await shot(page, '21-big-run-expanded-laptop', false);
		await page.getByRole('button', { name: 'Group parallel agents' }).click();
		await page.locator(`svg.dag g[data-group="${WIDTH}"]`).waitFor();
	}

	step.name = 'retry failed agents';
	const gated = {
		name: 'draft-and-publish',
		agents: [
			{ id: 'draft', prompt: 'draft a note about {{ input }}' },
			{ id: 'publish', prompt: 'publish', depends_on: ['draft'], await_event: { name: 'approve', timeout_seconds: 600 } }
		],
		output: 'publish'
	};
	const { id: gatedId } = await api(url, key, 'POST', '/runs', { graph: gated, input: 'tides' });
	for (let i = 0; (await api(url, key, 'GET', `/runs/${gatedId}`)).nodes.publish?.status !== 'awaiting_input'; i++) {
		check(i < 300, 'publish never waited for approval');
		await new Promise((r) => setTimeout(r, 100));
	}
	await api(url, key, 'POST', `/runs/${gatedId}/events/approve`, { approved: false, comment: 'too short' });
	const page = await (await browser.newContext({ viewport: LAPTOP })).newPage();
	page.setDefaultTimeout(15_000);
	await signIn(page, url, key);
	await page.goto(`${url}${BASE}/runs/${gatedId}`);
	await page.locator('[data-testid="run-status"] [data-status="Failed"]').waitFor({ timeout: 30_000 });
	const problem = (await page.getByTestId('run-problem').textContent()) ?? '';
	check(problem.includes('Rejected by admin: “too short”'), `the rejection is not said plainly: "${problem}"`);
	check(!problem.includes('Orchestrator function'), 'the host wrapper leaks into the message');
	await shot(page, '22-rejected-run', true);
	await page.getByRole('button', { name: 'Retry failed agents' }).click();
	await page.waitForURL((u) => /\/runs\/[0-9a-f]{32}$/.test(u.pathname) && !u.pathname.endsWith(gatedId));
	const retryId = page.url().split('/').pop();
	await page.locator('svg.dag [data-node="publish"][data-status="awaiting_input"]').waitFor({ timeout: 30_000 });
	const card = (await page.getByTestId('approval-content').textContent({ timeout: 15_000 })) ?? '';
	check(card.includes('tides'), `the kept draft is not shown for approval: "${card.slice(0, 120)}"`);
	await page.getByRole('button', { name: 'Approve' }).click();
	await page.locator('[data-testid="run-status"] [data-status="Completed"]').waitFor({ timeout: 30_000 });
	const view = await api(url, key, 'GET', `/runs/${retryId}`);
	check(view.nodes.draft.reused === true && view.nodes.draft.attempts === 0, 'the draft was run again, not kept');
	await page.locator('svg.dag [data-node="draft"]').click();
	await page.getByText('Kept from the run this one retries').waitFor();
	await shot(page, '23-retried-run', true);
	await page.getByRole('button', { name: 'Run again' }).click();
	await page.waitForURL((u) => !u.pathname.endsWith(retryId) && /\/runs\/[0-9a-f]{32}$/.test(u.pathname));
	await page.locator('svg.dag [data-node="publish"][data-status="awaiting_input"]').waitFor({ timeout: 30_000 });
	const again = await api(url, key, 'GET', `/runs/${page.url().split('/').pop()}`);
	check(again.nodes.draft.reused === false && again.nodes.draft.attempts === 1, 'Run again kept work it should redo');
	const violations = await axe(page);
	check(violations.length === 0, `axe on an awaiting run:\n${violations.join('\n')}`);
	await api(url, key, 'POST', `/runs/${page.url().split('/').pop()}/cancel`, {});
});
