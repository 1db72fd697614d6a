// Every batch job. Adding a job: one file in this folder and one line in this list.
import type { BatchJob } from '../job.js';
import { cooccurrence } from './cooccurrence.js';
import { creatorItems } from './creator_items.js';
import { itemMeta } from './item_meta.js';
import { popularity } from './popularity.js';
import { coldStart } from './cold_start.js';
import { exposure } from './exposure.js';
import { followedBoardItems } from './followed_board_items.js';
import { freshItems } from './fresh_items.js';
import { hourPopular } from './hour_popular.js';
import { localePopular } from './locale_popular.js';
import { resurfaceBoards } from './resurface_boards.js';
import { topicPopular } from './topic_popular.js';
import { trending } from './trending.js';
import { boardGraph } from './board_graph.js';
import { sessionTransitions } from './session_transitions.js';
import { userNeighbors } from './user_neighbors.js';
import { userRecentItems } from './user_recent_items.js';
import { followGraph } from './follow_graph.js';
import { curatorSaves } from './curator_saves.js';
import { easeNeighbors } from './ease_neighbors.js';

export const BATCH_JOBS: readonly BatchJob[] = [
  popularity,
  cooccurrence,
  creatorItems,
  itemMeta,
  trending,
  freshItems,
  exposure,
  topicPopular,
  followedBoardItems,
  localePopular,
  hourPopular,
  resurfaceBoards,
  coldStart,
  boardGraph,
  sessionTransitions,
  userNeighbors,
  userRecentItems,
  followGraph,
  curatorSaves,
  easeNeighbors,
];
