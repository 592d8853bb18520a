// One job: its facts and actions, the queries with their last result, the run history, and one run's
// per-query results and log. Links go both ways: to the DAG, run and task pages in Airflow (and the DAG's
// doc links back here).
import {
  Badge, Box, Button, Checkbox, Code, Flex, Heading, HStack, Link, Skeleton, Stack, Table, Tabs, Text, Wrap,
} from "@chakra-ui/react";
import { useMemo, useState } from "react";
import { Link as RouterLink, useNavigate, useParams, useSearchParams } from "react-router-dom";

import type { ResultRow } from "../api/client";
import { useHistory, useJob, useJobActions, useJobStatus } from "../api/queries";
import { AirflowLink, ErrorAlert, Pager, StatusBadge } from "../components/common";
import { JobActions } from "../components/JobActions";
import { RunDetail } from "../components/RunDetail";
import { ScheduleWords } from "../components/ScheduleWords";
import { duration, formatTime, isTrue, records } from "../lib/format";
import { queryTexts } from "../lib/jobForm";
import { airflow, paths, useBase } from "../lib/paths";
import { isActive } from "../lib/status";

const HISTORY_PAGE = 20;

/** The source table a REPLICATE statement reads (`REPLICATE [T]`, or the FROM of its SELECT). */
export function tableOf(query: string): string {
  const from = /\bFROM\s+((?:\[[^\]]+\]\.)?\[[^\]]+\]|[\w.]+)/i.exec(query);
  const target = /^\s*REPLICATE\s+((?:\[[^\]]+\]\.)?\[[^\]]+\]|[\w.]+)/i.exec(query);
  const raw = (from ?? target)?.[1] ?? "";
  return raw.replace(/[[\]]/g, "");
}

const norm = (q: string | null | undefined) => (q ?? "").replace(/\s+/g, " ").trim();

