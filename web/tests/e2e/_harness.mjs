// What the end-to-end scripts share: the real embedded host, Debian's Chromium, axe-core, screenshots.
//
// Each script runs on its own: `node tests/e2e/<name>.mjs` (after `npm run build`). Installs
// nothing: set CHROMIUM_PATH or `apt-get install -y chromium`; PYTHON picks the interpreter
// (default: the repository's .venv).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const WEB = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const ROOT = resolve(WEB, '..');
export const BUILD = join(WEB, 'build');
export const RESULTS = join(WEB, 'test-results');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const PYTHON = process.env.PYTHON || join(ROOT, '.venv', 'bin', 'python');
export const BASE = process.env.CONVERGIO_WEB_BASE ?? '/api/app';
export const PHONE = { width: 390, height: 844 };
export const LAPTOP = { width: 1366, height: 768 };
export const AXE = process.env.AXE_CORE_PATH || createRequire(import.meta.url).resolve('axe-core/axe.min.js');

export function check(condition, message) {
	if (!condition) throw new Error(message);
}

/** A fresh home, the host on it, a browser: `session.close()` stops them all, whatever happened. */
export async function open(name, extraEnv = {}) {
	for (const [what, path] of [
		['Chromium', CHROMIUM],
		['the console build (npm run build)', join(BUILD, 'index.html')],
		['Python (make run, or set PYTHON)', PYTHON]
	]) {
		if (!existsSync(path)) throw new Error(`${what} not found at ${path}`);
	}
	mkdirSync(RESULTS, { recursive: true });
	const home = mkdtempSync(join(tmpdir(), `convergio-${name}-`));
	const env = { ...process.env, CONVERGIO_WEB_DIR: BUILD, CONVERGIO_HOME: home, ...extraEnv };
	const session = { home, env, host: null, browser: null, url: '' };
	session.python = (args, what) => {
		const result = spawnSync(PYTHON, args, { cwd: ROOT, env, encoding: 'utf8' });
		if (result.status !== 0) throw new Error(`${what} failed:\n${result.stdout}\n${result.stderr}`);
		return result.stdout;
	};
	session.close = async () => {
		await session.browser?.close().catch(() => {});
		if (session.host && session.host.exitCode === null) {
			session.host.removeAllListeners('exit');
			session.host.kill('SIGTERM');
			await new Promise((done) => {
				const t = setTimeout(() => (session.host.kill('SIGKILL'), done()), 15_000);
				session.host.once('exit', () => (clearTimeout(t), done()));
			});
		}
		rmSync(home, { recursive: true, force: true });
	};
	return session;
}

/** Resolves to a free loopback port (for hosts that take no `--port 0`). */
export function freePort() {
	return new Promise((ok, ko) => {
		const server = createServer();
		server.once('error', ko);
		server.listen(0, '127.0.0.1', () => {
			const { port } = server.address();
			server.close(() => ok(port));
		});
	});
}

/**
 * `python -m convergio start` on a free port (or `args`, e.g. `tests.emulators.serve`); resolves
 * to its base URL. Lines that export settings are kept out of the error text (they hold keys).
 */
export function startHost(session, args = ['-m', 'convergio', 'start', '--port', '0', '--home', session.home], timeout = 90_000) {
	return new Promise((resolveUrl, reject) => {
		const host = spawn(PYTHON, args, { cwd: ROOT, env: session.env, stdio: ['ignore', 'pipe', 'pipe'] });
		session.host = host;
		const lines = [];
		const timer = setTimeout(() => reject(new Error(`host did not start in ${timeout / 1000} s:\n${lines.join('\n')}`)), timeout);
		const onData = (chunk) => {
			for (const line of chunk.toString().split('\n')) {
				if (line.trim() && !line.includes('export ')) lines.push(line);
				const found = line.match(/^Host started: (\S+)/);
				if (found) {
					clearTimeout(timer);
					session.url = found[1].replace(/\/$/, '');
					resolveUrl(session.url);
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

export async function launch(session) {
	session.browser = await chromium.launch({
		executablePath: CHROMIUM,
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']
	});
	return session.browser;
}

export async function shot(page, name, fullPage = true) {
	await page.screenshot({ path: join(RESULTS, `${name}.png`), fullPage });
}

/** axe-core on the page as it is: the serious and critical violations, as readable lines. */
export async function axe(page) {
	if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ path: AXE });
	const result = await page.evaluate(async () =>
		// eslint-disable-next-line no-undef
		axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })
	);
	return result.violations
		.filter((v) => v.impact === 'serious' || v.impact === 'critical')
		.map((v) => `${v.id} (${v.impact}): ${v.nodes.length} × ${v.nodes[0]?.target?.join(' ')}`);
}

/** Run `main(session)`, report, clean up, and exit with the right code. */
export async function run(name, main, extraEnv = {}) {
	const session = await open(name, extraEnv);
	let step = { name: 'setup' };
	try {
		await main(session, step);
		console.log(`e2e ${name}: passed; screenshots in ${RESULTS}`);
	} catch (exc) {
		console.error(`e2e ${name}: FAILED at "${step.name}": ${exc?.stack ?? exc}`);
		process.exitCode = 1;
		const pages = session.browser?.contexts().flatMap((c) => c.pages()) ?? [];
		if (pages.length) await shot(pages[pages.length - 1], `failure-${name}`).catch(() => {});
	} finally {
		await session.close();
	}
}
