/**
 * Plain words for what is wrong with a field, the same in the UI's forms, the API's answers
 * and the CLI. Schemas that say why in their own words (`.regex(re, 'the path must be
 * absolute')`) keep their words; zod's generic text ("Too small: expected string to have >=1
 * characters") becomes a sentence a person can act on ("Enter a name").
 */

/** The parts of a zod issue (or of the API's copy of one) the wording depends on. */
export interface FieldIssue {
  code: string;
  message: string;
  path?: readonly PropertyKey[];
  minimum?: number | bigint;
  maximum?: number | bigint;
  origin?: string;
  expected?: string;
  format?: string;
  input?: unknown;
}

/** How a field is named in a sentence: what to enter, and "the …" for the rest. */
const NOUNS: Record<string, { enter: string; the: string }> = {
  name: { enter: 'Enter a name', the: 'The name' },
  username: { enter: 'Enter a user name', the: 'The user name' },
  password: { enter: 'Enter a password', the: 'The password' },
  currentPassword: { enter: 'Enter your current password', the: 'The current password' },
  confirmPassword: { enter: 'Enter the password again', the: 'The password' },
  path: { enter: 'Enter a path', the: 'The path' },
  node: { enter: 'Choose a node', the: 'The node' },
  uri: { enter: 'Enter a libvirt URI such as qemu:///system', the: 'The URI' },
  host: { enter: 'Enter a host name or address', the: 'The host' },
  port: { enter: 'Enter a port number', the: 'The port' },
  email: { enter: 'Enter an e-mail address', the: 'The e-mail address' },
  destination: { enter: 'Choose a destination', the: 'The destination' },
  schedule: { enter: 'Enter a schedule', the: 'The schedule' },
};

function nounOf(field: string | undefined): { enter: string; the: string } {
  const last = field?.split('.').filter((part) => !/^\d+$/.test(part)).pop() ?? '';
  const known = NOUNS[last];
  if (known) return known;
  const words = last.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/[_-]+/g, ' ').toLowerCase().trim();
  return words === '' ? { enter: 'Fill in this field', the: 'This value' } : { enter: `Enter the ${words}`, the: `The ${words}` };
}

/** zod's own texts, which no schema of ours writes: they all start like this. */
const GENERIC = /^(Too small|Too big|Invalid|Expected|Unrecognized key|Required$)/;

/** True for zod's generic text, false for the words a schema of ours gave. */
export const isGenericMessage = (message: string): boolean => GENERIC.test(message);

const isBlank = (input: unknown): boolean => input === undefined || input === null || (typeof input === 'string' && input.trim() === '');

/** The sentence for one issue on `field` (a dotted path, e.g. "retention.daily"). */
export function plainIssueMessage(issue: FieldIssue, field = issue.path?.map(String).join('.')): string {
  if (!GENERIC.test(issue.message)) return sentence(issue.message);
  const noun = nounOf(field);
  const min = issue.minimum === undefined ? undefined : Number(issue.minimum);
  const max = issue.maximum === undefined ? undefined : Number(issue.maximum);
  switch (issue.code) {
    case 'too_small':
      if (issue.origin === 'string') return min === undefined || min <= 1 ? noun.enter : `${noun.the} must be at least ${min} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return min === 1 ? 'Choose at least one' : `Choose at least ${min}`;
      return `${noun.the} must be at least ${min}`;
    case 'too_big':
      if (issue.origin === 'string') return `${noun.the} must be at most ${max} characters`;
      if (issue.origin === 'array' || issue.origin === 'set') return `Choose at most ${max}`;
      return `${noun.the} must be at most ${max}`;
    case 'invalid_type':
      // zod reports the input only when asked to; its text names what it received.
      if ('input' in issue ? isBlank(issue.input) : !/received (?!undefined|null)/.test(issue.message)) return noun.enter;
      if (issue.expected === 'number' || issue.expected === 'int') return `${noun.the} must be a number`;
      return `${noun.the} is not valid`;
    case 'invalid_format':
      if (issue.format === 'email') return 'Enter an e-mail address such as name@example.com';
      if (issue.format === 'url') return 'Enter an address such as https://example.com';
      return `${noun.the} contains characters that are not allowed`;
    case 'invalid_value':
      return 'Choose one of the options';
    default:
      return `${noun.the} is not valid`;
  }
}

/** Form errors by dotted path, the first issue of each field only (what a form shows under it). */
export function issuesToFieldMessages(issues: readonly FieldIssue[]): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const issue of issues) {
    const field = (issue.path ?? []).map(String).join('.');
    errors[field] ??= plainIssueMessage(issue, field);
  }
  return errors;
}

/** `body field "name": …`: the API's wording of a request validation failure. */
const API_PREFIX = /^(?:body|querystring|params|headers)(?: field "[^"]*")?:\s*/;

/**
 * The sentence to show under `field` for the API's message about it: the server's own words
 * without the request-part prefix, and zod's generic text (from a server that did not word
 * it) in plain words.
 */
export function plainFieldMessage(field: string | undefined, message: string): string {
  const text = message.replace(API_PREFIX, '');
  const small = /^Too small: expected (\w+) to have >=?(\d+)/.exec(text);
  if (small) return plainIssueMessage({ code: 'too_small', message: text, origin: small[1], minimum: Number(small[2]) }, field);
  const big = /^Too big: expected (\w+) to have <=?(\d+)/.exec(text);
  if (big) return plainIssueMessage({ code: 'too_big', message: text, origin: big[1], maximum: Number(big[2]) }, field);
  const type = /^Invalid input: expected (\w+)/.exec(text);
  if (type) return plainIssueMessage({ code: 'invalid_type', message: text, expected: type[1] }, field);
  if (/^Invalid string: must match pattern/.test(text)) return plainIssueMessage({ code: 'invalid_format', message: text, format: 'regex' }, field);
  return plainIssueMessage({ code: 'custom', message: text }, field);
}

/** First letter up: "the path must be absolute" reads as a sentence under the field. */
function sentence(text: string): string {
  const trimmed = text.trim();
  return trimmed.charAt(0).toUpperCase() + trimmed.slice(1);
}
