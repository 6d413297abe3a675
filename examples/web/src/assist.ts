// Captions and hashtags for the post being written (`POST /v1/ai/captions`, `/v1/ai/hashtags`),
// paid by the team (`x-team-id`), each suggestion with what the call cost.
import { newestRequest, settledCost } from './ai';
import { chosenPlatforms } from './compose';
import { byId, element } from './dom';
import { call, explain } from './worker';

type Kind = 'captions' | 'hashtags';

/** Wires the two suggestion buttons; `onSpent` runs after each call. */
export function setUpAssist(team: () => string | null, onSpent: () => void): void {
  for (const kind of ['captions', 'hashtags'] as const) {
    byId(`suggest-${kind}`).addEventListener('click', () => void suggest(kind, team()).finally(onSpent));
  }
  byId('suggestions').addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-text]');
    if (!button) return;
    const body = byId<HTMLTextAreaElement>('post-body');
    body.value = button.dataset.kind === 'captions' ? button.dataset.text! : `${body.value.trimEnd()} ${button.dataset.text}`;
    body.dispatchEvent(new Event('input')); // the length and limits shown follow the text
  });
}

async function suggest(kind: Kind, teamId: string | null): Promise<void> {
  const content = byId<HTMLTextAreaElement>('post-body').value.trim();
  const [list, cost, error] = [byId('suggestions'), byId('suggestions-cost'), byId('suggestions-error')];
  list.replaceChildren();
  cost.textContent = error.textContent = '';
  if (!content) {
    error.textContent = `Write a few words of the post first: the ${kind} are made from it.`;
    return;
  }
  const before = await newestRequest(kind);
  let answer: Record<Kind, string[]>;
  try {
    // The first chosen account's platform shapes the suggestions.
    const body = { content, platform: chosenPlatforms()[0] };
    answer = await call<Record<Kind, string[]>>(`/v1/ai/${kind}`, { method: 'POST', body, payingTeam: teamId ?? undefined });
  } catch (refusal) {
    error.textContent = explain(refusal);
    return;
  }
  list.replaceChildren(...answer[kind].map((text) => suggestion(kind, text)));
  const credits = await settledCost(kind, before);
  if (credits !== undefined) cost.textContent = `These ${kind} cost ${credits} credits.`;
}

function suggestion(kind: Kind, text: string): HTMLElement {
  const label = kind === 'captions' ? `Use caption: ${text}` : `Add ${text}`;
  return element(
    'li',
    {},
    element('span', {}, text),
    element('button', { type: 'button', class: 'secondary', 'data-kind': kind, 'data-text': text, 'aria-label': label }, kind === 'captions' ? 'Use' : 'Add'),
  );
}
