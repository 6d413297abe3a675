// Composing a post to several connected accounts: each platform's text limit, media and
// options shown while writing, the worker's rule errors shown beside the field they name, a
// local time the clocks skip or repeat resolved by the user, and each destination's publishing
// status followed live (Realtime, `post_destinations`).
import type { RealtimeChannel } from '@supabase/supabase-js';
import { byId, element, onSubmit } from './dom';
import { uploadMedia } from './media';
import { optionErrorPlace, optionGroups, optionsOf, PLATFORM_RULES, type ChosenAccount } from './platforms';
import type { Account } from './social';
import { rows, supabase, type Tables } from './supabase';
import { call, explain, WorkerError } from './worker';

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
  /** The connections of the post being scheduled, in the order the worker numbers its
   * destinations (`destinations[i]` in its errors). */
  numbered: string[];
}

let composer: Composer | undefined;
/** Runs after a post was scheduled. */
let scheduled = () => {};

/** Wires the composer; `onScheduled` runs after a post was scheduled. */
export function setUpCompose(onScheduled: () => void): void {
  scheduled = onScheduled;
  byId('post-body').addEventListener('input', showRules);
  byId('post-accounts').addEventListener('change', () => {
    showRules();
    showOptions();
  });
  onSubmit('post-form', schedule);
  byId('post-time-candidates').addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-at]');
    if (button) void scheduleAt(button.dataset.post!, { scheduledAt: button.dataset.at! });
  });
}

/** Shows the composer for a team, its active accounts and the user's time zone. */
export function openComposer(teamId: string, timezone: string, accounts: Account[]): void {
  composer = { ...composer, teamId, timezone, accounts: accounts.filter((account) => account.status === 'active'), numbered: [] };
  byId('post-accounts').replaceChildren(
    ...composer.accounts.map((account) =>
      element(
        'label',
        {},
        element('input', { type: 'checkbox', name: 'account', value: account.id!, 'data-platform': account.platform!, 'data-name': accountName(account) }),
        accountName(account),
      ),
    ),
  );
  byId<HTMLInputElement>('post-time').value = wallTimeNow(timezone);
  byId('post-time-zone').textContent = `Times are in ${timezone} (your profile's time zone).`;
  showRules();
  showOptions();
}

function accountName(account: Account): string {
  return `${account.platform}: ${account.display_name ?? account.handle}`;
}

/** Now as a wall time in `timezone`, as the datetime-local field shows it. */
function wallTimeNow(timezone: string): string {
  return new Date().toLocaleString('sv-SE', { timeZone: timezone }).replace(' ', 'T');
}

function checkedAccounts(): HTMLInputElement[] {
  return [...document.querySelectorAll<HTMLInputElement>('#post-accounts input:checked')];
}

/** The accounts chosen under "Post to". */
export function chosenAccounts(): ChosenAccount[] {
  return checkedAccounts().map((box) => ({ connectionId: box.value, platform: box.dataset.platform!, name: box.dataset.name! }));
}

/** The platforms of the accounts chosen under "Post to". */
export function chosenPlatforms(): string[] {
  return chosenAccounts().map((account) => account.platform);
}

/** The chosen accounts as a post's destinations, each with its options. */
export async function chosenDestinations(): Promise<{ connectionId: string; options: Record<string, string | boolean> }[]> {
  return Promise.all(chosenAccounts().map(async ({ connectionId, platform }) => ({ connectionId, options: await optionsOf(connectionId, platform) })));
}

/** The chosen platforms' text limits and media rules. */
function showRules(): void {
  const length = [...byId<HTMLTextAreaElement>('post-body').value].length;
  const platforms = [...new Set(chosenPlatforms())];
  const limits = platforms.map((platform) => `${platform} ${PLATFORM_RULES[platform].maxChars}`);
  byId('post-body-rules').textContent = `${length} characters${limits.length ? ` (at most: ${limits.join(', ')})` : ''}`;
  byId('post-media-rules').textContent = platforms.map((platform) => `${platform}: ${PLATFORM_RULES[platform].media}`).join('\n');
}

/** The options the chosen accounts' platforms need, beside the accounts. */
function showOptions(): void {
  byId('post-options').replaceChildren(...optionGroups(chosenAccounts()));
}

const ERROR_PLACES = ['post-body-error', 'post-media-error', 'post-accounts-error', 'post-time-error', 'post-error', 'post-time-candidates'];

function clearErrors(): void {
  ERROR_PLACES.forEach((id) => byId(id).replaceChildren());
  document.querySelectorAll('#post-options .error').forEach((place) => place.replaceChildren());
}

