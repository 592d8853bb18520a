// The jobs list: one row per job with its last result, live while something runs; server-side paging,
// filtering and sorting ($top/$skip/$filter/$orderby/$count), so 500 jobs cost one page of rows.
import {
  Box, Button, Code, EmptyState, Flex, Heading, HStack, Input, Link, NativeSelect, Skeleton, Stack, Table, Text, VStack,
} from "@chakra-ui/react";
import { useEffect, useMemo, useState } from "react";
import { Link as RouterLink, useNavigate, useSearchParams } from "react-router-dom";

import type { Job } from "../api/client";
import { useConnections } from "../api/connections";
import { useAllStatus, useJobs, usePermissions } from "../api/queries";
import { ErrorAlert, Pager, StatusBadge } from "../components/common";
import { JobActions } from "../components/JobActions";
import { ScheduleWords } from "../components/ScheduleWords";
import { duration, formatTime, isTrue, records } from "../lib/format";
import { jobsFilter, orderBy } from "../lib/odata";
import { paths, useBase } from "../lib/paths";
import { HISTORY_STATUSES, isActive } from "../lib/status";

export const PAGE_SIZE = 50;

const COLUMNS: { field: string; label: string }[] = [
  { field: "JobName", label: "Job" },
  { field: "Source", label: "Source → Destination" },
  { field: "ScheduledCron", label: "Schedule" },
  { field: "NextRun", label: "Next run" },
  { field: "LastRun", label: "Last run" },
];

function useDebounced<T>(value: T, ms: number): T {
  const [out, setOut] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setOut(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return out;
}

export function JobsList() {
  const base = useBase();
  const navigate = useNavigate();
  const [params, setParams] = useSearchParams();
  const [search, setSearch] = useState(params.get("q") ?? "");
  const status = params.get("status") ?? "";
  const source = params.get("source") ?? "";
  const destination = params.get("destination") ?? "";
  const sort = params.get("sort") ?? "JobName";
  const desc = params.get("desc") === "1";
  const page = Number(params.get("page") ?? 0);
  const q = useDebounced(search, 250);

  const set = (changes: Record<string, string | undefined>) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) (v ? next.set(k, v) : next.delete(k));
    if (!("page" in changes)) next.delete("page");
    setParams(next, { replace: true });
  };
  useEffect(() => {
    if ((params.get("q") ?? "") !== q) set({ q });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q]);

  const query = useMemo(
    () => ({
      $filter: jobsFilter({ search: q, status, source, destination }),
      $orderby: orderBy(sort, desc),
      $top: PAGE_SIZE,
      $skip: page * PAGE_SIZE,
    }),
    [q, status, source, destination, sort, desc, page],
  );
  const jobs = useJobs(query);
  const anyActive = jobs.data?.jobs.some((j) => isActive(j.Status)) ?? false;
  const latest = useAllStatus(anyActive);
  const filtered = !!(q || status || source || destination);
  const canCreate = usePermissions().data?.CanCreate === "True";

  if (jobs.isSuccess && jobs.data.count === 0 && !filtered)
    return <NoJobs onCreate={canCreate ? () => navigate(paths.create(base)) : undefined} />;

  return (
    <Stack gap={3}>
      <Flex justify="space-between" align="center" wrap="wrap" gap={2}>
        <Heading size="lg">Sync Jobs</Heading>
        {canCreate ? (
          <Button colorPalette="blue" onClick={() => navigate(paths.create(base))} data-testid="new-job">
            New job
          </Button>
        ) : null}
      </Flex>
      <HStack gap={2} wrap="wrap">
        <Input
          placeholder="Search jobs by name"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          maxW="xs"
          size="sm"
          aria-label="Search jobs by name"
        />
        <NativeSelect.Root size="sm" maxW="44">
          <NativeSelect.Field aria-label="Status" value={status} onChange={(e) => set({ status: e.target.value })}>
            <option value="">Any status</option>
            {HISTORY_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </NativeSelect.Field>
          <NativeSelect.Indicator />
        </NativeSelect.Root>
        <ConnectionFilter label="Source" value={source} onChange={(v) => set({ source: v })} />
        <ConnectionFilter label="Destination" value={destination} onChange={(v) => set({ destination: v })} />
      </HStack>
      <ErrorAlert error={jobs.error} />
      <Box overflowX="auto" borderWidth="1px" borderRadius="md">
        <Table.Root size="sm" interactive data-testid="jobs-table">
          <Table.Header>
            <Table.Row>
              {COLUMNS.map((c) => (
                <Table.ColumnHeader key={c.field} whiteSpace="nowrap">
                  <Button
                    variant="plain" size="xs" px={0} fontWeight="semibold"
                    aria-sort={sort === c.field ? (desc ? "descending" : "ascending") : "none"}
                    onClick={() => set({ sort: c.field, desc: sort === c.field && !desc ? "1" : undefined })}
                  >
                    {c.label} {sort === c.field ? (desc ? "▼" : "▲") : ""}
                  </Button>
                </Table.ColumnHeader>
              ))}
              <Table.ColumnHeader fontSize="xs" fontWeight="semibold" whiteSpace="nowrap">Rows · Duration</Table.ColumnHeader>
              <Table.ColumnHeader fontSize="xs" fontWeight="semibold" textAlign="end">Actions</Table.ColumnHeader>
            </Table.Row>
          </Table.Header>
          <Table.Body>
            {jobs.isPending
              ? [0, 1, 2].map((i) => (
                  <Table.Row key={i}>
                    <Table.Cell colSpan={7}><Skeleton h="5" /></Table.Cell>
                  </Table.Row>
                ))
              : jobs.data?.jobs.map((job) => <JobRow key={job.JobName} job={job} latest={latest.data?.get(job.JobName)} />)}
            {jobs.isSuccess && jobs.data.jobs.length === 0 ? (
              <Table.Row>
                <Table.Cell colSpan={7}>
                  <Text color="fg.muted" py={4} textAlign="center">No job matches these filters.</Text>
                </Table.Cell>
              </Table.Row>
            ) : null}
          </Table.Body>
        </Table.Root>
      </Box>
      {jobs.data ? <Pager page={page} size={PAGE_SIZE} count={jobs.data.count} onPage={(p) => set({ page: String(p) })} label="Jobs" /> : null}
    </Stack>
  );
}

