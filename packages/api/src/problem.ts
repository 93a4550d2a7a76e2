/**
 * RFC 9457 problem details. Handlers throw an HttpProblem; the error handler turns it
 * (and every other error) into an application/problem+json response.
 */
export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  [extension: string]: unknown;
}

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Problem type URIs are stable names clients can branch on. */
export const problemType = (slug: string) => `urn:mediaq:problem:${slug}`;

export class HttpProblem extends Error {
  readonly status: number;
  readonly slug: string;
  readonly title: string;
  readonly detail: string;
  /** Extra members, e.g. the list of missing blobs. */
  readonly extensions: Record<string, unknown>;

  constructor(status: number, slug: string, title: string, detail: string, extensions: Record<string, unknown> = {}) {
    super(detail);
    this.status = status;
    this.slug = slug;
    this.title = title;
    this.detail = detail;
    this.extensions = extensions;
    this.name = "HttpProblem";
  }

  toBody(instance?: string): ProblemBody {
    return {
      type: problemType(this.slug),
      title: this.title,
      status: this.status,
      detail: this.detail,
      ...(instance ? { instance } : {}),
      ...this.extensions,
    };
  }
}

/** A tenant's own things and things that do not exist look the same to it: 404. */
export function notFound(what: string, id: string): HttpProblem {
  return new HttpProblem(404, "not-found", "Not found", `No ${what} "${id}" exists for this API key.`);
}

export function badRequest(slug: string, detail: string, extensions?: Record<string, unknown>): HttpProblem {
  return new HttpProblem(400, slug, "Bad request", detail, extensions);
}

/** "a, b, c and 4 more" — keeps details readable when a list is long. */
export function listSome(values: string[], max = 5): string {
  const shown = values.slice(0, max).join(", ");
  return values.length > max ? `${shown} and ${values.length - max} more` : shown;
}
