// The browser tests of the web front end (docs/web.md), run by scripts/web-test.sh against the
// local stack it starts: Debian's Chromium, headless; nothing downloads a browser.
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: './tests',
  timeout: 90_000,
  expect: { timeout: 15_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: process.env.WEB_TEST_OUTPUT || '../target/web-test-results',
  use: {
    baseURL: process.env.CONSOLE_URL || 'http://127.0.0.1:9080',
    browserName: 'chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    locale: 'en-IN',
    timezoneId: 'Asia/Kolkata',
    acceptDownloads: true,
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-dev-shm-usage'],
    },
  },
});
