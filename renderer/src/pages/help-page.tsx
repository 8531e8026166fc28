import { Paper, Stack } from '@mantine/core';
import { useEffect } from 'react';
import { useLocation } from 'react-router-dom';
import readme from '../../../README.md?raw';
import { PageHeader } from '../components/page-header.js';
import { MarkdownView } from '../help/markdown-view.js';

/** The README of this version (bundled at build time; see help/help-topics.ts for why). */
export function HelpPage() {
  const { hash } = useLocation();
  // The sections exist only once rendered, so the browser's own jump to #anchor comes too early.
  useEffect(() => {
    if (hash) document.getElementById(decodeURIComponent(hash.slice(1)))?.scrollIntoView();
  }, [hash]);
  return (
    <>
      <PageHeader title="Help" description="The README of this version of vPlus." />
      <Paper withBorder radius="md" p="lg">
        <Stack gap="sm">
          <MarkdownView source={readme.replace(/^# .*\n/, '')} />
        </Stack>
      </Paper>
    </>
  );
}
