import { Code, List, Table, Text, Title } from '@mantine/core';
import type { ReactNode } from 'react';
import { headingSlug } from './help-topics.js';

/**
 * Just enough Markdown for our own README: headings (with GitHub's anchors), paragraphs,
 * fenced code, lists, tables, `code` and **bold**. It renders text only (no HTML), so
 * nothing in the file can inject markup.
 */
type Block =
  | { kind: 'heading'; level: number; text: string }
  | { kind: 'code'; text: string }
  | { kind: 'list'; ordered: boolean; items: string[] }
  | { kind: 'table'; rows: string[][] }
  | { kind: 'paragraph'; text: string };

export function parseMarkdown(source: string): Block[] {
  const lines = source.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; ) {
    const line = lines[i]!;
    const heading = /^(#{1,4})\s+(.*)$/.exec(line);
    if (line.startsWith('```')) {
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
      blocks.push({ kind: 'code', text: body.join('\n') });
      i++;
    } else if (heading) {
      blocks.push({ kind: 'heading', level: heading[1]!.length, text: heading[2]! });
      i++;
    } else if (/^\s*([-*]|\d+\.)\s/.test(line)) {
      const ordered = /^\s*\d+\./.test(line);
      const items: string[] = [];
      for (; i < lines.length && lines[i]!.trim() !== '' && !lines[i]!.startsWith('#'); i++) {
        const l = lines[i]!;
        if (/^\s*([-*]|\d+\.)\s/.test(l)) items.push(l.replace(/^\s*([-*]|\d+\.)\s+/, ''));
        else items[items.length - 1] += ` ${l.trim()}`;
      }
      blocks.push({ kind: 'list', ordered, items });
    } else if (line.startsWith('|')) {
      const rows: string[][] = [];
      for (; i < lines.length && lines[i]!.startsWith('|'); i++) {
        const cells = lines[i]!.replace(/^\||\|$/g, '').split('|').map((c) => c.trim());
        if (!cells.every((c) => /^:?-+:?$/.test(c))) rows.push(cells);
      }
      blocks.push({ kind: 'table', rows });
    } else if (line.trim() === '') {
      i++;
    } else {
      const text: string[] = [];
      for (; i < lines.length && lines[i]!.trim() !== '' && !/^(#|```|\||\s*([-*]|\d+\.)\s)/.test(lines[i]!); i++) text.push(lines[i]!.trim());
      blocks.push({ kind: 'paragraph', text: text.join(' ') });
    }
  }
  return blocks;
}

/** `code`, **bold** and [text](url) (shown as text: the README's links are to repository files). */
function inline(text: string): ReactNode[] {
  return text.split(/(`[^`]+`|\*\*[^*]+\*\*)/).map((part, i) => {
    if (part.startsWith('`') && part.endsWith('`') && part.length > 1) return <Code key={i}>{part.slice(1, -1)}</Code>;
    if (part.startsWith('**') && part.endsWith('**')) return <strong key={i}>{part.slice(2, -2)}</strong>;
    return part.replace(/\[([^\]]+)\]\([^)]+\)/g, '$1');
  });
}

function BlockView({ block }: { block: Block }) {
  switch (block.kind) {
    case 'heading': {
      // The page has the h1 ("Help"); the README's sections (##) are h2.
      const order = Math.max(block.level, 2) as 2 | 3 | 4;
      return (
        <Title order={order} id={headingSlug(block.text.replace(/`/g, ''))} mt="lg" style={{ scrollMarginTop: 72 }}>
          {inline(block.text)}
        </Title>
      );
    }
    case 'code':
      return <Code block>{block.text}</Code>;
    case 'list':
      return (
        <List type={block.ordered ? 'ordered' : 'unordered'} spacing={4} size="sm">
          {block.items.map((item, i) => (
            <List.Item key={i}>{inline(item)}</List.Item>
          ))}
        </List>
      );
    case 'table':
      return <Table data={{ head: block.rows[0] ?? [], body: block.rows.slice(1) }} withTableBorder fz="sm" />;
    case 'paragraph':
      return <Text size="sm">{inline(block.text)}</Text>;
  }
}

export function MarkdownView({ source }: { source: string }) {
  return (
    <>
      {parseMarkdown(source).map((block, i) => (
        <BlockView key={i} block={block} />
      ))}
    </>
  );
}
