// The simulated world in memory: topics, creators, users, items, boards and follows, with their
// hidden truth (latent vectors, quality, activity). Entities are only ever added, in a fixed order,
// so a seed and a day count always produce the same world.
import { createRng, hashSeed, type Rng } from '../random.js';
import { DAY_MS } from '../world.js';
import { DIM, dotAt, normalizeAt, type Novelty } from './model.js';
import { growthOf, type Preset, type PresetName } from './presets.js';

/** Share of users and creators per locale, in LOCALES order. */
const LOCALE_SHARE = [0.45, 0.15, 0.15, 0.1, 0.15];
const MAX_USER_TOPICS = 3;
const RECENT_TOPICS = 4;
const FOLLOW_CREATOR = 0;
const FOLLOW_BOARD = 1;

export interface Trend {
  item: number;
  startDay: number;
  days: number;
  boost: number;
}

export class SimState {
  readonly topicCount: number;
  readonly topicVec: Float32Array;
  readonly topicPeakHour: Float32Array;
  readonly topicCum: Float64Array;

  readonly creatorCount: number;
  readonly creatorTopic: Int16Array;
  readonly creatorLocale: Uint8Array;
  readonly creatorStyle: Float32Array;
  readonly creatorQuality: Float32Array;
  readonly creatorUser: Int32Array;
  readonly creatorCum: Float64Array;
  readonly creatorItems: number[][];
  readonly topicCreators: number[][] = [];
  readonly topicCreatorCum: Float64Array[] = [];

  userCount = 0;
  readonly userVec: Float32Array;
  readonly userTopic: Int16Array;
  readonly userTopicWeight: Float32Array;
  readonly userDeclared: number[][] = [];
  readonly userLocale: Uint8Array;
  readonly userActivity: Float32Array;
  readonly userPeakHour: Float32Array;
  readonly userSignupMs: Float64Array;
  readonly userDrift: Float32Array;
  readonly userBoards: number[][] = [];
  readonly userFollowedCreators: number[][] = [];
  readonly userFollowedCreatorMs: number[][] = [];
  readonly userFollowedBoards: number[][] = [];
  readonly userFollowedBoardMs: number[][] = [];
  /** Ring buffer of the topics a user engaged with lately: what the incumbent system remembers. */
  readonly recentTopics: Int16Array;
  readonly recentNext: Uint8Array;

  readonly boardOwner: number[] = [];
  readonly boardTopic: number[] = [];
  /** Boards a creator curates, as opposed to a user's own collection. */
  readonly boardCurated: boolean[] = [];
  readonly boardItems: number[][] = [];
  /** When each entry of boardItems was added (parallel to it). */
  readonly boardItemAddedMs: number[][] = [];
  /** item -> its row in boardItemRows, per board. */
  readonly boardItemRow: Map<number, number>[] = [];
  readonly topicBoards: number[][] = [];
  readonly topicCuratedBoards: number[][] = [];
  readonly boardItemRows = { board: [] as number[], item: [] as number[], addedMs: [] as number[] };

  readonly follows = { user: [] as number[], type: [] as number[], target: [] as number[], timeMs: [] as number[] };

  itemCount = 0;
  readonly itemVec: Float32Array;
  readonly itemLogQuality: Float32Array;
  readonly itemTopic: Int16Array;
  readonly itemCreator: Int32Array;
  readonly itemLocale: Uint8Array;
  readonly itemCreatedMs: Float64Array;
  readonly topicItems: number[][] = [];

  /** The incumbent system's popularity estimate per item (decayed engagement it has seen). */
  readonly popularity: Float32Array;
  readonly trends: Trend[] = [];
  /** userDrift of every existing user at the start of each simulated day. */
  readonly driftHistory: Float32Array[] = [];
  readonly eventsPerDay: number[] = [];

