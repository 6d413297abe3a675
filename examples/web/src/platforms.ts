// What each platform takes in a post, shown while writing: its text limit, its media, and the
// options it needs asked beside its account. The worker checks the same before scheduling (each
// platform's `RULES` in functions/src/platforms/<platform>/mod.rs) and its refusal, shown beside
// the field it names, stays the word.
import { element } from './dom';
import { call, explain } from './worker';

interface PlatformRules {
  maxChars: number;
  media: string;
}

export const PLATFORM_RULES: Record<string, PlatformRules> = {
  x: { maxChars: 280, media: 'up to 4 images (JPEG, PNG, GIF, WebP; 5 MB each) or 1 video (MP4, MOV; 512 MB)' },
  linkedin: { maxChars: 3000, media: 'at most 1 image (JPEG, PNG, GIF; 36 MB)' },
  facebook: { maxChars: 63206, media: 'at most 1 image (JPEG, PNG, GIF, WebP; 10 MB)' },
  instagram: { maxChars: 2200, media: '1 image, required (JPEG; 8 MB)' },
  tiktok: { maxChars: 2200, media: '1 video, required (MP4, MOV, WebM)' },
  pinterest: { maxChars: 500, media: '1 image, required (JPEG, PNG; 20 MB)' },
  youtube: { maxChars: 5000, media: '1 video, required (MP4, MOV)' },
};

/** An option a destination carries (`post_destinations.options`), asked as a text field or a
 * choice: among fixed `choices`, or among those the platform gives the account now
 * (`choicesOf`). */
interface OptionField {
  name: string;
  label: string;
  choices?: Choice[];
  choicesOf?: (connectionId: string) => Promise<Choice[]>;
}

interface Choice {
  value: string;
  label: string;
}

const OPTION_FIELDS: Record<string, OptionField[]> = {
  youtube: [
    { name: 'title', label: 'Video title' },
    { name: 'privacyStatus', label: 'Who can watch', choices: ['public', 'unlisted', 'private'].map((value) => ({ value, label: value })) },
  ],
  pinterest: [{ name: 'boardId', label: 'Board id' }],
  tiktok: [{ name: 'privacyLevel', label: 'Who can watch', choicesOf: async (connectionId) => (await creatorOf(connectionId)).privacyLevelOptions.map(privacyChoice) }],
};

/** What TikTok lets a creator post now (`GET /v1/connections/{id}/creator-info`). */
interface Creator {
  privacyLevelOptions: string[];
  commentDisabled: boolean;
  duetDisabled: boolean;
  stitchDisabled: boolean;
}

/** Read once per account while the page is open. */
const creators = new Map<string, Promise<Creator>>();

function creatorOf(connectionId: string): Promise<Creator> {
  if (!creators.has(connectionId)) {
    const reading = call<Creator>(`/v1/connections/${connectionId}/creator-info`);
    reading.catch(() => creators.delete(connectionId)); // asked again next time
    creators.set(connectionId, reading);
  }
  return creators.get(connectionId)!;
}

const PRIVACY_LEVELS: Record<string, string> = {
  PUBLIC_TO_EVERYONE: 'Everyone',
  MUTUAL_FOLLOW_FRIENDS: 'Friends',
  FOLLOWER_OF_CREATOR: 'Followers',
  SELF_ONLY: 'Only me',
};

function privacyChoice(value: string): Choice {
  return { value, label: PRIVACY_LEVELS[value] ?? value };
}

export interface ChosenAccount {
  connectionId: string;
  platform: string;
  name: string;
}

/** The options of the chosen accounts whose platform needs some, one group per account;
 * what was entered for an account still chosen is kept. */
export function optionGroups(accounts: ChosenAccount[]): HTMLElement[] {
  return accounts
    .filter((account) => OPTION_FIELDS[account.platform])
    .map((account) =>
      element(
        'fieldset',
        { 'data-connection': account.connectionId },
        element('legend', {}, `${account.name} options`),
        ...OPTION_FIELDS[account.platform].map((field) => optionField(account.connectionId, field)),
      ),
    );
}

function optionField(connectionId: string, field: OptionField): HTMLElement {
  const id = optionId(connectionId, field.name);
  const previous = (document.getElementById(id) as HTMLInputElement | HTMLSelectElement | null)?.value ?? '';
  const attributes = { id, 'data-option': field.name, 'aria-describedby': `${id}-error` };
  const error = element('p', { id: `${id}-error`, class: 'error', role: 'alert' });
  let control: HTMLInputElement | HTMLSelectElement;
  if (field.choices || field.choicesOf) {
    const select = (control = element('select', attributes, new Option('Choose…', '')) as HTMLSelectElement);
    const fill = (choices: Choice[]) => {
      select.append(...choices.map((choice) => new Option(choice.label, choice.value)));
      select.value = previous;
    };
    if (field.choices) fill(field.choices);
    else void field.choicesOf!(connectionId).then(fill, (refusal) => (error.textContent = explain(refusal)));
  } else {
    control = element('input', { ...attributes, maxlength: '200' }) as HTMLInputElement;
    control.value = previous;
  }
  return element('div', {}, element('label', {}, field.label, control), error);
}

function optionId(connectionId: string, name: string): string {
  return `option-${connectionId}-${name}`;
}

/** What was entered for an account's options; left out when empty, so a required one is
 * refused by its name. A TikTok creator's turned-off interactions stay off. */
export async function optionsOf(connectionId: string, platform: string): Promise<Record<string, string | boolean>> {
  const controls = document.querySelectorAll<HTMLInputElement | HTMLSelectElement>(`fieldset[data-connection="${connectionId}"] [data-option]`);
  const entered = Object.fromEntries([...controls].filter((control) => control.value).map((control) => [control.dataset.option!, control.value]));
  if (platform !== 'tiktok') return entered;
  const creator = await creatorOf(connectionId);
  const turnedOff = { disableComment: creator.commentDisabled, disableDuet: creator.duetDisabled, disableStitch: creator.stitchDisabled };
  return { ...entered, ...Object.fromEntries(Object.entries(turnedOff).filter(([, off]) => off)) };
}

/** Where an error about an account's option is shown, if the composer asks for that option. */
export function optionErrorPlace(connectionId: string, name: string): HTMLElement | null {
  return document.getElementById(`${optionId(connectionId, name)}-error`);
}
