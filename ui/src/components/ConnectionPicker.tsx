// A picker of Airflow connections (GET /connections lists those the engine can replicate).
import { Input, Link, NativeSelect, Text } from "@chakra-ui/react";
import { Link as RouterLink } from "react-router-dom";

import { useConnections } from "../api/connections";
import { airflow } from "../lib/paths";

export function ConnectionPicker(props: { id: string; value: string; onChange: (v: string) => void; invalid?: boolean; disabled?: boolean }) {
  const connections = useConnections();
  if (connections.isError) {
    // the listing is not available (older server or no permission): type the connection id
    return (
      <Input id={props.id} value={props.value} disabled={props.disabled} onChange={(e) => props.onChange(e.target.value)}
        placeholder="Airflow connection id" aria-invalid={props.invalid} />
    );
  }
  const list = connections.data ?? [];
  const known = list.some((c) => c.Name === props.value);
  return (
    <>
      <NativeSelect.Root disabled={props.disabled || connections.isPending} invalid={props.invalid}>
        <NativeSelect.Field id={props.id} value={props.value} onChange={(e) => props.onChange(e.target.value)} data-testid={`pick-${props.id}`}>
          <option value="">{connections.isPending ? "Loading connections…" : "Choose a connection"}</option>
          {props.value && !known ? <option value={props.value}>{props.value} (not found)</option> : null}
          {list.map((c) => (
            <option key={c.Name} value={c.Name}>
              {c.Name}{c.ProviderName ? ` — ${c.ProviderName}` : ""}
            </option>
          ))}
        </NativeSelect.Field>
        <NativeSelect.Indicator />
      </NativeSelect.Root>
      {connections.isSuccess && list.length === 0 ? (
        <Text fontSize="sm" color="fg.muted" mt={1} data-testid="no-connections">
          No connection of a supported type (PostgreSQL, MySQL/MariaDB, SQLite, or a SQL connection with a SQLAlchemy URL)
          exists yet. Add one in{" "}
          <Link asChild color="fg.info"><RouterLink to={airflow.connections()}>Admin → Connections</RouterLink></Link>, then come back.
        </Text>
      ) : null}
    </>
  );
}
