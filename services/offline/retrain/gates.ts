// The validation gates of a retraining cycle: pure functions from held-out metrics (the new
// version's and the serving version's, measured on the same data) and the config's bounds to a
// list of checks. A version is published only when every check passed; the failed checks' details
// are the reasons recorded in its state history.
import type { MeshConfig } from '../../../libs/config/mesh.js';
import type { GateCheck } from '../../../libs/registry/cycles.js';
import type { RetrievalMetrics } from '../../../libs/training/evaluate.js';
import type { HeldoutMetrics } from '../../../libs/ranking/heldout.js';

export type GateSettings = MeshConfig['retrain']['gates'];

export interface GateVerdict {
  passed: boolean;
  /** The failed checks' details. */
  reasons: string[];
  checks: GateCheck[];
}

const f4 = (x: number) => (Number.isFinite(x) ? x.toFixed(4) : String(x));

function verdict(checks: GateCheck[]): GateVerdict {
  const reasons = checks.filter((c) => !c.passed).map((c) => `${c.gate}: ${c.detail}`);
  return { passed: reasons.length === 0, reasons, checks };
}

/** value ≥ bound (false for NaN). */
function atLeast(gate: string, what: string, value: number, bound: number): GateCheck {
  const passed = value >= bound;
  return { gate, passed, value, bound, detail: `${what} ${f4(value)} ${passed ? '≥' : 'is below'} ${f4(bound)}` };
}

/** value < bound (false for NaN). */
function below(gate: string, what: string, value: number, bound: number): GateCheck {
  const passed = value < bound;
  return { gate, passed, value, bound, detail: `${what} ${f4(value)} ${passed ? '<' : 'is not below'} ${f4(bound)}` };
}

/**
 * Gates for a two-tower version: finite outputs, sane norms, no collapse, recall@k above the floor
 * and, when something serves, no larger relative recall drop than allowed.
 */
export function twoTowerGates(
  candidate: RetrievalMetrics,
  incumbent: RetrievalMetrics | undefined,
  gates: GateSettings,
): GateVerdict {
  const k = gates.k;
  const recall = candidate.recall[k];
  if (recall === undefined)
    throw new Error(
      `the candidate's metrics have no recall@${k} (measured: ${Object.keys(candidate.recall).join(', ')})`,
    );
  const numbers = [
    recall,
    candidate.meanUserNorm,
    candidate.meanItemNorm,
    ...candidate.userNormRange,
    ...candidate.itemNormRange,
    candidate.itemMeanPairwiseCosine,
    candidate.userMeanPairwiseCosine,
  ];
  const nonFinite = numbers.filter((x) => !Number.isFinite(x)).length;
  const checks: GateCheck[] = [
    {
      gate: 'finite',
      passed: nonFinite === 0,
      value: nonFinite,
      bound: 0,
      detail:
        nonFinite === 0
          ? 'every embedding and metric is finite'
          : `${nonFinite} of the measured values are NaN or infinite`,
    },
  ];
  for (const [who, [lo, hi]] of [
    ['user', candidate.userNormRange],
    ['item', candidate.itemNormRange],
  ] as const) {
    const passed = lo >= gates.minEmbeddingNorm && hi <= gates.maxEmbeddingNorm;
    checks.push({
      gate: `${who}_norm`,
      passed,
      value: Number.isNaN(lo) || lo < gates.minEmbeddingNorm ? lo : hi,
      detail: `${who} embedding norms [${f4(lo)}, ${f4(hi)}] ${passed ? 'within' : 'outside'} [${f4(gates.minEmbeddingNorm)}, ${f4(gates.maxEmbeddingNorm)}]`,
    });
  }
  checks.push(
    below('item_collapse', 'item mean pairwise cosine', candidate.itemMeanPairwiseCosine, gates.maxMeanCosine),
  );
  checks.push(
    below('user_collapse', 'user mean pairwise cosine', candidate.userMeanPairwiseCosine, gates.maxMeanCosine),
  );
  checks.push(atLeast('min_recall', `recall@${k}`, recall, gates.minRecallAtK));
  const served = incumbent?.recall[k];
  if (served !== undefined && Number.isFinite(served)) {
    const bound = served * (1 - gates.maxRecallDropRelative);
    const check = atLeast('recall_regression', `recall@${k}`, recall, bound);
    check.detail += ` (serving ${f4(served)}, largest relative drop ${(gates.maxRecallDropRelative * 100).toFixed(1)}%)`;
    checks.push(check);
  }
  return verdict(checks);
}

