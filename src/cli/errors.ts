/** A mistake the user can fix: printed without a stack trace, exit code 1. */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }
}
