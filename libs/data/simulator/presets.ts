// World sizes. Counts are targets for the preset's default number of days; about 10% of users
// sign up and 20% of items are created during the simulated days.

export interface Preset {
  users: number;
  items: number;
  creators: number;
  topics: number;
  days: number;
}

export const PRESETS = {
  tiny: { users: 200, items: 1_000, creators: 20, topics: 8, days: 8 },
  // tiny with five times the items: live play's users (two feeds a day) do not use up its catalog
  // in a week (bench/retraining-pays.ts).
  wide: { users: 200, items: 5_000, creators: 20, topics: 8, days: 8 },
  small: { users: 2_000, items: 10_000, creators: 150, topics: 20, days: 14 },
  default: { users: 10_000, items: 50_000, creators: 700, topics: 30, days: 14 },
  large: { users: 100_000, items: 1_000_000, creators: 8_000, topics: 50, days: 14 },
} satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;

/** Every preset's name, for config enums and help texts. */
export const PRESET_NAMES = Object.keys(PRESETS) as [PresetName, ...PresetName[]];

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

export function presetByName(name: string): Preset {
  if (!isPresetName(name))
    throw new Error(`unknown world preset '${name}' (expected one of: ${Object.keys(PRESETS).join(', ')})`);
  return PRESETS[name];
}

/** How a preset splits into the starting population and the daily inflow. */
export function growthOf(preset: Preset) {
  return {
    initialUsers: Math.round(preset.users * 0.9),
    newUsersPerDay: Math.max(1, Math.round((preset.users * 0.1) / preset.days)),
    initialItems: Math.round(preset.items * 0.8),
    freshItemsPerDay: Math.max(1, Math.round((preset.items * 0.2) / preset.days)),
  };
}
