// A single-page app: the Functions route serves index.html for every page, the browser renders.
export const ssr = false;
export const prerender = false;
export const trailingSlash = 'ignore';
