// The demo page: pick a model and version, send a photo or a row, show the answer and why.
// Plain ES module, same origin only (the service's Content-Security-Policy allows nothing else).
const $ = (id) => document.getElementById(id);
const KEY_STORAGE = 'ml-inference-api-key';

const state = { models: [], model: null, version: null, detail: null };

function headers(extra = {}) {
  const key = sessionStorage.getItem(KEY_STORAGE);
  return key ? { ...extra, authorization: `Bearer ${key}` } : extra;
}

/** An error replaces the previous answer: what stays on screen is never an answer to other input. */
function showError(message) {
  const box = $('error');
  box.textContent = message;
  box.hidden = !message;
  if (message) for (const id of ['result', 'preview', 'heatmap']) $(id).hidden = true;
}

/** `v` with `digits` decimals, never "-0.000" for a value that rounds to zero. */
function fixed(v, digits = 3) {
  const text = v.toFixed(digits);
  return Number(text) === 0 ? (0).toFixed(digits) : text;
}

/** JSON from the API, or an Error with the problem's detail. */
async function api(path, init = {}) {
  const res = await fetch(path, { ...init, headers: headers(init.headers) });
  if (!res.ok) {
    let detail = `${res.status} ${res.statusText}`;
    try {
      const body = await res.json();
      detail = body.detail ?? body.error ?? detail;
    } catch {
      // not JSON: keep the status line
    }
    throw new Error(detail);
  }
  return res;
}

function base() {
  return `/v1/models/${encodeURIComponent(state.model)}/versions/${encodeURIComponent(state.version)}`;
}

function bar(label, value, { max = 1, top = false, signed = false, text } = {}) {
  const row = document.createElement('div');
  row.className = 'bar';
  row.setAttribute('role', 'listitem');
  const name = document.createElement('span');
  name.textContent = label;
  const track = document.createElement('span');
  track.className = 'track';
  const fill = document.createElement('span');
  const share = max > 0 ? Math.min(1, Math.abs(value) / max) : 0;
  if (signed) {
    fill.className = `fill ${value >= 0 ? 'pos centred' : 'neg'}`;
    fill.style.width = `${share * 50}%`;
  } else {
    fill.className = `fill${top ? ' top' : ''}`;
    fill.style.width = `${share * 100}%`;
  }
  track.append(fill);
  const number = document.createElement('span');
  number.className = 'value';
  number.textContent = text ?? fixed(value);
  row.append(name, track, number);
  row.setAttribute('aria-label', `${label}: ${number.textContent}`);
  return row;
}

function showResult({ answer, meta, probabilities, labels }) {
  $('result').hidden = false;
  $('answer').textContent = answer;
  $('meta').textContent = meta;
  const bars = $('bars');
  bars.replaceChildren();
  if (probabilities) {
    const order = probabilities.map((p, i) => [p, i]).sort((a, b) => b[0] - a[0]).slice(0, 5);
    order.forEach(([p, i], k) => bars.append(bar(labels[i], p, { top: k === 0, text: `${(p * 100).toFixed(1)} %` })));
  }
  for (const id of ['shapley', 'shapley-heading', 'shapley-note', 'highlight', 'highlight-heading', 'highlight-note']) $(id).hidden = true;
}

function showShapley(explanation) {
  $('shapley-heading').textContent = 'Why: Shapley values against the training mean';
  $('shapley').classList.remove('toward-red');
  const entries = Object.entries(explanation.attributions).sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const max = Math.max(...entries.map(([, v]) => Math.abs(v)), 1e-12);
  const chart = $('shapley');
  chart.replaceChildren(...entries.map(([name, v]) => bar(name, v, { max, signed: true, text: fixed(v) })));
  $('shapley-note').textContent = `${explanation.output}: ${fixed(explanation.value)} here, ${fixed(explanation.baseline_value)} at the training mean; the values add up to the difference.`;
  for (const id of ['shapley', 'shapley-heading', 'shapley-note']) $(id).hidden = false;
}

/**
 * The text the spans index, with each token that has an attribution marked: red toward the
 * explained class, green toward the other; the stronger, the deeper. Built from text nodes,
 * never as HTML (the text is the user's).
 */