  constructor(
    readonly presetName: PresetName,
    readonly preset: Preset,
    readonly seed: number,
    readonly startMs: number,
    readonly totalDays: number,
    /** New items that matter: a world made with it keeps it in its truth, and every day of it reads it. */
    readonly novelty?: Novelty,
  ) {
    const g = growthOf(preset);
    const userCapacity = g.initialUsers + g.newUsersPerDay * totalDays;
    const itemCapacity = g.initialItems + g.freshItemsPerDay * totalDays;
    this.topicCount = preset.topics;
    this.topicVec = new Float32Array(preset.topics * DIM);
    this.topicPeakHour = new Float32Array(preset.topics);
    this.topicCum = new Float64Array(preset.topics);

    this.creatorCount = preset.creators;
    this.creatorTopic = new Int16Array(preset.creators);
    this.creatorLocale = new Uint8Array(preset.creators);
    this.creatorStyle = new Float32Array(preset.creators * DIM);
    this.creatorQuality = new Float32Array(preset.creators);
    this.creatorUser = new Int32Array(preset.creators).fill(-1);
    this.creatorCum = new Float64Array(preset.creators);
    this.creatorItems = Array.from({ length: preset.creators }, () => []);

    this.userVec = new Float32Array(userCapacity * DIM);
    this.userTopic = new Int16Array(userCapacity * MAX_USER_TOPICS).fill(-1);
    this.userTopicWeight = new Float32Array(userCapacity * MAX_USER_TOPICS);
    this.userLocale = new Uint8Array(userCapacity);
    this.userActivity = new Float32Array(userCapacity);
    this.userPeakHour = new Float32Array(userCapacity);
    this.userSignupMs = new Float64Array(userCapacity);
    this.userDrift = new Float32Array(userCapacity * DIM);
    this.recentTopics = new Int16Array(userCapacity * RECENT_TOPICS).fill(-1);
    this.recentNext = new Uint8Array(userCapacity);

    this.itemVec = new Float32Array(itemCapacity * DIM);
    this.itemLogQuality = new Float32Array(itemCapacity);
    this.itemTopic = new Int16Array(itemCapacity);
    this.itemCreator = new Int32Array(itemCapacity);
    this.itemLocale = new Uint8Array(itemCapacity);
    this.itemCreatedMs = new Float64Array(itemCapacity);
    this.popularity = new Float32Array(itemCapacity);
    for (let t = 0; t < preset.topics; t++) {
      this.topicItems.push([]);
      this.topicBoards.push([]);
      this.topicCuratedBoards.push([]);
    }
  }

  static readonly MAX_USER_TOPICS = MAX_USER_TOPICS;
  static readonly RECENT_TOPICS = RECENT_TOPICS;
  static readonly FOLLOW_CREATOR = FOLLOW_CREATOR;
  static readonly FOLLOW_BOARD = FOLLOW_BOARD;

  /** Topics, creators, the starting users and items, their boards and follows: the world at startMs. */
  createInitialWorld(): void {
    const rng = createRng(hashSeed(this.seed, 'catalog'));
    const g = growthOf(this.preset);
    this.createTopics(rng);
    this.createCreators(rng);

    // Half of the creators curate with a user account of their own.
    const accounts = new Map<number, number>();
    const candidates = rng.shuffle(Array.from({ length: g.initialUsers }, (_, i) => i));
    for (let c = 0, j = 0; c < this.creatorCount && j < candidates.length; c++) {
      if (rng.next() < 0.5) accounts.set(candidates[j++], c);
    }
    for (let i = 0; i < g.initialUsers; i++) {
      const signupMs = this.startMs - Math.floor(rng.next() * 365 * DAY_MS) - 1;
      this.addUser(rng, signupMs, accounts.get(i) ?? -1);
    }

    const itemTimes = Array.from(
      { length: g.initialItems },
      () => this.startMs - 1 - Math.floor(rng.next() * 90 * DAY_MS),
    );
    itemTimes.sort((a, b) => a - b);
    for (const t of itemTimes) {
      const item = this.addItem(rng, t);
      // Pre-world history, as the incumbent system would have seen it.
      const ageDays = (this.startMs - t) / DAY_MS;
      this.popularity[item] = Math.exp(this.itemLogQuality[item]) * Math.exp(-ageDays / 20) * (0.5 + rng.next()) * 3;
    }

    for (let b = 0; b < this.boardOwner.length; b++) this.seedBoard(rng, b);
    for (let u = 0; u < this.userCount; u++) {
      const signup = this.userSignupMs[u];
      this.addInitialFollows(rng, u, () => signup + Math.floor(rng.next() * (this.startMs - signup - 1)));
    }
  }

