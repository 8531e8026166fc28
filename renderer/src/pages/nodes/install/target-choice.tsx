import { Group, Radio, SimpleGrid, Stack, Text, ThemeIcon } from '@mantine/core';
import { IconDeviceDesktop, IconTerminal2, type Icon } from '@tabler/icons-react';

export type InstallTarget = 'local' | 'ssh';

const CHOICES: ReadonlyArray<{ value: InstallTarget; label: string; description: string; icon: Icon }> = [
  {
    value: 'local',
    label: 'This computer',
    description: 'Runs the node service next to this server. Good for backing up VMs that run here.',
    icon: IconDeviceDesktop,
  },
  {
    value: 'ssh',
    label: 'Remote Linux host over SSH',
    description: 'Signs in to a Linux host, such as a KVM/libvirt server, installs the node service there and enrolls it.',
    icon: IconTerminal2,
  },
];

interface TargetChoiceProps {
  value: InstallTarget | null;
  onChange: (value: InstallTarget) => void;
}

/** Two large radio cards; each card's name is its short label, its description read after it. */
export function TargetChoice({ value, onChange }: TargetChoiceProps) {
  return (
    <Radio.Group value={value} onChange={(next) => onChange(next)} label="Where should the node run?" name="install-target">
      <SimpleGrid cols={{ base: 1, sm: 2 }} mt="sm">
        {CHOICES.map((choice) => (
          <Radio.Card
            key={choice.value}
            value={choice.value}
            radius="md"
            p="md"
            aria-label={choice.label}
            aria-describedby={`install-target-${choice.value}-description`}
          >
            <Group wrap="nowrap" align="flex-start">
              <Radio.Indicator mt={4} />
              <ThemeIcon variant="light" size="lg" radius="md">
                <choice.icon size={20} aria-hidden />
              </ThemeIcon>
              <Stack gap={2}>
                <Text fw={600}>{choice.label}</Text>
                <Text id={`install-target-${choice.value}-description`} size="sm" c="dimmed">
                  {choice.description}
                </Text>
              </Stack>
            </Group>
          </Radio.Card>
        ))}
      </SimpleGrid>
    </Radio.Group>
  );
}