/** The trainer-side checks trainRanker makes (beats the page order, ONNX agrees with PyTorch). */
export interface RankerTrainerCheck {
  validated: boolean;
  note: string;
}

/**
 * Gates for a ranker version: finite AUCs, click and save AUC above the floor and, when something
 * serves, no larger absolute AUC drop than allowed; plus the trainer's own checks. A head whose AUC
 * the held-out data cannot measure (absent: no such action held out) is not gated, but at least one
 * of click and save must be measured.
 */
export function rankerGates(
  candidate: HeldoutMetrics,
  incumbent: HeldoutMetrics | undefined,
  gates: GateSettings,
  trainer?: RankerTrainerCheck,
): GateVerdict {
  const heads = (['auc_click', 'auc_save'] as const).filter((h) => candidate[h] !== undefined);
  const absent = (['auc_click', 'auc_save'] as const).filter((h) => candidate[h] === undefined);
  const value = (m: HeldoutMetrics, h: (typeof heads)[number]) => m[h] as number;
  const nonFinite = heads.filter((h) => !Number.isFinite(value(candidate, h)));
  const checks: GateCheck[] = [
    {
      gate: 'finite',
      passed: nonFinite.length === 0,
      value: nonFinite.length,
      bound: 0,
      detail:
        nonFinite.length === 0
          ? `${heads.map((h) => h.slice(4)).join(' and ') || 'no'} AUC finite`
          : `${nonFinite.join(', ')} not finite (NaN scores)`,
    },
  ];
  if (heads.length === 0)
    checks.push({
      gate: 'measurable',
      passed: false,
      detail: 'neither click nor save AUC can be measured: the held-out sessions lack positives or negatives',
    });
  else if (absent.length)
    checks.push({
      gate: 'measurable',
      passed: true,
      detail: `${absent.join(', ')} absent (the held-out sessions have no such action): gated on ${heads.join(', ')}`,
    });
  for (const h of heads) checks.push(atLeast(`min_${h}`, `held-out ${h}`, value(candidate, h), gates.minRankerAuc));
  if (incumbent) {
    for (const h of heads) {
      const served = incumbent[h];
      if (served === undefined || !Number.isFinite(served)) continue;
      const check = atLeast(`${h}_regression`, `held-out ${h}`, value(candidate, h), served - gates.maxAucDropAbsolute);
      check.detail += ` (serving ${f4(served)}, largest drop ${f4(gates.maxAucDropAbsolute)})`;
      checks.push(check);
    }
  }
  if (trainer) checks.push({ gate: 'trainer_checks', passed: trainer.validated, detail: trainer.note });
  return verdict(checks);
}

/** Metrics as a flat record for the cycle report. */
export function retrievalRecord(m: RetrievalMetrics): Record<string, number> {
  return {
    ...Object.fromEntries(Object.entries(m.recall).map(([k, v]) => [`recall@${k}`, v])),
    'coverage@100': m.coverage100,
    mean_user_norm: m.meanUserNorm,
    mean_item_norm: m.meanItemNorm,
    min_user_norm: m.userNormRange[0],
    max_user_norm: m.userNormRange[1],
    min_item_norm: m.itemNormRange[0],
    max_item_norm: m.itemNormRange[1],
    item_mean_pairwise_cosine: m.itemMeanPairwiseCosine,
    user_mean_pairwise_cosine: m.userMeanPairwiseCosine,
    users: m.users,
    items: m.items,
  };
}

/** Absent metrics stay absent (no key): the cycle report never holds NaN or null for them. */
export function rankerRecord(m: HeldoutMetrics): Record<string, number> {
  return Object.fromEntries(Object.entries(m).filter((e): e is [string, number] => typeof e[1] === 'number'));
}
