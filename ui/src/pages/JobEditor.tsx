// Create and edit, one form: every job field, grouped; connection pickers; the ordered REPLICATE list with
// "Add tables"; the next run times from the server. Saving validates on the server; each problem is shown
// at its field or query (with the position in the statement), and what the user typed stays as it was.
import {
  Alert, Box, Button, Card, Checkbox, Field, Flex, Heading, HStack, IconButton, Input, Link, NativeSelect, Skeleton,
  Stack, Text, Textarea,
} from "@chakra-ui/react";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState } from "react";
import { Link as RouterLink, useNavigate, useParams } from "react-router-dom";

import { ApiError, client, unwrap, type Job } from "../api/client";
import { jobKey, useJob, useSchedulePreview } from "../api/queries";
import { AddTablesDialog } from "../components/AddTablesDialog";
import { ConnectionPicker } from "../components/ConnectionPicker";
import { ErrorAlert } from "../components/common";
import { formatTime, isTrue } from "../lib/format";
import {
  bodyFromForm, emptyForm, formFromJob, GROUPS, move, newQuery, problemsFrom,
  type FieldSpec, type JobForm, type Problems,
} from "../lib/jobForm";
import { paths, useBase } from "../lib/paths";
import { isActive } from "../lib/status";

export function JobEditor() {
  const { name } = useParams();
  const existing = useJob(name ?? "");
  if (name && existing.isPending) return <Skeleton h="64" />;
  if (name && existing.error) return <ErrorAlert error={existing.error} />;
  return <EditorForm key={name ?? "new"} job={name ? existing.data : undefined} />;
}

class Conflict extends Error {
  constructor(readonly current: Job) {
    super("This job was changed by someone else since you opened it.");
  }
}

const getJob = async (name: string) =>
  (await unwrap(client.GET("/jobs({key})", { params: { path: { key: jobKey(name) } } }))) as Job;

