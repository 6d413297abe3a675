// A content job from the app: its steps progress live, then its text and image, then a draft
// and a post published to a chosen account.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanConsole, connect, runPublishSweep, screenshot, signedInOwner } from './browser.mjs';

test('a brief becomes text and an image, its steps shown as they complete, then a draft and a published post', async () => {
  const { page } = await signedInOwner('web-jobs', 'Content team');
  await connect(page, 'x');
  await page.locator('#post-accounts').getByLabel(/^x:/).check();

  // `[delay:300]`: every AI step's provider answer takes 300 ms, so the steps can be watched.
  await page.getByLabel('Brief').fill('A spring launch of our tea [delay:300]');
  await page.getByRole('button', { name: 'Create content' }).click();
  await page.locator('#job-state', { hasText: /^running: [1-9] of \d+ steps done$/ }).waitFor();
  await page.locator('#job-state', { hasText: /^done: (\d+) of \1 steps done$/ }).waitFor();
  await page.getByAltText('The generated image').waitFor();
  assert.ok(await page.getByAltText('The generated image').evaluate((image) => image.naturalWidth > 0), 'the image loads');
  assert.match(await page.locator('#job-text').textContent(), /spring launch of our tea/);

  await page.getByRole('button', { name: 'Save as draft' }).click();
  await page.getByText('Saved as a draft.').waitFor();
  await screenshot(page, 'content-job');

  // Posted now: publishing starts at once (pg_net); the sweep covers it either way.
  await page.getByRole('button', { name: 'Post now to the accounts chosen below' }).click();
  await page.locator('#post-status[data-live="true"] li[data-id]').waitFor();
  await runPublishSweep();
  await page.locator('#post-status .status[data-status="published"]').waitFor();
  await screenshot(page, 'content-job-posted');
  assertCleanConsole(page);
});
