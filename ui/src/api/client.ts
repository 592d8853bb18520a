// The typed client of /api.rsc: types generated from the app's OpenAPI document (schema.gen.ts, `npm run
// codegen`), openapi-fetch as the runtime. Authentication is the Airflow UI's own session: the browser sends
// its HttpOnly `_token` cookie on these same-origin calls; the X-Airflow-Sync-UI header marks them as coming
// from this page, which the server requires before it accepts a cookie-only write (CSRF guard).
import createClient from "openapi-fetch";

import type { components, paths } from "./schema.gen";

export type Schemas = components["schemas"];
export type Job = Schemas["Job"] & Record<string, string | null | undefined>;
export type ResultRow = Schemas["ResultRow"];
export type HistoryRow = Schemas["HistoryRow"];
export type LogRow = Schemas["LogRow"];
export type ErrorBody = Schemas["ErrorBody"];
export type ErrorDetail = Schemas["ErrorDetail"];

export const UI_HEADER = "X-Airflow-Sync-UI";

/** The API's base URL, resolved against Airflow's <base href> (works under a sub-path too). */
export function apiBase(doc: Document = document): string {
  return new URL("api.rsc", doc.baseURI).href.replace(/\/$/, "");
}

/** The Airflow UI's own base path (for links to DAG, run and task pages). */
export function airflowBase(doc: Document = document): string {
  return new URL(".", doc.baseURI).pathname;
}

export const client = createClient<paths>({
  baseUrl: typeof document === "undefined" ? "/api.rsc" : apiBase(),
  credentials: "same-origin",
  headers: { [UI_HEADER]: "1" },
  // looked up per call, not captured at import (tests put a fake API in its place)
  fetch: (request: Request) => globalThis.fetch(request),
});

/** An error answered by the API, in its envelope {"error": {code, message, target?, position?, details?}}. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly target?: string;
  /** 0-based character offset in the target field's text (a query's syntax error) */
  readonly position?: number;
  readonly details: ErrorDetail[];

  constructor(status: number, body: Partial<ErrorBody> | undefined) {
    super(body?.message ?? `The server answered ${status}.`);
    this.status = status;
    this.code = body?.code ?? "Error";
    this.target = body?.target ?? undefined;
    this.position = body?.position ?? undefined;
    this.details = body?.details ?? [];
  }
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/** Unwrap an openapi-fetch answer: the data, or an ApiError carrying the envelope. */
export async function unwrap<T>(pending: Promise<Answer<T>>): Promise<T> {
  const { data, error, response } = await pending;
  if (!response.ok) {
    const envelope = error as { error?: ErrorBody } | undefined;
    throw new ApiError(response.status, envelope?.error);
  }
  return data as T;
}

/** OData system query options. The document declares them per entity set ($orderby as an enum of
 * "<field> asc|desc"); the UI builds them from what the user picked, so they are passed as one object. */
export type OData = { $filter?: string; $orderby?: string; $top?: number; $skip?: number; $count?: boolean };
export function odataParams(query: OData): { params: { query: never } } {
  const clean = Object.fromEntries(Object.entries(query).filter(([, v]) => v !== undefined && v !== ""));
  return { params: { query: clean as never } };
}
