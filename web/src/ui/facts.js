// Term/value facts in a <dl> (a model's, a score's, a clip's): one
// <div><dt>term</dt><dd>value</dd></div> per fact; facts without a value are left out.

export function factRow(doc, term, value) {
  const div = doc.createElement('div');
  const dt = doc.createElement('dt');
  dt.textContent = term;
  const dd = doc.createElement('dd');
  dd.textContent = value;
  div.append(dt, dd);
  return div;
}

// Fills (and shows) a <dl> with [[term, value], ...].
export function showFacts(list, facts) {
  const rows = facts.filter(([, value]) => value !== '' && value != null).map(([term, value]) => factRow(list.ownerDocument, term, String(value)));
  list.replaceChildren(...rows);
  list.hidden = rows.length === 0;
}
