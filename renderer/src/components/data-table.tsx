import { Table } from '@mantine/core';
import { flexRender, type Table as TanStackTable } from '@tanstack/react-table';
import type { MouseEvent } from 'react';
import classes from './data-table.module.css';

/** The column of a row's buttons (by its id, 'actions'): kept in view at the table's end. */
const stickyClass = (columnId: string): string | undefined => (columnId === 'actions' ? classes.actions : undefined);

interface DataTableProps<Row> {
  table: TanStackTable<Row>;
  /** Accessible name of the table, e.g. "Users". */
  label: string;
  /**
   * Makes whole rows clickable for mouse users. Keyboard and screen-reader users need a link
   * in the row (e.g. in the first cell) that goes to the same place.
   */
  onRowClick?: (row: Row) => void;
  minWidth?: number;
}

/**
 * Clicks on a row's own links and buttons do their own thing, not the row's. So do clicks in a
 * dialog a row's action opened: React bubbles them through the portal to the row, though in
 * the page they are nowhere near it.
 */
function isFromControl(event: MouseEvent): boolean {
  const target = event.target as HTMLElement;
  if (!(event.currentTarget as HTMLElement).contains(target)) return true;
  return target.closest('a, button, input, select, textarea, label, [role="button"], [role="menuitem"]') !== null;
}

/** Renders any TanStack table with Mantine styling; columns and paging stay with the page. */
export function DataTable<Row>({ table, label, onRowClick, minWidth = 640 }: DataTableProps<Row>) {
  return (
    <Table.ScrollContainer minWidth={minWidth}>
      <Table striped highlightOnHover verticalSpacing="sm" aria-label={label}>
        <Table.Thead>
          {table.getHeaderGroups().map((group) => (
            <Table.Tr key={group.id}>
              {group.headers.map((header) => (
                <Table.Th key={header.id} scope="col" className={stickyClass(header.column.id)}>
                  {header.isPlaceholder ? null : flexRender(header.column.columnDef.header, header.getContext())}
                </Table.Th>
              ))}
            </Table.Tr>
          ))}
        </Table.Thead>
        <Table.Tbody>
          {table.getRowModel().rows.map((row) => (
            <Table.Tr
              key={row.id}
              onClick={onRowClick === undefined ? undefined : (event) => !isFromControl(event) && onRowClick(row.original)}
              style={onRowClick === undefined ? undefined : { cursor: 'pointer' }}
            >
              {row.getVisibleCells().map((cell) => (
                <Table.Td key={cell.id} className={stickyClass(cell.column.id)}>
                  {flexRender(cell.column.columnDef.cell, cell.getContext())}
                </Table.Td>
              ))}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
