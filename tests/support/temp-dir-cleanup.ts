// Vitest setup file (integration and e2e tiers): after each test file, after its own hooks
// (setup-file hooks run last), the temp dirs it made with makeTempDir go.
import { afterAll } from 'vitest';
import { removeTempDirs } from './temp-dirs.js';

afterAll(() => removeTempDirs());
