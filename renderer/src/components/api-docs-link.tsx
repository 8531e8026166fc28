import { Anchor, Group, Text } from '@mantine/core';
import { IconExternalLink } from '@tabler/icons-react';

/** "Scripts and integrations use the REST API: API documentation" — the link to the OpenAPI pages. */
export function ApiDocsLink({ mt }: { mt?: string }) {
  return (
    <Group gap="xs" mt={mt}>
      <Text size="sm">Scripts and integrations use the REST API:</Text>
      <Anchor href="/api/docs" target="_blank" rel="noopener noreferrer" size="sm">
        <Group gap={4} component="span">
          API documentation
          <IconExternalLink size={14} aria-hidden />
        </Group>
      </Anchor>
    </Group>
  );
}
