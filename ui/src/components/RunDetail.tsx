// One run: its per-query results and its log (all task attempts, rendered, downloadable), with links to
// the run and task pages in Airflow.
import { Box, Button, Code, Heading, HStack, NativeSelect, Skeleton, Stack, Table, Text } from "@chakra-ui/react";
import { useMemo, useState } from "react";

import type { Job, LogRow } from "../api/client";
import { useRunLog, useRunResults } from "../api/queries";
import { decodeLog, duration, records } from "../lib/format";
import { airflow } from "../lib/paths";
import { isActive } from "../lib/status";
import { AirflowLink, ErrorAlert, StatusBadge } from "./common";

const attemptLabel = (l: LogRow) => `${l.Query ?? l.TaskId} (try ${l.Try})`;

export function RunDetail({ job, runId, version }: { job: Job; runId: string; version: string }) {
  const results = useRunResults(job.JobName, runId, false, version);
  const live = isActive(results.data?.[0]?.Status);
  const liveResults = useRunResults(job.JobName, live ? runId : undefined, true, version);
  const rows = (live ? liveResults.data : undefined) ?? results.data;
  const log = useRunLog(job.JobName, runId, live, version);
  const [attempt, setAttempt] = useState<string>("all");

  const text = useMemo(() => {
    const parts = (log.data ?? []).filter((l) => attempt === "all" || `${l.TaskId}#${l.Try}` === attempt);
    return parts.map((l) => `===== ${attemptLabel(l)} — ${l.LogFile}\n${decodeLog(l.Content)}`).join("\n");
  }, [log.data, attempt]);

  const download = () => {
    const blob = new Blob([text], { type: "text/plain;charset=utf-8" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${job.JobName}_${runId.replace(/[^\w.-]+/g, "_")}.log`;
    a.click();
    URL.revokeObjectURL(a.href);
  };

  return (
    <Stack gap={3} mt={4} borderWidth="1px" borderRadius="md" p={3} data-testid="run-detail">
      <HStack justify="space-between" wrap="wrap">
        <Heading size="md" wordBreak="break-all">Run {runId}</Heading>
        <AirflowLink to={airflow.run(job.DagId, runId)}>Open this run in Airflow</AirflowLink>
      </HStack>
      <ErrorAlert error={results.error} />
      {rows ? (
        <Box overflowX="auto">
          <Table.Root size="sm" data-testid="run-results">
            <Table.Header>
              <Table.Row>
                <Table.ColumnHeader>Query</Table.ColumnHeader>
                <Table.ColumnHeader>Status</Table.ColumnHeader>
                <Table.ColumnHeader textAlign="end">Rows</Table.ColumnHeader>
                <Table.ColumnHeader>Duration</Table.ColumnHeader>
                <Table.ColumnHeader>Detail / error</Table.ColumnHeader>
              </Table.Row>
            </Table.Header>
            <Table.Body>
              {rows.map((r, i) => (
                <Table.Row key={i} fontWeight={r.Query ? undefined : "semibold"}>
                  <Table.Cell maxW="md">{r.Query ? <Code fontSize="xs" whiteSpace="pre-wrap">{r.Query}</Code> : "Whole run"}</Table.Cell>
                  <Table.Cell><StatusBadge status={r.Status} /></Table.Cell>
                  <Table.Cell textAlign="end">{records(r.RecordsAffected)}</Table.Cell>
                  <Table.Cell>{r.RunStartDate ? duration(r.RunStartDate, r.RunEndDate) : "—"}</Table.Cell>
                  <Table.Cell maxW="md"><Text fontSize="xs" whiteSpace="pre-wrap" color={r.Status === "FAILED" ? "fg.error" : undefined}>{r.Status === "FAILED" ? r.Result : r.Detail}</Text></Table.Cell>
                </Table.Row>
              ))}
            </Table.Body>
          </Table.Root>
        </Box>
      ) : (
        <Skeleton h="16" />
      )}
      <HStack justify="space-between" wrap="wrap" gap={2}>
        <Heading size="sm">Log <Text as="span" fontWeight="normal" color="fg.muted" fontSize="xs">(detail set by the job's Verbosity {job.Verbosity ?? "2"})</Text></Heading>
        <HStack gap={2}>
          <NativeSelect.Root size="xs" w="64">
            <NativeSelect.Field aria-label="Log of" value={attempt} onChange={(e) => setAttempt(e.target.value)}>
              <option value="all">All tasks</option>
              {(log.data ?? []).map((l) => (
                <option key={`${l.TaskId}#${l.Try}`} value={`${l.TaskId}#${l.Try}`}>{attemptLabel(l)}</option>
              ))}
            </NativeSelect.Field>
            <NativeSelect.Indicator />
          </NativeSelect.Root>
          <Button size="xs" variant="outline" onClick={download} disabled={!text} data-testid="download-log">Download</Button>
        </HStack>
      </HStack>
      <HStack gap={3} wrap="wrap">
        {(log.data ?? []).filter((l, i, all) => all.findIndex((o) => o.TaskId === l.TaskId) === i).map((l) => (
          <AirflowLink key={l.TaskId} to={airflow.task(job.DagId, runId, l.TaskId)}>{l.TaskId} in Airflow</AirflowLink>
        ))}
      </HStack>
      <ErrorAlert error={log.error} />
      {log.isPending ? <Skeleton h="24" /> : (
        <Box as="pre" data-testid="log-viewer" fontFamily="mono" fontSize="xs" bg="bg.muted" p={3} borderRadius="md"
          maxH="md" overflow="auto" whiteSpace="pre-wrap" wordBreak="break-word">
          {text || "No log lines for this run yet."}
        </Box>
      )}
    </Stack>
  );
}
