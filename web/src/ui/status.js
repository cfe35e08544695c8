// The visible status area (role="status", aria-live): friendly messages keyed by topic,
// each with an optional action button (e.g. "Resume audio"). An area shows one
// error at a time: a new one replaces the last (old errors would pile up and
// describe things the visitor has moved on from), except sticky ones (what
// the browser cannot do, an engine that failed), which stay until cleared.

export class StatusArea {
  constructor(element) {
    this.element = element;
    this.messages = new Map(); // key -> {kind, title, text, action}
  }

  // kind: 'info' | 'warning' | 'error' | 'success'
  set(key, { kind = 'info', title = '', text = '', action = null, sticky = false }) {
    const old = this.messages.get(key);
    let replaced = false;
    if (kind === 'error') {
      for (const [other, m] of this.messages) {
        if (other !== key && m.kind === 'error' && !m.sticky) replaced = this.messages.delete(other);
      }
    }
    this.messages.set(key, { kind, title, text, action, sticky });
    const same = !replaced && old && old.kind === kind && old.title === title && old.text === text &&
      old.action?.id === action?.id && old.action?.label === action?.label;
    if (!same) {
      this.render();
      return;
    }
    // The same message again keeps its element, and a button someone is about to press.
    const button = this.element.querySelector(`[data-key="${CSS.escape(key)}"] button`);
    if (button && action) button.onclick = action.onClick;
  }

  clear(key) {
    if (this.messages.delete(key)) this.render();
  }

  has(key) {
    return this.messages.has(key);
  }

  render() {
    const children = [];
    for (const [key, m] of this.messages) {
      const box = document.createElement('div');
      box.className = `message message-${m.kind}`;
      box.dataset.key = key;
      box.dataset.kind = m.kind;
      const icon = document.createElement('span');
      icon.className = 'message-icon';
      icon.setAttribute('aria-hidden', 'true');
      icon.textContent = { error: '!', warning: '!', success: '✓', info: 'i' }[m.kind] ?? 'i';
      const body = document.createElement('div');
      body.className = 'message-body';
      if (m.title) {
        const title = document.createElement('strong');
        title.className = 'message-title';
        title.textContent = m.title;
        body.append(title, ' ');
      }
      const text = document.createElement('span');
      text.textContent = m.text;
      body.append(text);
      box.append(icon, body);
      if (m.action) {
        const button = document.createElement('button');
        button.type = 'button';
        button.className = 'button button-small';
        button.textContent = m.action.label;
        if (m.action.id) button.id = m.action.id;
        button.onclick = m.action.onClick;
        box.append(button);
      }
      children.push(box);
    }
    this.element.replaceChildren(...children);
    this.element.hidden = children.length === 0;
  }

  dispose() {
    this.messages.clear();
    this.element.replaceChildren();
  }
}
