import { describe, expect, it } from 'vitest';
import { WORLD_PRESETS } from '../../config/mesh.js';
import { PRESET_NAMES } from './presets.js';

describe('presets', () => {
  it('are exactly what the mesh config accepts as world.preset', () => {
    expect([...WORLD_PRESETS].sort()).toEqual([...PRESET_NAMES].sort());
  });
});