  private createTopics(rng: Rng): void {
    let total = 0;
    for (let t = 0; t < this.topicCount; t++) {
      for (let k = 0; k < DIM; k++) this.topicVec[t * DIM + k] = rng.normal();
      normalizeAt(this.topicVec, t * DIM);
      this.topicPeakHour[t] = 7 + rng.next() * 16;
      total += 1 / Math.pow(t + 1, 0.8); // a few topics are much bigger than the rest
      this.topicCum[t] = total;
    }
  }

  private createCreators(rng: Rng): void {
    let total = 0;
    const perTopic: number[][] = Array.from({ length: this.topicCount }, () => []);
    for (let c = 0; c < this.creatorCount; c++) {
      const topic = rng.cumulativeIndex(this.topicCum);
      this.creatorTopic[c] = topic;
      this.creatorLocale[c] = rng.weightedIndex(LOCALE_SHARE);
      for (let k = 0; k < DIM; k++) this.creatorStyle[c * DIM + k] = rng.normal() / Math.sqrt(DIM);
      this.creatorQuality[c] = 0.4 * rng.normal();
      total += Math.exp(rng.normal()); // productivity: a few creators post most items
      this.creatorCum[c] = total;
      perTopic[topic].push(c);
    }
    for (let t = 0; t < this.topicCount; t++) {
      this.topicCreators.push(perTopic[t]);
      const cum = new Float64Array(perTopic[t].length);
      let s = 0;
      perTopic[t].forEach((c, j) => {
        s += this.creatorCum[c] - (c > 0 ? this.creatorCum[c - 1] : 0);
        cum[j] = s;
      });
      this.topicCreatorCum.push(cum);
    }
  }

  /** Adds a user with their interests and boards; creatorAccount >= 0 makes them that creator's account. */
  addUser(rng: Rng, signupMs: number, creatorAccount = -1): number {
    const u = this.userCount++;
    const topicCount = 1 + (rng.next() < 0.45 ? 1 : 0) + (rng.next() < 0.15 ? 1 : 0);
    const topics: number[] = [];
    if (creatorAccount >= 0) topics.push(this.creatorTopic[creatorAccount]);
    while (topics.length < topicCount) {
      const t = rng.cumulativeIndex(this.topicCum);
      if (!topics.includes(t)) topics.push(t);
      else if (this.topicCount <= topics.length) break;
    }
    const weights = topics.map(() => -Math.log(1 - rng.next()) + 0.05);
    if (creatorAccount >= 0) weights[0] += 2;
    const wsum = weights.reduce((a, b) => a + b, 0);
    const order = topics.map((_, j) => j).sort((a, b) => weights[b] - weights[a]);
    order.forEach((j, slot) => {
      this.userTopic[u * MAX_USER_TOPICS + slot] = topics[j];
      this.userTopicWeight[u * MAX_USER_TOPICS + slot] = weights[j] / wsum;
    });
    const off = u * DIM;
    for (let k = 0; k < DIM; k++) {
      let v = 0.35 * (rng.normal() / Math.sqrt(DIM));
      for (let j = 0; j < topics.length; j++) v += (weights[j] / wsum) * this.topicVec[topics[j] * DIM + k];
      this.userVec[off + k] = v;
    }
    normalizeAt(this.userVec, off);

    // Onboarding: most users declare their real topics, some get one wrong, a few skip it.
    const declared: number[] = [];
    if (rng.next() >= 0.05) {
      for (const j of order) {
        const t = rng.next() < 0.85 ? topics[j] : rng.int(this.topicCount);
        if (!declared.includes(t)) declared.push(t);
      }
    }
    this.userDeclared.push(declared);
    this.userLocale[u] = creatorAccount >= 0 ? this.creatorLocale[creatorAccount] : rng.weightedIndex(LOCALE_SHARE);
    this.userActivity[u] = Math.min(6, Math.exp(-0.75 + 0.8 * rng.normal())) * (creatorAccount >= 0 ? 1.5 : 1);
    this.userPeakHour[u] = (((20 + 2.5 * rng.normal()) % 24) + 24) % 24;
    this.userSignupMs[u] = signupMs;
    this.userFollowedCreators.push([]);
    this.userFollowedCreatorMs.push([]);
    this.userFollowedBoards.push([]);
    this.userFollowedBoardMs.push([]);
    this.userBoards.push([]);

    const boardCount = 1 + (rng.next() < 0.5 ? 1 : 0) + (rng.next() < 0.2 ? 1 : 0);
    for (let j = 0; j < boardCount; j++) {
      this.addBoard(u, j < topics.length ? topics[order[j]] : rng.cumulativeIndex(this.topicCum), false);
    }
    if (creatorAccount >= 0) {
      this.creatorUser[creatorAccount] = u;
      const curated = 2 + (rng.next() < 0.5 ? 1 : 0);
      for (let j = 0; j < curated; j++) this.addBoard(u, this.creatorTopic[creatorAccount], true);
    }
    return u;
  }

