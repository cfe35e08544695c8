// The app shell's navigation: links in <nav> point at <section data-panel="NAME">
// panels; the URL hash selects one (the first by default). Adding a panel means
// adding a link and a section, nothing here changes.

export class AppShell {
  constructor(doc = document) {
    this.doc = doc;
    this.links = [...doc.querySelectorAll('[data-nav]')];
    this.panels = [...doc.querySelectorAll('[data-panel]')];
    this.current = null;
    this.onChange = null; // (name, previous) => void, after a panel is shown
    this.onHashChange = () => this.show(this.panelFromHash(), { focus: true });
    globalThis.addEventListener('hashchange', this.onHashChange);
    this.show(this.panelFromHash(), { focus: false });
  }

  // "#name", or "#name/state" where a panel keeps its state in the address (Grains: a beat).
  panelFromHash() {
    const name = decodeURIComponent(globalThis.location.hash.slice(1).split('/')[0]);
    return this.panels.some((p) => p.dataset.panel === name) ? name : this.panels[0]?.dataset.panel;
  }

  show(name, { focus }) {
    for (const panel of this.panels) panel.hidden = panel.dataset.panel !== name;
    for (const link of this.links) {
      if (link.dataset.nav === name) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    const panel = this.panels.find((p) => p.dataset.panel === name);
    const previous = this.current;
    this.current = name;
    if (previous !== null && previous !== name) this.onChange?.(name, previous);
    if (panel) {
      const title = panel.querySelector('h1')?.textContent ?? name;
      this.doc.title = `Timbrel · ${title}`;
      if (focus) panel.querySelector('h1')?.focus?.();
    }
  }

  dispose() {
    globalThis.removeEventListener('hashchange', this.onHashChange);
  }
}
