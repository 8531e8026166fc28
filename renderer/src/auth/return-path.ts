/** Router state carried to the sign-in page so the user lands back where they were. */
export interface ReturnState {
  from?: string;
}

function isReturnState(value: unknown): value is ReturnState {
  return typeof value === 'object' && value !== null && 'from' in value;
}

/** Only same-app paths: "//evil.example" would be protocol-relative and leave the app. */
export function returnPathFrom(state: unknown): string {
  if (!isReturnState(state) || typeof state.from !== 'string') return '/';
  const from = state.from;
  if (!from.startsWith('/') || from.startsWith('//') || from.startsWith('/signin') || from.startsWith('/setup')) return '/';
  return from;
}