  private addBoard(owner: number, topic: number, curated: boolean): number {
    const b = this.boardOwner.length;
    this.boardOwner.push(owner);
    this.boardTopic.push(topic);
    this.boardCurated.push(curated);
    this.boardItems.push([]);
    this.boardItemAddedMs.push([]);
    this.boardItemRow.push(new Map());
    this.userBoards[owner].push(b);
    (curated ? this.topicCuratedBoards : this.topicBoards)[topic].push(b);
    return b;
  }

  /** Adds an item by a creator drawn by productivity; items are added in creation-time order. */
  addItem(rng: Rng, createdMs: number): number {
    const i = this.itemCount++;
    const c = rng.cumulativeIndex(this.creatorCum);
    const topic = rng.next() < 0.85 ? this.creatorTopic[c] : rng.cumulativeIndex(this.topicCum);
    const off = i * DIM;
    for (let k = 0; k < DIM; k++) {
      this.itemVec[off + k] =
        this.topicVec[topic * DIM + k] + 0.5 * this.creatorStyle[c * DIM + k] + 0.35 * (rng.normal() / Math.sqrt(DIM));
    }
    normalizeAt(this.itemVec, off);
    this.itemLogQuality[i] = this.creatorQuality[c] + 0.9 * rng.normal();
    this.itemTopic[i] = topic;
    this.itemCreator[i] = c;
    this.itemLocale[i] = this.creatorLocale[c];
    this.itemCreatedMs[i] = createdMs;
    this.creatorItems[c].push(i);
    this.topicItems[topic].push(i);
    return i;
  }

  /** Fills a board with pre-world saves: good items of its topic. */
  private seedBoard(rng: Rng, b: number): void {
    const list = this.topicItems[this.boardTopic[b]];
    if (list.length === 0) return;
    const n = this.boardCurated[b] ? 15 + rng.poisson(10) : 3 + rng.poisson(6);
    const ownerSignup = this.userSignupMs[this.boardOwner[b]];
    for (let j = 0; j < n; j++) {
      let best = list[rng.int(list.length)];
      for (let t = 0; t < 2; t++) {
        const other = list[rng.int(list.length)];
        if (this.popularity[other] > this.popularity[best]) best = other;
      }
      const from = Math.max(ownerSignup, this.itemCreatedMs[best]);
      this.addToBoard(b, best, from + Math.floor(rng.next() * (this.startMs - 1 - from)));
    }
  }

