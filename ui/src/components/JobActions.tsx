// Run / Cancel / Edit / Delete for one job, shown only when the API says the user may (Can* flags come
// from Airflow's auth manager); the server refuses a forced write anyway.
import { Button, HStack, Text } from "@chakra-ui/react";
import { useState } from "react";
import { useNavigate } from "react-router-dom";

import type { Job } from "../api/client";
import { useJobActions } from "../api/queries";
import { isTrue } from "../lib/format";
import { paths, useBase } from "../lib/paths";
import { isActive } from "../lib/status";
import { ConfirmDialog, ErrorAlert } from "./common";

/** @param finishing the latest run has a final status but has not ended yet (its post-job teardown still
 * runs): the API refuses edits and deletes until it ends, so they stay disabled meanwhile */
export function JobActions({ job, compact = false, finishing = false, onDeleted }: { job: Job; compact?: boolean; finishing?: boolean; onDeleted?: () => void }) {
  const base = useBase();
  const navigate = useNavigate();
  const { run, cancel, remove } = useJobActions(job.JobName);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [confirmCancel, setConfirmCancel] = useState(false);
  const active = isActive(job.Status) || run.isPending;
  const locked = active || finishing;
  const lockedWhy = active ? "A running job cannot be changed" : finishing ? "The run is finishing (post-job)" : undefined;
  const size = compact ? "xs" : "sm";
  const error = run.error ?? cancel.error ?? (confirmDelete ? null : remove.error);
  return (
    <>
      <HStack gap={1} justify={compact ? "flex-end" : "flex-start"} wrap="wrap">
        {isTrue(job.CanExecute) && !active ? (
          <Button size={size} colorPalette="blue" variant="solid" loading={run.isPending} onClick={() => run.mutate()} data-testid="run-job">
            Run
          </Button>
        ) : null}
        {isTrue(job.CanExecute) && active ? (
          <Button size={size} colorPalette="orange" variant="outline" onClick={() => setConfirmCancel(true)} data-testid="cancel-job">
            Cancel
          </Button>
        ) : null}
        {isTrue(job.CanUpdate) ? (
          <Button size={size} variant="outline" disabled={locked} title={lockedWhy}
            onClick={() => navigate(paths.edit(base, job.JobName))} data-testid="edit-job">
            Edit
          </Button>
        ) : null}
        {isTrue(job.CanRemove) ? (
          <Button size={size} variant="ghost" colorPalette="red" disabled={locked} title={lockedWhy} onClick={() => setConfirmDelete(true)} data-testid="delete-job">
            Delete
          </Button>
        ) : null}
      </HStack>
      {error ? <ErrorAlert error={error} /> : null}
      <ConfirmDialog
        open={confirmCancel}
        title={`Cancel the run of ${job.JobName}?`}
        body={<Text>The running queries are stopped; nothing commits after the cancel. The run ends Cancelled.</Text>}
        confirm="Cancel the run"
        busy={cancel.isPending}
        onClose={() => setConfirmCancel(false)}
        onConfirm={() => cancel.mutate(undefined, { onSettled: () => setConfirmCancel(false) })}
      />
      <ConfirmDialog
        open={confirmDelete}
        title={`Delete job ${job.JobName}?`}
        body={
          <>
            <Text>The job and its DAG leave Airflow. Its run history is kept. Destination tables are not touched.</Text>
            {remove.error ? <ErrorAlert error={remove.error} /> : null}
          </>
        }
        confirm="Delete the job"
        busy={remove.isPending}
        onClose={() => setConfirmDelete(false)}
        onConfirm={() =>
          remove.mutate(undefined, {
            onSuccess: () => {
              setConfirmDelete(false);
              onDeleted?.();
            },
          })
        }
      />
    </>
  );
}
