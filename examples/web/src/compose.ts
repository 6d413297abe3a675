// Composing a post to several connected accounts: each platform's text limit shown while
// writing, the worker's rule errors shown beside the field they name, and each destination's
// publishing status followed live (Realtime, `post_destinations`).
import type { RealtimeChannel } from '@supabase/supabase-js';
import { byId, element, onSubmit } from './dom';
import type { Account } from './social';
import { rows, supabase, type Tables } from './supabase';
import { call, explain, WorkerError } from './worker';

/** Characters each platform takes in a post (the worker checks the same before scheduling). */
const MAX_CHARS: Record<string, number> = {
  x: 280, linkedin: 3000, facebook: 63206, instagram: 2200, tiktok: 2200, pinterest: 500, youtube: 5000,
};

const DESTINATION_COLUMNS = 'id, platform, account_name, status, error_message, permalink, updated_at';
type Destination = Pick<
  Tables<'post_destinations'>,
  'id' | 'platform' | 'account_name' | 'status' | 'error_message' | 'permalink' | 'updated_at'
>;

interface Composer {
  teamId: string;
  timezone: string;
  accounts: Account[];
  following?: RealtimeChannel;
}

let composer: Composer | undefined;

/** Wires the composer; `onScheduled` runs after a post was scheduled. */
export function setUpCompose(onScheduled: () => void): void {
  byId('post-body').addEventListener('input', showRules);
  byId('post-accounts').addEventListener('change', showRules);
  onSubmit('post-form', async () => {
    if (await schedule()) onScheduled();
  });
}

/** Shows the composer for a team, its active accounts and the user's time zone. */
export function openComposer(teamId: string, timezone: string, accounts: Account[]): void {
  composer = { ...composer, teamId, timezone, accounts: accounts.filter((account) => account.status === 'active') };
  byId('post-accounts').replaceChildren(
    ...composer.accounts.map((account) =>
      element(
        'label',
        {},
        element('input', { type: 'checkbox', name: 'account', value: account.id!, 'data-platform': account.platform! }),
        `${account.platform}: ${account.display_name ?? account.handle}`,
      ),
    ),
  );
  byId<HTMLInputElement>('post-time').value = wallTimeNow(timezone);
  byId('post-time-zone').textContent = `Times are in ${timezone} (your profile's time zone).`;
  showRules();
}

/** Now as a wall time in `timezone`, as the datetime-local field shows it. */
function wallTimeNow(timezone: string): string {
  return new Date().toLocaleString('sv-SE', { timeZone: timezone }).replace(' ', 'T');
}

function checkedAccounts(): HTMLInputElement[] {
  return [...document.querySelectorAll<HTMLInputElement>('#post-accounts input:checked')];
}

/** The connections chosen under "Post to". */
export function chosenConnections(): string[] {
  return checkedAccounts().map((box) => box.value);
}

function showRules(): void {
  const length = [...byId<HTMLTextAreaElement>('post-body').value].length;
  const limits = checkedAccounts().map((box) => `${box.dataset.platform} ${MAX_CHARS[box.dataset.platform!]}`);
  byId('post-body-rules').textContent = `${length} characters${limits.length ? ` (at most: ${limits.join(', ')})` : ''}`;
}

const ERROR_PLACES = ['post-body-error', 'post-accounts-error', 'post-time-error', 'post-error'];

/** Where an error naming `field` is shown: beside the field it names. A destination's own text
 * and media (`destinations[1].body`, `destinations[0].media[2]`) are the composer's one text
 * and media, written once for every account. */
function errorPlace(field: string | undefined): string {
  const own = field?.replace(/^destinations\[\d+\]\./, '');
  if (own === 'body' || own?.startsWith('media')) return 'post-body-error';
  if (field?.startsWith('destinations')) return 'post-accounts-error';
  if (field === 'localTime' || field === 'scheduledAt' || field === 'timezone') return 'post-time-error';
  return 'post-error';
}

