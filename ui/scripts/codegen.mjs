// Regenerate the typed API client from the app's own OpenAPI document:
// 1. the Python app writes its document (no server needed) to openapi/openapi.json;
// 2. openapi-typescript turns it into src/api/schema.gen.ts (types only; openapi-fetch is the runtime).
import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ui = join(dirname(fileURLToPath(import.meta.url)), "..");
const python = process.env.PYTHON ?? join(ui, "..", ".venv", "bin", "python");
const env = { ...process.env, AIRFLOW_SYNC_FORCE_API: "1" };
env.AIRFLOW_HOME ??= mkdtempSync(join(tmpdir(), "airflow-sync-codegen-"));
const doc = execFileSync(python, ["-m", "airflow_sync.www.openapi"], { env, encoding: "utf8" });
writeFileSync(join(ui, "openapi", "openapi.json"), doc);
execFileSync(
  join(ui, "node_modules", ".bin", "openapi-typescript"),
  [join(ui, "openapi", "openapi.json"), "-o", join(ui, "src", "api", "schema.gen.ts")],
  { stdio: "inherit" },
);
