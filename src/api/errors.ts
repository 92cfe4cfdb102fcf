/** One thing wrong with a request, named so the user can find it (service, key). */
export interface ApiProblem {
  service?: string;
  path?: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly problems: ApiProblem[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toJSON(): { error: { code: string; message: string; problems: ApiProblem[] } } {
    return { error: { code: this.code, message: this.message, problems: this.problems } };
  }
}

export const notFound = (what: string): ApiError => new ApiError(404, 'not_found', `${what} not found`);
export const badRequest = (message: string, problems: ApiProblem[] = []): ApiError => new ApiError(400, 'invalid', message, problems);

/** A service's image could not be built or pulled: the builder's or registry's message, named by service. */
export class ImageError extends Error {
  constructor(readonly service: string, message: string) {
    super(message);
    this.name = 'ImageError';
  }
}