export function JobPage() {
  const { name = "" } = useParams();
  const base = useBase();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const job = useJob(name);
  const status = useJobStatus(name, isActive(job.data?.Status));
  const finishing = !!status.data?.[0]?.RunId && !status.data[0].RunEndDate;
  const live = isActive(job.data?.Status) || finishing;
  const [historyPage, setHistoryPage] = useState(0);
  const version = `${job.data?.Status}|${job.data?.LastRun}|${status.data?.[0]?.Status}`;
  const history = useHistory(name, historyPage, HISTORY_PAGE, live, version);
  const [selected, setSelected] = useState<Set<number>>(new Set());
  const { runQueries } = useJobActions(name);
  const runId = params.get("run") ?? undefined;
  const tab = params.get("tab") ?? (runId ? "history" : "queries");

  const queries = useMemo(() => (job.data ? queryTexts(job.data) : []), [job.data]);
  const lastByQuery = useMemo(() => {
    const map = new Map<string, ResultRow>();
    status.data?.slice(1).forEach((r) => map.set(norm(r.Query), r));
    return map;
  }, [status.data]);

  if (job.isPending) return <Skeleton h="40" />;
  if (job.error) {
    return (
      <Stack>
        <ErrorAlert error={job.error} />
        <Link asChild color="fg.info"><RouterLink to={paths.list(base)}>Back to Sync Jobs</RouterLink></Link>
      </Stack>
    );
  }
  const j = job.data;
  const jobRow = status.data?.[0];
  const setTab = (t: string) => setParams((p) => { const n = new URLSearchParams(p); n.set("tab", t); return n; }, { replace: true });
  const openRun = (id: string) => setParams((p) => { const n = new URLSearchParams(p); n.set("run", id); n.set("tab", "history"); return n; });

  return (
    <Stack gap={4}>
      <Box>
        <Link asChild fontSize="sm" color="fg.muted"><RouterLink to={paths.list(base)}>← Sync Jobs</RouterLink></Link>
        <Flex justify="space-between" align="start" wrap="wrap" gap={3} mt={1}>
          <Stack gap={1} minW="0">
            <HStack gap={3} wrap="wrap">
              <Heading size="xl" wordBreak="break-all" data-testid="job-title">{j.JobName}</Heading>
              <StatusBadge status={j.Status} />
            </HStack>
            <Text color="fg.muted" wordBreak="break-all">
              {j.Source} → {j.Destination}
            </Text>
            <Wrap gap={4} fontSize="sm">
              <Box>
                <Text as="span" color="fg.muted">Schedule: </Text>
                {isTrue(j.Scheduled) && j.ScheduledCron ? (
                  <HStack display="inline-flex" gap={2}><ScheduleWords cron={String(j.ScheduledCron)} /><Code fontSize="xs">{j.ScheduledCron}</Code></HStack>
                ) : "manual (runs when you run it)"}
              </Box>
              <Box><Text as="span" color="fg.muted">Next run: </Text>{isTrue(j.Scheduled) ? formatTime(j.NextRun) : "—"}</Box>
              <Box><Text as="span" color="fg.muted">Last run: </Text>{formatTime(j.LastRun)}
                {jobRow?.RunStartDate ? ` · ${duration(jobRow.RunStartDate, jobRow.RunEndDate)} · ${records(jobRow.RecordsAffected)} rows` : ""}
              </Box>
            </Wrap>
            <HStack gap={3}>
              <AirflowLink to={airflow.dag(j.DagId)}>DAG {j.DagId} in Airflow</AirflowLink>
              {jobRow?.RunId ? <AirflowLink to={airflow.run(j.DagId, jobRow.RunId)}>Latest run in Airflow</AirflowLink> : null}
            </HStack>
            {jobRow?.Result && jobRow.Status === "FAILED" ? (
              <Text color="fg.error" fontSize="sm" whiteSpace="pre-wrap">{jobRow.Result}</Text>
            ) : null}
          </Stack>
          <JobActions job={j} finishing={!!jobRow?.RunId && !jobRow.RunEndDate} onDeleted={() => navigate(paths.list(base))} />
        </Flex>
      </Box>

      <Tabs.Root value={tab} onValueChange={(e) => setTab(e.value)} variant="line">
        <Tabs.List>
          <Tabs.Trigger value="queries">Queries ({queries.length})</Tabs.Trigger>
          <Tabs.Trigger value="history" data-testid="history-tab">History{history.data ? ` (${history.data.count})` : ""}</Tabs.Trigger>
        </Tabs.List>
        <Tabs.Content value="queries">
          {isTrue(j.CanExecute) ? (
            <HStack mb={2} gap={2}>
              <Button size="xs" variant="outline" disabled={selected.size === 0 || live} loading={runQueries.isPending}
                onClick={() => runQueries.mutate(queries.filter((_, i) => selected.has(i)), { onSuccess: () => setSelected(new Set()) })}
                data-testid="run-selected">
                Run selected queries{selected.size ? ` (${selected.size})` : ""}
              </Button>
              <ErrorAlert error={runQueries.error} />
            </HStack>
          ) : null}
          <Box overflowX="auto" borderWidth="1px" borderRadius="md">
            <Table.Root size="sm" data-testid="queries-table">
              <Table.Header>
                <Table.Row>
                  {isTrue(j.CanExecute) ? <Table.ColumnHeader w="8" /> : null}
                  <Table.ColumnHeader w="8">#</Table.ColumnHeader>
                  <Table.ColumnHeader>Query</Table.ColumnHeader>
                  <Table.ColumnHeader>Table</Table.ColumnHeader>
                  <Table.ColumnHeader>Last status</Table.ColumnHeader>
                  <Table.ColumnHeader textAlign="end">Rows</Table.ColumnHeader>
                  <Table.ColumnHeader>Duration</Table.ColumnHeader>
                  <Table.ColumnHeader>Last error</Table.ColumnHeader>
                </Table.Row>
              </Table.Header>
              <Table.Body>
                {queries.map((q, i) => {
                  const last = lastByQuery.get(norm(q));
                  return (
                    <Table.Row key={i} data-testid={`query-row-${i + 1}`}>
                      {isTrue(j.CanExecute) ? (
                        <Table.Cell>
                          <Checkbox.Root size="sm" checked={selected.has(i)} aria-label={`Select query ${i + 1}`}
                            onCheckedChange={(e) => setSelected((s) => { const n = new Set(s); if (e.checked) n.add(i); else n.delete(i); return n; })}>
                            <Checkbox.HiddenInput />
                            <Checkbox.Control />
                          </Checkbox.Root>
                        </Table.Cell>
                      ) : null}
                      <Table.Cell>{i + 1}</Table.Cell>
                      <Table.Cell maxW="lg"><Code whiteSpace="pre-wrap" wordBreak="break-word" fontSize="xs">{q}</Code></Table.Cell>
                      <Table.Cell wordBreak="break-all">{tableOf(q)}</Table.Cell>
                      <Table.Cell>
                        {last ? <StatusBadge status={last.Status} /> : status.isPending ? <Skeleton h="4" w="16" /> : <Text color="fg.muted" fontSize="sm">never run</Text>}
                      </Table.Cell>
                      <Table.Cell textAlign="end">{records(last?.RecordsAffected)}</Table.Cell>
                      <Table.Cell whiteSpace="nowrap">{last?.RunStartDate ? duration(last.RunStartDate, last.RunEndDate) : "—"}</Table.Cell>
                      <Table.Cell maxW="sm"><Text fontSize="xs" color="fg.error" whiteSpace="pre-wrap" lineClamp={4}>{last?.Status === "FAILED" ? last.Result : ""}</Text></Table.Cell>
                    </Table.Row>
                  );
                })}
              </Table.Body>
            </Table.Root>
          </Box>
        </Tabs.Content>
        <Tabs.Content value="history">
          <ErrorAlert error={history.error} />
          {history.data && history.data.count === 0 ? (
            <Text color="fg.muted" py={4} data-testid="no-history">
              No runs yet. {isTrue(j.CanExecute) ? "Press Run to start one; " : ""}scheduled runs appear here as well, as do runs started from the DAG in Airflow.
            </Text>
          ) : (
            <Box overflowX="auto" borderWidth="1px" borderRadius="md">
              <Table.Root size="sm" interactive data-testid="history-table">
                <Table.Header>
                  <Table.Row>
                    <Table.ColumnHeader>Started</Table.ColumnHeader>
                    <Table.ColumnHeader>Ended</Table.ColumnHeader>
                    <Table.ColumnHeader>Status</Table.ColumnHeader>
                    <Table.ColumnHeader textAlign="end">Rows</Table.ColumnHeader>
                    <Table.ColumnHeader>Runtime</Table.ColumnHeader>
                    <Table.ColumnHeader>Triggered</Table.ColumnHeader>
                    <Table.ColumnHeader>Details</Table.ColumnHeader>
                  </Table.Row>
                </Table.Header>
                <Table.Body>
                  {history.data?.rows.map((h) => (
                    <Table.Row key={h.Id} cursor="pointer" onClick={() => openRun(h.RunId)} aria-selected={h.RunId === runId}
                      bg={h.RunId === runId ? "bg.emphasized" : undefined} data-testid="history-row">
                      <Table.Cell whiteSpace="nowrap">{formatTime(h.RunStartDate)}</Table.Cell>
                      <Table.Cell whiteSpace="nowrap">{formatTime(h.RunEndDate)}</Table.Cell>
                      <Table.Cell><StatusBadge status={h.Status} /></Table.Cell>
                      <Table.Cell textAlign="end">{records(h.RecordsAffected)}</Table.Cell>
                      <Table.Cell>{h.Runtime}</Table.Cell>
                      <Table.Cell><Badge variant="outline">{h.RunType}</Badge></Table.Cell>
                      <Table.Cell maxW="sm"><Text fontSize="xs" lineClamp={2}>{h.Details}</Text></Table.Cell>
                    </Table.Row>
                  ))}
                </Table.Body>
              </Table.Root>
            </Box>
          )}
          {history.data && history.data.count > 0 ? (
            <Pager page={historyPage} size={HISTORY_PAGE} count={history.data.count} onPage={setHistoryPage} label="History" />
          ) : null}
          {runId ? <RunDetail job={j} runId={runId} version={version} /> : null}
        </Tabs.Content>
      </Tabs.Root>
    </Stack>
  );
}
