// The hash of the sources the bundle is built from, written beside the bundle (--write) or compared with
// it (--check). Same algorithm as airflow_sync/www/__init__.py sources_hash(): sha256 over
// "<relative path>\0<content>\0" for package.json, package-lock.json, tsconfig.json, vite.config.ts and
// every file under src/ except tests, sorted by relative path.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";

const ui = join(dirname(fileURLToPath(import.meta.url)), "..");
const hashFile = join(ui, "..", "airflow_sync", "www", "dist", "sources.sha256");

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

export function sourcesHash() {
  const files = ["package.json", "package-lock.json", "tsconfig.json", "vite.config.ts"].map((f) => join(ui, f));
  files.push(...walk(join(ui, "src")).filter((p) => !p.split(sep).pop().includes(".test.") && !p.includes("__snapshots__")));
  const rel = (p) => relative(ui, p).split(sep).join("/");
  files.sort((a, b) => (rel(a) < rel(b) ? -1 : rel(a) > rel(b) ? 1 : 0));
  const digest = createHash("sha256");
  for (const file of files) {
    digest.update(Buffer.from(rel(file) + "\0", "utf8"));
    digest.update(Buffer.concat([readFileSync(file), Buffer.from("\0")]));
  }
  return digest.digest("hex");
}

const mode = process.argv[2];
const now = sourcesHash();
if (mode === "--write") {
  writeFileSync(hashFile, now + "\n");
  console.log(`sources.sha256 ${now}`);
} else {
  const built = existsSync(hashFile) ? readFileSync(hashFile, "utf8").trim() : "(none)";
  if (built !== now) {
    console.error(`The shipped bundle is older than its sources (built from ${built}, sources are ${now}): run make ui-build`);
    process.exit(1);
  }
  console.log("bundle matches its sources");
}