/** Every problem of a refusal beside the field it names (one line each), else the error. */
function showErrors(error: unknown): void {
  const problems = error instanceof WorkerError ? error.problems : [];
  if (!problems.length) {
    byId(errorPlace(error instanceof WorkerError ? error.field : undefined)).textContent = explain(error);
    return;
  }
  for (const problem of problems) {
    const place = byId(errorPlace(problem.path));
    place.textContent = [place.textContent, problem.message].filter(Boolean).join('\n');
  }
}

/** Whether the post was scheduled (else its errors are shown). */
async function schedule(): Promise<boolean> {
  if (!composer) return false;
  ERROR_PLACES.forEach((id) => (byId(id).textContent = ''));
  const connections = chosenConnections();
  if (!connections.length) {
    byId('post-accounts-error').textContent = 'Choose at least one account.';
    return false;
  }
  const { teamId, timezone } = composer;
  const body = byId<HTMLTextAreaElement>('post-body').value;
  const { data: post, error } = await supabase.from('scheduled_posts').insert({ team_id: teamId, body, timezone }).select('id').single();
  if (error) throw new Error(error.message);
  try {
    await rows(supabase.from('post_destinations').insert(connections.map((connection_id) => ({ post_id: post.id, team_id: teamId, connection_id }))).select('id'));
    const localTime = byId<HTMLInputElement>('post-time').value;
    await call(`/v1/posts/${post.id}/schedule`, { method: 'POST', body: { localTime, timezone } });
  } catch (error) {
    // A refused post stays an editable draft on the server; this screen starts over instead.
    await supabase.from('scheduled_posts').delete().eq('id', post.id);
    showErrors(error);
    return false;
  }
  await followPost(post.id);
  return true;
}

/** Lists the post's destinations and keeps their statuses current as they publish: subscribed
 * first, then read, so no change falls between; the newer of a row's two versions is shown. */
export async function followPost(postId: string): Promise<void> {
  if (!composer) return;
  if (composer.following) await supabase.removeChannel(composer.following);
  const list = byId('post-status');
  list.replaceChildren();
  list.dataset.live = 'false';
  const shown = new Map<string, Destination>();
  const show = (destination: Destination) => {
    const known = shown.get(destination.id);
    if (known && known.updated_at > destination.updated_at) return;
    shown.set(destination.id, destination);
    list.replaceChildren(...[...shown.values()].map((each) => destinationItem(postId, each)));
  };
  composer.following = supabase
    .channel(`post-${postId}`)
    .on(
      'postgres_changes',
      { event: 'UPDATE', schema: 'public', table: 'post_destinations', filter: `post_id=eq.${postId}` },
      ({ new: destination }) => show(destination as Destination),
    );
  await new Promise<void>((resolve, reject) =>
    composer!.following!.subscribe((status, error) => {
      if (status === 'SUBSCRIBED') resolve();
      else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') reject(error ?? new Error(status));
    }),
  );
  const destinations = await rows(supabase.from('post_destinations').select(DESTINATION_COLUMNS).eq('post_id', postId));
  destinations.forEach(show);
  list.dataset.live = 'true';
}

function destinationItem(postId: string, destination: Destination): HTMLElement {
  const item = element(
    'li',
    { 'data-id': destination.id },
    element('span', {}, `${destination.platform}: ${destination.account_name ?? ''}`),
    element('span', { class: 'status', 'data-status': destination.status }, destination.status),
  );
  if (destination.error_message) item.append(element('span', { class: 'error' }, destination.error_message));
  if (destination.permalink) item.append(element('a', { href: destination.permalink, target: '_blank', rel: 'noopener' }, 'View'));
  if (destination.status === 'failed' || destination.status === 'unconfirmed') {
    const retry = element('button', { type: 'button', class: 'secondary' }, 'Retry');
    retry.addEventListener('click', () =>
      void call(`/v1/posts/${postId}/retry`, { method: 'POST', body: { includeUnconfirmed: true } }).catch((error) => {
        byId('post-error').textContent = explain(error);
      }),
    );
    item.append(retry);
  }
  return item;
}
