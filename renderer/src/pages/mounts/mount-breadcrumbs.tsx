import { Anchor, Breadcrumbs, Text } from '@mantine/core';
import { Link } from 'react-router-dom';
import { baseName, mountPathAncestors } from '../../utils/mount-format.js';
import { explorerSearch } from './explorer-path.js';

/** All filesystems / vda1 / etc / ssh (All drives / drive / Documents): each step a link but the folder shown. */
export function MountBreadcrumbs({ path, rootLabel = 'All filesystems' }: { path: string; rootLabel?: string }) {
  const steps = mountPathAncestors(path);
  return (
    <nav aria-label="Folder path">
      <Breadcrumbs separatorMargin={4} style={{ flexWrap: 'wrap', rowGap: 4 }}>
        {steps.map((step) => {
          const label = step === '' ? rootLabel : baseName(step);
          if (step === path) {
            return (
              <Text key={step} size="sm" fw={600} aria-current="page" style={{ overflowWrap: 'anywhere' }}>
                {label}
              </Text>
            );
          }
          return (
            <Anchor key={step} component={Link} to={{ search: explorerSearch(step) }} size="sm" style={{ overflowWrap: 'anywhere' }}>
              {label}
            </Anchor>
          );
        })}
      </Breadcrumbs>
    </nav>
  );
}
