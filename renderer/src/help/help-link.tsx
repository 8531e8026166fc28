import { Anchor, Group } from '@mantine/core';
import { IconHelp } from '@tabler/icons-react';
import { Link } from 'react-router-dom';
import { HELP_SECTIONS, helpHref, type HelpSection } from './help-topics.js';

/** "Help: Nodes", to the README's section on the Help page. */
export function HelpLink({ section, size = 'sm' }: { section: HelpSection; size?: 'xs' | 'sm' }) {
  return (
    <Anchor component={Link} to={helpHref(section)} size={size} aria-label={`Help: ${HELP_SECTIONS[section]}`}>
      <Group gap={4} component="span" wrap="nowrap">
        <IconHelp size={16} aria-hidden />
        Help
      </Group>
    </Anchor>
  );
}
