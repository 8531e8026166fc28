/**
 * The mail phase of `npm run bench -- m365`: a mailbox of many messages in the Graph emulator
 * (most of them short text, some with attachments that make up most of the bytes), backed up
 * in full (messages/s, MB/s, peak memory), then incrementally with 1 % changed (new, read,
 * moved, deleted: requests made, time), then searched across the whole mailbox from the
 * point's metadata (several queries, the worst). The emulator holds every message's MIME in
 * this process's memory and shares its CPU.
 *
 * Settings (environment):
 *   VPLUS_BENCH_M365_MAIL_MESSAGES  number of messages (default 50000)
 *   VPLUS_BENCH_M365_MAIL_MB        total MIME size in MB, roughly (default 5120; 90 % of it in the 5 % of messages with attachments)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Repository } from '../../repository/index.js';
import { backupMailbox } from '../exchange/mail-backup.js';
import { createWriteStream } from 'node:fs';
import { prepareMailSearch, searchMessages, type MailSearchFilter } from '../exchange/mail-query.js';
import { writeMbox } from '../exchange/mbox.js';
import { TenantSession } from '../graph/tenant-session.js';
import { openObjectStore } from '../metadata/index.js';
import { GraphEmulator, composeMime, type Mailbox } from '../../../tests/support/graph-emulator/index.js';
import { env, MB, MIB, measured } from './bench-util.js';


const FOLDERS = ['inbox', 'Inbox/Projects/Alpha', 'Inbox/Projects/Beta', 'Inbox/Customers', 'Inbox/Customers/Acme', 'Inbox/Customers/Globex', 'sentitems', 'archive', 'Archive/2023', 'Archive/2024', 'Newsletters', 'Receipts'];
const SENDERS = ['Bob Baker', 'Carol Chen', 'Dmitri Ivanov', 'Émilie Dubois', 'Frank Fischer', 'Grace Hopper', 'Hiro Tanaka', 'Ingrid Øster'];
const WORDS = ['budget', 'meeting', 'invoice', 'roadmap', 'contract', 'release', 'holiday', 'report', 'review', 'offsite', 'hiring', 'quarterly'];

/**
 * Seeds the mailbox in bulk: a few messages are composed (nodemailer), the rest are copies of
 * them with their own Subject, From, Message-ID and Date headers, stored as the emulator
 * stores delivered MIME. Returns the MIME bytes seeded.
 */
async function seed(box: Mailbox, count: number, totalBytes: number): Promise<number> {
  const withAttachments = Math.max(1, Math.floor(count / 20));
  const attachmentSize = Math.max(1024, Math.floor((totalBytes * 0.9) / withAttachments / 1.37)); // base64 grows it by 4/3 and line breaks
  const textBody = 'Hello,\n\nplease find the notes below.\n\n' + 'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(40);
  const plain = await composeMime({ subject: 'TEMPLATE', from: { name: 'T', address: 't@example.com' }, to: [{ name: 'Alice', address: box.owner.mail }], text: textBody, messageId: '<template@bench>' });
  const attached = await Promise.all(
    ['pdf', 'xlsx', 'jpg'].map((ext, i) =>
      composeMime({ subject: 'TEMPLATE', from: { name: 'T', address: 't@example.com' }, to: [{ name: 'Alice', address: box.owner.mail }], text: 'see attached', messageId: '<template@bench>', attachments: [{ name: `file-${i}.${ext}`, content: { size: attachmentSize, seed: `att${i}` } }] }),
    ),
  );
  const folders = FOLDERS.map((f) => box.findFolder(f) ?? box.mkdirp(f));
  const start = Date.UTC(2021, 0, 1);
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const template = i % 20 === 0 ? attached[i % 3]! : plain;
    const word = WORDS[i % WORDS.length]!;
    const sender = SENDERS[i % SENDERS.length]!;
    const when = new Date(start + i * 1_800_000);
    const headers = template
      .subarray(0, template.indexOf('\r\n\r\n'))
      .toString('latin1')
      .replace(/^Subject: .*$/m, `Subject: ${word} ${i}`)
      .replace(/^From: .*$/m, `From: =?UTF-8?B?${Buffer.from(sender).toString('base64')}?= <${sender.split(' ')[0]!.toLowerCase()}@example.com>`)
      .replace(/^Message-ID: .*$/im, `Message-ID: <m${i}@bench.example>`)
      .replace(/^Date: .*$/m, `Date: ${when.toUTCString()}`);
    const mime = Buffer.concat([Buffer.from(headers, 'latin1'), template.subarray(template.indexOf('\r\n\r\n'))]);
    const m = box.store(folders[(i * 7) % folders.length]!.id, mime, { isRead: i % 3 !== 0, isDraft: false, receivedDateTime: when, flagged: i % 50 === 0 });
    // The decoded attachments are only for the emulator's attachment endpoints, which the backup does not call: not kept twice.
    for (const a of m.attachments) a.content = Buffer.alloc(0);
    bytes += mime.length;
  }
  return bytes;
}

