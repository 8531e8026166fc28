import type { CatalogSize } from '@common/api/index.js';
import { Table, Text } from '@mantine/core';
import { formatBytes } from '../../utils/format.js';

/** Each table of the catalog: rows (MariaDB's estimate), data, indexes and the space pruning freed inside its file. */
export function CatalogSizeTable({ size, limit }: { size: CatalogSize; limit?: number }) {
  const tables = limit === undefined ? size.tables : size.tables.slice(0, limit);
  return (
    <Table.ScrollContainer minWidth={480}>
      <Table striped verticalSpacing={4} aria-label="Catalog size by table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th scope="col">Table</Table.Th>
            <Table.Th scope="col" ta="right">
              Rows (about)
            </Table.Th>
            <Table.Th scope="col" ta="right">
              Data
            </Table.Th>
            <Table.Th scope="col" ta="right">
              Indexes
            </Table.Th>
            <Table.Th scope="col" ta="right">
              Free
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {tables.map((t) => (
            <Table.Tr key={t.name}>
              <Table.Td>
                <Text size="sm" ff="monospace">
                  {t.name}
                </Text>
              </Table.Td>
              <Table.Td ta="right">{t.rows.toLocaleString()}</Table.Td>
              <Table.Td ta="right">{formatBytes(t.dataBytes)}</Table.Td>
              <Table.Td ta="right">{formatBytes(t.indexBytes)}</Table.Td>
              <Table.Td ta="right">{formatBytes(t.freeBytes)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
