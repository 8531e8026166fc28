import { Code, Table, Text } from '@mantine/core';
import { PathText } from '../../components/path-text.js';
import { formatBytes } from '../../utils/format.js';
import { isAbsolutePath } from '../../utils/path-parts.js';

/** Keys that are plumbing (repository access the server adds, a step's input), not facts for people. */
const HIDDEN = new Set(['repository', 'previousResult', 'password']);

/** "destinationId" → "Destination id", "bytesRead" → "Bytes read". */
export function humanKey(key: string): string {
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const isBytes = (key: string): boolean => /bytes$|^size$/i.test(key);
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** One value in words: bytes as bytes, a VM by its name, a list by its items (or how many). */
export function humanValue(key: string, value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'Yes' : 'No';
  if (typeof value === 'number') return isBytes(key) ? formatBytes(value) : value.toLocaleString();
  if (typeof value === 'string') return value === '' ? '—' : value;
  if (Array.isArray(value)) {
    if (value.length === 0) return 'None';
    if (value.every((v) => typeof v === 'string' || typeof v === 'number')) return value.join(', ');
    const named = value.map((v) => (isRecord(v) ? (v.target ?? v.name ?? v.path) : undefined));
    return named.every((n) => typeof n === 'string') ? named.join(', ') : `${value.length} items`;
  }
  if (isRecord(value)) {
    const name = value.name ?? value.id;
    if (typeof name === 'string' || typeof name === 'number') return String(name);
    return Object.entries(value)
      .map(([k, v]) => `${humanKey(k)}: ${humanValue(k, v)}`)
      .join(' · ');
  }
  return JSON.stringify(value) ?? '';
}

/** A task's parameters or result as labelled lines; the raw JSON is behind a "details" disclosure. */
export function TaskValues({ values, label }: { values: Record<string, unknown>; label: string }) {
  const entries = Object.entries(values).filter(([k]) => !HIDDEN.has(k));
  return (
    <>
      {entries.length > 0 && (
        <Table withRowBorders={false} verticalSpacing={2} aria-label={label}>
          <Table.Tbody>
            {entries.map(([k, v]) => (
              <Table.Tr key={k}>
                <Table.Td w="40%" c="dimmed" fz="sm">
                  {humanKey(k)}
                </Table.Td>
                <Table.Td fz="sm" style={{ overflowWrap: 'anywhere' }}>
                  {typeof v === 'string' && isAbsolutePath(v) ? <PathText path={v} /> : humanValue(k, v)}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <details>
        <Text component="summary" size="xs" c="dimmed" style={{ cursor: 'pointer' }}>
          Details (raw JSON)
        </Text>
        <Code block style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
          {JSON.stringify(values, null, 2)}
        </Code>
      </details>
    </>
  );
}
