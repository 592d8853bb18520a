// Small shared pieces: status badge, error alert, confirm dialog, pager, Airflow links.
import { Alert, Badge, Button, Dialog, HStack, Link, Portal, Spinner, Text } from "@chakra-ui/react";
import type { ReactNode } from "react";
import { Link as RouterLink } from "react-router-dom";

import { ApiError } from "../api/client";
import { isActive, statusColor } from "../lib/status";

export function StatusBadge({ status }: { status: string | null | undefined }) {
  const word = status || "Not Started";
  return (
    <Badge colorPalette={statusColor(word)} variant="subtle" data-testid="status-badge" gap={1}>
      {isActive(word) ? <Spinner size="xs" /> : null}
      {word}
    </Badge>
  );
}

export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const api = error instanceof ApiError ? error : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const heading =
    title ??
    (api?.status === 401
      ? "Your Airflow session has expired: reload the page to sign in again."
      : api?.status === 403
        ? "You are not allowed to do this."
        : "The server refused the request.");
  return (
    <Alert.Root status="error" my={2} data-testid="error-alert">
      <Alert.Indicator />
      <Alert.Content>
        <Alert.Title>{heading}</Alert.Title>
        <Alert.Description whiteSpace="pre-wrap">
          {message}
          {api ? ` (${api.status} ${api.code})` : ""}
        </Alert.Description>
      </Alert.Content>
    </Alert.Root>
  );
}

export function ConfirmDialog(props: {
  open: boolean;
  title: string;
  body: ReactNode;
  confirm: string;
  onConfirm: () => void;
  onClose: () => void;
  busy?: boolean;
}) {
  return (
    <Dialog.Root open={props.open} onOpenChange={(e) => (!e.open ? props.onClose() : undefined)} role="alertdialog">
      <Portal>
        <Dialog.Backdrop />
        <Dialog.Positioner>
          <Dialog.Content>
            <Dialog.Header>
              <Dialog.Title>{props.title}</Dialog.Title>
            </Dialog.Header>
            <Dialog.Body>{props.body}</Dialog.Body>
            <Dialog.Footer>
              <Button variant="outline" onClick={props.onClose}>
                Keep it
              </Button>
              <Button colorPalette="red" loading={props.busy} onClick={props.onConfirm}>
                {props.confirm}
              </Button>
            </Dialog.Footer>
          </Dialog.Content>
        </Dialog.Positioner>
      </Portal>
    </Dialog.Root>
  );
}

export function Pager(props: { page: number; size: number; count: number; onPage: (page: number) => void; label: string }) {
  const { page, size, count, onPage } = props;
  const first = count === 0 ? 0 : page * size + 1;
  const last = Math.min(count, (page + 1) * size);
  return (
    <HStack justify="flex-end" gap={2} mt={2} aria-label={`${props.label} pages`}>
      <Text fontSize="sm" color="fg.muted" data-testid="pager-range">
        {first}–{last} of {count}
      </Text>
      <Button size="xs" variant="outline" disabled={page === 0} onClick={() => onPage(page - 1)}>
        Previous
      </Button>
      <Button size="xs" variant="outline" disabled={last >= count} onClick={() => onPage(page + 1)}>
        Next
      </Button>
    </HStack>
  );
}

/** A link to one of Airflow's own pages (same router, so no reload). */
export function AirflowLink({ to, children }: { to: string; children: ReactNode }) {
  return (
    <Link asChild color="fg.info" fontSize="sm">
      <RouterLink to={to}>{children}</RouterLink>
    </Link>
  );
}
