// PKCE, magic link / OTP sign-in and email change with supabase-js, as GoTrue runs them.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  ANON_KEY, SERVICE_ROLE_KEY, SUPABASE_URL, follow, lastMail, newClient, pkceClient, uniqueEmail,
} from './helpers.mjs';

const APP = 'http://127.0.0.1:3000/auth/callback';

async function confirmedUser(tag, password = 'pkce-password') {
  const email = uniqueEmail(tag);
  const { error } = await newClient(SERVICE_ROLE_KEY).auth.admin.createUser({ email, password, email_confirm: true });
  if (error) throw error;
  return email;
}

test('PKCE sign-up confirms with a code the client exchanges', async () => {
  const client = pkceClient();
  const email = uniqueEmail('js-pkce-signup');
  const signedUp = await client.auth.signUp({ email, password: 'pkce-password', options: { emailRedirectTo: APP } });
  assert.equal(signedUp.error, null);
  const landed = await follow((await lastMail(email)).link);
  assert.equal(landed.hash, '', 'no session in the URL, only the code');

  const { data, error } = await client.auth.exchangeCodeForSession(landed.searchParams.get('code'));
  assert.equal(error, null);
  assert.equal(data.session.user.email, email);
});

test('PKCE magic link: a wrong verifier is refused as GoTrue refuses it, the right one signs in', async () => {
  const email = await confirmedUser('js-pkce-magic');
  const client = pkceClient();
  assert.equal((await client.auth.signInWithOtp({ email, options: { emailRedirectTo: APP } })).error, null);
  const code = (await follow((await lastMail(email)).link)).searchParams.get('code');

  const wrong = await fetch(`${SUPABASE_URL}/auth/v1/token?grant_type=pkce`, {
    method: 'POST',
    headers: { apikey: ANON_KEY, 'content-type': 'application/json' },
    body: JSON.stringify({ auth_code: code, code_verifier: 'x'.repeat(43) }),
  });
  assert.equal(wrong.status, 400);
  const refusal = await wrong.json();
  assert.equal(refusal.error_code, 'bad_code_verifier');
  assert.equal(refusal.code, 400);

  const { data, error } = await client.auth.exchangeCodeForSession(code);
  assert.equal(error, null);
  assert.equal(data.user.email, email);
});

test('PKCE recovery lands with a code and signs the user in to set a new password', async () => {
  const email = await confirmedUser('js-pkce-recover');
  const client = pkceClient();
  assert.equal((await client.auth.resetPasswordForEmail(email, { redirectTo: APP })).error, null);
  const code = (await follow((await lastMail(email)).link)).searchParams.get('code');
  assert.equal((await client.auth.exchangeCodeForSession(code)).error, null);
  assert.equal((await client.auth.updateUser({ password: 'pkce-password-2' })).error, null);
  const again = await newClient().auth.signInWithPassword({ email, password: 'pkce-password-2' });
  assert.equal(again.error, null);
});

test('an emailed six-digit code signs in; unknown addresses are refused when sign-up is off', async () => {
  const email = await confirmedUser('js-otp');
  const client = newClient();
  assert.equal((await client.auth.signInWithOtp({ email })).error, null);
  const { token } = await lastMail(email);
  const { data, error } = await client.auth.verifyOtp({ email, token, type: 'email' });
  assert.equal(error, null);
  assert.equal(data.session.user.email, email);

  const refused = await newClient().auth.signInWithOtp({
    email: uniqueEmail('js-nobody'), options: { shouldCreateUser: false },
  });
  assert.equal(refused.error.status, 422);
  assert.equal(refused.error.code, 'otp_disabled');
});

test('an email change applies once both addresses confirm', async () => {
  const old = await confirmedUser('js-change-old', 'change-password');
  const client = newClient();
  await client.auth.signInWithPassword({ email: old, password: 'change-password' });
  const next = uniqueEmail('js-change-new');
  const pending = await client.auth.updateUser({ email: next }, { emailRedirectTo: APP });
  assert.equal(pending.error, null);
  assert.equal(pending.data.user.new_email, next);

  const first = await follow((await lastMail(old)).link);
  assert.match(new URLSearchParams(first.hash.slice(1)).get('message'), /^Confirmation link accepted/);
  const { token } = await lastMail(next);
  const { data, error } = await client.auth.verifyOtp({ email: next, token, type: 'email_change' });
  assert.equal(error, null);
  assert.equal(data.user.email, next);
  assert.equal((await newClient().auth.signInWithPassword({ email: next, password: 'change-password' })).error, null);
});
