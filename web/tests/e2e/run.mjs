// End to end: the built console on the real embedded host, driven in Debian's Chromium.
//
//   npm run build && npm run e2e
//
// Starts `python -m convergio start --port 0 --home <tmp>` (serving web/build), adds a tenant,
// signs in with its key, starts lesson-plan from the form, watches it complete on the DAG and
// checks its cost. Installs nothing: set CHROMIUM_PATH or `apt-get install -y chromium`;
// PYTHON picks the interpreter (default: the repository's .venv). Screenshots: web/test-results/.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ROOT = resolve(WEB, '..');
const BUILD = join(WEB, 'build');
const RESULTS = join(WEB, 'test-results');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const PYTHON = process.env.PYTHON || join(ROOT, '.venv', 'bin', 'python');
const BASE = process.env.CONVERGIO_WEB_BASE ?? '/api/app';
const TIMEOUT = 60_000;

function fail(message) {
	console.error(`e2e: ${message}`);
	process.exit(1);
}

if (!existsSync(CHROMIUM)) {
	fail(
		`Chromium not found at ${CHROMIUM}. Install Debian's Chromium (apt-get install -y chromium) ` +
			'or set CHROMIUM_PATH; this script installs nothing.'
	);
}
if (!existsSync(join(BUILD, 'index.html'))) fail(`no build in ${BUILD}: run \`npm run build\` first.`);
if (!existsSync(PYTHON)) fail(`Python not found at ${PYTHON}: create the .venv (make run) or set PYTHON.`);

mkdirSync(RESULTS, { recursive: true });
const home = mkdtempSync(join(tmpdir(), 'convergio-e2e-'));
const env = { ...process.env, CONVERGIO_WEB_DIR: BUILD, CONVERGIO_HOME: home };
let host;
let browser;
let step = 'setup';

function addTenant() {
	const result = spawnSync(PYTHON, ['-m', 'convergio', 'tenants', 'add', 'E2E School', '--home', home], { cwd: ROOT, env, encoding: 'utf8' });
	if (result.status !== 0) fail(`tenants add failed:\n${result.stdout}\n${result.stderr}`);
	const key = result.stdout.trim().split('\n').pop()?.trim();
	if (!key) fail('tenants add printed no key');
	return key;
}

function startHost() {
	return new Promise((resolveUrl, reject) => {
		host = spawn(PYTHON, ['-m', 'convergio', 'start', '--port', '0', '--home', home], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
		const lines = [];
		const timer = setTimeout(() => reject(new Error(`host did not start in 30 s:\n${lines.join('\n')}`)), 30_000);
		const onData = (chunk) => {
			for (const line of chunk.toString().split('\n')) {
				if (line.trim()) lines.push(line);
				const found = line.match(/^Host started: (\S+)/);
				if (found) {
					clearTimeout(timer);
					resolveUrl(found[1].replace(/\/$/, ''));
				}
			}
		};
		host.stdout.on('data', onData);
		host.stderr.on('data', onData);
		host.on('exit', (code) => {
			clearTimeout(timer);
			reject(new Error(`host exited (${code}):\n${lines.join('\n')}`));
		});
	});
}

function check(condition, message) {
	if (!condition) throw new Error(message);
}

async function shot(page, name) {
	await page.screenshot({ path: join(RESULTS, `${name}.png`), fullPage: true });
}

async function main() {
	step = 'tenant';
	const key = addTenant();
	step = 'host';
	const url = await startHost();
	console.log(`e2e: host at ${url}`);

	step = 'static route';
	const index = await fetch(`${url}${BASE}/`);
	check(index.status === 200, `GET ${BASE}/ answered ${index.status}`);
	check(index.headers.get('content-type')?.startsWith('text/html'), 'index.html is not text/html');
	check(index.headers.get('cache-control') === 'no-cache', 'index.html must be no-cache');
	const asset = (await index.text()).match(/_app\/immutable\/[^"']+\.js/)?.[0];
	check(asset, 'index.html names no immutable asset');
	const js = await fetch(`${url}${BASE}/${asset}`);
	check(js.headers.get('content-type')?.startsWith('text/javascript'), `${asset} is not JavaScript`);
	check(js.headers.get('cache-control')?.includes('immutable'), `${asset} is not cached as immutable`);

	step = 'browser';
	browser = await chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']
	});
	const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
	const page = await context.newPage();
	page.setDefaultTimeout(15_000);
	const consoleErrors = [];
	page.on('console', (m) => m.type() === 'error' && consoleErrors.push(m.text()));
	page.on('pageerror', (e) => consoleErrors.push(String(e)));

	step = 'sign in';
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

	step = 'start a run';
	await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Start a run' }).click();
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

	step = 'watch the DAG';
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

	step = 'runs list';
	await page.getByRole('link', { name: '← All runs' }).click();
	await page.getByLabel('Status').selectOption('Completed');
	await page.locator(`a[href$="/runs/${runId}"]`).first().waitFor();
	await shot(page, '05-runs');

	step = 'usage and connections';
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

	step = 'tablet';
	await page.setViewportSize({ width: 768, height: 1024 });
	await page.goto(`${url}${BASE}/runs/${runId}`);
	await page.locator('[data-testid="run-status"] [data-status="Completed"]').waitFor();
	await shot(page, '08-run-tablet');

	check(consoleErrors.length === 0, `browser console errors:\n${consoleErrors.join('\n')}`);
	console.log(`e2e: passed; screenshots in ${RESULTS}`);
}

async function cleanup() {
	await browser?.close().catch(() => {});
	if (host && host.exitCode === null) {
		host.removeAllListeners('exit');
		host.kill('SIGTERM');
		await new Promise((r) => {
			const t = setTimeout(() => {
				host.kill('SIGKILL');
				r();
			}, 10_000);
			host.once('exit', () => {
				clearTimeout(t);
				r();
			});
		});
	}
	rmSync(home, { recursive: true, force: true });
}

try {
	await main();
	await cleanup();
} catch (exc) {
	console.error(`e2e: FAILED at "${step}": ${exc instanceof Error ? exc.message : exc}`);
	try {
		const pages = browser?.contexts().flatMap((c) => c.pages()) ?? [];
		if (pages[0]) await shot(pages[0], 'failure');
	} catch {
		// no screenshot
	}
	await cleanup();
	process.exit(1);
}
