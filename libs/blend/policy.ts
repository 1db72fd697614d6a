import type { UserContext } from '../../generated/feedloom/v1/common.js';
import type { MeshConfig } from '../config/mesh.js';
import { composePage, type PageRules } from './compose-page.js';
import { dedupe } from './dedupe.js';
import { filterCandidates, filterInput } from './filter.js';
import { readLearnedWeights } from './learned-weights.js';
import { preScore } from './pre-score.js';
import type { BlendCandidate, ItemCatalog, SourceAnswer } from './types.js';

/**
 * How the generators' answers become a page: dedupe, filter, pre-score and page composition, with
 * the weights, rrfK and page rules of the mesh config. The blender's pipeline runs these steps (the
 * ranker between pre-score and page) and the eval runs the same ones, so a change to the blend
 * changes what is served and what is measured alike.
 */
export class BlendPolicy {
  constructor(
    /** Each generator's weight in the pre-score (a generator not listed weighs 1). */
    readonly weights: ReadonlyMap<string, number>,
    /** Reciprocal-rank-fusion constant of the pre-score. */
    readonly rrfK: number,
    readonly pageRules: PageRules,
  ) {}

  /** The same policy with other generator weights (weight tuning). */
  withWeights(weights: ReadonlyMap<string, number>): BlendPolicy {
    return new BlendPolicy(weights, this.rrfK, this.pageRules);
  }

  dedupe(answers: SourceAnswer[]) {
    return dedupe(answers);
  }

  filter(candidates: BlendCandidate[], user: UserContext, catalog: ItemCatalog | undefined) {
    return filterCandidates(candidates, filterInput(user, catalog));
  }

  preScore(candidates: BlendCandidate[]) {
    return preScore(candidates, this.weights, this.rrfK);
  }

  composePage(ordered: BlendCandidate[], limit: number, catalog: ItemCatalog | undefined) {
    return composePage(ordered, limit, this.pageRules, catalog);
  }

  /** Dedupe, then filter: the candidates that may be shown, before any order (weights do not matter yet). */
  eligible(answers: SourceAnswer[], user: UserContext, catalog: ItemCatalog | undefined): BlendCandidate[] {
    return this.filter(this.dedupe(answers), user, catalog).kept;
  }

  /** Pre-score, then compose: the page when no ranker reorders the pre-score order. */
  unrankedPage(eligible: BlendCandidate[], limit: number, catalog: ItemCatalog | undefined): BlendCandidate[] {
    return this.composePage(this.preScore(eligible), limit, catalog).page;
  }
}

/**
 * The blend policy the mesh config sets: every generator's weight, the blender's rrfK and page rules.
 * The world's learned weights (learned-weights.ts), where it has them and the config allows them
 * (services.blender.learnedWeights), replace the config's for the generators they name;
 * `learned: false` reads the config's alone (the start of a new fit).
 */
export function policyFromConfig(mesh: MeshConfig, options: { learned?: boolean } = {}): BlendPolicy {
  const blender = mesh.services.blender;
  const learned =
    options.learned !== false && blender.learnedWeights ? readLearnedWeights(mesh.world.dir)?.weights : undefined;
  const weights = new Map(mesh.generators.map((g) => [g.name, learned?.[g.name] ?? g.weight]));
  return new BlendPolicy(weights, blender.rrfK, {
    maxPerCreator: blender.maxPerCreator,
    maxSourceShare: blender.maxSourceShare,
  });
}
