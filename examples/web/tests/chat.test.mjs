// Team chat between two browsers: live messages, typing, presence, attachments, and nothing for
// another team.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SERVICE_ROLE_KEY, data, newClient } from '../../../tests/sdk/js/helpers.mjs';
import { ONE_PIXEL_PNG, assertCleanConsole, openApp, person, screenshot, signIn } from './browser.mjs';

const admin = newClient(SERVICE_ROLE_KEY);

async function teamOf(owner, name, members = []) {
  const team = await data(owner.client.rpc('create_team', { name }));
  for (const member of members) {
    await data(admin.from('team_members').insert({ team_id: team.id, user_id: member.id, role: 'member' }));
  }
  return team;
}

test('a message reaches a teammate live, typing shows and clears, an attachment opens, another team sees nothing', async () => {
  const [ada, bea, cyd] = await Promise.all([person('chat-ada', 'Ada'), person('chat-bea', 'Bea'), person('chat-cyd', 'Cyd')]);
  await teamOf(ada, 'Chat team', [bea]);
  const other = await teamOf(cyd, 'Other team');
  const otherChannel = await data(cyd.client.rpc('create_chat_channel', { team_id: other.id, name: 'elsewhere' }));

  const adaPage = await openApp();
  await signIn(adaPage, ada);
  await adaPage.getByLabel('New channel').fill('general');
  await adaPage.getByRole('button', { name: 'Create channel' }).click();
  await adaPage.locator('#channel-select option', { hasText: 'general' }).waitFor({ state: 'attached' });

  const [beaPage, cydPage] = [await openApp(), await openApp()];
  await signIn(beaPage, bea);
  await signIn(cydPage, cyd);
  // Both joined the channel: each sees the other online.
  await adaPage.locator('#online', { hasText: 'Bea' }).waitFor();
  await beaPage.locator('#online', { hasText: 'Ada' }).waitFor();

  await beaPage.getByLabel('Message', { exact: true }).pressSequentially('hello');
  await adaPage.locator('#typing', { hasText: 'Bea is typing' }).waitFor();

  const text = `hi from Bea ${Date.now()}`;
  await beaPage.getByLabel('Message', { exact: true }).fill(text);
  await beaPage.getByRole('button', { name: 'Send' }).click();
  await adaPage.locator('#messages li', { hasText: text }).waitFor({ timeout: 2000 });
  await adaPage.locator('#typing:empty').waitFor({ state: 'attached' });

  // An attachment: uploaded to Storage by the sender, shown to the teammate through a signed URL.
  await beaPage.getByLabel('Message', { exact: true }).fill('see attached');
  await beaPage.getByLabel('Attachment').setInputFiles({ name: 'dot.png', mimeType: 'image/png', buffer: ONE_PIXEL_PNG });
  await beaPage.getByRole('button', { name: 'Send' }).click();
  const picture = adaPage.locator('#messages li', { hasText: 'see attached' }).getByAltText('dot.png');
  await picture.waitFor();
  await adaPage.waitForFunction((image) => image.complete && image.naturalWidth === 1, await picture.elementHandle());

  // Cyd's own channel gets a message after Bea's: changes reach a socket in commit order, so had
  // Bea's reached Cyd, it would be on the page by now.
  const later = `for Cyd's team ${Date.now()}`;
  await data(cyd.client.from('chat_messages').insert({ channel_id: otherChannel, body: later }).select());
  await cydPage.locator('#messages li', { hasText: later }).waitFor();
  assert.equal(await cydPage.locator('#messages li', { hasText: text }).count(), 0);

  await screenshot(adaPage, 'chat-receiver');
  await screenshot(beaPage, 'chat-sender');
  await screenshot(cydPage, 'chat-other-team');
  for (const page of [adaPage, beaPage, cydPage]) assertCleanConsole(page);
});

test('a direct conversation appears live for the person it is opened with; the team owner never sees it', async () => {
  const [owner, ada, bea] = await Promise.all([person('dm-owner', 'Olga'), person('dm-ada', 'Ada'), person('dm-bea', 'Bea')]);
  await teamOf(owner, 'Direct team', [ada, bea]);
  const [adaPage, beaPage, ownerPage] = [await openApp(), await openApp(), await openApp()];
  await signIn(adaPage, ada);
  await signIn(beaPage, bea);
  await signIn(ownerPage, owner);

  await adaPage.getByRole('button', { name: 'Message Bea' }).click();
  await adaPage.locator('#channel-select option:checked', { hasText: 'Direct: Bea' }).waitFor({ state: 'attached' });
  // Bea's list gains the conversation without a reload, and she is told who opened it.
  await beaPage.getByText('Ada started a conversation with you.').waitFor();
  await beaPage.locator('#channel-select').selectOption({ label: 'Direct: Ada' });
  await adaPage.locator('#online', { hasText: 'Bea' }).waitFor();

  const text = `just between us ${Date.now()}`;
  await adaPage.getByLabel('Message', { exact: true }).fill(text);
  await adaPage.getByRole('button', { name: 'Send' }).click();
  await beaPage.locator('#messages li', { hasText: text }).waitFor({ timeout: 2000 });

  // Owners see every named channel of their team, but no one else's direct conversation.
  await ownerPage.reload();
  await ownerPage.getByText(`Signed in as ${owner.email}`).waitFor();
  await ownerPage.locator('#team-workspace').waitFor();
  assert.equal(await ownerPage.locator('#channel-select option', { hasText: 'Direct' }).count(), 0);
  assert.equal(await ownerPage.locator('#messages li', { hasText: text }).count(), 0);

  await screenshot(beaPage, 'chat-direct');
  for (const page of [adaPage, beaPage, ownerPage]) assertCleanConsole(page);
});
