// Pixie (Eksombatchai et al., "Pixie: A System for Recommending 3+ Billion Items to 200+ Million
// Users in Real-Time", WWW 2018): random walks with restarts on the pin–board bipartite graph.
// Here pins are items (the right side of the graph) and boards the left side.
import type { Rng } from '../data/random.js';
import { degree, maxDegree } from './csr.js';
import type { BipartiteGraph } from './bipartite.js';
import { SparseCounts, topTouched, type NodeValue } from './sparse-counts.js';

/** A query pin (an item node) and its weight (recency × action type). */
export interface PixieQuery {
  node: number;
  weight: number;
}

export interface PixieOptions {
  /** N: the step budget of the whole request, split across the query pins. */
  totalSteps: number;
  /** α: after every pin → board → pin step the walk returns to its query pin with this probability (mean walk length 1/α). */
  restartProbability: number;
  /** n_p: a query's walks stop early once this many pins were visited at least n_v times … */
  earlyStopPins: number;
  /** n_v: … this many times each. */
  earlyStopVisits: number;
  rng: Rng;
}

export interface PixieQueryStats {
  node: number;
  /** N_q: the steps this query was given. */
  budget: number;
  /** The steps it took (less than the budget when it stopped early). */
  steps: number;
  stoppedEarly: boolean;
}

export interface PixieResult {
  /** Pins by boosted visit count (Σ_q √V_q[p])², best first. */
  top: NodeValue[];
  queries: PixieQueryStats[];
  totalSteps: number;
}

/**
 * Runs Pixie walks over one graph. Holds reusable scratch counters sized to the graph, so one
 * walker serves every request of a snapshot version (calls are synchronous; do not share across
 * threads).
 */
export class PixieWalker {
  /** One query's visit counts, and the pins it visited (the first visitedCount of visited). */
  private readonly visitCounts: Int32Array;
  private readonly visited: Int32Array;
  private visitedCount = 0;
  private readonly boosted: SparseCounts;
  /** C in the step split: the largest pin degree. */
  private readonly maxPinDegree: number;

  constructor(readonly graph: BipartiteGraph) {
    this.visitCounts = new Int32Array(graph.right.size);
    this.visited = new Int32Array(graph.right.size);
    this.boosted = new SparseCounts(graph.right.size);
    this.maxPinDegree = maxDegree(graph.rightToLeft);
  }

  /**
   * The paper's step split (Algorithm 3): query q gets N_q ∝ w_q · s_q with
   * s_q = |E(q)| · (C − log |E(q)|), C the largest pin degree (so s_q > 0), which gives
   * well-connected pins more steps, a little less than in proportion; the budgets add up to N.
   * Pins without boards get nothing.
   */
  stepBudgets(queries: readonly PixieQuery[], totalSteps: number): number[] {
    const scaled = queries.map(({ node, weight }) => {
      const d = degree(this.graph.rightToLeft, node);
      return d > 0 && weight > 0 ? weight * d * (this.maxPinDegree - Math.log(d)) : 0;
    });
    const sum = scaled.reduce((a, b) => a + b, 0);
    return scaled.map((s) => (sum > 0 ? Math.round((totalSteps * s) / sum) : 0));
  }

  /**
   * Walks from every query pin with its share of the budget, counts visits per query, and
   * combines them with multi-hit boosting: V[p] = (Σ_q √V_q[p])², which favours pins reached from
   * several query pins over pins reached very often from one. Returns the best `limit` pins that
   * `skip` does not rule out.
   */
  run(
    queries: readonly PixieQuery[],
    options: PixieOptions,
    limit: number,
    skip?: (pin: number) => boolean,
  ): PixieResult {
    const budgets = this.stepBudgets(queries, options.totalSteps);
    const stats: PixieQueryStats[] = [];
    let totalSteps = 0;
    this.boosted.reset();
    queries.forEach((query, k) => {
      if (budgets[k] <= 0) return;
      const { steps, stoppedEarly } = this.walk(query.node, budgets[k], options);
      totalSteps += steps;
      stats.push({ node: query.node, budget: budgets[k], steps, stoppedEarly });
      this.boostVisits();
    });
    const top = topTouched(this.boosted, limit, skip).map(({ node, value }) => ({ node, value: value * value }));
    this.boosted.reset();
    return { top, queries: stats, totalSteps };
  }

  /** Adds √(visits) of the last query's pins to the boosted counts and clears its visits. */
  private boostVisits(): void {
    const counts = this.visitCounts;
    const visited = this.visited;
    for (let k = 0; k < this.visitedCount; k++) {
      const pin = visited[k];
      this.boosted.add(pin, Math.sqrt(counts[pin]));
      counts[pin] = 0;
    }
    this.visitedCount = 0;
  }

  /**
   * Algorithm 2: walks with restarts from one query pin until its budget is spent or it stops
   * early. After each pin → board → pin step the walk restarts with probability α, so walk lengths
   * are geometric with mean 1/α (the paper's SampleWalkLength, drawn step by step).
   */
  private walk(query: number, budget: number, options: PixieOptions): { steps: number; stoppedEarly: boolean } {
    const { offsets: boardPins, targets: pins } = this.graph.leftToRight;
    const { offsets: pinBoards, targets: boards } = this.graph.rightToLeft;
    const { rng, restartProbability, earlyStopPins, earlyStopVisits } = options;
    // Plain typed arrays in locals: this loop is most of a Pixie request.
    const counts = this.visitCounts;
    const visited = this.visited;
    let visitedCount = this.visitedCount;
    let steps = 0;
    let highVisited = 0;
    let stoppedEarly = false;
    let pin = query;
    while (steps < budget) {
      const boardStart = pinBoards[pin];
      const boardDegree = pinBoards[pin + 1] - boardStart;
      if (boardDegree === 0) {
        if (pin === query) break; // a query pin without boards goes nowhere
        pin = query;
        continue;
      }
      // x | 0 is Math.floor(x) for 0 ≤ x < 2³¹, without the call.
      const board = boards[boardStart + ((rng.next() * boardDegree) | 0)];
      const pinStart = boardPins[board];
      pin = pins[pinStart + ((rng.next() * (boardPins[board + 1] - pinStart)) | 0)];
      steps++;
      const count = ++counts[pin];
      if (count === 1) visited[visitedCount++] = pin;
      if (count === earlyStopVisits && ++highVisited >= earlyStopPins) {
        stoppedEarly = true;
        break;
      }
      if (rng.next() < restartProbability) pin = query;
    }
    this.visitedCount = visitedCount;
    return { steps, stoppedEarly };
  }
}
