// Calls to the worker's HTTP API with the signed-in user's access token.
import { supabase } from './supabase';

/** One of the rule violations a refusal lists at once, with the path of the field at fault. */
export interface Problem {
  path: string;
  code: string;
  message: string;
}

/** The worker's error envelope: `{"error": {"code", "message", "field"?, "problems"?,
 * "candidates"?}}` with its status. */
export class WorkerError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly problems: Problem[] = [],
    /** The instants a local time could mean around a DST change (`schedule_time_*`). */
    readonly candidates: string[] = [],
  ) {
    super(message);
  }
}

interface Call {
  method?: 'GET' | 'POST' | 'DELETE';
  body?: unknown;
  /** Whose AI credits pay (`x-team-id`, metered AI routes only). */
  payingTeam?: string;
}

export async function request(path: string, { method = 'GET', body, payingTeam }: Call = {}): Promise<Response> {
  const { data } = await supabase.auth.getSession();
  const headers: Record<string, string> = { authorization: `Bearer ${data.session?.access_token ?? ''}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (payingTeam) headers['x-team-id'] = payingTeam;
  const response = await fetch(`${import.meta.env.WORKER_URL}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw await errorOf(response);
  return response;
}

export async function call<T>(path: string, options?: Call): Promise<T> {
  return (await request(path, options)).json() as Promise<T>;
}

async function errorOf(response: Response): Promise<WorkerError> {
  const body = await response.json().catch(() => ({}));
  const error = body?.error ?? {};
  const message = error.message ?? response.statusText;
  return new WorkerError(response.status, error.code ?? 'unknown', message, error.field, error.problems ?? [], error.candidates ?? []);
}

/** A message a person can act on, for the errors every screen may meet. */
export function explain(error: unknown): string {
  if (!(error instanceof WorkerError)) return error instanceof Error ? error.message : String(error);
  switch (error.code) {
    case 'credit_limit_reached':
      return 'Your AI credits for this month are used up.';
    case 'rate_limited':
      return 'Too many requests in a short time: wait a moment and try again.';
    case 'schedule_time_nonexistent':
      return 'That time does not exist here: the clocks jump over it. Choose one of these:';
    case 'schedule_time_ambiguous':
      return 'That time happens twice here: the clocks go back over it. Choose one of these:';
    default:
      return error.message;
  }
}
