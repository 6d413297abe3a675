// Sign-up (confirmed from the emailed link), sign-in and sign-out with Supabase Auth.
import type { User } from '@supabase/supabase-js';
import { byId, notify, onSubmit } from './dom';
import { supabase } from './supabase';

/** Wires the sign-in form; `onUser` runs with the signed-in user, or null once signed out. */
export function setUpAuth(onUser: (user: User | null) => void): void {
  const credentials = () => ({
    email: byId<HTMLInputElement>('auth-email').value.trim(),
    password: byId<HTMLInputElement>('auth-password').value,
  });

  onSubmit('auth-form', async () => {
    const { error } = await supabase.auth.signInWithPassword(credentials());
    if (error) notify(error.message);
  });

  byId('sign-up').addEventListener('click', async () => {
    if (!byId<HTMLFormElement>('auth-form').reportValidity()) return;
    const { email, password } = credentials();
    const { error } = await supabase.auth.signUp({
      email,
      password,
      // The confirmation link comes back here, where supabase-js reads the session from the URL.
      options: { emailRedirectTo: `${location.origin}/` },
    });
    notify(error ? error.message : `Check ${email}'s mailbox for the confirmation link.`);
  });

  byId('sign-out').addEventListener('click', () => void supabase.auth.signOut());

  let current: string | undefined;
  supabase.auth.onAuthStateChange((_event, session) => {
    const user = session?.user ?? null;
    if (user?.id === current) return; // token refreshes change nothing on screen
    current = user?.id;
    // supabase-js asks not to await its own calls inside this callback.
    setTimeout(() => onUser(user));
  });
}
