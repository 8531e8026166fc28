import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';

const html = fs.readFileSync(new URL('../../../../electron/main/first-run.html', import.meta.url), 'utf8');

describe('first-run.html', () => {
  it("allows exactly its inline script by hash (edit the script, update the CSP's sha256)", () => {
    const scripts = [...html.matchAll(/<script>([\s\S]*?)<\/script>/g)].map((m) => m[1]!);
    expect(scripts).toHaveLength(1);
    const hash = createHash('sha256').update(scripts[0]!, 'utf8').digest('base64');
    const csp = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1] ?? '';
    expect(csp).toContain(`script-src 'sha256-${hash}'`);
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('unsafe');
  });

  it('loads no script from a file or the network', () => {
    expect(html).not.toMatch(/<script[^>]+src=/);
  });

  it('offers the two catalog modes main accepts', () => {
    const modes = [...html.matchAll(/name="mode" value="([a-z]+)"/g)].map((m) => m[1]);
    expect(modes).toEqual(['managed', 'remote']);
  });
});
