// Screenshots the status page of a running mesh (the admin service), for docs/status-page.png:
//   FEEDLOOM_ADMIN_TOKEN=$(cat data/default/run/admin-token) \
//   npx tsx services/ops/admin/screenshot.ts [http://localhost:52051/] [docs/status-page.png]
// Uses Debian's Chromium (installed by `make setup`), driven by playwright-core.
import { writeFileSync } from 'node:fs';
import { chromium } from 'playwright-core';

const url = process.argv[2] ?? 'http://localhost:52051/';
const out = process.argv[3] ?? 'docs/status-page.png';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
try {
  // The page needs the admin token (docs/SECURITY.md).
  const token = process.env.FEEDLOOM_ADMIN_TOKEN;
  const page = await browser.newPage({
    viewport: { width: 1280, height: 900 },
    extraHTTPHeaders: token ? { authorization: `Bearer ${token}` } : {},
  });
  await page.goto(url);
  // The page refreshes itself; wait for a snapshot newer than the load, so latencies are filled in.
  const loaded = Date.now();
  await page.waitForFunction(`Number(document.querySelector('.stamp')?.getAttribute('data-generated')) > ${loaded}`, {
    timeout: 30_000,
  });
  writeFileSync(out, await page.screenshot({ fullPage: true }));
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
}
