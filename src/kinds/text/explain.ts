/**
 * Why a text classifier answered what it did: leave-one-out over the features the text holds.
 *
 * The explained quantity is the target's log-odds against the other classes,
 * s = log p_t − mean_{c≠t} log p_c (for two classes, the log-odds of the target). Each feature
 * the text holds (a word, or a pair of words) is removed from the model's input alone, its
 * value set to 0 with the other values unchanged; its attribution is how much s falls. For a
 * linear model (every shipped text model is one) s is linear in the input, so these are the
 * model's own per-feature terms exactly, and they add up to s(text) − s(empty text). Each
 * feature's attribution is shared out over the tokens of its occurrences, whose character
 * spans index the text the model read: the submitted text itself when it was plain text.
 *
 * Cost: one evaluation per distinct feature, plus the text and the empty text.
 */
import { argMax } from '../../inference/postprocess.js';
import { invalidInput } from '../../serving/errors.js';
import { checkMethod, round6, targetIndex } from '../explain-common.js';
import type { ExplainPlan, ExplainRequest } from '../kind.js';
import type { Analysed } from './analyse.js';

export const TEXT_METHODS = ['leave-one-out'] as const;
/** The most model evaluations one text explanation may cost. */
export const MAX_TEXT_EVALUATIONS = 8192;
/** Features listed in `top_features`. */
const TOP_FEATURES = 20;

/** The target's log-odds against the other classes, from probabilities. */
function logOdds(p: Float32Array, t: number): number {
  const log = (v: number): number => Math.log(Math.max(v, 1e-38));
  let others = 0;
  for (let c = 0; c < p.length; c++) if (c !== t) others += log(p[c]!);
  return log(p[t]!) - others / (p.length - 1);
}

export function planTextExplanation(labels: readonly string[], name: string, analyse: () => Promise<Analysed>, request: ExplainRequest): ExplainPlan {
  if (request.format === 'png') throw invalidInput('invalid-request', `a PNG heat-map is drawn for image models; '${name}' is a text model`);
  checkMethod(request.method, TEXT_METHODS, 'text');
  const wanted = targetIndex(labels, request.target);
  return {
    method: 'leave-one-out',
    async run(evaluate) {
      const analysed = await analyse();
      const { vector, occurrences } = analysed.features;
      const evaluations = vector.indices.length + 2;
      if (evaluations > MAX_TEXT_EVALUATIONS) {
        throw invalidInput('too-costly', `the text holds ${vector.indices.length} distinct features; leave-one-out explains at most ${MAX_TEXT_EVALUATIONS - 2}: send a shorter text`);
      }
      const input = analysed.tensor;
      const without = Array.from(vector.indices, (j) => {
        const copy = Float32Array.from(input);
        copy[j] = 0;
        return copy;
      });
      const [atText, atEmpty, ...rest] = await evaluate([input, new Float32Array(input.length), ...without]);
      const predicted = argMax(atText!);
      const target = wanted ?? predicted;
      const value = logOdds(atText!, target);
      const deltas = rest.map((p) => value - logOdds(p, target));

      // Each feature's attribution, shared out over the tokens of its occurrences.
      const tokenShare = new Float64Array(analysed.tokens.length);
      vector.indices.forEach((j, k) => {
        const list = occurrences.get(j)!;
        for (const { first, length } of list) for (let i = first; i < first + length; i++) tokenShare[i]! += deltas[k]! / (list.length * length);
      });
      const tokens = analysed.tokens.flatMap((t, i) => (tokenShare[i] !== 0 ? [{ token: analysed.text.slice(t.start, t.end), start: t.start, end: t.end, attribution: round6(tokenShare[i]!) }] : []));
      const terms = analysed.terms;
      const top = Array.from(vector.indices, (j, k) => ({ term: terms[j]!, count: occurrences.get(j)!.length, attribution: round6(deltas[k]!) }))
        .sort((a, b) => Math.abs(b.attribution) - Math.abs(a.attribution))
        .slice(0, TOP_FEATURES);
      const body = {
        method: 'leave-one-out',
        class_label: labels[predicted]!,
        target: labels[target]!,
        probability: round6(atText![target]!),
        output: labels.length === 2 ? `log-odds of ${labels[target]!}` : `log-ratio of ${labels[target]!} to the mean of the other classes`,
        value: round6(value),
        baseline_value: round6(logOdds(atEmpty!, target)),
        form: analysed.form,
        spans: analysed.form === 'text' ? 'submitted' : 'text',
        ...(analysed.form !== 'text' && { text: analysed.text }),
        truncated: analysed.truncated,
        tokens,
        top_features: top,
        evaluations,
      };
      return { method: 'leave-one-out', evaluations, body, log: { method: 'leave-one-out', target: labels[target]!, evaluations } };
    },
  };
}
