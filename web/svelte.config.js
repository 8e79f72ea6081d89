import adapter from '@sveltejs/adapter-static';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

// The Functions app serves the build at /api/app/ (route "app/{*path}" under the "api" route prefix).
const base = process.env.CONVERGIO_WEB_BASE ?? '/api/app';

/** @type {import('@sveltejs/kit').Config} */
const config = {
	preprocess: vitePreprocess(),
	kit: {
		adapter: adapter({ pages: 'build', assets: 'build', fallback: 'index.html', strict: true }),
		paths: { base, relative: false },
		appDir: '_app'
	}
};

export default config;
