// AI text generation streams into the page as it arrives; a refusal reads as a message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SERVICE_ROLE_KEY, data, newClient } from '../../../tests/sdk/js/helpers.mjs';
import { assertCleanConsole, screenshot, signedInOwner } from './browser.mjs';

const admin = newClient(SERVICE_ROLE_KEY);

test('streamed text appears in pieces before the stream ends, then what it cost', async () => {
  const { page } = await signedInOwner('ai-stream', 'Writers');

  // `[slow]`: the provider fake sends a word every 200 ms.
  await page.getByLabel('Prompt').fill('Write a line about the sea [slow]');
  await page.getByRole('button', { name: 'Generate' }).click();
  const output = page.locator('#ai-output');
  await page.locator('#ai-output[aria-busy="true"]:not(:empty)').waitFor();
  const partial = await output.textContent();
  await page.locator('#ai-output[aria-busy="false"]').waitFor();
  const whole = await output.textContent();
  assert.ok(whole.startsWith('echo: Write a line about the sea [slow]'), whole);
  assert.ok(partial.length < whole.length && whole.startsWith(partial), `${partial} | ${whole}`);
  await page.locator('#ai-usage', { hasText: /tokens out\. This answer cost [1-9]\d* credits\.$/ }).waitFor();
  await page.locator('#credits', { hasText: /AI credits this month: [1-9]\d* used of \d+/ }).waitFor();

  await screenshot(page, 'ai-stream');
  assertCleanConsole(page);
});

test('a team without credits left gets a clear message, not a stream', async () => {
  const { team, page } = await signedInOwner('ai-broke', 'Spent');
  const period = `${new Date().toISOString().slice(0, 7)}-01`;
  await data(admin.from('ai_credit_ledger').insert({ subject_id: team.id, period, allowance: 200, used: 200 }).select());

  await page.getByLabel('Prompt').fill('One more line, please');
  await page.getByRole('button', { name: 'Generate' }).click();
  await page.getByRole('alert').filter({ hasText: 'Your AI credits for this month are used up.' }).waitFor();
  assert.equal(await page.locator('#ai-output').textContent(), '');
  await screenshot(page, 'ai-credits-exhausted');
  assertCleanConsole(page, ['status of 403 (Forbidden)']);
});

test('captions and hashtags for the post being written, each with what it cost', async () => {
  const { page } = await signedInOwner('ai-assist', 'Captioners');
  await page.getByRole('button', { name: 'Suggest captions' }).click();
  await page.getByRole('alert').filter({ hasText: 'Write a few words of the post first' }).waitFor();

  await page.getByLabel('Post text').fill('Our new tea tastes of spring');
  await page.getByRole('button', { name: 'Suggest captions' }).click();
  await page.getByText(/^These captions cost [1-9]\d* credits\.$/).waitFor();
  // The provider fake's captions quote the post they were made from.
  await page.getByRole('button', { name: 'Use caption: Caption 2: Our new tea tastes of spring' }).click();
  assert.equal(await page.getByLabel('Post text').inputValue(), 'Caption 2: Our new tea tastes of spring');

  await page.getByRole('button', { name: 'Suggest hashtags' }).click();
  await page.getByText(/^These hashtags cost [1-9]\d* credits\.$/).waitFor();
  await page.getByRole('button', { name: 'Add #fake' }).click();
  assert.equal(await page.getByLabel('Post text').inputValue(), 'Caption 2: Our new tea tastes of spring #fake');
  await page.locator('#credits', { hasText: /AI credits this month: [1-9]\d* used of \d+/ }).waitFor();

  await screenshot(page, 'ai-captions-hashtags');
  assertCleanConsole(page);
});
