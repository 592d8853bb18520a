// The job editor's model: every job field of the spec, grouped; conversion from the API's entity and to the
// body of POST /jobs or PUT /jobs(X); the server's errors placed on the field or query they name.
import type { ApiError, Job } from "../api/client";

export type FieldKind = "text" | "bool" | "int" | "enum" | "code" | "connection" | "emails";
export type FieldSpec = {
  name: string;
  label: string;
  kind: FieldKind;
  help?: string;
  options?: string[];
  defaultValue: string;
};

const f = (name: string, label: string, kind: FieldKind, defaultValue = "", help?: string, options?: string[]): FieldSpec =>
  ({ name, label, kind, defaultValue, help, options });

export const GROUPS: { title: string; fields: FieldSpec[] }[] = [
  {
    title: "General",
    fields: [
      f("JobName", "Job name", "text", "", "Letters, digits, _ . - ; the DAG is sync__<name>. Cannot change after creation."),
      f("Source", "Source connection", "connection", "", "The Airflow connection the tables are read from."),
      f("Destination", "Destination connection", "connection", "", "The Airflow connection the tables are written to."),
      f("CacheSchema", "Destination schema", "text", "", "PostgreSQL schema / MySQL database of the destination tables (empty: the connection's default)."),
      f("TableNamePrefix", "Table name prefix", "text", "", "Prefix for destination tables named implicitly (REPLICATE [T])."),
    ],
  },
  {
    title: "Schedule",
    fields: [
      f("Scheduled", "Run on a schedule", "bool", "False"),
      f("ScheduledCron", "Cron", "text", "", "minute hour day-of-month month day-of-week (1-7 or SUN-SAT, 1 = Sunday)"),
    ],
  },
  {
    title: "Notifications",
    fields: [
      f("SendEmailNotification", "Send an e-mail after each run", "bool", "False"),
      f("EmailErrorOnly", "Only when the run failed", "bool", "False"),
      f("NotifyEmailTo", "To", "emails", "", "Comma-separated addresses."),
      f("NotifyEmailSubject", "Subject", "text", "", "Default: [airflow_sync] <JobName> <Status>"),
      f("NotifyWindowsEvent", "Also log errors to the system log", "bool", "False"),
    ],
  },
  {
    title: "Replication options",
    fields: [
      f("TruncateTableData", "Truncate destination tables before each run", "bool", "False"),
      f("DropTable", "Drop and recreate destination tables before each run", "bool", "False"),
      f("AlterSchema", "Alter schema (add columns, widen types)", "bool", "True"),
      f("AutoTruncateStrings", "Cut strings to the destination column size", "bool", "False"),
      f("ContinueOnError", "Continue with the other queries when one fails", "bool", "True"),
      f("SkipDeleted", "Do not propagate source deletes", "bool", "False"),
      f("UseGmtDateTime", "Handle datetimes and watermarks in UTC", "bool", "False"),
      f("BatchSize", "Batch size (rows)", "int", "1000"),
      f("CommandTimeout", "Command timeout (s, 0 = none)", "int", "0"),
      f("ReplicateStartDate", "Replicate start date", "text", "", "yyyy-MM-dd: lower bound of the first load."),
      f("ReplicateInterval", "Replicate interval", "int", "", "Split the initial load into windows of this size."),
      f("ReplicateIntervalUnit", "Interval unit", "enum", "days", undefined, ["minutes", "hours", "days", "weeks", "months", "years"]),
      f("OtherCacheOptions", "Other options", "text", "", "Name=Value,... applied to every query (a query's WITH wins)."),
      f("Verbosity", "Log verbosity", "enum", "2", "1 Error, 2 Info, 3 Transfer, 4-5 Verbose (row values are never logged).", ["1", "2", "3", "4", "5"]),
    ],
  },
  {
    title: "Events",
    fields: [
      f("PreJob", "Before the queries (PreJob)", "code", "", "sql: ... on the destination, http: METHOD conn_id endpoint, python: module:function, or CData event XML."),
      f("PostJob", "After the queries (PostJob)", "code", "", "Runs after every run, with its outcome."),
    ],
  },
];