/** Where an error naming `field` is shown: beside the field it names. A destination's own text
 * and media (`destinations[1].body`, `destinations[0].media[2]`) are the composer's one text
 * and media, written once for every account; its options are asked beside its account. */
function errorPlace(field: string | undefined): HTMLElement {
  const option = field?.match(/^destinations\[(\d+)\]\.options\.(\w+)/);
  const connectionId = option && composer?.numbered[Number(option[1])];
  const optionPlace = connectionId ? optionErrorPlace(connectionId, option[2]) : null;
  if (optionPlace) return optionPlace;
  const own = field?.replace(/^destinations\[\d+\]\./, '');
  if (own === 'body') return byId('post-body-error');
  if (own?.startsWith('media')) return byId('post-media-error');
  if (field?.startsWith('destinations')) return byId('post-accounts-error');
  if (field === 'localTime' || field === 'scheduledAt' || field === 'timezone') return byId('post-time-error');
  return byId('post-error');
}

/** Every problem of a refusal beside the field it names (one line each), else the error. */
function showErrors(error: unknown): void {
  const problems = error instanceof WorkerError ? error.problems : [];
  if (!problems.length) {
    errorPlace(error instanceof WorkerError ? error.field : undefined).textContent = explain(error);
    return;
  }
  for (const problem of problems) {
    const place = errorPlace(problem.path);
    place.textContent = [place.textContent, problem.message].filter(Boolean).join('\n');
  }
}

/** Schedules the post written in the form, or shows why not. */
async function schedule(): Promise<void> {
  if (!composer) return;
  clearErrors();
  const chosen = await chosenDestinations();
  if (!chosen.length) {
    byId('post-accounts-error').textContent = 'Choose at least one account.';
    return;
  }
  const { teamId, timezone } = composer;
  const body = byId<HTMLTextAreaElement>('post-body').value;
  const files = [...(byId<HTMLInputElement>('post-media').files ?? [])];
  const media = await uploadMedia(teamId, files).catch((refusal: Error) => {
    byId('post-media-error').textContent = refusal.message;
  });
  if (!media) return;
  const { data: post, error } = await supabase.from('scheduled_posts').insert({ team_id: teamId, body, timezone, media }).select('id').single();
  if (error) throw new Error(error.message);
  try {
    const destinations = chosen.map(({ connectionId, options }) => ({ post_id: post.id, team_id: teamId, connection_id: connectionId, options }));
    await rows(supabase.from('post_destinations').insert(destinations).select('id'));
    // The worker numbers destinations as they were added, those added together by id.
    const numbered = await rows(supabase.from('post_destinations').select('connection_id').eq('post_id', post.id).order('created_at').order('id'));
    composer.numbered = numbered.map((destination) => destination.connection_id!);
  } catch (refusal) {
    await discard(post.id, refusal);
    return;
  }
  await scheduleAt(post.id, { localTime: byId<HTMLInputElement>('post-time').value, timezone });
}

/** Schedules a written post at a local time or at an instant. A local time the clocks skip or
 * repeat keeps the draft and offers the instants it could mean; any other refusal discards it. */
async function scheduleAt(postId: string, when: { localTime: string; timezone: string } | { scheduledAt: string }): Promise<void> {
  clearErrors();
  try {
    await call(`/v1/posts/${postId}/schedule`, { method: 'POST', body: when });
  } catch (refusal) {
    if (refusal instanceof WorkerError && refusal.candidates.length) offerCandidates(postId, refusal);
    else await discard(postId, refusal);
    return;
  }
  byId<HTMLInputElement>('post-media').value = ''; // its files belong to this post now
  await followPost(postId);
  scheduled();
}

/** A refused post stays an editable draft on the server; this screen starts over instead. */
async function discard(postId: string, refusal: unknown): Promise<void> {
  await supabase.from('scheduled_posts').delete().eq('id', postId);
  showErrors(refusal);
}

/** The instants a wall time could mean (RFC 3339 in the zone's offsets), one button each. */
function offerCandidates(postId: string, refusal: WorkerError): void {
  byId('post-time-error').textContent = explain(refusal);
  byId('post-time-candidates').replaceChildren(
    ...refusal.candidates.map((at) => {
      const label = `${at.slice(0, 10)} ${at.slice(11, 16)} (UTC${at.slice(19)})`;
      return element('button', { type: 'button', class: 'secondary', 'data-post': postId, 'data-at': at, 'aria-label': `Schedule at ${label}` }, label);
    }),
  );
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
