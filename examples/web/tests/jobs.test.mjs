// A content job from the app: its steps progress live, then its text and image, then a draft.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertCleanConsole, screenshot, signedInOwner } from './browser.mjs';

test('a brief becomes text and an image, its steps shown as they complete, then a draft', async () => {
  const { page } = await signedInOwner('web-jobs', 'Content team');

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
  assertCleanConsole(page);
});
