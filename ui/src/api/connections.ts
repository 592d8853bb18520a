// The connection-browsing endpoints (spec connections-tasks.md: GET /connections, POST /getConnectionTables,
// POST /getConnectionTableColumns). They come from another part of the API; until their routes are in the
// OpenAPI document this client was generated from, the rows are typed here from the spec, and the calls go
// through the same typed client (path cast). `npm run codegen` after they land makes the casts unnecessary.
import { useQuery } from "@tanstack/react-query";

import { client, unwrap } from "./client";

export type ConnectionRow = { Name: string; ProviderName?: string; ConnectionString?: string; ConnectionState?: string };
export type TableRow = { TableName: string; Schema?: string | null; Catalog?: string | null; TableType?: string };
export type ColumnRow = {
  ColumnName: string;
  DataType?: string;
  IsNullable?: string;
  MaxLength?: string | null;
  IsPrimaryKey?: string;
};

type Loose = {
  GET: (path: string, init?: unknown) => Promise<{ data?: unknown; error?: unknown; response: Response }>;
  POST: (path: string, init?: unknown) => Promise<{ data?: unknown; error?: unknown; response: Response }>;
};
const loose = client as unknown as Loose;

export function useConnections() {
  return useQuery({
    queryKey: ["connections"],
    staleTime: 30_000,
    retry: false, // a 404 (not served) or 403 does not change on retry: fall back to typing the id at once
    queryFn: async () => ((await unwrap(loose.GET("/connections"))) as { value: ConnectionRow[] }).value,
  });
}

export function useTables(connection: string | undefined) {
  return useQuery({
    queryKey: ["tables", connection],
    enabled: !!connection,
    staleTime: 30_000,
    queryFn: async () =>
      ((await unwrap(loose.POST("/getConnectionTables", { body: { ConnectionName: connection, TableOrView: "ALL" } }))) as {
        value: TableRow[];
      }).value,
  });
}

export function useColumns(connection: string | undefined, table: string | undefined) {
  return useQuery({
    queryKey: ["columns", connection, table],
    enabled: !!connection && !!table,
    staleTime: 30_000,
    queryFn: async () =>
      ((await unwrap(loose.POST("/getConnectionTableColumns", { body: { ConnectionName: connection, Table: table } }))) as {
        value: ColumnRow[];
      }).value,
  });
}
