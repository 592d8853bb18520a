// TanStack Query hooks over the typed client. Polling: every 5 s while something is queued or running,
// otherwise every 30 s (so a run started elsewhere still shows up), never faster than the spec's 5 s.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { isActive } from "../lib/status";
import { client, odataParams, unwrap, type HistoryRow, type Job, type OData, type ResultRow, type Schemas } from "./client";

export const LIVE_MS = 5_000;
export const IDLE_MS = 30_000;

const key = (name: string) => `'${name.replaceAll("'", "''")}'`;

export type JobsPage = { jobs: Job[]; count: number };

export function useJobs(query: OData) {
  return useQuery({
    queryKey: ["jobs", query],
    queryFn: async (): Promise<JobsPage> => {
      // the route answers one entity only for ?JobName=, which the list never sends
      const body = (await unwrap(client.GET("/jobs", odataParams({ ...query, $count: true })))) as Schemas["JobCollection"] & {
        "@odata.count"?: number;
      };
      return { jobs: body.value as Job[], count: body["@odata.count"] ?? body.value.length };
    },
    placeholderData: keepPreviousData,
    refetchInterval: (q) => (q.state.data?.jobs.some((j) => isActive(j.Status)) ? LIVE_MS : IDLE_MS),
  });
}

/** Latest run of every job (one job-level row each): rows, duration and status for the list. */
export function useAllStatus(live: boolean) {
  return useQuery({
    queryKey: ["status", "*"],
    queryFn: async () => {
      const data = await unwrap(client.POST("/getJobStatus", { body: { PushOnQuery: "false" } }));
      return new Map((data.value as ResultRow[]).map((r) => [r.JobName, r]));
    },
    refetchInterval: (q) =>
      live || [...(q.state.data?.values() ?? [])].some((r) => isActive(r.Status)) ? LIVE_MS : IDLE_MS,
  });
}

/** Whether the signed-in user may create jobs (per-job permissions are the Can* flags of each job). */
export function usePermissions() {
  return useQuery({
    queryKey: ["permissions"],
    staleTime: 60_000,
    queryFn: async () => unwrap(client.GET("/permissions")),
  });
}

export function useJob(name: string) {
  return useQuery({
    queryKey: ["job", name],
    queryFn: async () => (await unwrap(client.GET("/jobs({key})", { params: { path: { key: key(name) } } }))) as Job,
    refetchInterval: (q) => (isActive(q.state.data?.Status) ? LIVE_MS : IDLE_MS),
  });
}

export function useJobStatus(name: string, live: boolean) {
  return useQuery({
    queryKey: ["status", name],
    queryFn: async () => {
      const data = await unwrap(client.POST("/getJobStatus", { body: { JobName: name, PushOnQuery: "true" } }));
      return data.value as ResultRow[];
    },
    refetchInterval: (q) => (live || isActive(q.state.data?.[0]?.Status) ? LIVE_MS : IDLE_MS),
  });
}

/** @param version changes when the job's status or last run changes, so the history follows at once */
export function useHistory(name: string, page: number, size: number, live: boolean, version = "") {
  return useQuery({
    queryKey: ["history", name, page, size, version],
    queryFn: async () => {
      const data = await unwrap(
        client.GET(
          "/history",
          odataParams({ $filter: `JobName eq ${key(name)}`, $orderby: "Id desc", $top: size, $skip: page * size, $count: true }),
        ),
      );
      const body = data as typeof data & { "@odata.count"?: number };
      return { rows: body.value as HistoryRow[], count: body["@odata.count"] ?? body.value.length };
    },
    placeholderData: keepPreviousData,
    refetchInterval: live ? LIVE_MS : IDLE_MS,
  });
}

export function useRunResults(name: string, runId: string | undefined, live: boolean, version = "") {
  return useQuery({
    queryKey: ["run", name, runId, version],
    enabled: runId !== undefined,
    queryFn: async () =>
      (await unwrap(client.POST("/getRunResults", { body: { JobName: name, RunId: runId ?? "" } }))).value as ResultRow[],
    refetchInterval: live ? LIVE_MS : false,
  });
}

export function useRunLog(name: string, runId: string | undefined, live: boolean, version = "") {
  return useQuery({
    queryKey: ["log", name, runId, version],
    enabled: runId !== undefined,
    queryFn: async () =>
      (await unwrap(client.POST("/getRunLog", { body: { JobName: name, RunId: runId ?? "" } }))).value,
    refetchInterval: live ? LIVE_MS : false,
  });
}

export function useSchedulePreview(cron: string, enabled: boolean) {
  return useQuery({
    queryKey: ["preview", cron],
    enabled: enabled && cron.trim() !== "",
    retry: false,
    queryFn: async () => unwrap(client.POST("/previewSchedule", { body: { ScheduledCron: cron, Count: 5 } })),
  });
}

/** Run / run selected queries / cancel / delete: each refreshes what it changed. */
export function useJobActions(name: string) {
  const qc = useQueryClient();
  const refresh = () => {
    void qc.invalidateQueries({ queryKey: ["jobs"] });
    void qc.invalidateQueries({ queryKey: ["job", name] });
    void qc.invalidateQueries({ queryKey: ["status"] });
    void qc.invalidateQueries({ queryKey: ["history", name] });
  };
  const run = useMutation({
    mutationFn: () => unwrap(client.POST("/executeJob", { body: { JobName: name, WaitForResults: "false" } })),
    onSettled: refresh,
  });
  const runQueries = useMutation({
    mutationFn: (queries: string[]) =>
      unwrap(
        client.POST("/executeQuery", {
          body: { JobName: name, WaitForResults: "false", ...Object.fromEntries(queries.map((q, i) => [`Query#${i + 1}`, q])) },
        }),
      ),
    onSettled: refresh,
  });
  const cancel = useMutation({
    mutationFn: () => unwrap(client.POST("/cancelJob", { body: { JobName: name } })),
    onSettled: refresh,
  });
  const remove = useMutation({
    mutationFn: () => unwrap(client.DELETE("/jobs({key})", { params: { path: { key: key(name) } } })),
    onSuccess: () => qc.removeQueries({ queryKey: ["job", name] }),
    onSettled: () => void qc.invalidateQueries({ queryKey: ["jobs"] }),
  });
  return { run, runQueries, cancel, remove };
}

export { key as jobKey };
