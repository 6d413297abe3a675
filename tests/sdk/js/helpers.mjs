// Shared setup of the supabase-js contract tests; `cargo xtask test sdk` passes the stack's
// URLs and keys in E2E_* variables, as it does to the Python tests beside these.
import { randomUUID } from 'node:crypto';
import { createClient } from '@supabase/supabase-js';
import ws from 'ws';

export const SUPABASE_URL = process.env.E2E_SUPABASE_URL ?? '';
export const ANON_KEY = process.env.E2E_ANON_KEY ?? '';
export const SERVICE_ROLE_KEY = process.env.E2E_SERVICE_ROLE_KEY ?? '';
if (!SUPABASE_URL) {
  throw new Error('E2E_SUPABASE_URL is not set: run these tests with `cargo xtask test sdk`');
}

/** A client with no stored session, so each test user gets its own. */
export function newClient(key = ANON_KEY, auth = {}) {
  return createClient(SUPABASE_URL, key, {
    auth: { autoRefreshToken: false, persistSession: false, detectSessionInUrl: false, ...auth },
    // Node 20 has no WebSocket of its own for supabase-js's (unused) realtime client.
    realtime: { transport: ws },
  });
}

/** A client whose auth keeps the PKCE verifier it makes, as a browser's storage would. */
export function pkceClient() {
  const stored = new Map();
  const storage = {
    getItem: (key) => stored.get(key) ?? null,
    setItem: (key, value) => void stored.set(key, value),
    removeItem: (key) => void stored.delete(key),
  };
  return newClient(ANON_KEY, { flowType: 'pkce', persistSession: true, storage });
}

export function uniqueEmail(tag) {
  return `${tag}-${randomUUID().slice(0, 10)}@example.com`;
}

/** A confirmed user of their own, signed in, in no team yet. */
export async function freshUser(tag) {
  const email = uniqueEmail(tag);
  const password = 'fresh-password';
  const { error } = await newClient(SERVICE_ROLE_KEY).auth.admin.createUser({ email, password, email_confirm: true });
  if (error) throw error;
  const client = newClient();
  const signedIn = await client.auth.signInWithPassword({ email, password });
  if (signedIn.error) throw signedIn.error;
  return { client, email, id: signedIn.data.user.id };
}

export async function mailbox(address) {
  const response = await fetch(`${SUPABASE_URL}/mailbox/v1/messages?to=${encodeURIComponent(address)}`);
  if (!response.ok) throw new Error(`mailbox answered ${response.status}`);
  return response.json();
}

export async function lastMail(address) {
  const messages = await mailbox(address);
  if (!messages.length) throw new Error(`no mail for ${address}`);
  return messages.at(-1);
}

/** Opens an emailed link like a browser and returns where Auth redirects it. */
export async function follow(link) {
  const response = await fetch(link, { redirect: 'manual' });
  if (![302, 303].includes(response.status)) {
    throw new Error(`link answered ${response.status}: ${await response.text()}`);
  }
  return new URL(response.headers.get('location'));
}

/** The value of a query without the SDK's error wrapper, failing the test on an error. */
export async function data(query) {
  const { data: value, error } = await query;
  if (error) throw new Error(`${error.code ?? ''} ${error.message}`);
  return value;
}
