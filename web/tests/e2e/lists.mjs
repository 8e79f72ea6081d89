// End to end: the runs list, usage and connections pages as a teacher and a school admin need them
// (issue 23.7-9), at 1366×768 and 390×844.
//
//   npm run build && node tests/e2e/lists.mjs
//
// Seeds 56 runs on the offline provider (two graphs that both have an agent called "writer", one
// through a priced connection), a run cancelled with a reason and two that wait for a person.
// Then: runs that wait show "Waiting for you" and have their own filter (one leaves it once
// approved), a cancel shows who and why in the list and on its page; the whole row is a link (mouse and keyboard), the list refreshes by itself while a run
// goes, graph and status filters, "Load more" by cursor, cards on a phone with no sideways scroll
// and a compact header; usage prefilled with this month, by graph with agents kept apart, no €0.00
// bars; the connections page at 390 px with a clickable Save; a missing run in plain words; axe
// (0 serious or critical) on every page at both sizes. Screenshots: web/test-results/30-*.png.
import { BASE, LAPTOP, PHONE, RESULTS, axe, check, launch, run, shot, startHost } from './_harness.mjs';

async function api(url, key, method, path, body) {
	const answer = await fetch(`${url}/api/v1${path}`, {
		method,
		headers: { 'x-api-key': key, 'content-type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body)
	});
	const text = await answer.text();
	if (!answer.ok) throw new Error(`${method} ${path}: ${answer.status} ${text}`);
	return text ? JSON.parse(text) : null;
}

const essay = {
	name: 'essay-feedback',
	agents: [
		{ id: 'planner', prompt: 'plan feedback on {{ input }}', provider: 'paid' },
		{ id: 'writer', prompt: 'write the feedback', depends_on: ['planner'], provider: 'paid' }
	],
	output: 'writer'
};
const quiz = { name: 'quiz-maker', agents: [{ id: 'writer', prompt: 'a quiz on {{ input }}' }], output: 'writer' };
const ping = { name: 'warm-up', agents: [{ id: 'hello', prompt: 'hi' }], output: 'hello' };
const waiting = (name) => ({
	name,
	agents: [
		{ id: 'draft', prompt: 'draft a newsletter' },
		{ id: 'publish', prompt: 'publish', depends_on: ['draft'], await_event: { name: 'approve', timeout_seconds: 600 } }
	],
	output: 'publish'
});

async function settle(url, key, ids, statuses = ['Completed']) {
	for (let i = 0; ; i++) {
		const views = await Promise.all(ids.map((id) => api(url, key, 'GET', `/runs/${id}`)));
		if (views.every((v) => statuses.includes(v.status))) return views;
		check(i < 600, `runs did not settle: ${views.map((v) => v.status).join(', ')}`);
		await new Promise((r) => setTimeout(r, 200));
	}
}

async function noSideways(page, what) {
	const wide = await page.evaluate(() => {
		const width = document.documentElement.clientWidth;
		const over = document.documentElement.scrollWidth - width;
		const culprits = [...document.querySelectorAll('body *')]
			.filter((el) => el.getBoundingClientRect().right > width + 1 && el.getClientRects().length)
			.slice(0, 5)
			.map((el) => `${el.tagName.toLowerCase()}.${[...el.classList].join('.')}`);
		return { over, culprits };
	});
	check(wide.over <= 0, `${what} scrolls sideways by ${wide.over}px: ${wide.culprits.join(', ')}`);
}

async function axeClean(page, what) {
	const violations = await axe(page);
	check(violations.length === 0, `axe on ${what}:\n${violations.join('\n')}`);
	return what;
}

async function signIn(page, url, key) {
	await page.goto(`${url}${BASE}/signin`);
	await page.getByLabel('Tenant API key').fill(key);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.waitForURL(/\/runs$/);
}

await run('lists', async (session, step) => {
	step.name = 'tenant and runs';
	const out = session.python(['-m', 'convergio', 'tenants', 'add', 'Lists School', '--home', session.home], 'tenants add');
	const key = out.trim().split('\n').pop().trim();
	const url = await startHost(session);
	await api(url, key, 'PUT', '/tenants/me/connections/paid', {
		kind: 'offline',
		prices: { input_tokens: '0.00002', output_tokens: '0.00008' }
	});
	const start = (graph, input = 'the water cycle') => api(url, key, 'POST', '/runs', { graph, input }).then((r) => r.id);
	const warmups = [];
	for (let i = 0; i < 50; i += 10) warmups.push(...(await Promise.all(Array.from({ length: 10 }, () => start(ping)))));
	await settle(url, key, warmups);
	const essays = await Promise.all([start(essay), start(essay), start(essay)]);
	const quizzes = await Promise.all([start(quiz), start(quiz)]);
	await settle(url, key, [...essays, ...quizzes]);
	const cancelled = await start(waiting('newsletter'));
	await settle(url, key, [cancelled], ['Running']);
	await api(url, key, 'POST', `/runs/${cancelled}/cancel`, { reason: 'wrong class picked' });
	const pending = await start(waiting('parent-letter'));
	const slip = await start(waiting('permission-slip'));
	await settle(url, key, [pending, slip], ['Running']);
	const audited = [];

	const browser = await launch(session);
	const page = await (await browser.newContext({ viewport: LAPTOP })).newPage();
	page.setDefaultTimeout(20_000);
	const errors = [];
	page.on('pageerror', (e) => errors.push(String(e)));
	await signIn(page, url, key);

	step.name = 'runs list (laptop)';
	const rows = page.locator('.runs-table tbody tr[data-run]');
	await rows.first().waitFor();
	check((await rows.count()) === 50, `the first page shows ${await rows.count()} runs, not 50`);
	const cancelledRow = page.locator(`tr[data-run="${cancelled}"]`);
	check((await cancelledRow.locator('[data-status]').getAttribute('data-status')) === 'cancelled', 'a cancel does not read Cancelled');
	check(((await cancelledRow.textContent()) ?? '').includes('Cancelled'), 'no "Cancelled" in the row');
	await page.getByTestId('auto-refresh').waitFor(); // a run is going: the list says it updates by itself
	await shot(page, '30-runs-list-laptop');
	audited.push(await axeClean(page, 'the runs list at 1366'));

	step.name = 'waiting for you';
	const note = 'Cancelled by admin: wrong class picked'; // the CLI's key is an admin's, with no member
	check(((await cancelledRow.getByTestId('run-reason').textContent()) ?? '').trim() === note, 'the cancel reason is not in the row');
	for (const id of [pending, slip]) {
		const badge = page.locator(`tr[data-run="${id}"] [data-status="awaiting_input"]`);
		await badge.waitFor(); // the orchestration tells the index a moment after the wait began
		check(((await badge.textContent()) ?? '').trim() === 'Waiting for you', `run ${id} does not say Waiting for you`);
	}
	await page.getByLabel('Status').selectOption({ label: 'Waiting for you' });
	await page.waitForFunction(() => document.querySelectorAll('.runs-table tbody tr[data-run]').length === 2);
	check(page.url().includes('status=waiting'), 'the waiting filter is not kept in the address');
	await shot(page, '30c-runs-waiting-for-you');
	audited.push(await axeClean(page, 'the Waiting for you filter at 1366'));
	await page.setViewportSize(PHONE);
	const slipCard = page.locator(`ul.cards a.card[data-run="${slip}"]`);
	await slipCard.waitFor();
	check(((await slipCard.textContent()) ?? '').includes('Waiting for you'), 'the phone card does not say Waiting for you');
	await noSideways(page, 'the waiting runs at 390');
	await shot(page, '30d-runs-waiting-phone');
	audited.push(await axeClean(page, 'the Waiting for you filter at 390'));
	await page.setViewportSize(LAPTOP);
	await api(url, key, 'POST', `/runs/${slip}/events/approve`, { approved: true, comment: 'fine' });
	// Approved: it leaves the filter at the list's next refresh, by itself.
	await page.locator(`tr[data-run="${slip}"]`).waitFor({ state: 'detached', timeout: 20_000 });
	check((await rows.count()) === 1, `after the approval ${await rows.count()} runs wait, not 1`);
	await page.getByLabel('Status').selectOption('');
	await page.waitForFunction(() => document.querySelectorAll('.runs-table tbody tr[data-run]').length === 50);
	await settle(url, key, [slip]);
	await page.goto(`${url}${BASE}/runs/${cancelled}`);
	await page.getByTestId('cancel-note').filter({ hasText: note }).waitFor();
	await shot(page, '30e-run-cancelled-by');
	audited.push(await axeClean(page, 'a cancelled run at 1366'));
	await page.goto(`${url}${BASE}/runs`);
	await rows.first().waitFor();

	step.name = 'auto-refresh';
	await api(url, key, 'POST', `/runs/${pending}/cancel`, { reason: 'sent by post instead' });
	await page.locator(`tr[data-run="${pending}"] [data-status="cancelled"]`).waitFor({ timeout: 20_000 });
	await page.getByTestId('auto-refresh').waitFor({ state: 'detached' }); // nothing goes: polling stopped

	step.name = 'the whole row is a link';
	const essayRow = page.locator(`tr[data-run="${essays[0]}"]`);
	const cell = await essayRow.locator('td').nth(3).boundingBox(); // the Started cell, not the link itself
	await page.mouse.click(cell.x + cell.width / 2, cell.y + cell.height / 2); // (the row's link covers it: Playwright says so)
	await page.waitForURL(new RegExp(`/runs/${essays[0]}$`));
	await page.goBack();
	await rows.first().waitFor();
	await page.getByLabel('Status').focus();
	for (let i = 0; i < 40; i++) {
		await page.keyboard.press('Tab');
		if (await page.evaluate(() => document.activeElement?.classList.contains('row-link'))) break;
	}
	const focusedRun = await page.evaluate(() => document.activeElement?.closest('tr')?.getAttribute('data-run'));
	check(focusedRun, 'Tab does not reach a row');
	await page.locator('tr:focus-within').screenshot({ path: `${RESULTS}/30b-row-keyboard-focus.png` });
	await page.keyboard.press('Enter');
	await page.waitForURL(new RegExp(`/runs/${focusedRun}$`));
	await page.goBack();
	await rows.first().waitFor();

	step.name = 'filters and paging';
	await page.getByLabel('Graph').fill('quiz');
	await page.waitForFunction(() => document.querySelectorAll('.runs-table tbody tr[data-run]').length === 2);
	check(page.url().includes('graph=quiz'), 'the search is not kept in the address');
	await page.getByLabel('Graph').fill('');
	await page.getByLabel('Status').selectOption({ label: 'Cancelled' });
	await page.waitForFunction(() => document.querySelectorAll('.runs-table tbody tr[data-run]').length === 2);
	await shot(page, '31-runs-cancelled-filter');
	await page.getByLabel('Status').selectOption('');
	await page.waitForFunction(() => document.querySelectorAll('.runs-table tbody tr[data-run]').length === 50);
	await page.getByRole('button', { name: 'Load more' }).click();
	await page.waitForFunction(() => document.querySelectorAll('.runs-table tbody tr[data-run]').length === 58);
	check((await page.getByRole('button', { name: 'Load more' }).count()) === 0, '"Load more" stays after the last page');

	step.name = 'usage (laptop)';
	await page.goto(`${url}${BASE}/usage`);
	const graphs = page.getByTestId('usage-graph');
	await graphs.getByText('essay-feedback').first().waitFor();
	const now = new Date();
	const pad = (n) => String(n).padStart(2, '0');
	const first = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-01`;
	const today = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
	check((await page.getByLabel('From').inputValue()) === first, 'From is not the first of this month');
	check((await page.getByLabel('To', { exact: true }).inputValue()) === today, 'To is not today');
	const graphBars = (await graphs.getByRole('list').first().textContent()) ?? '';
	check(graphBars.includes('essay-feedback'), `by graph shows no essay-feedback: ${graphBars}`);
	const agentBars = (await page.getByTestId('usage-agent').getByRole('list').first().textContent()) ?? '';
	check(agentBars.includes('in essay-feedback'), `agents are not split by graph: ${agentBars}`);
	check(!/€0\.00(?!\d)/.test(graphBars + agentBars), 'a bar reads €0.00');
	await page.getByTestId('usage-agent').getByText(/^Table/).click();
	const agentRows = await page.getByTestId('usage-agent').locator('tbody tr').allTextContents();
	check(agentRows.filter((t) => t.includes('writer')).length === 2, `writer is not listed once per graph: ${agentRows.join(' | ')}`);
	await page.getByRole('radio', { name: 'Tokens' }).check();
	await page.getByTestId('usage-graph').getByText(/tokens$/).first().waitFor();
	await shot(page, '32-usage-laptop', true);
	audited.push(await axeClean(page, 'usage at 1366'));

	step.name = 'a missing run in plain words';
	await page.goto(`${url}${BASE}/runs/00000000000000000000000000000000`);
	await page.getByRole('alert').filter({ hasText: 'This run does not exist or was deleted.' }).waitFor();

	step.name = 'phone: runs as cards';
	await page.setViewportSize(PHONE);
	await page.goto(`${url}${BASE}/runs`);
	const cards = page.locator('ul.cards a.card');
	await cards.first().waitFor();
	check((await page.locator('.runs-table').isVisible()) === false, 'the table still shows on a phone');
	const header = await page.locator('header').boundingBox();
	check(header && header.height <= 72, `the phone header is ${header?.height}px tall`);
	await noSideways(page, 'the runs list at 390');
	const facts = await cards.first().locator('.facts').boundingBox();
	check(facts && facts.x + facts.width <= PHONE.width, 'a card runs off the screen');
	const cardText = (await cards.first().textContent()) ?? '';
	for (const word of ['Started', 'Duration', 'Tokens', 'Cost']) check(cardText.includes(word), `a card has no ${word}`);
	await shot(page, '33-runs-cards-phone');
	audited.push(await axeClean(page, 'the runs list at 390'));
	await page.getByRole('button', { name: 'Menu' }).click();
	await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Usage' }).waitFor();
	await shot(page, '34-menu-open-phone');
	audited.push(await axeClean(page, 'the open menu at 390'));
	await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Usage' }).click();
	await page.getByTestId('usage-graph').waitFor();
	check((await page.getByRole('button', { name: 'Menu' }).getAttribute('aria-expanded')) === 'false', 'the menu stays open after a link');

	step.name = 'phone: usage';
	await page.getByRole('button', { name: 'Show' }).and(page.locator(':enabled')).waitFor();
	await page.getByTestId('usage-graph').getByText('essay-feedback').first().waitFor();
	await noSideways(page, 'usage at 390');
	await shot(page, '35-usage-phone', true);
	audited.push(await axeClean(page, 'usage at 390'));

	step.name = 'phone: connections';
	await page.goto(`${url}${BASE}/connections`);
	await page.locator('ul.conn-cards li').filter({ hasText: 'paid' }).waitFor(); // cards on a phone
	check(!(await page.locator('.conn-table').isVisible()), 'the connections table still shows on a phone');
	await noSideways(page, 'connections at 390');
	const save = page.getByRole('button', { name: 'Save connection' });
	await save.scrollIntoViewIfNeeded();
	const box = await save.boundingBox();
	const hit = await page.evaluate(([x, y]) => document.elementFromPoint(x, y)?.closest('button')?.textContent?.trim(), [box.x + box.width / 2, box.y + box.height / 2]);
	check(hit === 'Save connection', `something covers Save connection: ${hit}`);
	await page.locator('#c-name').fill('spare');
	await page.getByLabel('Kind').selectOption('offline');
	await save.click();
	await page.getByRole('status').filter({ hasText: 'Saved spare.' }).waitFor();
	await shot(page, '36-connections-phone', true);
	audited.push(await axeClean(page, 'connections at 390'));
	await page.setViewportSize(LAPTOP);
	audited.push(await axeClean(page, 'connections at 1366'));

	check(errors.length === 0, `page errors:\n${errors.join('\n')}`);
	console.log(`e2e lists: axe 0 serious or critical on ${audited.length} views: ${audited.join('; ')}`);
});
