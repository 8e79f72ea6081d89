// End to end: routing, re-plans and honest numbers on the run page (issue 23.5-6).
//
//   npm run build && node tests/e2e/runview.mjs
//
// Starts the embedded host and runs the shipped help-desk-router graph (a router over three tutors,
// a planner that repairs the maths tutor's simulated outage) twice: a maths question is routed to
// maths and re-planned, a grammar question is routed to writing. The run page must show each
// router's scores with the chosen agent marked and the others routed away, the re-plan (which agent
// failed, what the planner did and why), each agent's calls with model and provider, and its prompt
// only when asked for. A cancelled run says who cancelled it and why, and which agents ran and
// were billed. A fan-out of 24 agents on 16 workers shows the ones waiting for a worker as queued,
// not running, and afterwards how long one waited. axe-core at 1366×768 and 390×844.
import { join } from 'node:path';
import { BASE, LAPTOP, PHONE, RESULTS, axe, check, launch, run, shot, startHost } from './_harness.mjs';

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

async function finished(url, key, runId) {
	for (let i = 0; ; i++) {
		const view = await api(url, key, 'GET', `/runs/${runId}`);
		if (['Completed', 'Failed', 'Terminated'].includes(view.status)) return view;
		check(i < 600, `run ${runId} did not finish`);
		await new Promise((r) => setTimeout(r, 200));
	}
}

async function signIn(page, url, key) {
	await page.goto(`${url}${BASE}/signin`);
	await page.getByLabel('Tenant API key').fill(key);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.waitForURL(/\/runs$/);
}

async function noViolations(page, where) {
	const violations = await axe(page);
	check(violations.length === 0, `axe on ${where}:\n${violations.join('\n')}`);
}

async function noSidewaysScroll(page, where) {
	const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
	check(overflow <= 0, `${where} scrolls sideways (${overflow}px)`);
}

