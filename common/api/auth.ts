import { z } from 'zod';
import { PasswordSchema, UserSchema, UsernameSchema } from './users.js';

export const LoginSchema = z.object({
  username: z.string().min(1, 'username is required').max(64),
  password: z.string().min(1, 'password is required').max(256),
  /** CLI and scripts ask for a bearer token instead of a cookie. */
  issueToken: z.boolean().optional(),
});
export type Login = z.infer<typeof LoginSchema>;

export const LoginResponseSchema = z.object({
  user: UserSchema,
  token: z.string().optional().describe('Bearer token, only when issueToken was true'),
  expiresAt: z.string(),
});
export type LoginResponse = z.infer<typeof LoginResponseSchema>;

export const SetupSchema = z.object({
  username: UsernameSchema,
  password: PasswordSchema,
  /** The one-time code the server printed to its log and wrote to <data dir>/setup-code. */
  setupCode: z.string().trim().min(1, 'enter the setup code').max(64),
});
export type Setup = z.infer<typeof SetupSchema>;

export const MeResponseSchema = z.object({ user: UserSchema });
