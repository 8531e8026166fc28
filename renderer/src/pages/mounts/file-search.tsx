import type { BrowseSearchHit, Mount } from '@common/api/index.js';
import { ActionIcon, Anchor, Button, Group, Loader, Paper, ScrollArea, Stack, Table, Text, TextInput } from '@mantine/core';
import { IconFile, IconFolder, IconLink, IconSearch, IconX } from '@tabler/icons-react';
import { useState, type FormEvent } from 'react';
import { useMountSearchQueries } from '../../api/mounts.queries.js';
import { PathText } from '../../components/path-text.js';
import { formatBytes, formatDateTime } from '../../utils/format.js';
import { mountRootLabel } from '../../utils/mount-format.js';
import { BrowseErrorAlert } from './browse-error.js';

interface FileSearchProps {
  mount: Mount;
  /** Where the search starts: the folder shown ('': every readable filesystem). */
  path: string;
  /** A hit was chosen (its path is from the mount's root): show its folder. */
  onOpen: (path: string, hit: BrowseSearchHit) => void;
}

const HIT_ICONS = { dir: IconFolder, symlink: IconLink, file: IconFile, other: IconFile } as const;

/** Names under the folder shown: a substring, or a glob (* ? [abc]) on the whole name; case-insensitive. */
export function FileSearch({ mount, path, onOpen }: FileSearchProps) {
  const [draft, setDraft] = useState('');
  const [search, setSearch] = useState<{ pattern: string; path: string; scopes: string[] } | null>(null);
  const enabled = mount.state === 'MOUNTED';
  const results = useMountSearchQueries(mount.id, search?.scopes ?? [], search?.pattern ?? '', enabled && search !== null);

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const pattern = draft.trim();
    // The node searches inside one filesystem: from the root, each readable one is searched.
    const scopes = path === '' ? mount.filesystems.filter((filesystem) => filesystem.readable).map((filesystem) => filesystem.name) : [path];
    setSearch(pattern === '' ? null : { pattern, path, scopes });
  };
  const clear = () => {
    setDraft('');
    setSearch(null);
  };
  const root = mountRootLabel(mount).toLowerCase();
  const scope = path === '' ? root : path;

  return (
    <Stack gap="xs">
      <form onSubmit={submit} role="search" aria-label="Search files">
        <Group gap="xs" align="flex-end" wrap="nowrap">
          <TextInput
            style={{ flex: 1 }}
            label="Search by name"
            description={`In ${scope}. A part of the name, or a pattern such as *.conf`}
            placeholder="hosts, *.log, report-202?.pdf"
            leftSection={<IconSearch size={16} aria-hidden />}
            rightSection={
              draft === '' ? null : (
                <ActionIcon variant="subtle" color="gray" onClick={clear} aria-label="Clear the search">
                  <IconX size={14} aria-hidden />
                </ActionIcon>
              )
            }
            value={draft}
            onChange={(event) => setDraft(event.currentTarget.value)}
            maxLength={255}
            disabled={!enabled}
          />
          <Button type="submit" variant="default" disabled={!enabled || draft.trim() === ''}>
            Search
          </Button>
        </Group>
      </form>
      {search !== null && (
        <Paper withBorder radius="md" p="xs" data-testid="search-results">
          {results.isFetching && (
            <Group gap="xs">
              <Loader size="xs" />
              <Text size="sm">{`Searching ${search.path === '' ? root : search.path} for “${search.pattern}”…`}</Text>
            </Group>
          )}
          {results.error !== null && <BrowseErrorAlert error={results.error} />}
          {results.data !== undefined && !results.isFetching && (
            <SearchHits
              hits={results.data.hits}
              truncated={results.data.truncated}
              visited={results.data.visited}
              pattern={search.pattern}
              onOpen={(hit) => onOpen(hit.path, hit)}
            />
          )}
        </Paper>
      )}
    </Stack>
  );
}

interface SearchHitsProps {
  hits: BrowseSearchHit[];
  truncated: boolean;
  visited: number;
  pattern: string;
  onOpen: (hit: BrowseSearchHit) => void;
}

function SearchHits({ hits, truncated, visited, pattern, onOpen }: SearchHitsProps) {
  return (
    <Stack gap="xs">
      <Text size="sm" c="dimmed" data-testid="search-summary">
        {`${hits.length === 0 ? 'Nothing' : `${hits.length} ${hits.length === 1 ? 'match' : 'matches'}`} for “${pattern}” among ${visited} entries${truncated ? '; the search stopped early, narrow it down to see the rest' : ''}.`}
      </Text>
      {hits.length > 0 && (
        <ScrollArea.Autosize mah={320} type="auto">
          <Table verticalSpacing={4} aria-label="Search results" highlightOnHover>
            <Table.Tbody>
              {hits.map((hit) => {
                const Icon = HIT_ICONS[hit.type];
                return (
                  <Table.Tr key={hit.path}>
                    <Table.Td>
                      <Group gap={6} wrap="nowrap">
                        <Icon size={16} aria-hidden style={{ flexShrink: 0 }} />
                        {/* Named by the path itself: its name from the wrapped parts would have spaces. */}
                        <Anchor component="button" type="button" size="sm" onClick={() => onOpen(hit)} style={{ textAlign: 'left' }} aria-label={hit.path}>
                          <PathText path={hit.path} />
                        </Anchor>
                      </Group>
                    </Table.Td>
                    <Table.Td>
                      <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                        {hit.type === 'file' ? formatBytes(hit.size) : ''}
                      </Text>
                    </Table.Td>
                    <Table.Td>
                      <Text size="xs" c="dimmed" style={{ whiteSpace: 'nowrap' }}>
                        {formatDateTime(hit.mtime)}
                      </Text>
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </ScrollArea.Autosize>
      )}
    </Stack>
  );
}
