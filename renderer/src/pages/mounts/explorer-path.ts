import { useCallback } from 'react';
import { useSearchParams } from 'react-router-dom';
import { normalizeMountPath } from '../../utils/mount-format.js';

/** The explorer's folder lives in the address (?path=vda1/etc), so Back and links work. */
export function explorerSearch(path: string): string {
  return path === '' ? '' : `?${new URLSearchParams({ path }).toString()}`;
}

export function useExplorerPath(): [string, (path: string) => void] {
  const [params, setParams] = useSearchParams();
  const path = normalizeMountPath(params.get('path') ?? '');
  const go = useCallback((next: string) => setParams(next === '' ? {} : { path: next }), [setParams]);
  return [path, go];
}
