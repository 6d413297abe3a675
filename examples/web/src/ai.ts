// Text generation through the worker's AI proxy, shown as it streams in (Server-Sent Events).
import { byId, onSubmit } from './dom';
import { rows, supabase } from './supabase';
import { explain, request, WorkerError } from './worker';

interface ServerSentEvent {
  name: string;
  data: string;
}

/** Wires the prompt form; the team pays (`x-team-id`), and `onSpent` runs after each call. */
export function setUpAi(team: () => string | null, onSpent: () => void): void {
  const output = byId('ai-output');
  const button = byId<HTMLButtonElement>('ai-generate');
  onSubmit('ai-form', async () => {
    const prompt = byId<HTMLTextAreaElement>('ai-prompt').value;
    output.textContent = byId('ai-usage').textContent = byId('ai-error').textContent = '';
    output.setAttribute('aria-busy', 'true');
    button.disabled = true;
    const before = await newestRequest('stream-text');
    let answered = false;
    try {
      await streamInto(output, prompt, team());
      answered = true;
    } catch (error) {
      byId('ai-error').textContent = explain(error);
    } finally {
      output.setAttribute('aria-busy', 'false');
      button.disabled = false;
    }
    if (answered) {
      const credits = await settledCost('stream-text', before);
      if (credits !== undefined) byId('ai-usage').append(` This answer cost ${credits} credits.`);
    }
    onSpent();
  });
}

/** Appends the generated text to `output` as it arrives; the token counts at the end. */
async function streamInto(output: HTMLElement, prompt: string, teamId: string | null): Promise<void> {
  const response = await request('/v1/ai/stream-text', { method: 'POST', body: { prompt }, payingTeam: teamId ?? undefined });
  for await (const event of serverSentEvents(response)) {
    const data = JSON.parse(event.data);
    if (event.name === 'error') throw new WorkerError(200, data.error.code, data.error.message);
    if (event.name === 'usage') {
      byId('ai-usage').textContent = `${data.inputTokens} tokens in, ${data.outputTokens} tokens out.`;
    } else {
      output.append(data.text);
    }
  }
}

type Request = { id: string; credits: number | null; settled_at: string | null };

/** The caller's newest AI request to `endpoint` (its log row), if any. */
export async function newestRequest(endpoint: string): Promise<Request | undefined> {
  const [newest] = await rows(
    supabase.from('ai_requests').select('id, credits, settled_at').eq('endpoint', endpoint).order('created_at', { ascending: false }).limit(1),
  );
  return newest;
}

/** What the call to `endpoint` made after `before` cost, in credits. The worker settles it after
 * the answer ends, so the log row is read a few times until it is settled. */
export async function settledCost(endpoint: string, before: Request | undefined): Promise<number | undefined> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const newest = await newestRequest(endpoint);
    if (newest && newest.id !== before?.id && newest.settled_at) return newest.credits ?? 0;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return undefined;
}

/** The events of a `text/event-stream` body as they arrive. */
async function* serverSentEvents(response: Response): AsyncGenerator<ServerSentEvent> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value.replaceAll('\r\n', '\n');
    let end;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      const event = { name: 'message', data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith('event:')) event.name = line.slice(6).trim();
        else if (line.startsWith('data:')) event.data += line.slice(5).trimStart();
      }
      if (event.data) yield event;
    }
  }
}
