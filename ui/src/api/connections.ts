// The connection-browsing endpoints (spec connections-tasks.md): GET /connections, POST /getConnectionTables,
// POST /getConnectionTableColumns, through the typed client.
import { useQuery } from "@tanstack/react-query";

import { client, unwrap, type Schemas } from "./client";

export type ConnectionRow = Schemas["ConnectionResponse"];
export type TableRow = Schemas["TableRowModel"];
export type ColumnRow = Schemas["ColumnRowModel"];

export function useConnections() {
  return useQuery({
    queryKey: ["connections"],
    staleTime: 30_000,
    retry: false, // a 403 does not change on retry: fall back to typing the id at once
    queryFn: async () => (await unwrap(client.GET("/connections", {}))).value as ConnectionRow[],
  });
}

export function useTables(connection: string | undefined) {
  return useQuery({
    queryKey: ["tables", connection],
    enabled: !!connection,
    staleTime: 30_000,
    queryFn: async () =>
      (await unwrap(client.POST("/getConnectionTables", { body: { ConnectionName: connection ?? "", TableOrView: "ALL" } })))
        .value as TableRow[],
  });
}

export function useColumns(connection: string | undefined, table: string | undefined) {
  return useQuery({
    queryKey: ["columns", connection, table],
    enabled: !!connection && !!table,
    staleTime: 30_000,
    queryFn: async () =>
      (await unwrap(client.POST("/getConnectionTableColumns", { body: { ConnectionName: connection ?? "", Table: table ?? "" } })))
        .value as ColumnRow[],
  });
}
