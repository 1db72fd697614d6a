import type { VariantAssignment } from '../../generated/feedloom/v1/blender.js';
import type { UserContext } from '../../generated/feedloom/v1/common.js';
import type { MeshConfig } from '../config/mesh.js';
import { composePage, type PageRules } from './compose-page.js';
import { dedupe } from './dedupe.js';
import { filterCandidates, filterInput } from './filter.js';
import { readLearnedWeights } from './learned-weights.js';
import { preScore } from './pre-score.js';
import type { BlendCandidate, ItemCatalog, SourceAnswer } from './types.js';
import { assignVariants, variantLabel } from './variants.js';

/** How one generator takes part in a Blend. */
export interface SourcePlan {
  /** Called at all (the per-request `enable` of its module may still say no). */
  enabled: boolean;
  /** Called, but its candidates never reach the page: they go to its scorecard. */
  shadow: boolean;
  quota: number;
}

/** What the fan-out and the rank stage do under a policy, and which experiments' variants made it. */
export interface ServingPlan {
  /** Per generator; a generator not listed is served as its endpoint says. */
  sources: ReadonlyMap<string, SourcePlan>;
  /**
   * The rank stage on (off: the pre-score order stands), its top N (undefined: services.ranker.topN),
   * and the ranker model version that scores (undefined: the one the ranker serves).
   */
  ranker: { enabled: boolean; topN?: number; version?: string };
  variants: readonly VariantAssignment[];
}

const AS_CONFIGURED: ServingPlan = { sources: new Map(), ranker: { enabled: true }, variants: [] };

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
    /** Who is asked and how, and the rank stage (the config's generators and variants). */
    readonly plan: ServingPlan = AS_CONFIGURED,
  ) {}

  /** The same policy with other generator weights (weight tuning). */
  withWeights(weights: ReadonlyMap<string, number>): BlendPolicy {
    return new BlendPolicy(weights, this.rrfK, this.pageRules, this.plan);
  }

  /** The variants' label, e.g. "new_sources:treatment" ("none": the config as written). */
  get variantLabel(): string {
    return variantLabel(this.plan.variants);
  }

  /**
   * Recorded answers as this policy's fan-out would have had them (the eval's replay): only the
   * served generators' (enabled, not shadow), each cut to its quota. A quota above the recorded one
   * cannot add candidates that were never asked for.
   */
  served(answers: SourceAnswer[]): SourceAnswer[] {
    return answers.flatMap((a) => {
      const plan = this.plan.sources.get(a.status.generator);
      if (!plan) return [a];
      if (!plan.enabled || plan.shadow) return [];
      return a.candidates.length <= plan.quota ? [a] : [{ ...a, candidates: a.candidates.slice(0, plan.quota) }];
    });
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
 * The blend policies the mesh config sets, one per set of experiment variants (made once, then
 * reused): every generator's weight, quota and role, the blender's rrfK and page rules, the rank
 * stage. The world's learned weights (learned-weights.ts), where it has them and the config allows
 * them (services.blender.learnedWeights), replace the config's for the generators they name;
 * `learned: false` reads the config's alone (the start of a new fit). A variant's own setting wins
 * over both.
 */
export class VariantPolicies {
  private readonly learned: Record<string, number> | undefined;
  private readonly made = new Map<string, BlendPolicy>();

  constructor(
    private readonly mesh: MeshConfig,
    options: { learned?: boolean } = {},
  ) {
    this.learned =
      options.learned !== false && mesh.services.blender.learnedWeights
        ? readLearnedWeights(mesh.world.dir)?.weights
        : undefined;
  }

  /** The policy of a user: its variants resolved from its id (once per Blend). */
  forUser(userId: string): BlendPolicy {
    return this.of(assignVariants(this.mesh.experiments, userId));
  }

  /** The policy of users with these variants (none: the config as written). */
  of(variants: readonly VariantAssignment[]): BlendPolicy {
    const label = variantLabel(variants);
    let policy = this.made.get(label);
    if (!policy) {
      policy = this.make(variants);
      this.made.set(label, policy);
    }
    return policy;
  }

  private make(variants: readonly VariantAssignment[]): BlendPolicy {
    const blender = this.mesh.services.blender;
    const sources = new Map(
      this.mesh.generators.map((g) => [g.name, { enabled: g.enabled, shadow: g.shadow, quota: g.quota }]),
    );
    const weights = new Map(this.mesh.generators.map((g) => [g.name, this.learned?.[g.name] ?? g.weight]));
    let rrfK = blender.rrfK;
    const pageRules: PageRules = { maxPerCreator: blender.maxPerCreator, maxSourceShare: blender.maxSourceShare };
    const ranker: ServingPlan['ranker'] = { enabled: true };
    for (const { experiment, variant } of variants) {
      const v = this.mesh.experiments
        .find((e) => e.name === experiment)
        ?.variants.find((candidate) => candidate.name === variant);
      if (!v) throw new Error(`no variant "${variant}" of an experiment "${experiment}" in the mesh config`);
      for (const [name, { weight, ...plan }] of Object.entries(v.generators)) {
        sources.set(name, { ...sources.get(name)!, ...plan });
        if (weight !== undefined) weights.set(name, weight);
      }
      rrfK = v.rrfK ?? rrfK;
      pageRules.maxPerCreator = v.maxPerCreator ?? pageRules.maxPerCreator;
      pageRules.maxSourceShare = v.maxSourceShare ?? pageRules.maxSourceShare;
      Object.assign(ranker, v.ranker);
    }
    return new BlendPolicy(weights, rrfK, pageRules, { sources, ranker, variants: [...variants] });
  }
}

/** The blend policy the mesh config sets for users with these variants (default: in no experiment). */
export function policyFromConfig(
  mesh: MeshConfig,
  options: { learned?: boolean; variants?: readonly VariantAssignment[] } = {},
): BlendPolicy {
  return new VariantPolicies(mesh, options).of(options.variants ?? []);
}