function EditorForm({ job }: { job?: Job }) {
  const base = useBase();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const creating = job === undefined;
  const [form, setForm] = useState<JobForm>(() => (job ? formFromJob(job) : emptyForm()));
  // the version this form's edit is based on: sent as If-Match, so a change made meanwhile is a 409 JobConflict
  const basedOn = useRef(job?.Version ?? "");
  const [problems, setProblems] = useState<Problems>({});
  const [tablesOpen, setTablesOpen] = useState(false);
  const [cron, setCron] = useState(form.fields.ScheduledCron);
  useEffect(() => {
    const t = setTimeout(() => setCron(form.fields.ScheduledCron), 300);
    return () => clearTimeout(t);
  }, [form.fields.ScheduledCron]);
  const scheduled = isTrue(form.fields.Scheduled);
  const preview = useSchedulePreview(cron, scheduled);

  const save = useMutation({
    mutationFn: async ({ force }: { force: boolean }) => {
      const body = bodyFromForm(form, { create: creating });
      if (creating) return (await unwrap(client.POST("/jobs", { body: body as never }))) as Job;
      // "save mine over theirs": based on the version the user has now seen, still refused if it moved again
      if (force) basedOn.current = (await getJob(job.JobName)).Version ?? "";
      try {
        return (await unwrap(
          client.PUT("/jobs({key})", {
            params: { path: { key: jobKey(job.JobName) }, header: { "If-Match": `"${basedOn.current}"` } as never },
            body: body as never,
          }),
        )) as Job;
      } catch (error) {
        if (error instanceof ApiError && error.status === 409 && error.code === "JobConflict") {
          throw new Conflict(await getJob(job.JobName));
        }
        throw error;
      }
    },
    onMutate: () => setProblems({}),
    onError: (error) => {
      if (error instanceof ApiError && error.status === 400) setProblems(problemsFrom(error));
      // bring the first problem into view: the save button is at the bottom, the field may be at the top
      setTimeout(() => document.querySelector("[data-invalid], [data-testid=form-error], [data-testid=conflict]")
        ?.scrollIntoView({ block: "center", behavior: "smooth" }), 50);
    },
    onSuccess: (saved) => {
      qc.setQueryData(["job", saved.JobName], saved);
      void qc.invalidateQueries({ queryKey: ["jobs"] });
      navigate(paths.job(base, saved.JobName));
    },
  });

  const setField = (field: string, value: string) => setForm((f) => ({ ...f, fields: { ...f.fields, [field]: value } }));
  const setQueries = (update: (q: JobForm["queries"]) => JobForm["queries"]) => setForm((f) => ({ ...f, queries: update(f.queries) }));
  const running = !creating && isActive(job?.Status);
  const readOnly = !creating && !isTrue(job?.CanUpdate);
  const fieldProblem = (field: string) => problems[field]?.message;
  const generalProblem = Object.entries(problems).filter(([k]) => !knownField(k, form));

  return (
    <Stack gap={4} maxW="5xl" as="form" onSubmit={(e) => { e.preventDefault(); save.mutate({ force: false }); }}>
      <Box>
        <Link asChild fontSize="sm" color="fg.muted">
          <RouterLink to={job ? paths.job(base, job.JobName) : paths.list(base)}>← {job ? job.JobName : "Sync Jobs"}</RouterLink>
        </Link>
        <Heading size="xl" mt={1} wordBreak="break-all">{creating ? "New job" : `Edit ${job.JobName}`}</Heading>
      </Box>
      {running ? (
        <Alert.Root status="warning"><Alert.Indicator /><Alert.Title>This job is running: it can be edited after the run ends or is cancelled.</Alert.Title></Alert.Root>
      ) : null}
      {readOnly ? (
        <Alert.Root status="info"><Alert.Indicator /><Alert.Title>You may read this job but not change it.</Alert.Title></Alert.Root>
      ) : null}
      {save.error instanceof Conflict ? (
        <Alert.Root status="warning" data-testid="conflict">
          <Alert.Indicator />
          <Alert.Content>
            <Alert.Title>{save.error.message}</Alert.Title>
            <Alert.Description>
              Your changes are still in the form. Reload to see their version (your changes are dropped), or save
              yours over theirs.
            </Alert.Description>
            <HStack mt={2}>
              <Button size="sm" variant="outline" onClick={() => {
                const current = (save.error as Conflict).current;
                basedOn.current = current.Version ?? "";
                setForm(formFromJob(current));
                save.reset();
              }}>Reload their version</Button>
              <Button size="sm" colorPalette="orange" onClick={() => save.mutate({ force: true })}>Save mine over theirs</Button>
            </HStack>
          </Alert.Content>
        </Alert.Root>
      ) : null}
      {save.error && !(save.error instanceof Conflict) && !(save.error instanceof ApiError && save.error.status === 400) ? <ErrorAlert error={save.error} /> : null}
      {generalProblem.length ? (
        <Alert.Root status="error" data-testid="form-error">
          <Alert.Indicator />
          <Alert.Description whiteSpace="pre-wrap">{generalProblem.map(([, p]) => p.message).join("\n")}</Alert.Description>
        </Alert.Root>
      ) : null}
      {Object.keys(problems).length ? (
        <Text color="fg.error" fontSize="sm" data-testid="save-refused">Nothing was saved: fix the fields marked below and save again.</Text>
      ) : null}

      {GROUPS.map((group) => (
        <Card.Root key={group.title} size="sm" variant="outline">
          <Card.Header><Heading size="md">{group.title}</Heading></Card.Header>
          <Card.Body>
            <Flex wrap="wrap" gap={4}>
              {group.fields.map((spec) => (
                <FieldInput key={spec.name} spec={spec} value={form.fields[spec.name] ?? ""} problem={fieldProblem(spec.name)}
                  disabled={readOnly || (spec.name === "JobName" && !creating)} onChange={(v) => setField(spec.name, v)} />
              ))}
            </Flex>
            {group.title === "Schedule" && scheduled ? (
              <Box mt={3} data-testid="schedule-preview">
                {preview.data ? (
                  <>
                    <Text fontSize="sm"><b>{preview.data.Description}</b> <Text as="span" color="fg.muted">(Airflow cron {preview.data.AirflowCron}, {preview.data.Timezone})</Text></Text>
                    <Text fontSize="sm" color="fg.muted">Next runs:</Text>
                    <Stack gap={0} fontSize="sm" as="ol" pl={5} listStyleType="decimal">
                      {preview.data.value.map((t) => <li key={t}>{formatTime(t)}</li>)}
                    </Stack>
                  </>
                ) : preview.error ? (
                  <Text color="fg.error" fontSize="sm">{(preview.error as Error).message}</Text>
                ) : cron.trim() ? <Skeleton h="16" /> : <Text fontSize="sm" color="fg.muted">Enter a cron to see the next run times.</Text>}
              </Box>
            ) : null}
          </Card.Body>
        </Card.Root>
      ))}

      <Card.Root size="sm" variant="outline">
        <Card.Header>
          <Flex justify="space-between" align="center" wrap="wrap" gap={2}>
            <Heading size="md">Queries <Text as="span" fontSize="sm" color="fg.muted" fontWeight="normal">run in this order</Text></Heading>
            {!readOnly ? (
              <HStack>
                <Button size="sm" variant="outline" disabled={!form.fields.Source} title={form.fields.Source ? undefined : "Choose the source connection first"}
                  onClick={() => setTablesOpen(true)} data-testid="add-tables">Add tables</Button>
                <Button size="sm" variant="outline" onClick={() => setQueries((q) => [...q, newQuery()])}>Add query</Button>
              </HStack>
            ) : null}
          </Flex>
        </Card.Header>
        <Card.Body>
          <Stack gap={3}>
            {form.queries.map((q, i) => {
              const problem = problems[`Query#${i + 1}`];
              const position = problem?.position;
              return (
                <Field.Root key={q.id} invalid={!!problem} data-testid={`query-${i + 1}`}>
                  <Field.Label>Query {i + 1}</Field.Label>
                  <HStack align="start" w="full">
                    <Textarea value={q.text} fontFamily="mono" fontSize="sm" rows={Math.min(8, Math.max(1, q.text.split("\n").length))}
                      autoresize spellCheck={false} disabled={readOnly} placeholder="REPLICATE [Table]"
                      onChange={(e) => setQueries((qs) => qs.map((x) => (x.id === q.id ? { ...x, text: e.target.value } : x)))} />
                    {!readOnly ? (
                      <HStack gap={0}>
                        <IconButton size="xs" variant="ghost" aria-label={`Move query ${i + 1} up`} disabled={i === 0} onClick={() => setQueries((qs) => move(qs, i, i - 1))}>↑</IconButton>
                        <IconButton size="xs" variant="ghost" aria-label={`Move query ${i + 1} down`} disabled={i === form.queries.length - 1} onClick={() => setQueries((qs) => move(qs, i, i + 1))}>↓</IconButton>
                        <IconButton size="xs" variant="ghost" colorPalette="red" aria-label={`Remove query ${i + 1}`} onClick={() => setQueries((qs) => (qs.length > 1 ? qs.filter((x) => x.id !== q.id) : [newQuery()]))}>✕</IconButton>
                      </HStack>
                    ) : null}
                  </HStack>
                  {problem ? (
                    <Field.ErrorText whiteSpace="pre-wrap" flexDirection="column" alignItems="flex-start" data-testid={`query-${i + 1}-error`}>
                      {position !== undefined ? <PositionMarker text={q.text} position={position} /> : null}
                      {problem.message}
                    </Field.ErrorText>
                  ) : null}
                </Field.Root>
              );
            })}
          </Stack>
        </Card.Body>
      </Card.Root>

      {!readOnly ? (
        <HStack position="sticky" bottom={0} bg="bg" py={3} borderTopWidth="1px">
          <Button type="submit" colorPalette="blue" loading={save.isPending} disabled={running} data-testid="save-job">
            {creating ? "Create job" : "Save changes"}
          </Button>
          <Button variant="outline" onClick={() => navigate(job ? paths.job(base, job.JobName) : paths.list(base))}>Cancel</Button>
          {Object.keys(problems).length ? <Text color="fg.error" fontSize="sm">Not saved: {Object.keys(problems).length} problem(s) marked above.</Text> : null}
        </HStack>
      ) : null}
      {form.fields.Source ? (
        <AddTablesDialog connection={form.fields.Source} open={tablesOpen} onClose={() => setTablesOpen(false)}
          existing={form.queries.map((q) => q.text)}
          onAdd={(added) => setQueries((qs) => [...qs.filter((q) => q.text.trim() !== ""), ...added.map((t) => newQuery(t))])} />
      ) : null}
    </Stack>
  );
}

