// The one Supabase client of the app, typed by the generated database types.
import { createClient } from '@supabase/supabase-js';
import type { Database } from '../../../types/database';

/** Which emailed link opened the page (`invite`, `signup`, `magiclink`, …), read before
 * supabase-js takes the session out of the URL's fragment. */
export const emailLinkType = new URLSearchParams(location.hash.slice(1)).get('type');

export const supabase = createClient<Database>(import.meta.env.SUPABASE_URL, import.meta.env.SUPABASE_ANON_KEY);

export type Tables<Name extends keyof Database['public']['Tables']> = Database['public']['Tables'][Name]['Row'];
export type Views<Name extends keyof Database['public']['Views']> = Database['public']['Views'][Name]['Row'];

/** A query's outcome as supabase-js gives it: data, or an error. */
type Outcome<T> = { data: T; error: null } | { data: null; error: { message: string } };

/** The rows of a query, throwing its error (PostgREST's message) instead of returning it. */
export async function rows<T>(query: PromiseLike<Outcome<T>>): Promise<T> {
  const { data, error } = await query;
  if (error) throw new Error(error.message);
  return data as T;
}

/** A unique object name for an uploaded file, keeping its name readable (`<uuid>-<name>`). */
export function objectName(file: File): string {
  return `${crypto.randomUUID()}-${file.name.replace(/[^\w.-]+/g, '_')}`;
}