await run('runview', async (session, step) => {
	step.name = 'tenant';
	const out = session.python(['-m', 'convergio', 'tenants', 'add', 'Help Desk School', '--home', session.home], 'tenants add');
	const key = out.trim().split('\n').pop().trim();
	step.name = 'host';
	const url = await startHost(session);

	step.name = 'a maths question and a grammar question';
	const maths = (await api(url, key, 'POST', '/runs', { graph_ref: 'help-desk-router', input: { question: 'How do I add fractions with different denominators?' } })).id;
	const grammar = (await api(url, key, 'POST', '/runs', { graph_ref: 'help-desk-router', input: { question: 'Can you check the grammar and spelling in my essay?' } })).id;
	const mathsView = await finished(url, key, maths);
	const grammarView = await finished(url, key, grammar);
	check(mathsView.status === 'Completed' && mathsView.replans.length === 1, `the maths run was not re-planned: ${JSON.stringify(mathsView.replans)}`);
	check(grammarView.routes.triage.chosen[0] === 'writing', `the grammar question went to ${grammarView.routes.triage.chosen}`);

	const browser = await launch(session);
	for (const [size, label] of [
		[LAPTOP, 'laptop'],
		[PHONE, 'phone']
	]) {
		step.name = `routed and re-planned run (${label})`;
		const page = await (await browser.newContext({ viewport: size })).newPage();
		page.setDefaultTimeout(15_000);
		await signIn(page, url, key);
		await page.goto(`${url}${BASE}/runs/${maths}`);
		await page.locator('[data-testid="run-status"] [data-status="Completed"]').waitFor({ timeout: 30_000 });
		const routes = page.getByTestId('run-routes');
		await routes.waitFor();
		const chosen = routes.locator('li[data-candidate="math"]');
		check((await chosen.getAttribute('data-chosen')) === 'true', 'math is not marked as chosen');
		check(((await chosen.textContent()) ?? '').includes('Chosen'), 'the chosen candidate does not say so');
		const score = Number(((await chosen.locator('.score').textContent()) ?? '').trim());
		check(Math.abs(score - mathsView.routes.triage.scores.math) < 0.006, `math's score ${score} is not the router's ${mathsView.routes.triage.scores.math}`);
		for (const other of ['writing', 'science']) {
			const row = routes.locator(`li[data-candidate="${other}"]`);
			check((await row.getAttribute('data-chosen')) === 'false', `${other} is marked chosen`);
			check(((await row.textContent()) ?? '').includes('Routed away'), `${other} does not say it was routed away`);
		}
		const summary = (await routes.getByTestId('route-summary').textContent()) ?? '';
		check(summary.startsWith('triage sent the request to math (score'), `no routing summary: "${summary}"`);
		check(((await routes.getByTestId('routed-away').textContent()) ?? '').includes('writing'), 'the routed-away branches are not named');
		const replan = page.getByTestId('run-replans');
		const replanText = (await replan.textContent()) ?? '';
		check(replanText.includes('math failed for good') && replanText.includes('The AI provider was unavailable.'), `the re-plan does not say what failed: "${replanText}"`);
		check(replanText.includes('The planner replaced math with a new version'), `the re-plan does not say what the planner did: "${replanText}"`);
		check(replanText.includes('the maths tutor\'s provider is down'), 'the planner\'s reason is missing');
		await noSidewaysScroll(page, `the run page (${label})`);
		await routes.scrollIntoViewIfNeeded();
		await page.evaluate(() => window.scrollBy(0, document.querySelector('[data-testid="run-routes"]').getBoundingClientRect().top - 8));
		await shot(page, `50-routed-replanned-${label}`);
		await routes.screenshot({ path: join(RESULTS, `50-routes-panel-${label}.png`) });
		await replan.screenshot({ path: join(RESULTS, `50-replans-panel-${label}.png`) });
		await noViolations(page, `the routed run (${label})`);

		step.name = `an agent's calls and its prompt (${label})`;
		await routes.getByRole('button', { name: 'math' }).click();
		const agent = page.getByTestId('node-detail');
		await agent.getByTestId('agent-call').first().waitFor();
		const calls = agent.getByTestId('agent-call');
		const count = await calls.count();
		check(count === mathsView.nodes.math.attempts, `${count} calls shown, the run made ${mathsView.nodes.math.attempts}`);
		const first = (await calls.first().textContent()) ?? '';
		check(first.includes('Failed') && first.includes('The AI provider was unavailable.') && first.includes('Not billed'), `the failed attempt is not explained: "${first}"`);
		const last = calls.last();
		const model = (await last.getByTestId('call-model').textContent()) ?? '';
		check(/^offline-\S+ via offline/.test(model), `the model and provider are not named: "${model}"`);
		check(((await last.textContent()) ?? '').includes('Billed: €0.00 for'), 'the answered call does not say what was billed');
		check(((await last.textContent()) ?? '').includes('after the re-plan'), 'the call made after the re-plan is not marked');
		check((await agent.getByTestId('agent-prompt').count()) === 0, 'the prompt is shown before it was asked for');
		await agent.getByRole('button', { name: 'Show prompt' }).click();
		await agent.getByTestId('agent-prompt').first().waitFor();
		const prompts = await agent.getByTestId('agent-prompt').allTextContents();
		check(prompts[0].includes('Explain step by step: How do I add fractions'), `the first call's prompt is not shown: "${prompts[0]}"`);
		check(prompts.at(-1).includes('How do I add fractions'), 'the re-planned call\'s prompt is not shown');
		const given = (await agent.getByTestId('run-input').textContent()) ?? '';
		check(given.includes('"question": "How do I add fractions with different denominators?"'), `the run's input is not shown: "${given}"`);
		await noSidewaysScroll(page, `the agent detail (${label})`);
		await agent.scrollIntoViewIfNeeded();
		await page.evaluate(() => window.scrollBy(0, document.querySelector('[data-testid="node-detail"]').getBoundingClientRect().top - 8));
		await shot(page, `51-agent-calls-prompt-${label}`);
		await agent.screenshot({ path: join(RESULTS, `51-agent-panel-${label}.png`) });
		await noViolations(page, `the agent detail (${label})`);
		await agent.getByRole('button', { name: 'Hide prompt' }).click();
		check((await agent.getByTestId('agent-prompt').count()) === 0, 'Hide prompt left the prompt on the page');

		step.name = `the router's own detail (${label})`;
		await page.locator('svg.dag [data-node="triage"]').first().click();
		await page.getByTestId('node-detail').getByText('No model: the router compares').waitFor();
		const routed = (await page.getByTestId('node-detail').textContent()) ?? '';
		check(routed.includes('Scores: math'), `the router's call has no scores: "${routed.slice(0, 300)}"`);
		check(routed.includes('Not billed: routing uses no model'), 'the router call does not say it is not billed');
		await page.locator('svg.dag [data-node="writing"]').first().click();
		await page.getByTestId('node-detail').getByText('Skipped: router triage sent the request to another agent.').waitFor();
		await page.getByTestId('node-detail').getByText('This agent made no calls').waitFor();
		await page.context().close();
	}

	step.name = 'the grammar question is routed to writing, with no re-plan';
	{
		const page = await (await browser.newContext({ viewport: LAPTOP })).newPage();
		page.setDefaultTimeout(15_000);
		await signIn(page, url, key);
		await page.goto(`${url}${BASE}/runs/${grammar}`);
		const routes = page.getByTestId('run-routes');
		await routes.waitFor({ timeout: 30_000 });
		check((await routes.locator('li[data-candidate="writing"]').getAttribute('data-chosen')) === 'true', 'writing is not marked as chosen');
		check((await page.getByTestId('run-replans').count()) === 0, 'a run without a re-plan shows one');
		await routes.scrollIntoViewIfNeeded();
		await shot(page, '52-routed-to-writing-laptop');
		await page.context().close();
	}

	step.name = 'a cancelled run says what ran and was billed';
	const slow = {
		name: 'cancel-me',
		agents: [
			{ id: 'outline', prompt: 'outline {{ input }}' },
			{ id: 'draft', prompt: 'draft {{ outputs.outline }}', depends_on: ['outline'], options: { latency_ms: 8_000 } },
			{ id: 'polish', prompt: 'polish {{ outputs.draft }}', depends_on: ['draft'] }
		],
		output: 'polish'
	};
	const cancelId = (await api(url, key, 'POST', '/runs', { graph: slow, input: 'volcanoes' })).id;
	for (let i = 0; (await api(url, key, 'GET', `/runs/${cancelId}`)).nodes.draft?.status !== 'running'; i++) {
		check(i < 300, 'draft never started');
		await new Promise((r) => setTimeout(r, 100));
	}
	await api(url, key, 'POST', `/runs/${cancelId}/cancel`, { reason: 'changed my mind' });
	const cancelled = await finished(url, key, cancelId);
	check(cancelled.status === 'Terminated', `the run ended ${cancelled.status}`);
	for (const [size, label] of [
		[LAPTOP, 'laptop'],
		[PHONE, 'phone']
	]) {
		const page = await (await browser.newContext({ viewport: size })).newPage();
		page.setDefaultTimeout(15_000);
		await signIn(page, url, key);
		await page.goto(`${url}${BASE}/runs/${cancelId}`);
		const section = page.getByTestId('after-cancel');
		await section.waitFor({ timeout: 30_000 });
		const who = ((await page.getByTestId('cancel-note').textContent()) ?? '').trim();
		check(who === 'Cancelled by admin: changed my mind', `the run page does not say who cancelled and why: "${who}"`);
		check((await section.locator('li[data-billed="true"]').allTextContents()).some((t) => t.startsWith('outline: ')), 'outline is not listed as billed');
		const text = (await section.textContent()) ?? '';
		check(text.includes('1 agent ran and was billed'), `the summary does not count what ran: "${text}"`);
		check(text.includes('Never started') && text.includes('polish'), 'polish is not listed as never started');
		check(text.includes('draft'), 'draft (stopped by the cancel) is not listed');
		await section.scrollIntoViewIfNeeded();
		await page.evaluate(() => window.scrollBy(0, document.querySelector('[data-testid="after-cancel"]').getBoundingClientRect().top - 8));
		await shot(page, `53-after-cancel-${label}`);
		await section.screenshot({ path: join(RESULTS, `53-after-cancel-panel-${label}.png`) });
		await noViolations(page, `the cancelled run (${label})`);
		await noSidewaysScroll(page, `the cancelled run (${label})`);
		await page.context().close();
	}

	step.name = 'queued apart from running';
	const students = Array.from({ length: 24 }, (_, i) => `student-${String(i).padStart(2, '0')}`);
	const fan = {
		name: 'class-feedback',
		agents: [
			{ id: 'plan', prompt: 'plan feedback on {{ input }}', options: { latency_ms: 2_500 } },
			...students.map((id) => ({ id, prompt: 'feedback for one essay', depends_on: ['plan'], options: { latency_ms: 4_000 } })),
			{ id: 'summary', prompt: 'sum up', depends_on: students }
		],
		output: 'summary'
	};
	{
		const page = await (await browser.newContext({ viewport: LAPTOP })).newPage();
		page.setDefaultTimeout(20_000);
		await signIn(page, url, key);
		const fanId = (await api(url, key, 'POST', '/runs', { graph: fan, input: 'volcanoes' })).id;
		await page.goto(`${url}${BASE}/runs/${fanId}`); // watched before the 24 are asked for
		const progress = page.getByTestId('run-progress');
		// 16 workers: 16 agents run, the other 8 wait for a worker, and the page says so.
		await progress.filter({ hasText: /16 running, 8 queued/ }).waitFor({ timeout: 30_000 });
		await page.locator('tr[data-agent] [data-status="queued"]').first().waitFor();
		check((await page.locator('tr[data-agent] [data-status="queued"]').count()) === 8, 'not 8 agents queued');
		const queuedId = await page.locator('tr[data-agent]:has([data-status="queued"])').first().getAttribute('data-agent');
		await progress.scrollIntoViewIfNeeded();
		await shot(page, '54-queued-laptop');
		await noViolations(page, 'a run with queued agents (laptop)');
		await page.setViewportSize(PHONE);
		await noSidewaysScroll(page, 'a run with queued agents (phone)');
		await shot(page, '54-queued-phone');
		await noViolations(page, 'a run with queued agents (phone)');
		await page.setViewportSize(LAPTOP);
		await page.locator('[data-testid="run-status"] [data-status="Completed"]').waitFor({ timeout: 60_000 });
		check((await page.locator('[data-status="queued"]').count()) === 0, 'a finished run still shows queued agents');
		// After the fact: an agent that was queued waited about one call (4 s) for a worker, and says so.
		await page.locator(`tr[data-agent="${queuedId}"]`).getByRole('button', { name: queuedId }).click();
		const call = page.getByTestId('node-detail').getByTestId('agent-call').first();
		await call.waitFor();
		const waited = /Waited ([\d.]+) s for a free worker, then ran/.exec((await call.textContent()) ?? '');
		check(waited && Number(waited[1]) >= 2, `the queued agent does not say how long it waited: "${await call.textContent()}"`);
		await page.getByTestId('node-detail').scrollIntoViewIfNeeded();
		await shot(page, '55-queue-wait-laptop');
		await page.context().close();
	}
});