function showHighlight(explanation, submitted, labels) {
  const text = explanation.spans === 'submitted' ? submitted : explanation.text;
  const max = Math.max(...explanation.tokens.map((t) => Math.abs(t.attribution)), 1e-12);
  const box = $('highlight');
  const parts = [];
  let at = 0;
  for (const t of explanation.tokens) {
    if (t.start > at) parts.push(document.createTextNode(text.slice(at, t.start)));
    const mark = document.createElement('mark');
    mark.textContent = text.slice(t.start, t.end);
    const strength = Math.min(1, Math.abs(t.attribution) / max);
    const alpha = (0.12 + 0.7 * Math.sqrt(strength)).toFixed(2);
    mark.style.background = t.attribution > 0 ? `rgb(217 48 37 / ${alpha})` : `rgb(30 142 62 / ${alpha})`;
    mark.className = t.attribution > 0 ? 'pos' : 'neg';
    mark.title = `${fixed(t.attribution, 4)} toward ${explanation.target}`;
    parts.push(mark);
    at = t.end;
  }
  if (at < text.length) parts.push(document.createTextNode(text.slice(at)));
  box.replaceChildren(...parts);
  const other = labels.length === 2 ? labels.find((l) => l !== explanation.target) : `other classes`;
  const note = $('highlight-note');
  const pos = document.createElement('span');
  pos.className = 'legend-pos';
  pos.textContent = `red: toward ${explanation.target}`;
  const neg = document.createElement('span');
  neg.className = 'legend-neg';
  neg.textContent = `green: toward ${other}`;
  const source = explanation.form === 'email' ? 'the text read from the e-mail (header lines, then the body)' : explanation.form === 'html' ? 'the text of the HTML' : 'the text as sent';
  note.replaceChildren(pos, document.createTextNode(' · '), neg, document.createTextNode(` · ${explanation.output}: ${fixed(explanation.value)}, ${fixed(explanation.baseline_value)} for an empty text · shown over ${source}`));
  for (const id of ['highlight', 'highlight-heading', 'highlight-note']) $(id).hidden = false;
  const top = explanation.top_features.slice(0, 10);
  const scale = Math.max(...top.map((f) => Math.abs(f.attribution)), 1e-12);
  $('shapley').replaceChildren(...top.map((f) => bar(`${f.term}${f.count > 1 ? ` ×${f.count}` : ''}`, f.attribution, { max: scale, signed: true, text: fixed(f.attribution) })));
  $('shapley-heading').textContent = `The features that weighed most (red: toward ${explanation.target}, green: against)`;
  $('shapley').classList.add('toward-red');
  for (const id of ['shapley', 'shapley-heading']) $(id).hidden = false;
}

async function classifyText(event) {
  event.preventDefault();
  showError('');
  const text = $('text').value;
  if (text.trim() === '') {
    showError('Paste an e-mail or a text first.');
    $('text').focus();
    return;
  }
  const labels = state.detail.metadata.labels;
  const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text }) };
  try {
    const started = performance.now();
    const body = await (await api(`${base()}/predict?top_k=5`, init)).json();
    showResult({
      answer: `${body.class_label} (${(body.confidence * 100).toFixed(1)} %)`,
      meta: `model ${body.model.name}, version ${body.model.version} · ${body.latency_ms} ms on the server, ${(performance.now() - started).toFixed(0)} ms here${body.warnings ? ` · ${body.warnings.join('; ')}` : ''}`,
      probabilities: body.probabilities,
      labels,
    });
    // Two classes: always explain the second (spam), so red means the same whatever the answer.
    const target = labels.length === 2 ? labels[1] : body.class_label;
    const explanation = await (await api(`${base()}/explain?target=${encodeURIComponent(target)}`, init)).json();
    showHighlight(explanation, text, labels);
  } catch (err) {
    showError(err.message);
  }
}

function textExamples(metadata) {
  const box = $('text-examples');
  box.replaceChildren(
    ...(metadata.examples ?? []).map((example) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = example.title;
      b.addEventListener('click', () => {
        $('text').value = example.text;
      });
      return b;
    }),
  );
  if (!$('text').value && metadata.examples?.length) $('text').value = metadata.examples[0].text;
}

function dataUrl(blob) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

