import { describe, expect, it } from 'vitest';
import { errorFrom, missingRun } from '../../src/lib/api';

describe('a missing run', () => {
	it("reads in people's words, not the API's", () => {
		const body = JSON.stringify({ error: { code: 'not_found', message: "no run '00000000000000000000000000000000'", details: [] } });
		expect(errorFrom(404, 'Not Found', body).message).toBe('This run does not exist or was deleted.');
		expect(missingRun("no run 'abc'")).toBe('This run does not exist or was deleted.');
	});

	it('leaves other messages alone', () => {
		const body = JSON.stringify({ error: { code: 'not_found', message: "no graph 'quiz'", details: [] } });
		expect(errorFrom(404, 'Not Found', body).message).toBe("no graph 'quiz'");
		expect(missingRun("no run 'a' today")).toBeNull();
	});
});
