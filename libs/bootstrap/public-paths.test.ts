import { describe, expect, it } from 'vitest';
import { publicPath, withoutAbsolutePaths, withoutAbsolutePathsDeep } from './public-paths.js';

describe('no absolute paths leave a process', () => {
  it('shows a path relative to the working directory, or its last two parts', () => {
    expect(publicPath('/srv/feed/data/default/snapshots', '/srv/feed')).toBe('data/default/snapshots');
    expect(publicPath('/var/lib/world/models/two_tower', '/srv/feed')).toBe('…/models/two_tower');
    // A working directory of / would only drop the leading slash.
    expect(publicPath('/var/lib/world/models', '/')).toBe('…/world/models');
    expect(publicPath('/tmp/registry-x', '/srv')).toBe('…/registry-x');
  });

  it('rewrites absolute paths in running text and leaves method paths, URLs and relative paths alone', () => {
    const text =
      "no snapshot 'popularity' in /tmp/x/world/snapshots: /tmp/x/world/snapshots/popularity/CURRENT does not exist; " +
      'call /feedloom.v1.Blender/Blend at http://127.0.0.1:9/status.json, see data/default/run';
    expect(withoutAbsolutePaths(text, '/srv')).toBe(
      "no snapshot 'popularity' in …/world/snapshots: …/popularity/CURRENT does not exist; " +
        'call /feedloom.v1.Blender/Blend at http://127.0.0.1:9/status.json, see data/default/run',
    );
    expect(withoutAbsolutePaths(`model at ${process.cwd()}/data/default/models`)).toBe('model at data/default/models');
  });

  it('rewrites every string of a status object', () => {
    const status = { world: { dir: '/tmp/a/b/world', preset: 'small' }, notes: ['in /tmp/a/b/c.json'], n: 3 };
    expect(withoutAbsolutePathsDeep(status, '/srv')).toEqual({
      world: { dir: '…/b/world', preset: 'small' },
      notes: ['in …/b/c.json'],
      n: 3,
    });
  });
});