export const FIELDS: FieldSpec[] = GROUPS.flatMap((g) => g.fields);

export type QueryItem = { id: number; text: string };
export type JobForm = { fields: Record<string, string>; queries: QueryItem[] };

let nextId = 1;
export const newQuery = (text = ""): QueryItem => ({ id: nextId++, text });

export function queryTexts(job: Record<string, unknown>): string[] {
  return Object.keys(job)
    .map((k) => /^Query#(\d+)$/.exec(k))
    .filter((m): m is RegExpExecArray => m !== null)
    .sort((a, b) => Number(a[1]) - Number(b[1]))
    .map((m) => String(job[m[0]] ?? ""));
}

export function emptyForm(): JobForm {
  return { fields: Object.fromEntries(FIELDS.map((s) => [s.name, s.defaultValue])), queries: [newQuery()] };
}

export function formFromJob(job: Job): JobForm {
  const fields = Object.fromEntries(FIELDS.map((s) => [s.name, job[s.name] == null ? s.defaultValue : String(job[s.name])]));
  const queries = queryTexts(job).map((t) => newQuery(t));
  return { fields, queries: queries.length ? queries : [newQuery()] };
}

/** The body for POST /jobs or PUT /jobs(X): every field (a PUT then leaves nothing stale) and Query#1..n. */
export function bodyFromForm(form: JobForm, { create }: { create: boolean }): Record<string, string> {
  const body: Record<string, string> = {};
  for (const spec of FIELDS) {
    if (spec.name === "JobName" && !create) continue;
    const value = (form.fields[spec.name] ?? "").trim();
    // an empty optional number means "not set": omit it rather than send "" (the server's default applies)
    if (spec.kind === "int" && value === "") continue;
    body[spec.name] = spec.kind === "code" ? form.fields[spec.name] ?? "" : value;
  }
  form.queries
    .map((q) => q.text.trim())
    .filter((t) => t !== "")
    .forEach((text, i) => (body[`Query#${i + 1}`] = text));
  return body;
}

export type Problem = { message: string; position?: number };
export type Problems = Record<string, Problem>;

/** The server's errors by field name ("JobName", "Query#2" ...), each with the 0-based position in the
 * field's text when the API gives one; a message without a target goes to "". */
export function problemsFrom(error: ApiError): Problems {
  const out: Problems = {};
  const add = (target: string | undefined | null, message: string, position?: number | null) => {
    const key = target ?? "";
    const before = out[key];
    out[key] = {
      message: before ? `${before.message}\n${message}` : message,
      position: before?.position ?? position ?? undefined,
    };
  };
  if (error.details.length) error.details.forEach((d) => add(d.target, d.message, d.position));
  else add(error.target, error.message, error.position);
  return out;
}

/** Move the item at `from` to `to` (the REPLICATE editor's re-ordering). */
export function move<T>(items: T[], from: number, to: number): T[] {
  if (to < 0 || to >= items.length || from === to) return items;
  const copy = items.slice();
  const [item] = copy.splice(from, 1);
  copy.splice(to, 0, item);
  return copy;
}

const DEFAULT_SCHEMAS = new Set(["", "public", "main", "dbo"]);

/** `REPLICATE [T]` for a picked table (brackets doubled inside, as the parser reads them). A table outside
 * the connection's default schema is read by name: `REPLICATE [T] SELECT * FROM [s].[T]`.
 * @param onlySchema true when every listed table is in this one schema (then it is the default one) */
export function replicateFor(table: string, schema?: string | null, onlySchema = false): string {
  const q = (s: string) => `[${s.replaceAll("]", "]]")}]`;
  if (!schema || onlySchema || DEFAULT_SCHEMAS.has(schema.toLowerCase())) return `REPLICATE ${q(table)}`;
  return `REPLICATE ${q(table)} SELECT * FROM ${q(schema)}.${q(table)}`;
}