async function classifyImage(file) {
  showError('');
  if (!file || !file.type.startsWith('image/')) {
    showError('That is not an image file.');
    return;
  }
  const preview = $('preview');
  preview.src = await dataUrl(file);
  preview.hidden = false;
  $('heatmap').hidden = true;
  const init = { method: 'POST', headers: { 'content-type': file.type }, body: file };
  try {
    const started = performance.now();
    const res = await api(`${base()}/predict?top_k=5`, init);
    const body = await res.json();
    showResult({
      answer: `${body.class_label} (${(body.confidence * 100).toFixed(1)} %)`,
      meta: `model ${body.model.name}, version ${body.model.version} · ${body.latency_ms} ms on the server, ${(performance.now() - started).toFixed(0)} ms here`,
      probabilities: body.probabilities,
      labels: state.detail.metadata.labels,
    });
    const heat = await api(`${base()}/explain?format=png`, init);
    const heatmap = $('heatmap');
    heatmap.src = await dataUrl(await heat.blob());
    heatmap.hidden = false;
    heatmap.dataset.target = heat.headers.get('x-explained-target') ?? '';
  } catch (err) {
    showError(err.message);
  }
}

function featureFields(features) {
  const fields = $('fields');
  fields.replaceChildren();
  for (const f of features) {
    const row = document.createElement('div');
    row.className = 'row';
    const label = document.createElement('label');
    label.htmlFor = `f-${f.name}`;
    label.textContent = `${f.description ?? f.name}${f.unit ? ` (${f.unit})` : ''}`;
    const input = document.createElement('input');
    input.id = `f-${f.name}`;
    input.name = f.name;
    input.type = 'number';
    input.step = 'any';
    input.required = true;
    if (f.min !== undefined) input.min = String(f.min);
    if (f.max !== undefined) input.max = String(f.max);
    const hint = document.createElement('span');
    hint.className = 'muted';
    hint.id = `h-${f.name}`;
    hint.textContent = f.min !== undefined && f.max !== undefined ? `trained on ${f.min} – ${f.max}` : '';
    input.setAttribute('aria-describedby', hint.id);
    row.append(label, input, hint);
    fields.append(row);
  }
}

function fill(values) {
  for (const [name, v] of Object.entries(values)) {
    const input = $(`f-${name}`);
    if (input) input.value = String(Math.round(v * 1000) / 1000);
  }
}

function examples(metadata) {
  const box = $('examples');
  box.replaceChildren();
  const rows = [
    ['Training mean', metadata.baseline],
    ['Low values', Object.fromEntries(metadata.features.map((f) => [f.name, f.min ?? 0]))],
    ['High values', Object.fromEntries(metadata.features.map((f) => [f.name, f.max ?? 1]))],
  ];
  for (const [name, values] of rows) {
    if (!values) continue;
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = name;
    b.addEventListener('click', () => fill(values));
    box.append(b);
  }
  if (metadata.baseline) fill(metadata.baseline);
}

async function predictRow(event) {
  event.preventDefault();
  showError('');
  const features = {};
  for (const f of state.detail.metadata.features) {
    const value = $(`f-${f.name}`).value;
    if (value === '') {
      showError(`Fill in ${f.name}.`);
      $(`f-${f.name}`).focus();
      return;
    }
    features[f.name] = Number(value);
  }
  const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ features }) };
  try {
    const body = await (await api(`${base()}/predict?top_k=5`, init)).json();
    const classifier = 'class_label' in body;
    showResult({
      answer: classifier ? `${body.class_label} (${(body.confidence * 100).toFixed(1)} %)` : fixed(body.prediction),
      meta: `model ${body.model.name}, version ${body.model.version} · ${body.latency_ms} ms${body.warnings ? ` · ${body.warnings.join('; ')}` : ''}`,
      probabilities: classifier ? body.probabilities : null,
      labels: state.detail.metadata.labels,
    });
    showShapley(await (await api(`${base()}/explain`, init)).json());
  } catch (err) {
    showError(err.message);
  }
}

const FIGURE_NAMES = {
  confusion: 'Confusion matrix: true labels in rows, answers in columns',
  reliability: 'Reliability diagram: how often answers of each confidence were right, before and after calibration',
  errors: 'Held-out errors of the prediction, with the interval that holds 90 % of them',
};