  /** Records a save onto a board; an item already there keeps its earliest time. */
  addToBoard(b: number, item: number, timeMs: number): void {
    const row = this.boardItemRow[b].get(item);
    if (row !== undefined) {
      this.boardItemRows.addedMs[row] = Math.min(this.boardItemRows.addedMs[row], timeMs);
      return;
    }
    this.boardItemRow[b].set(item, this.boardItemRows.board.length);
    this.boardItems[b].push(item);
    this.boardItemAddedMs[b].push(timeMs);
    this.boardItemRows.board.push(b);
    this.boardItemRows.item.push(item);
    this.boardItemRows.addedMs.push(timeMs);
  }

  /** Follows at onboarding: creators and boards in the user's topics, popular ones more often. */
  addInitialFollows(rng: Rng, u: number, timeOf: () => number): void {
    const creatorFollows = rng.poisson(4);
    for (let j = 0; j < creatorFollows; j++) {
      const topic = this.pickUserTopic(rng, u);
      const pool = this.topicCreators[topic];
      const c =
        rng.next() < 0.8 && pool.length > 0
          ? pool[rng.cumulativeIndex(this.topicCreatorCum[topic])]
          : rng.cumulativeIndex(this.creatorCum);
      this.followCreator(u, c, timeOf());
    }
    const boardFollows = rng.poisson(2);
    for (let j = 0; j < boardFollows; j++) {
      const topic = this.pickUserTopic(rng, u);
      const pool =
        rng.next() < 0.5 && this.topicCuratedBoards[topic].length > 0
          ? this.topicCuratedBoards[topic]
          : this.topicBoards[topic];
      if (pool.length === 0) continue;
      const b = pool[rng.int(pool.length)];
      if (this.boardOwner[b] === u || this.userFollowedBoards[u].includes(b)) continue;
      this.userFollowedBoards[u].push(b);
      this.userFollowedBoardMs[u].push(timeOf());
      this.recordFollow(u, FOLLOW_BOARD, b, this.userFollowedBoardMs[u][this.userFollowedBoardMs[u].length - 1]);
    }
  }

  followCreator(u: number, c: number, timeMs: number): void {
    if (this.creatorUser[c] === u || this.userFollowedCreators[u].includes(c)) return;
    this.userFollowedCreators[u].push(c);
    this.userFollowedCreatorMs[u].push(timeMs);
    this.recordFollow(u, FOLLOW_CREATOR, c, timeMs);
  }

  private recordFollow(u: number, type: number, target: number, timeMs: number): void {
    this.follows.user.push(u);
    this.follows.type.push(type);
    this.follows.target.push(target);
    this.follows.timeMs.push(timeMs);
  }

  /** One of the user's true topics by weight, now and then any topic. */
  pickUserTopic(rng: Rng, u: number): number {
    if (rng.next() < 0.1) return rng.cumulativeIndex(this.topicCum);
    let r = rng.next();
    for (let j = 0; j < MAX_USER_TOPICS; j++) {
      const t = this.userTopic[u * MAX_USER_TOPICS + j];
      if (t < 0) break;
      r -= this.userTopicWeight[u * MAX_USER_TOPICS + j];
      if (r < 0) return t;
    }
    return this.userTopic[u * MAX_USER_TOPICS];
  }

  /** The user's board for a saved item: the one on the item's topic, else the closest in topic space. */
  boardForSave(u: number, item: number): number {
    const boards = this.userBoards[u];
    let best = boards[0];
    let bestScore = -Infinity;
    for (const b of boards) {
      const topic = this.boardTopic[b];
      if (topic === this.itemTopic[item]) return b;
      const score = dotAt(this.topicVec, topic * DIM, this.itemVec, item * DIM);
      if (score > bestScore) {
        bestScore = score;
        best = b;
      }
    }
    return best;
  }

  rememberTopic(u: number, topic: number): void {
    this.recentTopics[u * RECENT_TOPICS + this.recentNext[u]] = topic;
    this.recentNext[u] = (this.recentNext[u] + 1) % RECENT_TOPICS;
  }
}
