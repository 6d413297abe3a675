// Shared setup of the web app's browser tests: headless Chromium (Debian's, driven through
// playwright-core; no browser download), signed-in pages, screenshots and console checks.
// `cargo xtask test browser` serves the app for its throwaway stack and passes E2E_WEB_APP_URL.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, afterEach, before } from 'node:test';
import { chromium } from 'playwright-core';
import { data, freshUser } from '../../../tests/sdk/js/helpers.mjs';

export const APP_URL = process.env.E2E_WEB_APP_URL ?? '';
if (!APP_URL) throw new Error('E2E_WEB_APP_URL is not set: run these tests with `cargo xtask test browser`');
const WORKER_URL = process.env.E2E_WORKER_URL;

/** A 1×1 PNG, for uploads. */
export const ONE_PIXEL_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==',
  'base64',
);

/** Where each test's screenshot goes (under target/, not committed). */
const SCREENSHOTS = fileURLToPath(new URL('../../../target/browser-screenshots/', import.meta.url));

let browser;
/** The pages the running test opened. */
let pages = [];
before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' });
});
// What each page showed at the end, passed or failed, then the test's contexts are closed.
afterEach(async (t) => {
  const slug = t.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
  for (const [index, page] of pages.entries()) {
    await screenshot(page, `end-${slug}-${index + 1}`);
    await page.context().close();
  }
  pages = [];
});
after(async () => browser?.close());

/**
 * A page of the app in a browser context of its own (its own storage, so its own session),
 * recording what the console reports as errors.
 */
export async function openApp({ width = 1280, height = 900 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, timezoneId: 'UTC' });
  const page = await context.newPage();
  pages.push(page);
  page.consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') page.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => page.consoleErrors.push(String(error)));
  await page.goto(APP_URL);
  return page;
}

/** A confirmed user with a display name, and the password freshUser gives. */
export async function person(tag, name) {
  const user = await freshUser(tag);
  await data(user.client.from('profiles').update({ display_name: name }).eq('id', user.id).select());
  return { ...user, name, password: 'fresh-password' };
}

/** A confirmed user who owns a new team, signed in on a page of the app. */
export async function signedInOwner(tag, teamName) {
  const user = await freshUser(tag);
  const team = await data(user.client.rpc('create_team', { name: teamName }));
  const page = await openApp();
  await signIn(page, { ...user, password: 'fresh-password' });
  return { user, team, page };
}

/** Signs in through the form and waits for the workspace. */
export async function signIn(page, { email, password }) {
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText(`Signed in as ${email}`).waitFor();
}

/** Connects an account through the platform's (fake) consent page and back to the app. */
export async function connect(page, platform) {
  await page.getByLabel('Platform').selectOption(platform);
  await page.getByRole('button', { name: 'Connect account' }).click();
  await page.getByText(`Connected your ${platform} account.`).waitFor();
  await page.locator(`#accounts li[data-platform="${platform}"] .status[data-status="active"]`).waitFor();
}

/** Saves what the page shows as target/browser-screenshots/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: `${SCREENSHOTS}${name}.png`, fullPage: true });
}

/** Fails if the page's console reported an error other than the `expected` ones (substrings). */
export function assertCleanConsole(page, expected = []) {
  const unexpected = page.consoleErrors.filter((text) => !expected.some((allowed) => text.includes(allowed)));
  assert.deepEqual(unexpected, [], 'errors in the browser console');
}

/** The publishing sweep pg_cron runs every minute (paused on test stacks), run now. */
export async function runPublishSweep() {
  const response = await fetch(`${WORKER_URL}/v1/cron/publish`, {
    method: 'POST',
    headers: { authorization: `Bearer ${process.env.E2E_CRON_SECRET}` },
  });
  assert.equal(response.status, 200, await response.text());
}