/** The version's evaluation on held-out data: its headline figures and the same pictures as its model card. */
function showQuality(evaluation) {
  const section = $('quality');
  section.hidden = !evaluation;
  $('quality-figures').replaceChildren();
  if (!evaluation) return;
  const s = evaluation.summary;
  const pct = (v) => `${(v * 100).toFixed(1)} %`;
  const interval = (i) => `${pct(i.value)} (95 % interval ${pct(i.low)} to ${pct(i.high)})`;
  $('quality-summary').textContent =
    s.task === 'classification'
      ? `Accuracy ${interval(s.accuracy)} on ${s.items} held-out inputs. Calibration error ${pct(s.calibration.ece_before)} before, ${pct(s.calibration.ece_after)} as served (temperature ${s.calibration.temperature}): a confidence of 90 % is right about 90 % of the time.`
      : `Mean absolute error ${s.mean_absolute_error.value} (95 % interval ${s.mean_absolute_error.low} to ${s.mean_absolute_error.high}) on ${s.items} held-out rows; 90 % of errors between ${s.error_interval.low} and ${s.error_interval.high}.${s.rounded_accuracy ? ` Rounded, exact for ${interval(s.rounded_accuracy)}.` : ''}`;
  $('quality-card').textContent = `${s.data}.${evaluation.card ? ` Model card: ${evaluation.card}.` : ''}`;
  // The figures are metadata, served without a key, as the version detail is.
  const figures = Object.entries(evaluation.figures).map(([name, url]) => {
    const img = document.createElement('img');
    img.alt = FIGURE_NAMES[name] ?? name;
    img.dataset.figure = name;
    img.src = url;
    return img;
  });
  $('quality-figures').replaceChildren(...figures);
}

async function selectVersion() {
  state.version = $('version').value;
  showError('');
  $('result').hidden = true;
  try {
    const res = await api(`/v1/models/${encodeURIComponent(state.model)}/versions/${encodeURIComponent(state.version)}`);
    state.detail = await res.json();
  } catch (err) {
    showError(err.message);
    return;
  }
  const m = state.detail.metadata;
  const image = m.kind === 'image-classifier';
  const text = m.kind === 'text-classifier';
  $('image-input').hidden = !image;
  $('text-input').hidden = !text;
  $('tabular-input').hidden = image || text;
  $('model-info').textContent = `${m.kind}${m.description ? ` · ${m.description}` : ''}${m.accuracy ? ` · validation accuracy ${(m.accuracy * 100).toFixed(1)} %` : ''} · ${state.detail.runtime ?? ''}`;
  showQuality(state.detail.evaluation);
  if (text) textExamples(m);
  else if (!image) {
    featureFields(m.features);
    examples(m);
  }
}

function selectModel() {
  state.model = $('model').value;
  const entry = state.models.find((m) => m.name === state.model);
  const versions = entry.versions.filter((v) => v.state === 'AVAILABLE').map((v) => v.version);
  $('version').replaceChildren(...versions.map((v) => new Option(v === entry.default_version ? `${v} (default)` : v, v)));
  $('version').value = entry.default_version ?? versions[0];
  return selectVersion();
}

async function start() {
  const key = $('api-key');
  key.value = sessionStorage.getItem(KEY_STORAGE) ?? '';
  key.addEventListener('change', () => (key.value ? sessionStorage.setItem(KEY_STORAGE, key.value) : sessionStorage.removeItem(KEY_STORAGE)));
  $('model').addEventListener('change', selectModel);
  $('version').addEventListener('change', selectVersion);
  $('features-form').addEventListener('submit', predictRow);
  $('text-form').addEventListener('submit', classifyText);
  $('file').addEventListener('change', (e) => classifyImage(e.target.files[0]));
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    classifyImage(e.dataTransfer.files[0]);
  });
  drop.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      $('file').click();
    }
  });
  document.addEventListener('paste', (e) => {
    const item = [...(e.clipboardData?.items ?? [])].find((i) => i.type.startsWith('image/'));
    if (item && !$('image-input').hidden) classifyImage(item.getAsFile());
  });
  try {
    const { models } = await (await api('/v1/models')).json();
    state.models = models.filter((m) => m.versions.some((v) => v.state === 'AVAILABLE'));
    $('model').replaceChildren(...state.models.map((m) => new Option(`${m.name} (${m.kind ?? 'model'})`, m.name)));
    const wanted = new URLSearchParams(location.search).get('model');
    if (wanted && state.models.some((m) => m.name === wanted)) $('model').value = wanted;
    await selectModel();
  } catch (err) {
    showError(err.message);
  }
  document.body.dataset.ready = 'true';
}

start();
