import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { registerAuditRoutes } from './api/audit.routes.js';
import { registerAuthRoutes } from './api/auth.routes.js';
import { SetupCode } from './auth/setup-code.js';
import { registerEventRoutes } from './api/events.routes.js';
import { registerHealthRoutes } from './api/health.routes.js';
import { registerHistoryRoutes } from './api/history.routes.js';
import { createHttpServer } from './api/http-server.js';
import { registerUserRoutes } from './api/users.routes.js';
import { readAppInfo } from './app-info.js';
import { AuditRepository } from './auth/audit.repository.js';
import { AuditService } from './auth/audit.service.js';
import { AuthService } from './auth/auth.service.js';
import { ADDRESS_THROTTLE, LoginThrottle, USER_THROTTLE } from './auth/login-throttle.js';
import { SessionsRepository } from './auth/sessions.repository.js';
import { UsersRepository } from './auth/users.repository.js';
import { UsersService } from './auth/users.service.js';
import type { BootConfig } from './boot-config.js';
import { openCatalog, type OpenedCatalog } from './db/catalog-factory.js';
import { MIGRATIONS } from './db/migrations/index.js';
import { Migrator } from './db/migrator.js';
import { systemClock } from './clock.js';
import { EventBus } from './events/event-bus.js';
import { HistoryService, type HistoryPruneOptions } from './history/history.service.js';
import { createLogger } from './logger.js';
import { ensureServerTls } from './security/certificates.js';
import { SecretBox } from './security/secret-box.js';
import { SecretsRepository } from './security/secrets.repository.js';
import { registerNodeAgentRoutes } from './api/node-agent.routes.js';
import { registerMountRoutes } from './api/mounts.routes.js';
import { registerM365MailRoutes } from './api/m365-mail.routes.js';
import { registerNodeRoutes } from './api/nodes.routes.js';
import { MountsRepository } from './mounts/mounts.repository.js';
import { MountsService } from './mounts/mounts.service.js';
import { registerJobRoutes } from './api/jobs.routes.js';
import { registerTaskRoutes } from './api/tasks.routes.js';
import { hashToken } from './auth/sessions.repository.js';
import { EnrollmentService } from './nodes/enrollment.service.js';
import { NodeSessions } from './nodes/node-sessions.js';
import { NodesRepository } from './nodes/nodes.repository.js';
import { NodesService } from './nodes/nodes.service.js';
import { createNodeInstallers } from './nodes/installer/node-installers.js';
import { TaskEngine } from './tasks/task-engine.service.js';
import { registerBackupRoutes } from './api/backups.routes.js';
import { registerCopyRoutes } from './api/copies.routes.js';
import { CopiesRepository } from './copies/copies.repository.js';
import { CopiesService } from './copies/copies.service.js';
import { registerDestinationRoutes } from './api/destinations.routes.js';
import { BackupsRepository } from './backups/backups.repository.js';
import { BackupsService } from './backups/backups.service.js';
import { DestinationsRepository } from './destinations/destinations.repository.js';
import { DestinationsService } from './destinations/destinations.service.js';
import { registerInventoryRoutes } from './api/inventory.routes.js';
import { registerM365Routes } from './api/m365.routes.js';
import { M365BackupsRepository } from './m365/m365-backups.repository.js';
import { M365BackupsService } from './m365/m365-backups.service.js';
import { M365InventoryRepository } from './m365/m365-inventory.repository.js';
import { M365Service } from './m365/m365.service.js';
import { listenToPointPrunes } from './m365/m365-retention.js';
import { M365PolicyMembers } from './policies/m365-policy-members.js';
import { M365TenantsRepository } from './m365/m365-tenants.repository.js';
import { InventoryRepository } from './inventory/inventory.repository.js';
import { InventoryService } from './inventory/inventory.service.js';
import { SnapshotsService } from './inventory/snapshots.service.js';
import { VmBackupsService } from './inventory/vm-backups.service.js';
import { JobsRepository } from './tasks/jobs.repository.js';
import { JobsService } from './tasks/jobs.service.js';
import { TasksRepository } from './tasks/tasks.repository.js';
import { DEFAULT_TASK_TIMING } from './tasks/task-types.js';
import type { Clock } from './clock.js';
import { registerNotificationRoutes } from './api/notifications.routes.js';
import { registerPolicyRoutes } from './api/policies.routes.js';
import { NotificationsService } from './notifications/notifications.service.js';
import { DashboardService } from './policies/dashboard.service.js';
import { PoliciesRepository } from './policies/policies.repository.js';
import { PoliciesService } from './policies/policies.service.js';
import { PolicyRunner } from './scheduler/policy-runner.js';
import { Scheduler } from './scheduler/scheduler.js';
import { serverShutdown, type ServerParts } from './lifecycle/server-shutdown.js';

