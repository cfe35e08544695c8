// A minimal Markdown renderer for model cards: headings, paragraphs, bullet and
// numbered lists, tables, fenced code, **bold**, *italic* and `code`. Builds DOM
// nodes (never innerHTML), so a card cannot inject markup; links become their text
// (the page makes no requests outside this machine).

const INLINE = /(\*\*[^*]+\*\*|`[^`]+`|\*[^*\s][^*]*\*|\[[^\]]+\]\([^)]*\))/g;

function inline(doc, text) {
  const frag = doc.createDocumentFragment();
  let last = 0;
  for (const m of text.matchAll(INLINE)) {
    if (m.index > last) frag.append(text.slice(last, m.index));
    const token = m[0];
    let node;
    if (token.startsWith('**')) {
      node = doc.createElement('strong');
      node.textContent = token.slice(2, -2);
    } else if (token.startsWith('`')) {
      node = doc.createElement('code');
      node.textContent = token.slice(1, -1);
    } else if (token.startsWith('[')) {
      node = doc.createTextNode(token.slice(1, token.indexOf(']')));
    } else {
      node = doc.createElement('em');
      node.textContent = token.slice(1, -1);
    }
    frag.append(node);
    last = m.index + token.length;
  }
  if (last < text.length) frag.append(text.slice(last));
  return frag;
}

const cells = (line) => line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());

// headingOffset: '# Title' becomes <h(1 + offset)>, capped at h6.
export function renderMarkdown(text, { doc = document, headingOffset = 2 } = {}) {
  const root = doc.createDocumentFragment();
  // HTML comments (the generated sections' markers) are not shown.
  const lines = String(text).replace(/\r\n?/g, '\n').replace(/<!--[\s\S]*?-->/g, '').split('\n');
  let i = 0;
  while (i < lines.length) {
    const line = lines[i];
    if (!line.trim()) {
      i++;
      continue;
    }
    let m;
    if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
      const h = doc.createElement(`h${Math.min(6, m[1].length + headingOffset)}`);
      h.append(inline(doc, m[2]));
      root.append(h);
      i++;
    } else if (line.startsWith('```')) {
      const pre = doc.createElement('pre');
      const body = [];
      i++;
      while (i < lines.length && !lines[i].startsWith('```')) body.push(lines[i++]);
      i++;
      pre.textContent = body.join('\n');
      root.append(pre);
    } else if (/^\s*\|/.test(line)) {
      const rows = [];
      while (i < lines.length && /^\s*\|/.test(lines[i])) rows.push(lines[i++]);
      const table = doc.createElement('table');
      const separator = rows.length > 1 && /^[\s|:-]+$/.test(rows[1]);
      const head = separator ? rows.shift() : null;
      if (separator) rows.shift();
      if (head) {
        const tr = table.createTHead().insertRow();
        for (const c of cells(head)) {
          const th = doc.createElement('th');
          th.append(inline(doc, c));
          tr.append(th);
        }
      }
      const tbody = table.createTBody();
      for (const row of rows) {
        const tr = tbody.insertRow();
        for (const c of cells(row)) tr.insertCell().append(inline(doc, c));
      }
      const wrap = doc.createElement('div');
      wrap.className = 'table-scroll';
      wrap.append(table);
      root.append(wrap);
    } else if ((m = /^\s*([-*+]|\d+[.)])\s+/.exec(line))) {
      const ordered = /\d/.test(m[1]);
      const list = doc.createElement(ordered ? 'ol' : 'ul');
      while (i < lines.length && (m = /^\s*([-*+]|\d+[.)])\s+(.*)$/.exec(lines[i]))) {
        const li = doc.createElement('li');
        let body = m[2];
        i++;
        // Continuation lines (indented, not a new item).
        while (i < lines.length && /^\s{2,}\S/.test(lines[i]) && !/^\s*([-*+]|\d+[.)])\s+/.test(lines[i])) {
          body += ` ${lines[i++].trim()}`;
        }
        li.append(inline(doc, body));
        list.append(li);
      }
      root.append(list);
    } else {
      const body = [];
      while (i < lines.length && lines[i].trim() && !/^(#{1,6}\s|```|\s*\||\s*([-*+]|\d+[.)])\s)/.test(lines[i])) {
        body.push(lines[i++].trim());
      }
      const p = doc.createElement('p');
      p.append(inline(doc, body.join(' ')));
      root.append(p);
    }
  }
  return root;
}
