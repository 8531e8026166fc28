import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// Paths are resolved from this file, not the cwd, so the build works from any directory
// (`npm run build:ui` runs it from the repo root with --config renderer/vite.config.ts).
const fromHere = (relative: string): string => fileURLToPath(new URL(relative, import.meta.url));

/** The embedded server the dev server proxies to; override when it runs elsewhere. */
const devApiTarget = process.env['VPLUS_DEV_API'] ?? 'https://localhost:8181';

export default defineConfig({
  root: fromHere('.'),
  base: '/',
  plugins: [react()],
  resolve: {
    // Only the browser-safe parts of common/ get an alias (same list as tsconfig "paths"), so
    // '@common/net/…' (node-only) fails to resolve in both tsc and the build.
    alias: [{ find: /^@common\/(api\/.+|field-messages\.js|fingerprint\.js|format\.js|kvm-tasks\.js|m365-tasks\.js|mount-tasks\.js|policy-vm-choices\.js|schedule\.js|schedule-builder\.js)$/, replacement: `${fromHere('../common')}/$1` }],
  },
  build: {
    outDir: fromHere('../dist/renderer'),
    // outDir lies outside root; emptying it is safe because dist/renderer belongs to the UI alone.
    emptyOutDir: true,
    sourcemap: true,
    rolldownOptions: {
      output: {
        // Libraries change far less often than our code; separate chunks stay cached across UI updates.
        codeSplitting: {
          groups: [
            { name: 'react', test: /node_modules[\\/](react|react-dom|react-router|react-router-dom|scheduler)[\\/]/, priority: 30 },
            // clsx is shared with the chart library; here it stays out of the lazily loaded chunk.
            { name: 'mantine', test: /node_modules[\\/](@mantine|@floating-ui|clsx)[\\/]/, priority: 20 },
            // Only the destination and VM pages draw charts; they load this chunk when opened.
            {
              name: 'charts',
              test: /node_modules[\\/](recharts|@reduxjs|react-redux|redux|redux-thunk|reselect|immer|es-toolkit|decimal\.js-light|eventemitter3|victory-vendor|d3-[a-z-]+|internmap)[\\/]/,
              // Below the groups the first page needs, so modules they share stay with them.
              priority: 15,
            },
            { name: 'vendor', test: /node_modules[\\/]/, priority: 10 },
          ],
        },
      },
    },
  },
  server: {
    port: 5173,
    strictPort: true,
    proxy: {
      // Same-origin in dev too, so the session cookie and /api/events behave as in production.
      // The server's certificate is self-signed, hence secure: false (dev only).
      '/api': { target: devApiTarget, secure: false, ws: true },
    },
  },
});