export interface RunningServer {
  url: string;
  port: number;
  /** SHA-256 of the server certificate, colon-separated hex. */
  fingerprint: string;
  dataDir: string;
  /** First-run setup's code while no administrator exists (the desktop app gives it to its own window); null after. */
  setupCode(): string | null;
  /** Present when the catalog is the managed local MariaDB. */
  managedDbPid(): number | undefined;
  /** The embedded scheduler: the Electron main ticks it after the machine wakes up; tests tick it after moving their clock. */
  scheduler: Scheduler;
  /** The task queue (tests listen to it like the server's own modules do). */
  engine: TaskEngine;
  /** History within limits: the daily prune (tests wait for a prune to end). */
  history: HistoryService;
  /** The one way the server stops (see lifecycle/server-shutdown.ts); always finishes, within the boot config's stop timeout. */
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /** Time for schedules, policy runs and the dashboard (tests inject one). */
  clock?: Clock;
  /** History pruning's batch size and pauses (tests hold the pauses to act while a prune runs). */
  historyPrune?: Partial<HistoryPruneOptions>;
}

export async function startServer(config: BootConfig, options: StartOptions = {}): Promise<RunningServer> {
  const startedAt = new Date();
  await fs.promises.mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const logger =
    options.logger ??
    createLogger({ level: config.logLevel, file: path.join(config.dataDir, 'logs', 'server.log'), pretty: process.stdout.isTTY });
  const app = readAppInfo();
  const clock = options.clock ?? systemClock;
  // Filled in as the parts start: a start that fails half-way is undone by the same stop path.
  const parts: ServerParts = { timers: [] };
  const shutdown = serverShutdown(parts, logger, config.stopTimeoutSeconds * 1000);

  try {
    const opened: OpenedCatalog = await openCatalog({
      dataDir: config.dataDir,
      logger,
      ...(config.dbUrl ? { dbUrl: config.dbUrl } : {}),
      ...(config.managedDbTcpPort ? { tcpPort: config.managedDbTcpPort } : {}),
    });
    parts.catalog = opened;
    const { catalog } = opened;

    const migrator = new Migrator(catalog, MIGRATIONS, logger.child({ module: 'migrator' }));
    const applied = await migrator.migrate();
    if (applied.length) logger.info({ applied }, 'catalog migrated');

    const secretBox = await SecretBox.open(path.join(config.dataDir, 'secret.key'));
    const tls = await ensureServerTls(path.join(config.dataDir, 'tls'));

    const bus = new EventBus();
    const usersRepo = new UsersRepository(catalog);
    const sessionsRepo = new SessionsRepository(catalog);
    const auditRepo = new AuditRepository(catalog);
    const audit = new AuditService(auditRepo, bus, logger.child({ module: 'audit' }));
    const secrets = new SecretsRepository(catalog, secretBox);
    const auth = new AuthService(catalog, usersRepo, sessionsRepo, audit, { user: new LoginThrottle(systemClock, USER_THROTTLE), ip: new LoginThrottle(systemClock, ADDRESS_THROTTLE) }, logger.child({ module: 'auth' }));
    const users = new UsersService(catalog, usersRepo, sessionsRepo, audit, bus, logger.child({ module: 'users' }));

    if (config.adminPasswordFile && (await users.bootstrapAdminFromFile(config.adminPasswordFile))) {
      logger.info('created the first administrator "admin" from the admin password file');
    }
    // Until the first administrator exists, setup needs a code only the server's machine knows (auth/setup-code.ts).
    const setupCode = (await auth.setupRequired()) ? await SetupCode.ensure(config.dataDir) : SetupCode.none(config.dataDir);
    if (setupCode.value === null) await fs.promises.rm(setupCode.file, { force: true });

    let listeningPort = config.port;
    // Nodes and the task engine.
    const nodesRepo = new NodesRepository(catalog);
    const tasksRepo = new TasksRepository(catalog);
    parts.nodes = nodesRepo;
    await nodesRepo.markAllOffline();
    const sessions = new NodeSessions(nodesRepo, tasksRepo, bus, logger.child({ module: 'node-sessions' }), {
      heartbeatMs: config.nodeHeartbeatSeconds * 1000,
      lossTimeoutMs: config.nodeLossTimeoutSeconds * 1000,
    });
    parts.sessions = sessions;
    const enrollment = new EnrollmentService(catalog, nodesRepo, audit);
    const installers = createNodeInstallers({ dataDir: config.dataDir, appRoot: app.root, logger: logger.child({ module: 'installer' }) });
    parts.supervisor = installers.supervisor;
    const nodes = new NodesService(
      nodesRepo,
      tasksRepo,
      sessions,
      enrollment,
      secrets,
      installers,
      audit,
      bus,
      logger.child({ module: 'nodes' }),
      { fingerprint: tls.fingerprint, port: () => listeningPort, onlineTimeoutMs: 120_000 },
    );
    const engine = new TaskEngine(catalog, tasksRepo, sessions, nodes.serverTaskHandlers(), bus, logger.child({ module: 'tasks' }), {
      ...DEFAULT_TASK_TIMING,
      retryBaseMs: config.taskRetryBaseSeconds * 1000,
    });
    sessions.bindEngine(engine);
    nodes.bindEngine(engine);
    const destinationsRepo = new DestinationsRepository(catalog);
    const destinations = new DestinationsService(destinationsRepo, nodesRepo, sessions, secrets, engine, audit, bus, logger.child({ module: 'destinations' }));
    const inventoryRepo = new InventoryRepository(catalog);
    const inventory = new InventoryService(inventoryRepo, nodesRepo, sessions, engine, audit, bus, logger.child({ module: 'inventory' }));
    parts.timers.push(() => inventory.stop());
    const copiesRepo = new CopiesRepository(catalog);
    const vmBackups = new VmBackupsService(inventoryRepo, inventory, destinationsRepo, nodesRepo, engine, audit, bus, logger.child({ module: 'backups' }), copiesRepo, sessions);
    // After VmBackupsService: its STORE listener records the backup that this one adds the run's numbers to.
    const backupsRepo = new BackupsRepository(catalog);
    const backups = new BackupsService(destinationsRepo, backupsRepo, engine, tasksRepo, audit, bus, logger.child({ module: 'backup-browser' }));
    const snapshots = new SnapshotsService(inventory, sessions, engine, audit);
    const m365Tenants = new M365TenantsRepository(catalog);
    const m365Inventory = new M365InventoryRepository(catalog);
    const policiesRepo = new PoliciesRepository(catalog);
    const m365Members = new M365PolicyMembers(policiesRepo, m365Inventory);
    const m365 = new M365Service({ catalog, tenants: m365Tenants, inventory: m365Inventory, nodes: nodesRepo, sessions, secrets, engine, audit, logger: logger.child({ module: 'm365' }), policyOf: () => m365Members.policyOf() });
    parts.timers.push(() => m365.stop());
    const mounts = new MountsService({ repo: new MountsRepository(catalog), destinations: destinationsRepo, nodes: nodesRepo, sessions, engine, tasks: tasksRepo, audit, bus, logger: logger.child({ module: 'mounts' }) });
    const m365BackupsRepo = new M365BackupsRepository(catalog);
    listenToPointPrunes(engine.listeners, m365BackupsRepo, logger.child({ module: 'm365-retention' }));
    const m365Backups = new M365BackupsService({
      catalog,
      backups: m365BackupsRepo,
      tenants: m365Tenants,
      inventory: m365Inventory,
      destinations: destinationsRepo,
      secrets,
      engine,
      mounts,
      audit,
      logger: logger.child({ module: 'm365-backups' }),
    });
    await mounts.init();
    const notifications = new NotificationsService({ catalog, secrets, engine, audit, logger: logger.child({ module: 'notifications' }), clock });
    const jobsRepo = new JobsRepository(catalog);
    const runner = new PolicyRunner({
      repo: policiesRepo,
      vmBackups,
      engine,
      tasks: tasksRepo,
      jobs: jobsRepo,
      notifications,
      bus,
      logger: logger.child({ module: 'policy-runs' }),
      clock,
      gcGraceHours: config.gcGraceHours,
      m365: { members: m365Members, backups: m365Backups, catalog: m365BackupsRepo },
    });
    // After VmBackupsService too: a policy's copy starts from the backup its STORE recorded.
    const copies = new CopiesService({
      copies: copiesRepo,
      backups: backupsRepo,
      destinations: destinationsRepo,
      destinationsService: destinations,
      policies: policiesRepo,
      engine,
      audit,
      bus,
      logger: logger.child({ module: 'copies' }),
      gcGraceHours: config.gcGraceHours,
    });
    const policies = new PoliciesService({ catalog, repo: policiesRepo, inventory: inventoryRepo, destinations: destinationsRepo, runner, audit, bus, logger: logger.child({ module: 'policies' }), clock, m365Members });
    // New VMs join the policies whose rules they match as soon as an inventory sync sees them.
    inventory.onSynced(async () => {
      await policies.applyAutoAssignment('backup');
      await policies.applyAutoAssignment('snapshot');
    });
    const scheduler = new Scheduler({ catalog, repo: policiesRepo, runner, notifications, logger: logger.child({ module: 'scheduler' }), clock });
    policies.bindScheduler(scheduler);
    notifications.onDailyReportScheduleChanged(() => void scheduler.tick());
    const dashboard = new DashboardService(catalog, policies, clock);
    const history = new HistoryService({ sql: catalog, audit, logger: logger.child({ module: 'history' }), clock, isLeader: () => scheduler.isLeader(), ...(options.historyPrune ? { options: options.historyPrune } : {}) });
    await engine.recoverAfterRestart(config.nodeLossTimeoutSeconds * 1000);
    parts.engine = engine;

    if (opened.managed) {
      const managed = opened.managed;
      const announce = (): void => void catalog.info().then((info) => bus.publish({ type: 'catalog', catalog: info }));
      managed.on('down', announce);
      managed.on('up', announce);
    }

    const http = await createHttpServer(
      {
        logger,
        tls,
        auth,
        version: app.version,
        uiDir: config.uiDir ?? path.join(app.root, 'dist', 'renderer'),
        accepting: shutdown.accepting,
        authenticateNode: async (token) => {
          const row = await nodesRepo.byCredentialHash(hashToken(token));
          return row ? { nodeId: row.id, name: row.name } : undefined;
        },
      },
      (api) => {
        registerHealthRoutes(api, { version: app.version, fingerprint: tls.fingerprint, dataDir: config.dataDir, startedAt, catalog, auth, users: usersRepo, migrator, nodes: nodesRepo, tasks: tasksRepo, setupCode });
        registerAuthRoutes(api, auth, setupCode);
        registerUserRoutes(api, users);
        registerAuditRoutes(api, auditRepo);
        registerEventRoutes(api, bus);
        registerNodeRoutes(api, { nodes, enrollment, fingerprint: tls.fingerprint, probeHostKey: installers.probeHostKey });
        registerTaskRoutes(api, { engine, tasks: tasksRepo, nodes: nodesRepo });
        registerJobRoutes(api, { jobs: new JobsService(jobsRepo, engine) });
        registerNodeAgentRoutes(api, { enrollment, sessions });
        registerDestinationRoutes(api, { destinations });
        registerBackupRoutes(api, { backups, destinations: destinationsRepo });
        registerCopyRoutes(api, { copies, destinations: destinationsRepo });
        registerInventoryRoutes(api, { inventory, backups: vmBackups, snapshots });
        registerM365Routes(api, { m365, backups: m365Backups });
        registerPolicyRoutes(api, { policies, dashboard });
        registerNotificationRoutes(api, { notifications });
        registerMountRoutes(api, { mounts });
        registerM365MailRoutes(api, { mounts });
        registerHistoryRoutes(api, { history });
      },
    );
    parts.http = http;
    await http.listen({ port: config.port, host: config.bind });
    const address = http.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    listeningPort = port;

    const purge = setInterval(
      () => void auth.purgeExpiredSessions().catch((err: unknown) => logger.warn({ err }, 'could not purge expired sessions; trying again in an hour')),
      3600_000,
    );
    purge.unref();
    parts.timers.push(() => clearInterval(purge));

    engine.start();
    await scheduler.start();
    parts.scheduler = scheduler;
    history.start();
    parts.timers.push(() => history.stop());
    parts.notifications = notifications;
    // Local nodes this server supervises (no systemd) come back with it; running ones are taken over, not restarted.
    installers.local.reattach((await nodesRepo.list()).filter((n) => n.install_method === 'local-supervised').map((n) => n.name));

    const url = `https://localhost:${port}`;
    logger.info({ url, fingerprint: tls.fingerprint, catalog: opened.catalog.options.mode }, 'vPlus server ready');
    if (setupCode.value !== null) {
      logger.warn({ url, file: setupCode.file }, `first-run setup: open ${url} and enter the setup code ${setupCode.value} to create the first administrator (the code is also in ${setupCode.file})`);
    }
    return {
      url,
      port,
      fingerprint: tls.fingerprint,
      dataDir: config.dataDir,
      setupCode: () => setupCode.value,
      managedDbPid: () => opened.managed?.pid,
      scheduler,
      engine,
      history,
      close: shutdown.run,
    };
  } catch (err) {
    await shutdown.run();
    throw err;
  }
}
