// The few DOM helpers the screens share.

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} is missing from index.html`);
  return element as T;
}

/** An element with text and attributes; children are appended as given. */
export function element(
  tag: string,
  attributes: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElement {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  node.append(...children);
  return node;
}

export function notify(message: string): void {
  byId('notice').textContent = message;
}

/** Runs a form's handler on submit, showing a failure in the page's notice. */
export function onSubmit(formId: string, handler: (form: HTMLFormElement) => Promise<void>): void {
  const form = byId<HTMLFormElement>(formId);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    handler(form).catch((error: unknown) => notify(error instanceof Error ? error.message : String(error)));
  });
}

export function fillSelect(select: HTMLSelectElement, options: { value: string; label: string }[], selected?: string): void {
  select.replaceChildren(...options.map(({ value, label }) => new Option(label, value, false, value === selected)));
}