/** Filter by a connection: a choice of Airflow's connections (or the id typed, when they cannot be listed). */
function ConnectionFilter({ label, value, onChange }: { label: string; value: string; onChange: (v: string) => void }) {
  const connections = useConnections();
  if (connections.isError) {
    return (
      <Input size="sm" maxW="44" placeholder={`${label} connection`} aria-label={`${label} filter`} defaultValue={value}
        onBlur={(e) => onChange(e.target.value.trim())} onKeyDown={(e) => e.key === "Enter" && onChange(e.currentTarget.value.trim())} />
    );
  }
  return (
    <NativeSelect.Root size="sm" maxW="48">
      <NativeSelect.Field aria-label={`${label} filter`} value={value} onChange={(e) => onChange(e.target.value)}>
        <option value="">Any {label.toLowerCase()}</option>
        {value && !connections.data?.some((c) => c.Name === value) ? <option value={value}>{value}</option> : null}
        {(connections.data ?? []).map((c) => <option key={c.Name} value={c.Name}>{c.Name}</option>)}
      </NativeSelect.Field>
      <NativeSelect.Indicator />
    </NativeSelect.Root>
  );
}

function JobRow({ job, latest }: { job: Job; latest?: { RecordsAffected?: string | null; RunStartDate?: string | null; RunEndDate?: string | null; Status: string } }) {
  const base = useBase();
  const scheduled = isTrue(job.Scheduled);
  return (
    <Table.Row data-testid={`job-row-${job.JobName}`}>
      <Table.Cell maxW="xs">
        <Link asChild fontWeight="semibold" color="fg.info" wordBreak="break-all">
          <RouterLink to={paths.job(base, job.JobName)}>{job.JobName}</RouterLink>
        </Link>
      </Table.Cell>
      <Table.Cell>
        <Text fontSize="sm" wordBreak="break-all">
          {job.Source} → {job.Destination}
        </Text>
      </Table.Cell>
      <Table.Cell>
        {scheduled && job.ScheduledCron ? (
          <VStack align="start" gap={0}>
            <ScheduleWords cron={String(job.ScheduledCron)} />
            <Code fontSize="xs">{job.ScheduledCron}</Code>
          </VStack>
        ) : (
          <Text fontSize="sm" color="fg.muted">Manual</Text>
        )}
      </Table.Cell>
      <Table.Cell whiteSpace="nowrap" fontSize="sm">{scheduled ? formatTime(job.NextRun) : "—"}</Table.Cell>
      <Table.Cell whiteSpace="nowrap">
        <VStack align="start" gap={0}>
          <StatusBadge status={job.Status} />
          {job.LastRun ? <Text fontSize="xs" color="fg.muted">{formatTime(job.LastRun)}</Text> : null}
        </VStack>
      </Table.Cell>
      <Table.Cell whiteSpace="nowrap" fontSize="sm">
        {latest?.RunStartDate ? `${records(latest.RecordsAffected)} · ${duration(latest.RunStartDate, latest.RunEndDate)}` : "—"}
      </Table.Cell>
      <Table.Cell textAlign="end">
        <JobActions job={job} compact />
      </Table.Cell>
    </Table.Row>
  );
}

function NoJobs({ onCreate }: { onCreate?: () => void }) {
  return (
    <EmptyState.Root data-testid="no-jobs">
      <EmptyState.Content>
        <EmptyState.Title>No Sync jobs yet</EmptyState.Title>
        <EmptyState.Description maxW="lg" textAlign="center">
          A job copies tables from a source connection to a destination connection with REPLICATE queries, on a
          schedule or when you run it. Each job becomes a DAG named sync__&lt;job&gt;, so its runs and logs are
          in Airflow too.
        </EmptyState.Description>
        {onCreate ? (
          <Button colorPalette="blue" onClick={onCreate}>Create your first job</Button>
        ) : (
          <Text color="fg.muted" fontSize="sm">Ask someone who may edit DAGs to create one: your role can read jobs only.</Text>
        )}
      </EmptyState.Content>
    </EmptyState.Root>
  );
}
