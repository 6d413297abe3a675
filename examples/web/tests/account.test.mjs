// Signing up (confirmed from the local mailbox) and out, the avatar; the page at a phone's width.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lastMail, uniqueEmail } from '../../../tests/sdk/js/helpers.mjs';
import { ONE_PIXEL_PNG, assertCleanConsole, openApp, screenshot, signedInOwner } from './browser.mjs';

test('sign up, confirm from the mailbox, land signed in, and sign out', async () => {
  const email = uniqueEmail('web-signup');
  const page = await openApp();
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill('a-fine-password');
  await page.getByRole('button', { name: 'Create account' }).click();
  await page.getByText(`Check ${email}'s mailbox for the confirmation link.`).waitFor();

  const { link } = await lastMail(email);
  await page.goto(link);
  await page.getByText(`Signed in as ${email}`).waitFor();
  await page.getByLabel('New team name').waitFor();
  await screenshot(page, 'signed-up');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  assertCleanConsole(page);
});

test('at 375 px nothing overflows sideways and every control has a name', async () => {
  const page = await openApp({ width: 375, height: 812 });
  await page.getByRole('button', { name: 'Sign in' }).waitFor();
  // Every section, signed-in ones included, laid out at once.
  await page.evaluate(() => document.querySelectorAll('[hidden]').forEach((node) => node.removeAttribute('hidden')));
  const { overflow, unnamed } = await page.evaluate(() => ({
    overflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    unnamed: [...document.querySelectorAll('input, select, textarea, button, output')]
      .filter((control) => !control.labels?.length && !control.getAttribute('aria-label') && !control.textContent.trim())
      .map((control) => control.id || control.outerHTML),
  }));
  await screenshot(page, 'phone-width');
  assert.equal(overflow, 0, 'the page is wider than the screen');
  assert.deepEqual(unnamed, [], 'controls a screen reader cannot name');
  assertCleanConsole(page);
});

test('an avatar uploaded on the profile shows there and beside the name; a type the bucket refuses is explained', async () => {
  const { page } = await signedInOwner('web-avatar', 'Faces');
  await page.getByLabel(/^Avatar/).setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: ONE_PIXEL_PNG });
  await page.getByText('Avatar saved.').waitFor();
  for (const image of [page.getByAltText('Your avatar'), page.locator('#members img.avatar')]) {
    await page.waitForFunction((node) => node.complete && node.naturalWidth === 1, await image.elementHandle());
  }

  await page.getByLabel(/^Avatar/).setInputFiles({ name: 'me.svg', mimeType: 'image/svg+xml', buffer: Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>') });
  await page.getByRole('alert').filter({ hasText: 'Avatar not saved: mime type image/svg+xml is not supported' }).waitFor();
  await screenshot(page, 'avatar');
  assertCleanConsole(page, ['status of 415 (Unsupported Media Type)']);
});
