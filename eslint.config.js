// @ts-check
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The layer rule from ARCHITECTURE.md, enforced (as VS Code's code-layering
 * and Bitwarden's import/no-restricted-paths do): common/ imports nothing of
 * ours; renderer/ only common/; node-service/ never electron/;
 * electron/server/ never the electron package nor renderer/.
 */
const layers = [
  { target: './common', from: ['./electron', './renderer', './node-service', './cli'], message: 'common/ holds wire contracts and imports nothing of ours.' },
  { target: './renderer', from: ['./electron', './node-service', './cli', './common/net'], message: 'renderer/ talks to the server over HTTP only; it may import common/ (browser-safe parts).' },
  { target: './node-service', from: ['./electron', './renderer', './cli'], message: 'node-service/ never imports electron/ or the UI.' },
  { target: './electron/server', from: ['./renderer', './electron/main', './electron/preload', './cli'], message: 'the server runs headless: no UI, no Electron main.' },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'bench-results/**', 'renderer/vite.config.ts', 'build/**/*.js', 'bin/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js'] }, tsconfigRootDir: import.meta.dirname },
      globals: { ...globals.node },
    },
    plugins: { 'import-x': importX },
    // Resolve `./x.js` specifiers to the `.ts` sources, or the layer rule sees nothing.
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver({ project: ['tsconfig.json', 'renderer/tsconfig.json'], noWarnOnMultipleProjects: true })] },
    rules: {
      'import-x/no-restricted-paths': ['error', { zones: layers }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: false }],
      'no-console': 'error',
      // Async hooks and callbacks are often async for their signature only.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
    },
  },
  {
    files: ['electron/server/**/*.ts', 'node-service/**/*.ts', 'common/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: [{ name: 'electron', message: 'Only electron/main may import electron; the server and nodes run in plain Node.' }] }],
    },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // The CLI and tests talk to people on the terminal.
    files: ['cli/**/*.ts', 'tests/**/*.ts', 'build/**/*.ts', 'node-service/repository/bench/**/*.ts'],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['tests/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
);