const knownField = (name: string, form: JobForm) =>
  name in form.fields || /^Query#(\d+)$/.test(name) && Number(name.slice(6)) <= form.queries.length;

/** The statement with a caret under the character the parser stopped at (0-based offset, from the API). */
function PositionMarker({ text, position }: { text: string; position: number }) {
  const line = text.replace(/\n/g, " ");
  const at = Math.max(0, Math.min(position, line.length));
  return (
    <Box as="pre" fontFamily="mono" fontSize="xs" m={0} mb={1} overflowX="auto" data-testid="error-position">
      {line.slice(0, at)}
      <Box as="mark" bg="red.muted" color="fg.error">{line.slice(at, at + 1) || " "}</Box>
      {line.slice(at + 1)}
      {"\n" + " ".repeat(at) + "^ here"}
    </Box>
  );
}

function FieldInput({ spec, value, problem, disabled, onChange }: { spec: FieldSpec; value: string; problem?: string; disabled?: boolean; onChange: (v: string) => void }) {
  const id = spec.name;
  const width = spec.kind === "code" ? "100%" : spec.kind === "bool" ? { base: "100%", md: "calc(50% - 8px)" } : { base: "100%", md: "calc(50% - 8px)" };
  if (spec.kind === "bool") {
    return (
      <Field.Root w={width} invalid={!!problem}>
        <Checkbox.Root checked={isTrue(value)} disabled={disabled} onCheckedChange={(e) => onChange(e.checked ? "True" : "False")} data-testid={`field-${id}`}>
          <Checkbox.HiddenInput />
          <Checkbox.Control />
          <Checkbox.Label>{spec.label}</Checkbox.Label>
        </Checkbox.Root>
        {problem ? <Field.ErrorText>{problem}</Field.ErrorText> : null}
      </Field.Root>
    );
  }
  return (
    <Field.Root w={width} invalid={!!problem}>
      <Field.Label htmlFor={id}>{spec.label}</Field.Label>
      {spec.kind === "connection" ? (
        <ConnectionPicker id={id} value={value} onChange={onChange} invalid={!!problem} disabled={disabled} />
      ) : spec.kind === "enum" ? (
        <NativeSelect.Root disabled={disabled}>
          <NativeSelect.Field id={id} value={value} onChange={(e) => onChange(e.target.value)}>
            {spec.options?.map((o) => <option key={o} value={o}>{o}</option>)}
          </NativeSelect.Field>
          <NativeSelect.Indicator />
        </NativeSelect.Root>
      ) : spec.kind === "code" ? (
        <Textarea id={id} value={value} fontFamily="mono" fontSize="sm" rows={3} autoresize spellCheck={false} disabled={disabled}
          onChange={(e) => onChange(e.target.value)} />
      ) : (
        <Input id={id} value={value} disabled={disabled} inputMode={spec.kind === "int" ? "numeric" : undefined}
          fontFamily={spec.name === "ScheduledCron" ? "mono" : undefined} data-testid={`field-${id}`}
          onChange={(e) => onChange(e.target.value)} />
      )}
      {problem ? <Field.ErrorText whiteSpace="pre-wrap">{problem}</Field.ErrorText> : spec.help ? <Field.HelperText>{spec.help}</Field.HelperText> : null}
    </Field.Root>
  );
}
