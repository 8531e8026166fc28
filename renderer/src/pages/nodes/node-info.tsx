import type { InstallMethod, Node } from '@common/api/index.js';
import { Progress, Stack, Table, Text } from '@mantine/core';
import type { ReactNode } from 'react';
import { CopyableCode } from '../../components/copyable-code.js';
import { NodeStatusBadge } from '../../components/node-status-badge.js';
import { PathText } from '../../components/path-text.js';
import { RelativeTime } from '../../components/relative-time.js';
import { formatBytes, formatDateTime } from '../../utils/format.js';

const INSTALL_METHODS: Record<InstallMethod, string> = {
  'local-systemd': 'This computer, systemd service',
  'local-supervised': 'This computer, supervised by the server',
  'ssh-systemd': 'Over SSH, systemd service',
  'ssh-supervised': 'Over SSH, supervised process',
  manual: 'Enrolled by hand',
};

function FieldTable({ rows, label }: { rows: Array<[string, ReactNode]>; label: string }) {
  return (
    <Table variant="vertical" layout="fixed" withRowBorders aria-label={label}>
      <Table.Tbody>
        {rows.map(([name, value]) => (
          <Table.Tr key={name}>
            <Table.Th w={180}>{name}</Table.Th>
            <Table.Td style={{ overflowWrap: 'anywhere' }}>{value}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function Tool({ tool }: { tool: { available: boolean; version: string | null } }) {
  if (!tool.available) return <Text size="sm" c="dimmed">Not installed</Text>;
  return <>{tool.version ?? 'Installed (version unknown)'}</>;
}

function Staging({ staging }: { staging: { path: string; freeBytes: number; totalBytes: number } }) {
  const used = staging.totalBytes > 0 ? ((staging.totalBytes - staging.freeBytes) / staging.totalBytes) * 100 : 0;
  return (
    <Stack gap={4}>
      <Text size="sm">
        {formatBytes(staging.freeBytes)} free of {formatBytes(staging.totalBytes)}
      </Text>
      <Progress value={used} size="sm" color={used > 90 ? 'red' : used > 75 ? 'yellow' : 'teal'} aria-label="Staging space used" maw={280} />
    </Stack>
  );
}

/** What the node reported about its host when it last connected. */
export function NodeCapabilities({ node }: { node: Node }) {
  const caps = node.capabilities;
  if (caps === null) {
    return (
      <Text size="sm" c="dimmed">
        Not reported yet. A node reports its operating system, tools and staging space when it connects.
      </Text>
    );
  }
  return (
    <FieldTable
      label="Capabilities"
      rows={[
        ['Operating system', caps.os],
        ['Kernel', caps.kernel],
        ['Architecture', caps.arch],
        ['Host name', caps.hostname],
        ['Node.js', caps.nodeVersion],
        ['libvirt', <Tool key="libvirt" tool={caps.libvirt} />],
        ['qemu-img', <Tool key="qemu" tool={caps.qemuImg} />],
        ['Staging path', <PathText key="path" path={caps.staging.path} code />],
        ['Staging space', <Staging key="staging" staging={caps.staging} />],
        ['Task types', caps.taskTypes.length === 0 ? '—' : caps.taskTypes.join(', ')],
        ['Concurrent tasks', `up to ${caps.maxConcurrentTasks}`],
      ]}
    />
  );
}

/** Status, how it was installed, and where it is reached over SSH. */
export function NodeStatusFields({ node }: { node: Node }) {
  const rows: Array<[string, ReactNode]> = [
    ['Status', <NodeStatusBadge key="status" node={node} />],
    ['Status message', node.statusMessage ?? '—'],
    ['Version', node.version ?? '—'],
    ['Host', node.host],
    ['Install method', INSTALL_METHODS[node.installMethod]],
    ['Running tasks', node.runningTasks],
    ['Last seen', <RelativeTime key="seen" iso={node.lastSeenAt} />],
    ['Added', formatDateTime(node.createdAt)],
  ];
  if (node.ssh !== null) {
    rows.push(
      ['SSH target', `${node.ssh.user}@${node.ssh.host}:${node.ssh.port}`],
      ['SSH authentication', node.ssh.auth === 'key' ? 'Private key' : 'Password'],
      ['SSH host key', <CopyableCode key="fp" value={node.ssh.hostKeyFingerprint} copyLabel="Copy host key fingerprint" />],
    );
  }
  return <FieldTable label="Node status" rows={rows} />;
}
