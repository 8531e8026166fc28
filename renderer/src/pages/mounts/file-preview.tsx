import type { BrowseEntry } from '@common/api/index.js';
import { Alert, Button, Code, Drawer, Group, ScrollArea, Skeleton, Stack, Text } from '@mantine/core';
import { IconDownload, IconInfoCircle } from '@tabler/icons-react';
import { useMemo } from 'react';
import type { ByteRange } from '../../api/api-client.js';
import { PREVIEW_BYTES, useMountPreviewQuery } from '../../api/mounts.queries.js';
import { PathText } from '../../components/path-text.js';
import { formatBytes, formatDateTime } from '../../utils/format.js';
import { formatMode, formatOwner, mountContentUrl, previewKind } from '../../utils/mount-format.js';
import { BrowseErrorAlert } from './browse-error.js';

export interface PreviewTarget {
  path: string;
  entry: BrowseEntry;
}

interface FilePreviewProps {
  mountId: number;
  target: PreviewTarget | null;
  onClose: () => void;
}

/**
 * A quick look at a text file or an image, from its first PREVIEW_BYTES (a Range request).
 * Text is shown as text in a <pre>, never as HTML; images only through an <img> (from the bytes
 * read), so an SVG's scripts never run; anything else is offered as a download only.
 */
export function FilePreview({ mountId, target, onClose }: FilePreviewProps) {
  return (
    <Drawer opened={target !== null} onClose={onClose} position="right" size="xl" title={target?.entry.name ?? ''} styles={{ title: { overflowWrap: 'anywhere', fontWeight: 600 } }}>
      {target !== null && <PreviewBody mountId={mountId} target={target} />}
    </Drawer>
  );
}

function PreviewBody({ mountId, target }: { mountId: number; target: PreviewTarget }) {
  const { entry, path } = target;
  const kind = previewKind(entry.name);
  // A partial image cannot be drawn: larger ones are downloaded instead of half-shown.
  const fits = kind?.kind === 'text' || entry.size <= PREVIEW_BYTES;
  const preview = useMountPreviewQuery(mountId, path, entry.size, kind !== null && fits);

  let body;
  if (kind === null) body = <Note>No preview for this kind of file. Download it to open it.</Note>;
  else if (entry.size === 0) body = <Note>This file is empty.</Note>;
  else if (!fits) body = <Note>{`This image is larger than ${formatBytes(PREVIEW_BYTES)}, too large to preview. Download it to open it.`}</Note>;
  else if (preview.isError) body = <BrowseErrorAlert error={preview.error} />;
  else if (preview.data === undefined) body = <Skeleton h={320} aria-label="Loading the preview" />;
  else if (kind.kind === 'image') body = <ImagePreview range={preview.data} mimeType={kind.mimeType} name={entry.name} />;
  else body = <TextPreview range={preview.data} size={entry.size} />;

  return (
    <Stack gap="sm">
      <Text size="sm">
        <PathText path={path} code />
      </Text>
      <Group gap="lg">
        <Text size="sm">{formatBytes(entry.size)}</Text>
        <Text size="sm">{formatDateTime(entry.mtime)}</Text>
        <Text size="sm">{formatOwner(entry)}</Text>
        <Text size="sm" ff="monospace">
          {formatMode(entry.type, entry.mode)}
        </Text>
      </Group>
      <Group>
        <Button component="a" href={mountContentUrl(mountId, path, true)} download size="xs" variant="default" leftSection={<IconDownload size={14} aria-hidden />}>
          Download
        </Button>
      </Group>
      {body}
    </Stack>
  );
}

function Note({ children }: { children: string }) {
  return (
    <Alert color="gray" variant="light" icon={<IconInfoCircle />}>
      {children}
    </Alert>
  );
}

function TextPreview({ range, size }: { range: ByteRange; size: number }) {
  const text = useMemo(() => {
    const bytes = new Uint8Array(range.bytes);
    // NUL bytes mean binary data, which a text view only garbles.
    if (bytes.includes(0)) return null;
    // Replacement characters for invalid UTF-8 (a multibyte character cut at the end, Latin-1).
    return new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  }, [range]);
  if (text === null) return <Note>This file holds binary data. Download it to open it.</Note>;
  const total = range.total ?? size;
  return (
    <Stack gap={4}>
      {total > range.bytes.byteLength && (
        <Text size="xs" c="dimmed">{`The first ${formatBytes(range.bytes.byteLength)} of ${formatBytes(total)}.`}</Text>
      )}
      <ScrollArea.Autosize mah="calc(100vh - 260px)" type="auto">
        <Code block data-testid="text-preview" style={{ whiteSpace: 'pre-wrap', overflowWrap: 'anywhere' }}>
          {text}
        </Code>
      </ScrollArea.Autosize>
    </Stack>
  );
}

function ImagePreview({ range, mimeType, name }: { range: ByteRange; mimeType: string; name: string }) {
  // A data: URL, as the server's Content-Security-Policy allows for images (blob: it does not).
  // The type comes from the name, not the server: only image types ever reach the <img>.
  const src = useMemo(() => `data:${mimeType};base64,${toBase64(new Uint8Array(range.bytes))}`, [range, mimeType]);
  return <img src={src} alt={`Preview of ${name}`} data-testid="image-preview" style={{ display: 'block', maxWidth: '100%', maxHeight: '70vh', width: 'auto', height: 'auto', objectFit: 'contain' }} />;
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  // In slices: String.fromCharCode takes its bytes as arguments, and arguments are bounded.
  for (let offset = 0; offset < bytes.length; offset += 0x8000) binary += String.fromCharCode(...bytes.subarray(offset, offset + 0x8000));
  return btoa(binary);
}
