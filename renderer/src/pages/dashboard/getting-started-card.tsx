import type { SetupProgress } from '@common/api/index.js';
import { Anchor, Button, CloseButton, Group, List, Paper, Progress, Text, ThemeIcon } from '@mantine/core';
import { useLocalStorage } from '@mantine/hooks';
import { IconCircleCheckFilled, IconCircleDashed } from '@tabler/icons-react';
import { Link } from 'react-router-dom';
import { HelpLink } from '../../help/help-link.js';
import type { HelpSection } from '../../help/help-topics.js';

interface Step {
  key: keyof SetupProgress;
  label: string;
  detail: string;
  /** The form that does it. */
  to: string;
  action: string;
  help: HelpSection;
}

/** In the order they depend on each other: everything runs on a node, a policy needs a destination and VMs. */
const STEPS: readonly Step[] = [
  { key: 'nodes', label: 'Install a node', detail: 'The data mover: this computer or a Linux host over SSH.', to: '/nodes/install', action: 'Install node', help: 'nodes' },
  { key: 'destinations', label: 'Add a destination', detail: 'A folder on a node (local disk, NAS share, USB) where backups are stored.', to: '/destinations?add=1', action: 'Add destination', help: 'destinations' },
  { key: 'hypervisors', label: 'Add a hypervisor', detail: 'The KVM host whose virtual machines you back up.', to: '/vms?add=1', action: 'Add hypervisor', help: 'vms' },
  { key: 'policies', label: 'Create a policy', detail: 'When to back up which VMs, and how long to keep the backups.', to: '/policies/new', action: 'Create policy', help: 'policies' },
];

export const GETTING_STARTED_DISMISSED_KEY = 'vplus.getting-started.dismissed';

/**
 * The first-run checklist: each step ticks itself from what the catalog holds, links to its
 * form, and the card goes away once all are done (or when dismissed).
 */
export function GettingStartedCard({ setup }: { setup: SetupProgress }) {
  const [dismissed, setDismissed] = useLocalStorage({ key: GETTING_STARTED_DISMISSED_KEY, defaultValue: false });
  const done = STEPS.filter((s) => setup[s.key] > 0).length;
  if (dismissed || done === STEPS.length) return null;
  // The first step not done is the one to do next, even if a later one is done already.
  const next = STEPS.find((s) => setup[s.key] === 0);
  return (
    <Paper withBorder p="md" radius="md" role="region" aria-labelledby="getting-started-heading" data-testid="getting-started">
      <Group justify="space-between" wrap="nowrap" mb="xs">
        <Text id="getting-started-heading" fw={700}>
          Getting started
        </Text>
        <Group gap="xs" wrap="nowrap">
          <Text size="sm" c="dimmed">{`${done} of ${STEPS.length} done`}</Text>
          <CloseButton aria-label="Dismiss the getting-started checklist" onClick={() => setDismissed(true)} />
        </Group>
      </Group>
      <Progress value={(done / STEPS.length) * 100} size="sm" mb="md" aria-hidden />
      <List spacing="sm" listStyleType="none" p={0} m={0}>
        {STEPS.map((step) => {
          const complete = setup[step.key] > 0;
          return (
            <List.Item
              key={step.key}
              aria-label={`${step.label}: ${complete ? 'done' : 'to do'}`}
              data-done={complete}
              icon={
                <ThemeIcon color={complete ? 'green' : 'gray'} variant="transparent" size={24} aria-hidden>
                  {complete ? <IconCircleCheckFilled size={22} /> : <IconCircleDashed size={22} />}
                </ThemeIcon>
              }
            >
              <Group justify="space-between" wrap="wrap" gap="xs">
                <div>
                  <Text size="sm" fw={600} td={complete ? 'line-through' : undefined} c={complete ? 'dimmed' : undefined}>
                    {step.label}
                  </Text>
                  <Text size="xs" c="dimmed">
                    {step.detail} <HelpLink section={step.help} size="xs" />
                  </Text>
                </div>
                {complete ? (
                  <Anchor component={Link} to={step.to.replace(/\?.*$/, '').replace(/\/(install|new)$/, '')} size="sm">
                    View
                  </Anchor>
                ) : (
                  <Button component={Link} to={step.to} size="xs" variant={step === next ? 'filled' : 'default'}>
                    {step.action}
                  </Button>
                )}
              </Group>
            </List.Item>
          );
        })}
      </List>
    </Paper>
  );
}
