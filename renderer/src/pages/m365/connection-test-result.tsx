import type { M365ConnectionTest } from '@common/api/index.js';
import { Alert, Badge, Group, Tooltip } from '@mantine/core';
import { IconAlertTriangle, IconCheck, IconCircleCheck, IconX } from '@tabler/icons-react';

/**
 * Test connection's answer: its sentence (which names a missing permission and how to add it),
 * then each permission checked as a badge, granted or missing, what was tried on hover. Compact,
 * so the "Add tenant" dialog still fits a small screen with it.
 */
export function ConnectionTestResult({ test }: { test: M365ConnectionTest }) {
  return (
    <Alert color={test.ok ? 'green' : 'yellow'} icon={test.ok ? <IconCircleCheck /> : <IconAlertTriangle />} title={test.message} role="status" data-testid="connection-test" py="xs">
      <Group gap={6} aria-label="Permission checks" role="list">
        {test.checks.map((check) => (
          <Tooltip key={check.permission} label={check.message} multiline maw={360} withArrow>
            <Badge
              role="listitem"
              tabIndex={0}
              aria-description={check.message}
              data-ok={check.ok}
              color={check.ok ? 'green' : 'red'}
              variant={check.ok ? 'light' : 'filled'}
              tt="none"
              leftSection={check.ok ? <IconCheck size={12} aria-hidden /> : <IconX size={12} aria-hidden />}
            >
              {check.ok ? check.permission : `${check.permission} missing`}
            </Badge>
          </Tooltip>
        ))}
      </Group>
    </Alert>
  );
}
