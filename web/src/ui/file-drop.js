// One way to take a file on a panel: a button that opens the hidden file
// input, and a card that accepts a dropped file (marking `indicator` while a
// file is dragged over it). `on(element, type, handler)` registers listeners
// so the panel can remove them in its dispose().
export function acceptFiles({ on, button, input, card, indicator, onFile }) {
  on(button, 'click', () => input.click());
  on(input, 'change', () => {
    const file = input.files?.[0];
    input.value = '';
    if (file) onFile(file);
  });
  on(card, 'dragover', (event) => {
    if (![...(event.dataTransfer?.types ?? [])].includes('Files')) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = 'copy';
    indicator.dataset.over = 'true';
  });
  on(card, 'dragleave', () => delete indicator.dataset.over);
  on(card, 'drop', (event) => {
    event.preventDefault();
    delete indicator.dataset.over;
    const file = event.dataTransfer?.files?.[0];
    if (file) onFile(file);
  });
}
