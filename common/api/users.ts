import { z } from 'zod';
import { ID_LIKE_NAME_MESSAGE, notIdLike, unicodeNamePattern } from '../names.js';

export const ROLES = ['admin', 'operator', 'viewer'] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

export const UsernameSchema = z
  .string()
  .min(1, 'username is required')
  .max(64, 'username must be at most 64 characters')
  .regex(unicodeNamePattern('._@-'), 'username may contain letters, digits, ".", "_", "@" and "-" and must start with a letter or digit')
  .refine(notIdLike, ID_LIKE_NAME_MESSAGE);

export const PasswordSchema = z
  .string()
  .min(8, 'password must be at least 8 characters')
  .max(256, 'password must be at most 256 characters');

export const UserSchema = z.object({
  id: z.number().int(),
  username: z.string(),
  role: RoleSchema,
  createdAt: z.string().describe('ISO 8601'),
  lastLoginAt: z.string().nullable(),
});
export type User = z.infer<typeof UserSchema>;

export const UserListSchema = z.array(UserSchema);

export const CreateUserSchema = z.object({
  username: UsernameSchema,
  password: PasswordSchema,
  role: RoleSchema,
});
export type CreateUser = z.infer<typeof CreateUserSchema>;

export const UpdateUserSchema = z
  .object({
    role: RoleSchema.optional(),
    password: PasswordSchema.optional(),
  })
  .refine((v) => v.role !== undefined || v.password !== undefined, {
    message: 'give a role or a password to change',
    path: ['role'],
  });
export type UpdateUser = z.infer<typeof UpdateUserSchema>;

/** Addresses a user by numeric id or by username, as the CLI does. */
export const UserRefParamsSchema = z.object({
  user: z.string().min(1).max(64),
});
