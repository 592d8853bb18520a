// "Add tables": the source connection's tables (and a table's columns), chosen with checkboxes, each written
// as REPLICATE [T] at the end of the query list, in the order they were ticked.
import { Badge, Box, Button, Checkbox, Dialog, Flex, Input, Portal, Skeleton, Stack, Table, Text } from "@chakra-ui/react";
import { useMemo, useState } from "react";

import { useColumns, useTables, type TableRow } from "../api/connections";
import { replicateFor } from "../lib/jobForm";
import { ErrorAlert } from "./common";

const keyOf = (t: TableRow) => `${t.Schema ?? ""}.${t.TableName}`;

export function AddTablesDialog(props: { connection: string; open: boolean; onClose: () => void; onAdd: (queries: string[]) => void; existing: string[] }) {
  const tables = useTables(props.open ? props.connection : undefined);
  const [filter, setFilter] = useState("");
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [focus, setFocus] = useState<TableRow | undefined>();
  const columns = useColumns(props.connection, focus?.TableName);
  const list = useMemo(
    () => (tables.data ?? []).filter((t) => keyOf(t).toLowerCase().includes(filter.toLowerCase())),
    [tables.data, filter],
  );
  const onlySchema = new Set((tables.data ?? []).map((t) => t.Schema ?? "")).size <= 1;
  const close = () => { setChosen(new Set()); setFocus(undefined); props.onClose(); };
  const add = () => {
    // in the order the user ticked them: that is the order the queries run in
    const byKey = new Map((tables.data ?? []).map((t) => [keyOf(t), t]));
    const picked = [...chosen].map((k) => byKey.get(k)).filter((t): t is TableRow => t !== undefined);
    props.onAdd(picked.map((t) => replicateFor(t.TableName, t.Schema, onlySchema)));
    close();
  };
  return (
    <Dialog.Root open={props.open} onOpenChange={(e) => (!e.open ? close() : undefined)} size="xl" scrollBehavior="inside">
      <Portal>
        <Dialog.Backdrop />
        <Dialog.Positioner>
          <Dialog.Content data-testid="add-tables-dialog">
            <Dialog.Header>
              <Dialog.Title>Add tables from {props.connection}</Dialog.Title>
            </Dialog.Header>
            <Dialog.Body>
              <ErrorAlert error={tables.error} title="Could not list the connection's tables." />
              <Input size="sm" placeholder="Filter tables" value={filter} onChange={(e) => setFilter(e.target.value)} mb={2} aria-label="Filter tables" />
              <Flex gap={4} align="start">
                <Box flex="1" maxH="md" overflow="auto" borderWidth="1px" borderRadius="md">
                  {tables.isPending ? <Skeleton h="32" /> : null}
                  {tables.isSuccess && list.length === 0 ? <Text p={3} color="fg.muted">No tables{filter ? " match" : " in this connection"}.</Text> : null}
                  <Stack gap={0}>
                    {list.map((t) => {
                      const k = keyOf(t);
                      const stmt = replicateFor(t.TableName, t.Schema, onlySchema);
                      const already = props.existing.some((q) => q.replace(/\s+/g, " ").trim() === stmt);
                      return (
                        <Flex key={k} px={2} py={1} gap={2} align="center" _hover={{ bg: "bg.muted" }} bg={focus && keyOf(focus) === k ? "bg.emphasized" : undefined}>
                          <Checkbox.Root size="sm" checked={chosen.has(k)} disabled={already}
                            onCheckedChange={(e) => setChosen((s) => { const n = new Set(s); if (e.checked) n.add(k); else n.delete(k); return n; })}
                            data-testid={`table-${t.TableName}`}>
                            <Checkbox.HiddenInput />
                            <Checkbox.Control />
                            <Checkbox.Label fontFamily="mono" fontSize="sm">{t.Schema && !onlySchema ? `${t.Schema}.` : ""}{t.TableName}</Checkbox.Label>
                          </Checkbox.Root>
                          {already ? <Badge size="sm">in the job</Badge> : null}
                          {t.TableType && t.TableType !== "TABLE" ? <Badge size="sm" variant="outline">{t.TableType}</Badge> : null}
                          <Button size="2xs" variant="ghost" ml="auto" onClick={() => setFocus(t)} aria-label={`Columns of ${t.TableName}`}>columns</Button>
                        </Flex>
                      );
                    })}
                  </Stack>
                </Box>
                <Box flex="1" maxH="md" overflow="auto" data-testid="columns-panel">
                  {focus ? (
                    <>
                      <Text fontWeight="semibold" mb={1} fontFamily="mono">{focus.TableName}</Text>
                      <ErrorAlert error={columns.error} />
                      {columns.isPending ? <Skeleton h="24" /> : (
                        <Table.Root size="sm">
                          <Table.Header><Table.Row><Table.ColumnHeader>Column</Table.ColumnHeader><Table.ColumnHeader>Type</Table.ColumnHeader><Table.ColumnHeader>Null</Table.ColumnHeader></Table.Row></Table.Header>
                          <Table.Body>
                            {(columns.data ?? []).map((c) => (
                              <Table.Row key={c.ColumnName}>
                                <Table.Cell fontFamily="mono">
                                  {c.ColumnName}{" "}
                                  {String(c.IsPrimaryKey).toLowerCase() === "true" ? <Badge size="xs" colorPalette="yellow" title="primary key">PK</Badge> : null}
                                </Table.Cell>
                                <Table.Cell>{c.DataType}{c.MaxLength ? `(${c.MaxLength})` : ""}</Table.Cell>
                                <Table.Cell>{String(c.IsNullable).toLowerCase() === "true" ? "yes" : "no"}</Table.Cell>
                              </Table.Row>
                            ))}
                          </Table.Body>
                        </Table.Root>
                      )}
                    </>
                  ) : (
                    <Text color="fg.muted" fontSize="sm">Choose "columns" beside a table to see its columns and key.</Text>
                  )}
                </Box>
              </Flex>
            </Dialog.Body>
            <Dialog.Footer>
              <Button variant="outline" onClick={close}>Close</Button>
              <Button colorPalette="blue" disabled={chosen.size === 0} onClick={add} data-testid="add-tables-confirm">
                Add {chosen.size || ""} {chosen.size === 1 ? "table" : "tables"}
              </Button>
            </Dialog.Footer>
          </Dialog.Content>
        </Dialog.Positioner>
      </Portal>
    </Dialog.Root>
  );
}
