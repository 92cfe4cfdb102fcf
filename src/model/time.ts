import { randomBytes } from 'node:crypto';

export const now = (): string => new Date().toISOString();

/** 12 hex characters, as Docker's short ids; enough for uniqueness within one cluster. */
export const newId = (): string => randomBytes(6).toString('hex');