export async function runMailBenchmark(out: (s: string) => void): Promise<void> {
  const count = env('VPLUS_BENCH_M365_MAIL_MESSAGES', 50_000);
  const totalMB = env('VPLUS_BENCH_M365_MAIL_MB', 5120);
  const emu = await GraphEmulator.start();
  const tenant = emu.addTenant({ domain: 'mailbench.onmicrosoft.com' });
  const app = tenant.addApp({ secret: 'bench' });
  const upn = 'alice@mailbench.onmicrosoft.com';
  const user = tenant.addUser({ userPrincipalName: upn });
  const box = tenant.mailboxOf(upn);
  const t0 = performance.now();
  const seeded = await seed(box, count, totalMB * MB);
  global.gc?.();
  out(`# mail: ${count} messages, ${(seeded / MB).toFixed(0)} MB of MIME in ${box.folders.size} folders (5 % with an attachment); seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s; RSS with the emulator seeded ${Math.round(process.memoryUsage().rss / MIB)} MiB`);

  const session = new TenantSession({ tenantId: tenant.id, clientId: app.clientId, credential: { kind: 'secret', secret: 'bench' }, authorityHost: emu.authorityHost, graphUrl: emu.graphBaseUrl, caPem: emu.caPem });
  const base = await mkdtemp(path.join(process.env.VPLUS_BENCH_DIR ?? tmpdir(), 'vplus-m365-mail-bench-'));
  const repo = await Repository.init(path.join(base, 'repo'), { password: 'bench password' });
  const objectKey = `m365:${tenant.id}:mail:${user.id}`;
  const options = { graph: session.graph, repo, objectKey, userPath: `/users/${user.id}`, owner: user.id, label: `the mailbox of ${upn}`, workDir: path.join(base, 'work') };
  try {
    emu.traffic.reset();
    const full = await measured(() => backupMailbox(options));
    const valueCalls = (): number => emu.traffic.requests.filter((r) => r.path.endsWith('/$value')).length;
    out(
      `mail full backup: ${full.seconds.toFixed(1)} s, ${(full.value.files / full.seconds).toFixed(0)} messages/s, ${(full.value.downloadedBytes / MB / full.seconds).toFixed(1)} MB/s; peak RSS ${full.peakRssMiB} MiB; ` +
        `requests ${emu.traffic.requests.length} (${valueCalls()} $value), peak in flight for the mailbox ${emu.traffic.peakConcurrency({ owner: user.id })}, throttled ${emu.traffic.requests.filter((r) => r.throttled).length}; warnings ${full.value.warnings.length}`,
    );

    // 1 %: a quarter new, a quarter read, a quarter moved, a quarter deleted.
    const changed = Math.max(4, Math.floor(count / 100));
    const all = [...box.messages.values()];
    const step = Math.max(1, Math.floor(all.length / changed));
    const archive = box.folder('Archive/2024').id;
    for (let k = 0; k < changed; k++) {
      const m = all[(k * step) % all.length]!;
      if (k % 4 === 0) await box.addMessage('inbox', { subject: `new ${k}`, text: 'new' });
      else if (k % 4 === 1) box.markRead(m, !m.isRead);
      else if (k % 4 === 2) box.move(m, m.folderId === archive ? 'inbox' : 'Archive/2024');
      else box.delete(m);
    }
    emu.traffic.reset();
    const inc = await measured(() => backupMailbox(options));
    const deltaCalls = emu.traffic.requests.filter((r) => r.path.endsWith('/delta')).length;
    out(
      `mail incremental, ${changed} messages changed (${Math.ceil(changed / 4)} new, read, moved, deleted each): ${inc.seconds.toFixed(2)} s, ${emu.traffic.requests.length} requests (${deltaCalls} delta pages over ${box.folders.size} folders and the hierarchy, ${valueCalls()} $value), ` +
        `added ${inc.value.added}, changed ${inc.value.changed}, removed ${inc.value.removed}; peak RSS ${inc.peakRssMiB} MiB; warnings ${inc.value.warnings.length}`,
    );

    const store = await openObjectStore(repo, objectKey, { workDir: path.join(base, 'search') });
    try {
      const opened = await measured(() => prepareMailSearch(store, inc.value.pointId));
      const queries: [string, MailSearchFilter][] = [
        ['everything by date', {}],
        ['words "budget 1200"', { q: 'budget 1200' }],
        ['sender "émilie"', { from: 'ÉMILIE' }],
        ['subject "quarterly"', { subject: 'quarterly', sort: 'subject', order: 'asc' }],
        ['attachment "file-1.xlsx"', { attachment: 'file-1.xlsx' }],
        ['a month', { after: '2021-01-10', before: '2021-02-10' }],
        ['Inbox and below, by size', { folder: '/Inbox', recursive: true, sort: 'size' }],
        ['by sender, page 50', { sort: 'from', order: 'asc', offset: 5000 }],
      ];
      const times: string[] = [];
      let worst = 0;
      for (const [label, f] of queries) {
        const q0 = performance.now();
        const r = await searchMessages(store, inc.value.pointId, f);
        const ms = performance.now() - q0;
        worst = Math.max(worst, ms);
        times.push(`${label} ${ms.toFixed(0)} ms (${r.total})`);
      }
      out(`mail search across ${count} messages: worst ${worst.toFixed(0)} ms; index built once in ${(opened.seconds * 1000).toFixed(0)} ms (point opened with it); ${times.join(', ')}`);

      // Export: up to 5,000 messages of the mailbox as one mbox, streamed from the repository, against
      // reading the same contents and throwing them away (the read ceiling an export cannot beat).
      const pick = (await searchMessages(store, inc.value.pointId, { sort: 'date', order: 'asc', limit: 1000, offset: 0 })).total;
      const chosen: { id: string; from: string | null; date: Date | null }[] = [];
      for (let offset = 0; chosen.length < Math.min(5000, pick); offset += 1000) {
        const page = await searchMessages(store, inc.value.pointId, { sort: 'date', order: 'asc', limit: 1000, offset });
        if (page.items.length === 0) break;
        for (const it of page.items) {
          const item = await store.getItem(inc.value.pointId, it.path);
          if (item && chosen.length < 5000) chosen.push({ id: item.id, from: it.extra.from?.address ?? null, date: it.extra.receivedAt ? new Date(it.extra.receivedAt) : null });
        }
      }
      const ceiling = await measured(async () => {
        let n = 0;
        for (const c of chosen) for await (const b of store.readContent(inc.value.pointId, c.id)) n += b.length;
        return n;
      });
      const mboxFile = path.join(base, 'export.mbox');
      const exported = await measured(async () => {
        const file = createWriteStream(mboxFile);
        const r = await writeMbox(
          (async function* () {
            for (const c of chosen) yield { from: c.from, date: c.date, mime: store.readContent(inc.value.pointId, c.id) };
          })(),
          file,
        );
        await new Promise<void>((resolve, reject) => file.end((err?: Error | null) => (err ? reject(err) : resolve())));
        return r;
      });
      const mbps = (n: number, s: number): string => (n / MB / s).toFixed(1);
      out(
        `mail export of ${exported.value.messages} messages to mbox: ${exported.seconds.toFixed(2)} s, ${(exported.value.bytes / MB).toFixed(0)} MB at ${mbps(exported.value.bytes, exported.seconds)} MB/s; ` +
          `reading the same messages from the repository alone ${ceiling.seconds.toFixed(2)} s (${mbps(ceiling.value, ceiling.seconds)} MB/s): ${(ceiling.seconds / exported.seconds).toFixed(2)}x the read ceiling; peak RSS ${exported.peakRssMiB} MiB`,
      );
    } finally {
      await store.close();
    }
  } finally {
    await session.close();
    await repo.close();
    await emu.stop();
    await rm(base, { recursive: true, force: true });
  }
}
