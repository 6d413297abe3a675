// A month of the team's scheduled posts, on the days they go out in the user's time zone.
import { byId, element } from './dom';
import { rows, supabase } from './supabase';

interface Month {
  teamId: string;
  timezone: string;
  /** The first day of the month shown (its date parts only are used). */
  first: Date;
}

let month: Month | undefined;

export function setUpCalendar(): void {
  byId('calendar-previous').addEventListener('click', () => void turn(-1));
  byId('calendar-next').addEventListener('click', () => void turn(1));
}

/** Shows the current month for a team; `refresh` again after scheduling redraws it. */
export async function showCalendar(teamId: string, timezone: string): Promise<void> {
  const today = localDate(new Date(), timezone);
  month = { teamId, timezone, first: new Date(Date.UTC(+today.slice(0, 4), +today.slice(5, 7) - 1, 1)) };
  await refreshCalendar();
}

async function turn(months: number): Promise<void> {
  if (!month) return;
  month.first = new Date(Date.UTC(month.first.getUTCFullYear(), month.first.getUTCMonth() + months, 1));
  await refreshCalendar();
}

export async function refreshCalendar(): Promise<void> {
  if (!month) return;
  const { teamId, timezone, first } = month;
  const next = new Date(Date.UTC(first.getUTCFullYear(), first.getUTCMonth() + 1, 1));
  // A day either side: a post's day is its date in the user's zone, not in UTC.
  const dayMs = 86_400_000;
  const posts = await rows(
    supabase
      .from('scheduled_posts')
      .select('id, body, scheduled_at')
      .eq('team_id', teamId)
      .gte('scheduled_at', new Date(first.getTime() - dayMs).toISOString())
      .lt('scheduled_at', new Date(next.getTime() + dayMs).toISOString())
      .order('scheduled_at'),
  );
  const byDay = new Map<string, HTMLElement[]>();
  for (const post of posts) {
    const at = new Date(post.scheduled_at!);
    const day = localDate(at, timezone);
    const time = at.toLocaleTimeString([], { timeZone: timezone, hour: '2-digit', minute: '2-digit' });
    const entry = element('li', { title: post.body }, `${time} ${post.body.slice(0, 40)}`);
    byDay.set(day, [...(byDay.get(day) ?? []), entry]);
  }
  byId('calendar-month').textContent = first.toLocaleDateString([], { month: 'long', year: 'numeric', timeZone: 'UTC' });
  byId('calendar-grid').querySelector('tbody')!.replaceChildren(...weeks(first, byDay));
}

/** The weeks (Monday first) covering the month, each day with its posts. */
function weeks(first: Date, byDay: Map<string, HTMLElement[]>): HTMLElement[] {
  const start = new Date(first.getTime() - ((first.getUTCDay() + 6) % 7) * 86_400_000);
  const rowsOfWeeks: HTMLElement[] = [];
  for (let day = new Date(start); day.getUTCMonth() === first.getUTCMonth() || day < first; ) {
    const week = element('tr');
    for (let weekday = 0; weekday < 7; weekday++) {
      const date = day.toISOString().slice(0, 10);
      const inMonth = day.getUTCMonth() === first.getUTCMonth();
      week.append(
        element(
          'td',
          { 'data-date': date, class: inMonth ? '' : 'outside' },
          element('span', { class: 'day' }, String(day.getUTCDate())),
          element('ul', {}, ...(byDay.get(date) ?? [])),
        ),
      );
      day = new Date(day.getTime() + 86_400_000);
    }
    rowsOfWeeks.push(week);
  }
  return rowsOfWeeks;
}

/** A moment's date (YYYY-MM-DD) in `timezone`. */
function localDate(at: Date, timezone: string): string {
  return at.toLocaleDateString('en-CA', { timeZone: timezone });
}
